"""The small vocabulary the curated fact lists are written in.

A :class:`FactType` is one kind of thing an agent remembers about a user
("food allergy", "favourite band"). It holds the ways the memory is written
and the ways a person later asks for it; a value (:func:`V`) fills the slots
and may bring its own memory wording (``mem``), its own paraphrased questions
(``qs``) and questions that hinge on a rare term (``rqs``).
"""

from dataclasses import dataclass, field


def V(**slots) -> dict:
    """One value of a fact type: slot values plus optional ``mem``/``qs``/``rqs``.

    ``requires`` names persona traits or fact types that must be present for
    this value to be picked, ``excludes`` fact types that must not be, and
    ``tags`` adds multi-answer groups (see ``GROUPS`` in the builder).
    """
    return slots


@dataclass(frozen=True)
class FactType:
    """A kind of fact with its memory templates and paraphrased questions.

    ``queries`` are paraphrases (kind ``paraphrase``); ``rare_queries`` name a
    rare term that is also in the memory (kind ``rare_term``: a proper noun, a
    product, a place), which is where keyword search earns its keep. ``also``
    lists other fact types of the same user that answer ``queries`` too.
    ``name`` fills ``{n}`` from the "person" or "pet" pool. ``decoys`` are
    memories about a *different* value of the same kind ("Found Murakami's
    books hard going" next to "Favourite author is Hilary Mantel"): they
    answer nothing, and only the rare term tells them apart.
    """

    key: str
    topic: str
    values: tuple[dict, ...]
    memory: tuple[str, ...] = ()
    queries: tuple[str, ...] = ()
    rare_queries: tuple[str, ...] = ()
    name: str | None = None
    also: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    decoys: tuple[str, ...] = ()
    max_per_user: int = 1
    min_per_user: int = 1
    tags: tuple[str, ...] = field(default=())

    def memory_templates(self, value: dict) -> tuple[str, ...]:
        """The value's own wording if it has one, else the type's."""
        return tuple(value.get("mem") or self.memory)

    def paraphrase_templates(self, value: dict) -> tuple[str, ...]:
        return tuple(value.get("qs", ())) + self.queries

    def rare_templates(self, value: dict) -> tuple[str, ...]:
        return tuple(value.get("rqs", ())) + self.rare_queries

    def value_tags(self, value: dict) -> tuple[str, ...]:
        return self.tags + tuple(value.get("tags", ()))
