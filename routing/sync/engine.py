"""Sync runs: page through a change feed and apply it, one committed page at a time.

A run of a :class:`~routing.models.SyncJob` has up to two phases: **pull**
(the backend's :meth:`~routing.backends.base.BackendAdapter.pull_since` feed
into the space, through the memory services) and **push** (the space's own
changes, by ``updated_at``, to the backend). ``both`` pulls, then pushes.

Every page is applied and its cursor saved in one transaction, so a run
killed anywhere resumes from the last committed page, and a page applied
twice changes nothing: pulled items are found again through
:class:`~routing.models.ExternalRef` (and the ``memoryhub_id`` tag of
MemoryHub's own copies), pushed ones through the refs' ``applied_version``
and the adapters' idempotent adds.

Echoes: a change the job wrote on one side comes back in the other side's
feed; it is recognised and counted as unchanged (the pulled write moved the
ref's ``applied_version`` to the memory's new version, so push skips it; a
pushed copy comes back holding what the memory holds). A memory changed on
both sides since the last run is a conflict, settled by the job's policy;
the losing version is kept in the memory's history (a ``CONFLICT`` event
when MemoryHub's version wins, the update's old content when the backend's
does).

One run per job at a time: a unique index admits one ``running`` run, and
the worker executing it holds a session advisory lock, which a killed
worker's connection releases. A run that reaches its time budget hands over
to a follow-up task. A source that fails backs the job off exponentially.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.actors import system_actor
from memories.encryption import keyring
from memories.encryption.sealing import event_build, memory_content
from memories.models import Memory, MemoryEvent, MemoryState
from memories.services.erasure import memory_delete
from memories.services.memories import memory_add_many, memory_update
from memoryhub.errors import DomainError
from routing.backends.base import BackendError, Item, PermanentError
from routing.backends.changes import cursor_encode, cursor_windows
from routing.calls import backend_call
from routing.models import (
    ConflictPolicy,
    ExternalRef,
    RefOrigin,
    SyncDirection,
    SyncJob,
    SyncRun,
    SyncRunState,
    SyncTrigger,
)
from routing.outbox import record_of
from routing.sync.filtering import filter_matches, filter_q

logger = logging.getLogger(__name__)

SURFACE = "sync"
PUSH_CURSOR_KIND = "sync-push"
MAX_RUN_ERRORS = 50  # error items kept per run (the count is exact)
BUDGET_SECONDS = settings.SYNC_RUN_BUDGET_SECONDS  # MEMORYHUB_SYNC_RUN_BUDGET_SECONDS
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0


def _lock_key(job_pk: int) -> str:
    return f"sync:{job_pk}"


def _try_lock(job_pk: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [_lock_key(job_pk)])
        return cursor.fetchone()[0]


def _unlock(job_pk: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [_lock_key(job_pk)])


def backoff_seconds(failures: int) -> float:
    """How long a job whose source failed ``failures`` times in a row waits."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, failures - 1))


# --- starting a run ---------------------------------------------------------------


def _skipped(job: SyncJob, trigger: str, message: str) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        job=job,
        trigger=trigger,
        state=SyncRunState.SKIPPED,
        finished_at=now,
        duration_ms=0,
        message=message[:500],
    )


def run_start(*, job_pk: int, trigger: str) -> SyncRun | None:
    """A new running run of the job, the orphaned run to resume, or a run
    recorded as skipped (one is running, the job is disabled or backing off).
    None if the job is gone."""
    job = SyncJob.objects.filter(pk=job_pk).first()
    if job is None:
        return None
    now = timezone.now()
    if trigger == SyncTrigger.SCHEDULE:
        if not job.enabled:
            return _skipped(job, trigger, "the job is disabled")
        if job.backoff_until is not None and job.backoff_until > now:
            return _skipped(
                job,
                trigger,
                f"backing off until {job.backoff_until.isoformat(timespec='seconds')} "
                f"after {job.failures} failure(s): {job.last_error}",
            )
    running = job.runs.filter(state=SyncRunState.RUNNING).first()
    if running is not None:
        if _try_lock(job.pk):  # nobody executes it: its worker died
            _unlock(job.pk)
            return running
        return _skipped(job, trigger, f"run {running.pk} is still running")
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                job=job,
                trigger=trigger,
                cursor_before={"pull": job.pull_cursor, "push": job.push_cursor},
            )
    except IntegrityError:  # another trigger started one just now
        return _skipped(job, trigger, "another run started at the same time")


