"""How a space extracts: on by default or not, instructions, categories and a
limit per subject (:class:`ExtractionSettings`), changed by space managers."""

from django.db import transaction

from accounts.actors import Actor
from audit.services import access_record
from memories import permissions
from memories.models import ExtractionSettings, Space
from memories.permissions import require_perm
from memories.validation import check_text, clean_categories
from memoryhub.errors import InvalidInput

MAX_INSTRUCTIONS = 4000
MAX_SPACE_CATEGORIES = 50
MAX_CATEGORY_DESCRIPTION = 300
UNSET = object()


def extraction_settings(space: Space) -> ExtractionSettings:
    """The space's settings (the defaults, unsaved, if none were set)."""
    try:
        return space.extraction
    except ExtractionSettings.DoesNotExist:
        defaults = ExtractionSettings(space=space)
        # Remembered on this space object: later asks cost no query.
        Space.extraction.related.set_cached_value(space, defaults)
        return defaults


def clean_space_categories(value) -> list[dict]:
    """``[{"name", "description"}]`` (mem0's ``[{name: description}]`` too)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(
            'categories must be a list of {"name": ..., "description": ...}',
            field="categories",
        )
    if len(value) > MAX_SPACE_CATEGORIES:
        raise InvalidInput(
            f"at most {MAX_SPACE_CATEGORIES} categories", field="categories"
        )
    cleaned, seen = [], set()
    for index, item in enumerate(value):
        if isinstance(item, dict) and len(item) == 1 and "name" not in item:
            ((name, description),) = item.items()  # mem0's {name: description}
        elif isinstance(item, dict):
            name, description = item.get("name"), item.get("description", "")
        elif isinstance(item, str):
            name, description = item, ""
        else:
            name = description = None
        if not isinstance(description, str) or not isinstance(name, str):
            raise InvalidInput(
                f"categories[{index}] must name a category and describe it in text",
                field="categories",
            )
        name = clean_categories([name])[0] if name.strip() else ""
        if not name or len(description) > MAX_CATEGORY_DESCRIPTION:
            raise InvalidInput(
                f"categories[{index}]: a name of 1-100 characters and a "
                f"description of at most {MAX_CATEGORY_DESCRIPTION}",
                field="categories",
            )
        check_text("categories", description)
        if name not in seen:
            seen.add(name)
            cleaned.append({"name": name, "description": description.strip()})
    return cleaned


def clean_instructions(value) -> str:
    """Instructions: text of at most 4000 characters ('' for none)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("instructions must be text", field="instructions")
    if len(value) > MAX_INSTRUCTIONS:
        raise InvalidInput(
            f"instructions are {len(value)} characters; the limit is "
            f"{MAX_INSTRUCTIONS}",
            field="instructions",
        )
    return check_text("instructions", value.strip())


@transaction.atomic
def extraction_settings_update(
    *,
    actor: Actor,
    space: Space,
    infer_by_default=UNSET,
    instructions=UNSET,
    categories=UNSET,
    max_memories_per_subject=UNSET,
    surface: str = "api",
) -> ExtractionSettings:
    """Change how the space extracts (``manage_space``)."""
    require_perm(actor, space, permissions.MANAGE)
    current, _ = ExtractionSettings.objects.select_for_update().get_or_create(
        space=space
    )
    changed = []
    if infer_by_default is not UNSET:
        if not isinstance(infer_by_default, bool):
            raise InvalidInput(
                "infer_by_default must be true or false", field="infer_by_default"
            )
        current.infer_by_default = infer_by_default
        changed.append("infer_by_default")
    if instructions is not UNSET:
        current.instructions = clean_instructions(instructions)
        changed.append("instructions")
    if categories is not UNSET:
        current.categories = clean_space_categories(categories)
        changed.append("categories")
    if max_memories_per_subject is not UNSET:
        limit = max_memories_per_subject
        if limit is not None and (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not 1 <= limit <= 1_000_000
        ):
            raise InvalidInput(
                "max_memories_per_subject must be from 1 to 1000000, or null",
                field="max_memories_per_subject",
            )
        current.max_memories_per_subject = limit
        changed.append("max_memories_per_subject")
    if changed:
        current.save()
        space.extraction = current
        access_record(
            actor=actor,
            action="space.extraction_settings",
            surface=surface,
            space=space,
            detail={"fields": changed},
        )
    return current
