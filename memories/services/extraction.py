"""Extraction: memories from a conversation, decided by the operator's model.

:func:`extraction_submit` checks the request and stores it as an
:class:`ExtractionEvent` with the messages sealed; :func:`extraction_run`
(a Celery task, or inline when the caller waits) does the work:

1. **facts** — the model lists the facts worth keeping (the space's
   instructions and categories in the prompt);
2. **related memories** — each fact is embedded and the space's active
   memories of the same subject (user/agent/app/run ids) are searched;
3. **decisions** — the model decides per fact: ADD, UPDATE a memory, DELETE
   one, or NONE;
4. **apply** — in one transaction, through the memory services (validation,
   encryption, history with actor ``extraction <event>``, audit, routing,
   webhooks), then the sealed messages are erased.

The model only ever sees memories of the request's subject, under short
ids (``m1``…); a decision naming anything else changes nothing, so a
message that talks the model into "delete everything" can at most touch the
memories related to its own facts — which the requester may change anyway.
A model that fails, times out or answers badly twice fails the event with
the reason and changes nothing.
"""

import dataclasses
import functools
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.actors import Actor, actor_for_key, actor_for_user, system_actor
from audit.services import access_record
from memories import permissions
from memories.embedding import embed_texts
from memories.encryption import keyring
from memories.encryption.sealing import memories_decrypt
from memories.extraction import llm, prompts
from memories.models import (
    ExtractionEvent,
    Memory,
    MemoryEvent,
    MemoryState,
    Space,
)
from memories.permissions import require_perm
from memories.search import search_memories
from memories.services.erasure import memory_delete
from memories.services.extraction_settings import (
    clean_instructions,
    clean_space_categories,
    extraction_settings,
)
from memories.services.memories import memory_add_many, memory_update
from memories.validation import (
    SCOPE_FIELDS,
    check_text,
    clean_categories,
    clean_expires_at,
    clean_messages,
    clean_metadata,
    clean_scope_id,
)
from memoryhub.dispatch import send
from memoryhub.errors import DomainError, Forbidden, InvalidInput, Unavailable
from memoryhub.ids import uuid7

logger = logging.getLogger(__name__)
FINISH_FIELDS = [
    "state",
    "failure",
    "results",
    "payload",
    "started_at",
    "finished_at",
    "model",
    "model_calls",
    "model_ms",
    "usage",
]


class ExtractionFailed(Unavailable):
    """A waited-for extraction failed (the model, mostly): a 503 saying why."""


EVENT_PERMS = {
    "UPDATE": permissions.CHANGE,
    "DELETE": permissions.DELETE,
}


# --- submitting -----------------------------------------------------------------


def _aad(event: ExtractionEvent, space: Space) -> bytes:
    return keyring.field_aad(
        kind="extraction", row_id=event.id, space=space, field="messages"
    )