# --- executing a run ----------------------------------------------------------------


@dataclass
class _Tally:
    """What one page did, added to the run when the page commits."""

    seen: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    conflicts: int = 0
    errors: int = 0
    error_items: list[dict] = field(default_factory=list)

    def fail(self, item: str, cause: str) -> None:
        self.errors += 1
        self.error_items.append({"item": str(item)[:255], "error": cause[:300]})

    def add_to(self, run: SyncRun) -> list[str]:
        names = ["seen", "created", "updated", "deleted", "unchanged"]
        names += ["conflicts", "errors"]
        for name in names:
            setattr(run, name, getattr(run, name) + getattr(self, name))
        room = MAX_RUN_ERRORS - len(run.error_items)
        if room > 0 and self.error_items:
            run.error_items = [*run.error_items, *self.error_items[:room]]
        return [*names, "error_items"]


class _Cancelled(Exception):
    pass


def run_continue(*, run_pk: int, budget: float | None = None) -> SyncRun | None:
    """Execute a running run until it finishes or its time budget is spent
    (then a follow-up task continues it). Returns the run; a run another
    worker executes is left alone."""
    run = SyncRun.objects.select_related("job").filter(pk=run_pk).first()
    if run is None or run.state != SyncRunState.RUNNING:
        return run
    job_pk = run.job_id
    if not _try_lock(job_pk):
        return run
    try:
        run.refresh_from_db()
        if run.state != SyncRunState.RUNNING:
            return run
        return _execute(run, budget if budget is not None else BUDGET_SECONDS)
    finally:
        _unlock(job_pk)


def _phases(direction: str) -> list[str]:
    return {
        SyncDirection.PULL: ["pull"],
        SyncDirection.PUSH: ["push"],
        SyncDirection.BOTH: ["pull", "push"],
    }[direction]


def _execute(run: SyncRun, budget: float) -> SyncRun:
    job = SyncJob.objects.select_related("space", "space__team", "backend").get(
        pk=run.job_id
    )
    deadline = time.monotonic() + budget
    run.tasks += 1
    run.save(update_fields=["tasks"])
    phases = _phases(job.direction)
    if run.phase in phases:
        phases = phases[phases.index(run.phase) :]
    try:
        for phase in phases:
            if run.phase != phase:
                run.phase = phase
                if phase == "push" and not job.push_cursor:
                    run.total = _push_candidates(job).count()  # a back-fill
                run.save(update_fields=["phase", "total"])
            step = _pull_page if phase == "pull" else _push_page
            while True:
                if SyncRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
                    raise _Cancelled
                if time.monotonic() >= deadline:
                    _follow_up(run)
                    return run
                if not step(job, run):
                    break
    except _Cancelled:
        return _finish(job, run, SyncRunState.CANCELLED, "cancelled on request")
    except BackendError as exc:
        return _finish(
            job, run, SyncRunState.FAILED, f"{type(exc).__name__}: {exc}", failed=True
        )
    except DomainError as exc:  # the space was shredded, ...
        return _finish(job, run, SyncRunState.FAILED, exc.message, failed=True)
    state = SyncRunState.PARTIAL if run.errors else SyncRunState.SUCCEEDED
    return _finish(job, run, state, "")


def _follow_up(run: SyncRun) -> None:
    # The task module imports this one (the accepted task <-> service pair).
    from routing.tasks import sync_run_continue_task

    transaction.on_commit(lambda: sync_run_continue_task.delay(run.pk))


def _finish(
    job: SyncJob, run: SyncRun, state: str, message: str, *, failed: bool = False
) -> SyncRun:
    now = timezone.now()
    run.state, run.finished_at, run.phase = state, now, ""
    run.duration_ms = int((now - run.started_at).total_seconds() * 1000)
    run.message = message[:500]
    run.cursor_after = {"pull": job.pull_cursor, "push": job.push_cursor}
    run.save()
    if failed:
        job.failures += 1
        job.backoff_until = now + timedelta(seconds=backoff_seconds(job.failures))
        job.last_error = message[:500]
    elif state != SyncRunState.CANCELLED:
        job.failures, job.backoff_until, job.last_error = 0, None, ""
    job.save(update_fields=["failures", "backoff_until", "last_error", "updated_at"])
    if failed:
        logger.warning("sync job %s run %s failed: %s", job.pk, run.pk, message)
    return run


