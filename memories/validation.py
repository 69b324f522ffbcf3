"""Validation of memory fields shared by every surface (REST, mem0, MCP, UI).

Services call :func:`clean_memory_input`; a bad value raises ``InvalidInput``
naming the field and the limit, never echoing content.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from memoryhub.errors import InvalidInput, TooLarge
from memoryhub.safejson import text_problem

SCOPE_FIELDS = ("user_id", "agent_id", "app_id", "run_id")
MAX_ID_CHARS = 255
MAX_CATEGORIES = 50
MAX_CATEGORY_CHARS = 100


@dataclass
class MemoryInput:
    """A validated memory to add."""

    content: str
    user_id: str = ""
    agent_id: str = ""
    app_id: str = ""
    run_id: str = ""
    metadata: dict = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    immutable: bool = False


def check_text(name: str, value: str) -> str:
    """Refuse what PostgreSQL cannot store: NULs, unpaired surrogates."""
    problem = text_problem(value)
    if problem:
        raise InvalidInput(f"{name} {problem}", field=name)
    return value


def clean_content(content) -> str:
    """Content must be a non-empty string within the configured size."""
    if not isinstance(content, str):
        raise InvalidInput("content must be a string", field="content")
    if not content.strip():
        raise InvalidInput("content must not be empty", field="content")
    if len(content) > settings.MEMORY_MAX_CONTENT_CHARS:
        raise TooLarge(
            f"content is {len(content)} characters; the limit is "
            f"{settings.MEMORY_MAX_CONTENT_CHARS} (MEMORYHUB_MAX_CONTENT_CHARS)",
            field="content",
        )
    return check_text("content", content)


def clean_scope_id(name: str, value) -> str:
    """user_id / agent_id / app_id / run_id: optional short strings."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string", field=name)
    if len(value) > MAX_ID_CHARS:
        raise InvalidInput(
            f"{name} must be at most {MAX_ID_CHARS} characters", field=name
        )
    return check_text(name, value)


def clean_metadata(value) -> dict:
    """Metadata: a JSON object within the configured size."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("metadata must be a JSON object", field="metadata")
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError):
        # UnicodeEncodeError (an unpaired surrogate) is a ValueError too.
        raise InvalidInput(
            "metadata must contain only JSON values (no NaN/Infinity, no unpaired "
            "surrogates)",
            field="metadata",
        ) from None
    if b"\\u0000" in encoded:
        raise InvalidInput("metadata must not contain NUL characters", field="metadata")
    if len(encoded) > settings.MEMORY_MAX_METADATA_BYTES:
        raise TooLarge(
            f"metadata is larger than {settings.MEMORY_MAX_METADATA_BYTES} bytes "
            "(MEMORYHUB_MAX_METADATA_BYTES)",
            field="metadata",
        )
    return value


def clean_categories(value) -> list[str]:
    """Categories: up to 50 short strings, de-duplicated in order."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InvalidInput("categories must be a list of strings", field="categories")
    if len(value) > MAX_CATEGORIES:
        raise InvalidInput(f"at most {MAX_CATEGORIES} categories", field="categories")
    cleaned: list[str] = []
    for item in value:
        item = item.strip()
        if not item or len(item) > MAX_CATEGORY_CHARS:
            raise InvalidInput(
                f"each category must be 1-{MAX_CATEGORY_CHARS} characters",
                field="categories",
            )
        check_text("categories", item)
        if item not in cleaned:
            cleaned.append(item)
    return cleaned


def clean_expires_at(value, *, allow_past: bool = False) -> datetime | None:
    """An aware datetime (ISO 8601 string accepted) in the future, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise InvalidInput(
                f"expires_at {value[:40]!r} is not an ISO 8601 date-time "
                "(e.g. 2030-01-31T12:00:00Z)",
                field="expires_at",
            )
        value = parsed
    if not isinstance(value, datetime):
        raise InvalidInput(
            "expires_at must be an ISO 8601 date-time", field="expires_at"
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.utc)
    if not allow_past and value <= timezone.now():
        raise InvalidInput("expires_at must be in the future", field="expires_at")
    return value


def clean_memory_input(data: dict, *, retention_days: int | None = None) -> MemoryInput:
    """Validate a memory to add; applies the space's retention as default expiry."""
    if not isinstance(data, dict):
        raise InvalidInput("each memory must be a JSON object")
    immutable = data.get("immutable", False)
    if not isinstance(immutable, bool):
        raise InvalidInput("immutable must be true or false", field="immutable")
    expires_at = clean_expires_at(data.get("expires_at"))
    if expires_at is None and retention_days:
        expires_at = timezone.now() + timedelta(days=retention_days)
    return MemoryInput(
        content=clean_content(data.get("content")),
        user_id=clean_scope_id("user_id", data.get("user_id")),
        agent_id=clean_scope_id("agent_id", data.get("agent_id")),
        app_id=clean_scope_id("app_id", data.get("app_id")),
        run_id=clean_scope_id("run_id", data.get("run_id")),
        metadata=clean_metadata(data.get("metadata")),
        categories=clean_categories(data.get("categories")),
        expires_at=expires_at,
        immutable=immutable,
    )


# --- messages (adds from a conversation) ---------------------------------------


def _text_of(content, path: str) -> str:
    """The text of one message's ``content`` (a string or OpenAI-style parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part.get("text")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ]
        if texts and all(isinstance(t, str) for t in texts):
            return "\n".join(texts)
    raise InvalidInput(
        f"{path}.content must be a string (or a list of text parts)", field=path
    )


def clean_messages(messages) -> list[dict]:
    """The non-system messages as ``{"role", "content"}`` with text content.

    ``messages`` is a string, one ``{"role", "content"}`` dict or a list of
    them (strings in the list count as user messages), as mem0 accepts.
    """
    if isinstance(messages, str | dict):
        messages = [messages]
    if not isinstance(messages, list) or not messages:
        raise InvalidInput(
            "messages must be a non-empty string, message object or list of "
            'message objects ({"role": "user", "content": "..."})',
            field="messages",
        )
    contents = []
    for index, message in enumerate(messages):
        path = f"messages[{index}]"
        if isinstance(message, str):
            message = {"role": "user", "content": message}
        if not isinstance(message, dict) or "content" not in message:
            raise InvalidInput(
                f'{path} must be an object with "role" and "content"', field=path
            )
        role = message.get("role", "user")
        if not isinstance(role, str):
            raise InvalidInput(f"{path}.role must be a string", field=path)
        if role == "system":
            continue
        text = _text_of(message["content"], path)
        if text.strip():
            contents.append({"role": role, "content": text})
    if not contents:
        raise InvalidInput(
            "messages hold no user or assistant text to store", field="messages"
        )
    return contents