def _clean_options(options: dict) -> dict:
    """Memory fields every extracted memory gets, checked now (JSON-ready)."""
    metadata = clean_metadata(options.get("metadata"))
    expires_at = clean_expires_at(options.get("expires_at"))
    immutable = options.get("immutable", False)
    if not isinstance(immutable, bool):
        raise InvalidInput("immutable must be true or false", field="immutable")
    cleaned = {
        "metadata": metadata,
        "categories": clean_categories(options.get("categories")),
        "immutable": immutable,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    if options.get("custom_categories") is not None:
        cleaned["custom_categories"] = clean_space_categories(
            options["custom_categories"]
        )
    return cleaned


def extraction_submit(
    *,
    actor: Actor,
    space: Space,
    messages,
    scope: dict | None = None,
    options: dict | None = None,
    surface: str = "api",
    wait: bool = False,
) -> ExtractionEvent:
    """Queue an extraction of ``messages`` (``add_memory`` on the space).

    Everything is checked before anything is stored: the model (configured and
    allowed to see content), the messages, the subject ids and the memory
    fields. With ``wait`` the extraction runs now and the finished event is
    returned; otherwise a task runs it after the commit.
    """
    require_perm(actor, space, permissions.ADD)
    config = llm.require_model(space.team_id)
    cleaned = clean_messages(messages)
    size = sum(len(m["content"]) for m in cleaned)
    if size > settings.EXTRACTION_MAX_MESSAGES_CHARS:
        raise InvalidInput(
            f"the messages hold {size} characters; extraction takes at most "
            f"{settings.EXTRACTION_MAX_MESSAGES_CHARS} per request "
            "(MEMORYHUB_EXTRACTION_MAX_CHARS); split the conversation",
            field="messages",
        )
    for message in cleaned:
        check_text("messages", message["content"])
        check_text("messages", message["role"])
    scope = {
        name: clean_scope_id(name, (scope or {}).get(name)) for name in SCOPE_FIELDS
    }
    scope = {name: value for name, value in scope.items() if value}
    cleaned_options = _clean_options(options or {})
    # A request's own instructions are free text like the messages: sealed
    # with them, erased with them.
    instructions = clean_instructions((options or {}).get("instructions"))
    event = ExtractionEvent(
        id=uuid7(),
        space=space,
        api_key=actor.api_key,
        created_by=actor.user if actor.api_key is None else None,
        actor=actor.label[:200],
        surface=surface,
        scope=scope,
        options=cleaned_options,
        message_count=len(cleaned),
        model=config.label[:200],
    )
    version = keyring.active_version(space)
    event.payload = keyring.seal_field(
        space=space,
        version=version,
        text=json.dumps({"messages": cleaned, "instructions": instructions}),
        aad=_aad(event, space),
    )
    event.key_version = version
    if wait:  # this request runs it: it starts out running
        event.state, event.started_at = ExtractionEvent.State.RUNNING, timezone.now()
    with transaction.atomic():
        if wait:
            _unflushed()
        event.save(force_insert=True)
        access_record(
            actor=actor,
            action="memory.extract",
            surface=surface,
            space=space,
            detail={"event": str(event.id), "messages": len(cleaned)},
        )
        if not wait:
            transaction.on_commit(lambda: _enqueue(event.id))
    if wait:
        return _run(event, actor=actor, config=config)
    return event


def _unflushed() -> None:
    """This transaction's commit need not wait for the WAL flush: the work it
    records is redone if lost (a request that waits gets no answer; a queued
    run stays PENDING for its task), and the run's final commit flushes it.
    One flush per extraction instead of three (benchmarks/bench_extract.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def _enqueue(event_id) -> None:
    from memories.tasks import extraction_run as task  # tasks import services

    send(task, args=[str(event_id)], what=f"extraction {event_id}")


# --- running -----------------------------------------------------------------------


def _requester(event: ExtractionEvent) -> Actor:
    """The actor who asked, as they are now (a revoked key may not extract)."""
    now = timezone.now()
    key = event.api_key
    if key is not None:
        if key.revoked_at is not None or (
            key.expires_at is not None and key.expires_at <= now
        ):
            raise Forbidden("the API key that asked for this extraction is revoked")
        return actor_for_key(key)
    user = event.created_by
    if user is None or not user.is_active:
        raise Forbidden("the person who asked for this extraction can no longer add")
    return actor_for_user(user)


def extraction_run(*, event_id) -> ExtractionEvent | None:
    """Run a queued extraction once (a redelivered task finds it done, or
    running under another worker's advisory lock, and leaves it)."""
    lock = f"extraction:{event_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [lock])
        if not cursor.fetchone()[0]:
            return ExtractionEvent.objects.filter(pk=event_id).first()
    try:
        event = (
            ExtractionEvent.objects.select_related(
                "space", "api_key__team", "created_by"
            )
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            logger.warning("extraction %s is gone; nothing to run", event_id)
            return None
        if event.finished:
            return event
        try:
            actor = _requester(event)
        except DomainError as exc:
            return _finish(event, failure=exc.message)
        return _run(event, actor=actor, config=None)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [lock])


def _finish(event: ExtractionEvent, *, failure: str = "", results=None):
    """Save the outcome; the sealed messages are erased either way."""
    event.state = (
        ExtractionEvent.State.FAILED if failure else ExtractionEvent.State.SUCCEEDED
    )
    event.failure = failure[:500]
    if results is not None:
        event.results = results
    event.payload = None
    event.finished_at = timezone.now()
    event.started_at = event.started_at or event.finished_at
    event.save(update_fields=FINISH_FIELDS)
    return event


def _run(event: ExtractionEvent, *, actor: Actor, config) -> ExtractionEvent:
    space = event.space
    if event.state != ExtractionEvent.State.RUNNING:
        event.state, event.started_at = ExtractionEvent.State.RUNNING, timezone.now()
        with transaction.atomic():
            _unflushed()
            ExtractionEvent.objects.filter(pk=event.pk).update(
                state=event.state, started_at=event.started_at
            )
    call = llm.Call()
    try:
        require_perm(actor, space, permissions.ADD)
        config = config or llm.require_model(space.team_id)
        if event.payload is None:
            raise InvalidInput("the messages of this extraction are gone")
        sealed = json.loads(
            keyring.open_field(
                space=space, blob=bytes(event.payload), aad=_aad(event, space)
            )
        )
        worker = dataclasses.replace(
            actor, on_behalf=f"extraction {event.id} ({actor.label})"[:200]
        )
        # The model is asked outside any transaction (no connection sits
        # idle in one for seconds); the decisions apply, and the event is
        # marked done, in one: a run that dies before that commit changed
        # nothing and can run again.
        apply = _decide(event, worker, config, sealed, call)
        with transaction.atomic():
            results = apply()
            _record_usage(event, config, call)
            return _finish(event, results=results)
    except DomainError as exc:
        _record_usage(event, config, call)
        logger.info("extraction %s failed: %s", event.id, exc.message)
        return _finish(event, failure=exc.message)
    except Exception:
        # A bug, not the model: the event says so and the error goes on to
        # the task or request (logged there, with its traceback).
        _record_usage(event, config, call)
        _finish(
            event,
            failure="an internal error stopped this extraction; "
            "it was logged, nothing was changed",
        )
        raise


def _record_usage(event, config, call: llm.Call) -> None:
    event.model = (config.label if config else event.model)[:200]
    event.model_calls, event.model_ms, event.usage = call.calls, call.ms, call.usage


def _space_categories(event: ExtractionEvent, space_settings) -> list[dict]:
    if "custom_categories" in event.options:
        return event.options["custom_categories"]
    return list(space_settings.categories or [])


def _decide(event, actor, config, sealed: dict, call):
    """Steps 1-3 of the module docstring; returns step 4, which applies the
    decisions and returns the event's results."""
    space = event.space
    space_settings = extraction_settings(space)
    categories = _space_categories(event, space_settings)
    instructions = "\n\n".join(
        text for text in (space_settings.instructions, sealed["instructions"]) if text
    )
    system, user = prompts.facts_prompt(
        messages=sealed["messages"],
        instructions=instructions,
        categories=categories,
        today=timezone.now().date().isoformat(),
    )
    answer = llm.ask_json(
        config,
        system=system,
        user=user,
        schema_name=prompts.FACTS_SCHEMA,
        shape=prompts.Facts,
        call=call,
    )
    facts = _unique_facts(answer.facts)
    if not facts:
        return list
    names = {c["name"] for c in categories}
    vectors = list(embed_texts([fact.text for fact in facts]))
    related, near = _related(event, vectors)
    if not related:  # nothing to compare with: every fact is new
        adds = [prompts.Decision(fact=i, event="ADD") for i in range(len(facts))]
        return functools.partial(
            _apply, event, actor, facts, vectors, adds, {}, names, near
        )
    short = {f"m{index + 1}": memory for index, memory in enumerate(related)}
    key_of = {memory.pk: key for key, memory in short.items()}
    memories_decrypt(related, space)
    access_record(
        actor=actor,
        action="memory.extract_context",
        surface=event.surface,
        space=space,
        memory_ids=[memory.pk for memory in related],
        detail={"event": str(event.id), "model": config.label},
    )
    system, user = prompts.decisions_prompt(
        facts=[
            {
                "index": i,
                "text": fact.text,
                "related": [key_of[pk] for pk in near[i]],
            }
            for i, fact in enumerate(facts)
        ],
        memories=[{"id": key, "text": m.plaintext} for key, m in short.items()],
    )
    decided = llm.ask_json(
        config,
        system=system,
        user=user,
        schema_name=prompts.DECISIONS_SCHEMA,
        shape=prompts.Decisions,
        call=call,
    )
    return functools.partial(
        _apply, event, actor, facts, vectors, decided.decisions, short, names, near
    )


def _unique_facts(facts):
    seen, unique = set(), []
    for fact in facts:
        key = " ".join(fact.text.split()).casefold()
        if key and key not in seen:
            seen.add(key)
            unique.append(fact)
    return unique


def _related(event: ExtractionEvent, vectors: list) -> tuple[list[Memory], list]:
    """The active memories of the event's subject nearest to any fact, and
    for each fact the ids of its own nearest (all it may change)."""
    space = event.space
    queryset = Memory.objects.filter(space=space, state=MemoryState.ACTIVE).defer(
        "keyword_index", "embedding"
    )
    for name in SCOPE_FIELDS:  # the same subject: unset ids are unset here too
        queryset = queryset.filter(**{name: event.scope.get(name, "")})
    found: dict = {}
    near: list[list] = []
    for vector in vectors:
        hits = search_memories(
            queryset=queryset,
            query_embedding=vector,
            query_tokens=[],
            top_k=settings.EXTRACTION_RELATED,
            threshold=None,
            mode="vector",
        )
        near.append([memory.pk for memory, _ in hits])
        for memory, _ in hits:
            found.setdefault(memory.pk, memory)
    return list(found.values()), near


# --- applying -----------------------------------------------------------------------


def _with_history(results: list[dict]) -> None:
    """Name on each change the history row it wrote (the newest of its kind
    for its memory, written just now), in one query."""
    changed = [r for r in results if r["event"] != "NONE" and r["id"]]
    if not changed:
        return
    newest = {
        (str(memory_id), kind): str(pk)
        for memory_id, kind, pk in MemoryEvent.objects.filter(
            memory_id__in=[r["id"] for r in changed]
        )
        .order_by("memory_id", "event", "-at")
        .distinct("memory_id", "event")
        .values_list("memory_id", "event", "id")
    }
    for item in changed:
        item["history_id"] = newest.get((item["id"], item["event"]))


def _result(index: int, event: str, memory_pk=None, note=None) -> dict:
    item = {"fact": index, "event": event, "id": str(memory_pk) if memory_pk else None}
    if note:
        item["note"] = note
    return item


def _apply(event, actor, facts, vectors, decisions, short, names, near) -> list:
    """Apply one decision per fact (the first the model gave; a fact it left
    out is added) through the memory services; returns the results.

    A decision that cannot apply — an id the model was not shown or not
    among the fact's own related memories, a memory
    already changed in this run, an immutable one, a permission the
    requester lacks, a text the services refuse — becomes ``NONE`` with a
    note, and the rest still apply.
    """
    space = event.space
    options = event.options
    perms = permissions.space_perms(actor, space)
    chosen: dict[int, prompts.Decision] = {}
    for decision in decisions:
        if 0 <= decision.fact < len(facts):
            chosen.setdefault(decision.fact, decision)
    results: list[dict] = []
    touched: set = set()
    adds: list[tuple] = []

    def categories_of(fact) -> list[str]:
        picked = [c for c in fact.categories if c in names]
        return list(dict.fromkeys([*options.get("categories", []), *picked]))

    for index, fact in enumerate(facts):
        decision = chosen.get(index) or prompts.Decision(fact=index, event="ADD")
        if decision.event == "ADD":
            item = _add_item(event, fact.text, categories_of(fact))
            adds.append((index, item, vectors[index]))
            continue
        target = short.get(decision.memory or "")
        if decision.event == "NONE":
            results.append(_result(index, "NONE", target.pk if target else None))
            continue
        if target is None:
            note = "the model named a memory it was not shown; nothing changed"
            results.append(_result(index, "NONE", note=note))
            continue
        if target.pk not in near[index]:
            note = "the model named a memory unrelated to this fact; nothing changed"
            results.append(_result(index, "NONE", target.pk, note=note))
            continue
        if target.pk in touched:
            note = "this memory was already changed by this extraction"
            results.append(_result(index, "NONE", target.pk, note=note))
            continue
        needed = EVENT_PERMS[decision.event]
        if needed not in perms:
            note = f"{decision.event} needs the {needed} permission, which is missing"
            results.append(_result(index, "NONE", target.pk, note=note))
            continue
        if target.immutable:
            note = f"the memory is immutable; {decision.event} was not applied"
            results.append(_result(index, "NONE", target.pk, note=note))
            continue
        try:
            with transaction.atomic():
                if decision.event == "UPDATE":
                    memory_update(
                        actor=actor,
                        space=space,
                        memory_id=target.pk,
                        content=decision.text or fact.text,
                        # Changed since the model saw it: not overwritten.
                        expected_version=target.version,
                        categories=list(
                            dict.fromkeys([*target.categories, *categories_of(fact)])
                        ),
                        surface=event.surface,
                    )
                else:
                    memory_delete(
                        actor=actor,
                        space=space,
                        memory_id=target.pk,
                        surface=event.surface,
                    )
        except DomainError as exc:
            results.append(_result(index, "NONE", target.pk, note=exc.message))
            continue
        touched.add(target.pk)
        results.append(_result(index, decision.event, target.pk))
    if adds:
        results += _add_all(event, actor, adds)
    results.sort(key=lambda item: item["fact"])
    _with_history(results)
    _limit_subject(event, added=any(r["event"] == "ADD" for r in results))
    return results


def _add_item(event, text: str, categories: list[str]) -> dict:
    options = event.options
    return {
        "content": text,
        **event.scope,
        "metadata": options.get("metadata") or {},
        "categories": categories,
        "expires_at": options.get("expires_at"),
        "immutable": options.get("immutable", False),
    }


def _add_all(event, actor, adds: list[tuple]) -> list[dict]:
    outcome = memory_add_many(
        actor=actor,
        space=event.space,
        items=[item for _, item, _ in adds],
        embeddings=[vector for _, _, vector in adds],
        surface=event.surface,
        audit_detail={"request_id": str(event.id)},
    )
    results = []
    for (index, _, _), added in zip(adds, outcome, strict=True):
        if not added.ok:
            results.append(_result(index, "NONE", note=added.error))
        elif added.status == "created":
            results.append(_result(index, "ADD", added.memory.pk))
        else:
            note = "an identical memory already exists"
            results.append(_result(index, "NONE", added.memory.pk, note=note))
    return results


def _limit_subject(event: ExtractionEvent, *, added: bool) -> None:
    """Archive the subject's oldest active memories beyond the space's limit."""
    limit = extraction_settings(event.space).max_memories_per_subject
    if not added or not limit:
        return
    queryset = Memory.objects.filter(space=event.space, state=MemoryState.ACTIVE)
    for name in SCOPE_FIELDS:
        queryset = queryset.filter(**{name: event.scope.get(name, "")})
    newest = queryset.order_by("-created_at", "-id").values_list("pk", flat=True)
    # Immutable memories count towards the limit but are never archived.
    extra = list(
        queryset.filter(immutable=False)
        .exclude(pk__in=list(newest[:limit]))
        .values_list("pk", flat=True)
    )
    keeper = system_actor(f"space limit ({limit} per subject)")
    for memory_pk in extra:
        memory_update(
            actor=keeper,
            space=event.space,
            memory_id=memory_pk,
            state=MemoryState.ARCHIVED,
            surface=event.surface,
        )


# --- housekeeping -------------------------------------------------------------------


def extraction_sweep(*, now=None) -> dict:
    """Beat's housekeeping: queue again the extractions whose task was lost
    (still PENDING or RUNNING after ``EXTRACTION_REDISPATCH_SECONDS``; a run
    that is really running holds its lock and is left alone by the task),
    fail those older than a day, and delete finished events past
    ``EXTRACTION_EVENT_DAYS`` (their memories and history stay)."""
    now = now or timezone.now()
    stuck = ExtractionEvent.objects.filter(
        state__in=[ExtractionEvent.State.PENDING, ExtractionEvent.State.RUNNING]
    )
    expired = list(
        stuck.filter(created_at__lt=now - timedelta(days=1)).values_list(
            "pk", flat=True
        )
    )
    ExtractionEvent.objects.filter(pk__in=expired).update(
        state=ExtractionEvent.State.FAILED,
        failure="no worker ran this extraction within a day; send it again",
        payload=None,
        finished_at=now,
    )
    again = list(
        stuck.filter(
            created_at__lt=now
            - timedelta(seconds=settings.EXTRACTION_REDISPATCH_SECONDS)
        ).values_list("pk", flat=True)[:500]
    )
    for event_id in again:
        _enqueue(event_id)
    deleted, _ = ExtractionEvent.objects.filter(
        finished_at__lt=now - timedelta(days=settings.EXTRACTION_EVENT_DAYS)
    ).delete()
    return {"failed": len(expired), "requeued": len(again), "deleted": deleted}