def _commit_page(job: SyncJob, run: SyncRun, tally: _Tally, cursor_field: str) -> None:
    """Inside the page's transaction: its cursor and its counts."""
    job.save(update_fields=[cursor_field, "updated_at"])
    run.pages += 1
    run.save(update_fields=[*tally.add_to(run), "pages"])


# --- pull ---------------------------------------------------------------------------


def _item_values(item: Item) -> dict:
    return {
        "user_id": item.user_id,
        "agent_id": item.agent_id,
        "app_id": item.app_id,
        "run_id": item.run_id,
        "categories": list(item.categories or ()),
        "metadata": item.metadata or {},
    }


def _pull_page(job: SyncJob, run: SyncRun) -> bool:
    """Apply one page of the backend's feed; True if more are waiting."""
    page = backend_call(
        job.backend, "pull_since", job.pull_cursor or None, limit=job.batch_size
    )
    tally = _Tally(seen=len(page.items))
    with transaction.atomic():
        _pull_apply(job, page.items, tally)
        job.pull_cursor = page.cursor
        _commit_page(job, run, tally, "pull_cursor")
    return page.more


def _pull_apply(job: SyncJob, items: list[Item], tally: _Tally) -> None:
    space, backend = job.space, job.backend
    actor = system_actor(job.actor_name)
    by_external = {
        ref.external_id: ref
        for ref in ExternalRef.objects.filter(
            backend=backend, external_id__in=[i.external_id for i in items]
        )
    }
    tagged = [i.memory_id for i in items if i.memory_id and _is_uuid(i.memory_id)]
    by_memory = {
        str(ref.memory_id): ref
        for ref in ExternalRef.objects.filter(backend=backend, memory_id__in=tagged)
    }
    memories = {
        str(m.pk): m
        for m in Memory.objects.select_for_update()
        .filter(
            space=space, pk__in=[r.memory_id for r in by_external.values()] + tagged
        )
        .exclude(state=MemoryState.DELETED)
    }
    new: list[Item] = []
    for item in items:
        ref = by_external.get(item.external_id)
        if ref is None and item.memory_id:
            ref = by_memory.get(item.memory_id)
        if ref is not None and ref.space_id != space.pk:
            tally.fail(item.external_id, "mapped to a memory of another space")
            continue
        memory_id = str(ref.memory_id) if ref is not None else item.memory_id
        if item.op == "delete":
            _pull_delete(job, actor, ref, memories.get(memory_id or ""), tally)
            continue
        memory = memories.get(memory_id or "")
        if memory is None:
            if memory_id and (ref is not None or item.memory_id):
                # A copy of a memory deleted here: never resurrected by a pull.
                tally.unchanged += 1
                continue
            if filter_matches(job.filter, _item_values(item)):
                new.append(item)
            else:
                tally.unchanged += 1
            continue
        if ref is None:  # MemoryHub's own copy, written before the job knew it
            ref = ExternalRef.objects.create(
                memory_id=memory.pk,
                space_id=space.pk,
                backend=backend,
                external_id=item.external_id[:255],
                applied_version=0,
                origin=RefOrigin.SYNC,
            )
        _pull_update(job, actor, item, memory, ref, tally)
    if new:
        _pull_add(job, actor, new, tally)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _pull_delete(job, actor, ref, memory, tally: _Tally) -> None:
    if ref is None:
        tally.unchanged += 1
        return
    if memory is not None and job.propagate_deletes:
        try:
            memory_delete(
                actor=actor, space=job.space, memory_id=memory.pk, surface=SURFACE
            )
        except DomainError as exc:
            tally.fail(ref.external_id, exc.message)
            return
        tally.deleted += 1
    else:
        tally.unchanged += 1
    ref.delete()  # the backend's copy is gone


def _differences(item: Item, memory: Memory, content: str) -> dict:
    """The fields the backend's item would change (what it does not keep,
    it does not change)."""
    changes = {}
    if item.content != content:
        changes["content"] = item.content
    if item.metadata is not None and item.metadata != (memory.metadata or {}):
        changes["metadata"] = item.metadata
    if item.categories is not None and list(item.categories) != list(
        memory.categories or []
    ):
        changes["categories"] = list(item.categories)
    return changes


