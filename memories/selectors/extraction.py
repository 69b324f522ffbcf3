"""Reads of extraction: an event with its results, a space's recent events,
and a summary of memories written by the extraction model.

An event's results hold ids only; the text shown with them is decrypted
from the history rows the extraction wrote (the memory as it was *then*:
``memory`` and, for an update, ``previous_memory``), and reading it is
audited like any other read of content.
"""

import uuid

from accounts.actors import Actor
from audit.services import access_record
from memories import permissions
from memories.encryption.sealing import event_contents, memories_decrypt
from memories.extraction import llm, prompts
from memories.models import ExtractionEvent, Memory, MemoryEvent, MemoryState, Space
from memories.permissions import require_perm
from memories.selectors.memories import memories_list
from memories.services.extraction_settings import extraction_settings
from memoryhub.errors import NotFound

SUMMARY_MAX_MEMORIES = 200


def extraction_event_get(*, actor: Actor, space: Space, event_id) -> ExtractionEvent:
    """One extraction event of ``space`` (``view_space``), else 404."""
    require_perm(actor, space, permissions.VIEW)
    event = ExtractionEvent.objects.filter(space=space, pk=event_id).first()
    if event is None:
        raise NotFound(f"extraction event {event_id} not found in space {space.slug!r}")
    return event


def extraction_events_of(*, actor: Actor, space: Space, limit: int = 20):
    """The space's latest extraction events, newest first."""
    require_perm(actor, space, permissions.VIEW)
    return list(ExtractionEvent.objects.filter(space=space)[:limit])


def extraction_results(
    *, actor: Actor, space: Space, event: ExtractionEvent, surface: str = "api"
) -> list[dict]:
    """The event's results with their text: ``id``, ``event``, ``memory``,
    ``previous_memory`` (updates), ``categories``, ``note`` (if any)."""
    require_perm(actor, space, permissions.VIEW)
    results = event.results or []
    history_ids = [r["history_id"] for r in results if r.get("history_id")]
    history = {
        str(row.pk): row for row in MemoryEvent.objects.filter(pk__in=history_ids)
    }
    plain_ids = [r["id"] for r in results if r.get("id") and not r.get("history_id")]
    current = {
        str(memory.pk): memory
        for memory in memories_decrypt(
            list(
                Memory.objects.filter(space=space, pk__in=plain_ids).exclude(
                    state=MemoryState.DELETED
                )
            ),
            space,
        )
    }
    categories = dict(
        Memory.objects.filter(
            space=space, pk__in=[r["id"] for r in results if r.get("id")]
        ).values_list("pk", "categories")
    )
    rendered = []
    for item in results:
        text = previous = None
        row = history.get(item.get("history_id") or "")
        if row is not None:
            old, new = event_contents(row, space)
            text, previous = (old, None) if item["event"] == "DELETE" else (new, old)
        elif item.get("id") in current:
            text = current[item["id"]].plaintext
        entry = {
            "id": item.get("id"),
            "event": item["event"],
            "memory": text,
            "categories": list(categories.get(_uuid(item.get("id")), [])),
        }
        if item["event"] == "UPDATE":
            entry["previous_memory"] = previous
        if item.get("note"):
            entry["note"] = item["note"]
        rendered.append(entry)
    shown = [entry["id"] for entry in rendered if entry["id"]]
    if shown:
        access_record(
            actor=actor,
            action="memory.read",
            surface=surface,
            space=space,
            memory_ids=shown,
            detail={"extraction": str(event.id)},
        )
    return rendered


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def memories_summarize(
    *, actor: Actor, space: Space, filters: dict | None = None, surface: str = "api"
) -> dict:
    """A summary by the extraction model of the (newest 200) memories matching
    ``filters``; the memories sent are audited."""
    require_perm(actor, space, permissions.VIEW)
    config = llm.require_model(space.team_id)
    rows = list(
        memories_list(actor=actor, space=space, filters=filters)[:SUMMARY_MAX_MEMORIES]
    )
    memories_decrypt(rows, space)
    if not rows:
        return {"summary": "", "count": 0, "model": config.label}
    access_record(
        actor=actor,
        action="memory.summary",
        surface=surface,
        space=space,
        memory_ids=[m.pk for m in rows],
        detail={"model": config.label},
    )
    system, user = prompts.summary_prompt(
        memories=[
            {
                "text": m.plaintext,
                "categories": m.categories,
                "at": m.created_at.date().isoformat(),
            }
            for m in rows
        ],
        instructions=extraction_settings(space).instructions,
    )
    call = llm.Call()
    answer = llm.ask_json(
        config,
        system=system,
        user=user,
        schema_name=prompts.SUMMARY_SCHEMA,
        shape=prompts.Summary,
        call=call,
    )
    return {
        "summary": answer.summary,
        "count": len(rows),
        "model": config.label,
        "usage": call.usage,
    }