def _pull_update(job, actor, item: Item, memory: Memory, ref, tally: _Tally) -> None:
    content = memory_content(memory, job.space)
    changes = _differences(item, memory, content)
    if not changes:
        if ref.applied_version != memory.version:
            ref.applied_version = memory.version  # both sides hold the same
            ref.save(update_fields=["applied_version", "updated_at"])
        tally.unchanged += 1
        return
    hub_changed = ref.applied_version != memory.version
    if job.direction == SyncDirection.BOTH and hub_changed:
        tally.conflicts += 1
        backend_wins = job.conflict_policy == ConflictPolicy.BACKEND or (
            job.conflict_policy == ConflictPolicy.NEWEST
            and item.updated_at is not None
            and item.updated_at > memory.updated_at
        )
        if not backend_wins:
            _keep_loser(job, actor, memory, item.content)
            return  # the push phase sends MemoryHub's version
    try:
        memory = memory_update(
            actor=actor,
            space=job.space,
            memory_id=memory.pk,
            surface=SURFACE,
            **changes,
        )
    except DomainError as exc:  # immutable, a duplicate in its scope, ...
        tally.fail(item.external_id, exc.message)
        return
    ref.applied_version = memory.version
    ref.save(update_fields=["applied_version", "updated_at"])
    tally.updated += 1


def _keep_loser(job, actor, memory: Memory, content: str) -> None:
    """Record the backend's losing version in the memory's history."""
    event_build(
        memory=memory,
        space=job.space,
        kind=MemoryEvent.Kind.CONFLICT,
        old=content,
        new=None,
        actor=actor,
        surface=SURFACE,
        version=keyring.active_version(job.space),
    ).save()


def _pull_add(job, actor, items: list[Item], tally: _Tally) -> None:
    results = memory_add_many(
        actor=actor,
        space=job.space,
        items=[
            {
                "content": item.content,
                "user_id": item.user_id,
                "agent_id": item.agent_id,
                "app_id": item.app_id,
                "run_id": item.run_id,
                "metadata": item.metadata or {},
                "categories": list(item.categories or ()),
            }
            for item in items
        ],
        surface=SURFACE,
        audit_detail={"sync_job": job.pk},
    )
    held = set(
        ExternalRef.objects.filter(
            backend=job.backend,
            memory_id__in=[r.memory.pk for r in results if r.memory is not None],
        ).values_list("memory_id", flat=True)
    )
    refs = []
    for item, result in zip(items, results, strict=True):
        if not result.ok:
            tally.fail(item.external_id, result.error or "rejected")
            continue
        if result.memory.pk in held or len(item.external_id) > 255:
            tally.unchanged += 1  # the same memory already has its copy there
            continue
        held.add(result.memory.pk)
        refs.append(
            ExternalRef(
                memory_id=result.memory.pk,
                space_id=job.space.pk,
                backend=job.backend,
                external_id=item.external_id,
                applied_version=result.memory.version,
                origin=RefOrigin.SYNC,
            )
        )
        if result.status == "created":
            tally.created += 1
        else:
            tally.unchanged += 1
    ExternalRef.objects.bulk_create(refs)


# --- push ---------------------------------------------------------------------------


def _push_candidates(job: SyncJob):
    """The space's memories the job sends (active, within its filter)."""
    return Memory.objects.filter(space=job.space, state=MemoryState.ACTIVE).filter(
        filter_q(job.filter)
    )


def _push_page(job: SyncJob, run: SyncRun) -> bool:
    """Send one page of the space's changes; True if more are waiting."""
    started = time.monotonic()
    (window,) = cursor_windows(PUSH_CURSOR_KIND, job.push_cursor or None, "m")
    queryset = Memory.objects.filter(space=job.space).order_by("updated_at", "id")
    start = window.read_from()
    if start is not None:
        queryset = queryset.filter(updated_at__gte=start)
    size = window.fetch_size(job.batch_size)
    rows = list(queryset.values_list("pk", "updated_at")[:size])
    ids, more = window.take(
        [(at, str(pk), pk) for pk, at in rows],
        limit=job.batch_size,
        exhausted=len(rows) < size,
    )
    tally = _Tally(seen=len(ids))
    memories = {m.pk: m for m in Memory.objects.filter(pk__in=ids)}
    wanted = set(_push_candidates(job).filter(pk__in=ids).values_list("pk", flat=True))
    refs = {
        ref.memory_id: ref
        for ref in ExternalRef.objects.filter(backend=job.backend, memory_id__in=ids)
    }
    adds, updates, deletes = [], [], []
    for pk in ids:
        memory, ref = memories.get(pk), refs.get(pk)
        if memory is None:  # erased since: the outbox deletes its copies
            tally.unchanged += 1
        elif pk in wanted:
            memory.space = job.space
            if ref is None:
                adds.append(memory)
            elif ref.applied_version != memory.version:
                updates.append((memory, ref))
            else:
                tally.unchanged += 1
        elif ref is not None and job.propagate_deletes:
            deletes.append(ref)
        else:
            tally.unchanged += 1
    settle = _push_send(job, adds, updates, deletes, tally)
    with transaction.atomic():
        settle()
        job.push_cursor = cursor_encode(PUSH_CURSOR_KIND, {"m": window.state()})
        _commit_page(job, run, tally, "push_cursor")
    _pace(job, len(ids), started)
    return more


def _push_send(job, adds, updates, deletes, tally: _Tally):
    """Make the backend calls of a push page; returns what records them.

    Transient failures stop the run (the page is sent again by the next);
    an item the backend refuses is an error of that item.
    """
    backend = job.backend
    added = []
    if adds:
        records = [record_of(memory) for memory in adds]
        external_ids = _batch_or_each(
            backend, "add_many", "add", records, lambda r: (r,), tally
        )
        added = [
            (memory, external_id)
            for memory, external_id in zip(adds, external_ids, strict=True)
            if external_id is not False
        ]
        tally.created += len(added)
    moved = []
    if updates:
        pairs = [(ref.external_id, record_of(memory)) for memory, ref in updates]
        new_ids = _batch_or_each(
            backend, "update_many", "update", pairs, lambda pair: pair, tally
        )
        for (memory, ref), new_id in zip(updates, new_ids, strict=True):
            if new_id is not False:
                moved.append((memory, ref, new_id))
                tally.updated += 1
    gone = []
    for ref in deletes:
        try:
            backend_call(backend, "delete", ref.external_id)
        except PermanentError as exc:
            tally.fail(str(ref.memory_id), f"{type(exc).__name__}: {exc}")
            continue
        gone.append(ref.pk)
        tally.deleted += 1

    def settle() -> None:
        taken = set(
            ExternalRef.objects.filter(
                backend=backend, memory_id__in=[m.pk for m, _ in added]
            ).values_list("memory_id", flat=True)
        )
        ExternalRef.objects.bulk_create(
            [
                ExternalRef(
                    memory_id=memory.pk,
                    space_id=job.space.pk,
                    backend=backend,
                    external_id=external_id,
                    applied_version=memory.version,
                    origin=RefOrigin.SYNC,
                )
                for memory, external_id in added
                if memory.pk not in taken  # the outbox recorded it meanwhile
            ]
        )
        for memory, ref, new_id in moved:
            ref.applied_version = memory.version
            ref.external_id = new_id or ref.external_id
            ref.save(update_fields=["applied_version", "external_id", "updated_at"])
        ExternalRef.objects.filter(pk__in=gone).delete()

    return settle


def _batch_or_each(backend, many: str, one: str, items: list, args, tally) -> list:
    """``many`` on all of ``items``; if the backend refuses the batch, ``one``
    item by item, so only the item it refuses is an error (``False`` in its
    place). ``args(item)`` are ``one``'s arguments; its record is last."""
    try:
        return backend_call(backend, many, items)
    except PermanentError:
        results = []
        for item in items:
            arguments = args(item)
            try:
                results.append(backend_call(backend, one, *arguments))
            except PermanentError as exc:
                tally.fail(arguments[-1].memory_id, f"{type(exc).__name__}: {exc}")
                results.append(False)
        return results


def _pace(job: SyncJob, count: int, started: float) -> None:
    """Keep a push at most at the job's rate (memories per second)."""
    if job.rate_limit and count:
        left = count / job.rate_limit - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)
