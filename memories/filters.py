"""The memory filter language (mem0 v2 compatible), compiled to a Django ``Q``.

A filter is a JSON object of conditions, all of which must hold::

    {"user_id": "alice",
     "created_at": {"gte": "2024-07-01", "lte": "2024-07-31"},
     "OR": [{"categories": {"contains": "travel"}}, {"priority": {"gte": 5}}],
     "NOT": {"metadata": {"status": "done"}}}

* Logical keys: ``AND`` / ``OR`` take a list of filters; ``NOT`` takes a filter
  or a list of them (negates their conjunction).
* Fields: ``user_id agent_id app_id run_id state categories created_at
  updated_at expires_at``; ``metadata`` takes ``{key: condition}``; every other
  key is a metadata key, as in mem0. ``keywords`` matches words of the content
  through the blind index when the caller supplies a tokenizer.
* A condition is a plain value (equality), ``"*"`` (set / non-empty), or an
  operator object: ``eq ne in nin gt gte lt lte contains icontains``; several
  operators in one object must all hold.
* Dates are ISO 8601. A bare date (``2024-07-31``) means that whole UTC day, so
  ``lte: "2024-07-31"`` includes the 31st; naive times are UTC.
* Metadata comparisons (``gt`` ...) compare JSON numbers numerically and JSON
  strings as text, and only match values of the same JSON type; ``ne``/``nin``
  also match memories without the key. ``contains`` matches a substring of a
  string value or an element of an array value; ``icontains`` a substring of a
  string value, ignoring case.

Every mistake raises :class:`FilterError` naming the path and what to use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db.models import CharField, F, Func, JSONField, Q, Value
from django.db.models.fields.json import (
    DataContains,
    HasKey,
    KeyTextTransform,
    KeyTransform,
    KeyTransformExact,
    KeyTransformGt,
    KeyTransformGte,
    KeyTransformIContains,
    KeyTransformIn,
    KeyTransformLt,
    KeyTransformLte,
)
from django.db.models.lookups import Contains, Exact, IContains

from memoryhub.errors import InvalidInput

MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_LIST_VALUES = 1000
MAX_KEY_CHARS = 255
WILDCARD = "*"
LOGICAL = ("AND", "OR", "NOT")
TEXT_FIELDS = ("user_id", "agent_id", "app_id", "run_id")
DATE_FIELDS = ("created_at", "updated_at", "expires_at")
STATES = ("active", "archived", "deleted")

_TEXT_OPS = ("eq", "ne", "in", "nin", "contains", "icontains")
_OPERATORS = {
    **dict.fromkeys(TEXT_FIELDS, _TEXT_OPS),
    "state": ("eq", "ne", "in", "nin"),
    **dict.fromkeys(DATE_FIELDS, ("eq", "ne", "gt", "gte", "lt", "lte")),
    "categories": ("eq", "ne", "in", "nin", "contains", "icontains"),
    "keywords": ("eq", "contains", "icontains"),
    "metadata": (*_TEXT_OPS, "gt", "gte", "lt", "lte"),
}
_ALL_OPERATORS = frozenset(op for ops in _OPERATORS.values() for op in ops)
_JSON_COMPARE = {
    "gt": KeyTransformGt,
    "gte": KeyTransformGte,
    "lt": KeyTransformLt,
    "lte": KeyTransformLte,
}


class FilterError(InvalidInput, ValueError):
    """An invalid filter; the message names the path and how to fix it."""

    def __init__(self, path: str, problem: str) -> None:
        """Build ``"<path>: <problem>"``; ``field`` carries the path."""
        super().__init__(f"{path}: {problem}", field=path)


def compile_filters(
    filters: dict | None,
    *,
    keyword_tokens: Callable[[str], list[str]] | None = None,
) -> Q:
    """Compile ``filters`` into a ``Q`` over ``Memory``; ``None``/``{}`` match all.

    ``keyword_tokens`` turns a text into blind-index tokens (see
    :func:`memoryhub.crypto.blind.blind_tokens` with the space's key); without
    it a ``keywords`` condition is an error, since the index is per space.
    """
    if filters is None:
        return Q()
    return _Compiler(keyword_tokens).node(filters, "filters", 1)


def _json(value: Any) -> Value:
    """``value`` as a jsonb parameter (JSON null for ``None``)."""
    return Value(value, output_field=JSONField())


def _plural(items: tuple[str, ...]) -> str:
    """``a, b, c`` for a message."""
    return ", ".join(items)


def _describe(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Compiler:
    """Walks the filter tree once, counting conditions and nesting."""

    def __init__(self, keyword_tokens: Callable[[str], list[str]] | None) -> None:
        """Start with no conditions seen."""
        self.keyword_tokens = keyword_tokens
        self.conditions = 0

    # --- structure ---------------------------------------------------------

    def node(self, spec: Any, path: str, depth: int) -> Q:
        """Compile one filter object (an implicit AND of its keys)."""
        if not isinstance(spec, dict):
            raise FilterError(
                path, f"must be an object of conditions, not {type(spec).__name__}"
            )
        if depth > MAX_DEPTH:
            raise FilterError(
                path, f"filters nest deeper than {MAX_DEPTH} levels; flatten them"
            )
        result = Q()
        for key, value in spec.items():
            if not isinstance(key, str) or not key:
                raise FilterError(path, f"{_describe(key)} is not a field name")
            result &= self.entry(key, value, f"{path}.{key}", depth)
        return result

    def entry(self, key: str, value: Any, path: str, depth: int) -> Q:
        """Compile one ``key: value`` pair of a filter object."""
        if key in ("AND", "OR"):
            parts = self.sublist(value, path, depth, allow_object=False)
            combined = parts[0]
            for part in parts[1:]:
                combined = combined & part if key == "AND" else combined | part
            return combined
        if key == "NOT":
            combined = Q()
            for part in self.sublist(value, path, depth, allow_object=True):
                combined &= part
            return ~combined
        if key.upper() in LOGICAL:
            raise FilterError(
                path, f"logical operators are upper-case: use {key.upper()!r}"
            )
        if key in TEXT_FIELDS:
            return self.condition(value, path, key, self.text_op)
        if key == "state":
            return self.condition(value, path, key, self.state_op)
        if key in DATE_FIELDS:
            return self.condition(value, path, key, self.date_op)
        if key == "categories":
            return self.condition(value, path, key, self.categories_op)
        if key == "keywords":
            return self.condition(value, path, key, self.keywords_op)
        if key == "metadata":
            return self.metadata_object(value, path)
        return self.metadata_key(key, value, path)

    def sublist(
        self, value: Any, path: str, depth: int, *, allow_object: bool
    ) -> list[Q]:
        """Compile the sub-filters of AND / OR / NOT."""
        if allow_object and isinstance(value, dict):
            return [self.node(value, path, depth + 1)]
        if not isinstance(value, list) or not value:
            wanted = "an object or a non-empty list" if allow_object else "a list"
            raise FilterError(path, f"must be {wanted} of filter objects")
        return [
            self.node(item, f"{path}[{index}]", depth + 1)
            for index, item in enumerate(value)
        ]

    def condition(
        self, value: Any, path: str, field: str, compile_op: Callable[..., Q]
    ) -> Q:
        """Split a condition into operators and compile each for ``field``."""
        kind = "metadata" if field.startswith("metadata.") else field
        allowed = _OPERATORS[kind]
        if not isinstance(value, dict):
            self.count(path)
            if value == WILDCARD:
                return compile_op(field, "*", None, path)
            return compile_op(field, "eq", value, path)
        if not value:
            raise FilterError(path, 'empty operator object; use e.g. {"eq": ...}')
        result = Q()
        for op, operand in value.items():
            if op not in allowed:
                hint = (
                    f"{op!r} does not apply to {field}"
                    if op in _ALL_OPERATORS
                    else f"unknown operator {_describe(op)} for {field}"
                )
                if kind == "metadata":
                    hint += ' (compare a whole object with {"eq": {...}})'
                raise FilterError(
                    path, f"{hint}; use one of: {_plural(allowed)} or '*'"
                )
            self.count(path)
            result &= compile_op(field, op, operand, f"{path}.{op}")
        return result

    def count(self, path: str) -> None:
        """Enforce :data:`MAX_CONDITIONS`."""
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterError(
                path, f"more than {MAX_CONDITIONS} conditions; split the query"
            )

    # --- values -------------------------------------------------------------

    @staticmethod
    def values(operand: Any, path: str, check: Callable[[Any, str], Any]) -> list:
        """The checked items of an ``in`` / ``nin`` list."""
        if not isinstance(operand, list) or not operand:
            raise FilterError(path, "must be a non-empty list of values")
        if len(operand) > MAX_LIST_VALUES:
            raise FilterError(path, f"lists are limited to {MAX_LIST_VALUES} values")
        return [check(item, f"{path}[{i}]") for i, item in enumerate(operand)]

    @staticmethod
    def text(value: Any, path: str) -> str:
        """A string (integers are accepted as their decimal form)."""
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise FilterError(path, f"{_describe(value)} is not a string")

    # --- fields ---------------------------------------------------------------

    def text_op(self, field: str, op: str, operand: Any, path: str) -> Q:
        """user_id / agent_id / app_id / run_id (empty string means unset)."""
        if op == "*":
            return ~Q(**{field: ""})
        if op in ("in", "nin"):
            q = Q(**{f"{field}__in": self.values(operand, path, self.text)})
            return q if op == "in" else ~q
        value = self.text(operand, path)
        lookup = {"eq": field, "ne": field}.get(op, f"{field}__{op}")
        return ~Q(**{lookup: value}) if op == "ne" else Q(**{lookup: value})

    def state_op(self, field: str, op: str, operand: Any, path: str) -> Q:
        """state: one of active / archived / deleted."""

        def check(value: Any, at: str) -> str:
            if value not in STATES:
                raise FilterError(
                    at,
                    f"unknown state {_describe(value)}; use one of: " + _plural(STATES),
                )
            return value

        if op == "*":
            return Q()
        if op in ("in", "nin"):
            q = Q(state__in=self.values(operand, path, check))
            return q if op == "in" else ~q
        q = Q(state=check(operand, path))
        return ~q if op == "ne" else q

    def date_op(self, field: str, op: str, operand: Any, path: str) -> Q:
        """created_at / updated_at / expires_at against ISO 8601 values."""
        if op == "*":
            return Q(**{f"{field}__isnull": False})
        start, end = self.instant(operand, path)
        if end is None:  # an exact instant
            lookup = {"eq": "exact", "ne": "exact"}.get(op, op)
            q = Q(**{f"{field}__{lookup}": start})
            return ~q if op == "ne" else q
        day = Q(**{f"{field}__gte": start, f"{field}__lt": end})
        return {
            "eq": day,
            "ne": ~day,
            "gt": Q(**{f"{field}__gte": end}),
            "gte": Q(**{f"{field}__gte": start}),
            "lt": Q(**{f"{field}__lt": start}),
            "lte": Q(**{f"{field}__lt": end}),
        }[op]

    @staticmethod
    def instant(value: Any, path: str) -> tuple[datetime, datetime | None]:
        """``(start, end)`` of a bare date's UTC day, or ``(instant, None)``."""
        if not isinstance(value, str):
            raise FilterError(
                path, f"{_describe(value)} is not an ISO 8601 date (a string)"
            )
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            start = datetime.combine(day, time.min, tzinfo=UTC)
            return start, start + timedelta(days=1)
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise FilterError(
                path,
                f"{_describe(value)} is not an ISO 8601 date; use e.g. "
                "2024-07-31 or 2024-07-31T09:30:00Z",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment, None

    def categories_op(self, field: str, op: str, operand: Any, path: str) -> Q:
        """categories: membership tests on the array of category names."""
        if op == "*":
            return Q(categories__len__gt=0)
        if op in ("in", "nin"):
            q = Q(categories__overlap=self.values(operand, path, self.text))
            return q if op == "in" else ~q
        if op == "icontains":
            # Substring of any category, ignoring case; \x1f cannot occur in
            # a category name, so no match spans two of them.
            joined = Func(
                F("categories"),
                Value("\x1f"),
                function="array_to_string",
                output_field=CharField(),
            )
            return Q(IContains(joined, self.text(operand, path)))
        if isinstance(operand, list):  # eq / contains / ne with a list: all of
            wanted = self.values(operand, path, self.text)
        else:
            wanted = [self.text(operand, path)]
        q = Q(categories__contains=wanted)
        return ~q if op == "ne" else q

    def keywords_op(self, field: str, op: str, operand: Any, path: str) -> Q:
        """keywords: every word of the text appears in the content (blind index)."""
        if self.keyword_tokens is None:
            raise FilterError(
                path,
                "keywords filters are not available for this request (they need "
                "a single space's keyword index)",
            )
        if op == "*":
            raise FilterError(path, "'*' does not apply to keywords")
        tokens = self.keyword_tokens(self.text(operand, path))
        if not tokens:
            raise FilterError(
                path, "has no searchable words (only stopwords or punctuation)"
            )
        query = SearchQuery(" & ".join(tokens), search_type="raw", config="simple")
        return Q(keyword_index=query)

    # --- metadata ------------------------------------------------------------------

    def metadata_object(self, value: Any, path: str) -> Q:
        """``metadata: {key: condition, ...}`` or ``metadata: "*"``."""
        if value == WILDCARD:
            self.count(path)
            return ~Q(metadata={})
        if not isinstance(value, dict) or not value:
            raise FilterError(path, "must be an object of {key: condition} or '*'")
        result = Q()
        for key, condition in value.items():
            result &= self.metadata_key(key, condition, f"{path}.{key}")
        return result

    def metadata_key(self, key: Any, value: Any, path: str) -> Q:
        """One metadata key's condition."""
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            raise FilterError(
                path, f"metadata keys are 1 to {MAX_KEY_CHARS} characters"
            )
        return self.condition(value, path, f"metadata.{key}", self.metadata_op)

    def metadata_op(self, field: str, op: str, operand: Any, path: str) -> Q:
        """Compile against ``metadata -> key`` without ``__`` lookup parsing.

        Lookups are built as expressions, so a key such as ``a__b`` or
        ``contains`` is just a key, never a Django lookup path. Every positive
        condition starts with "has the key": a missing key then makes it
        false rather than SQL NULL, so ``ne``, ``nin`` and ``NOT`` match
        memories without the key (NOT NULL would be NULL, i.e. no match).
        """
        key = field.removeprefix("metadata.")
        has_key = Q(HasKey(F("metadata"), key))
        negate = op in ("ne", "nin")
        positive = {"ne": "eq", "nin": "in"}.get(op, op)
        q = has_key & self.metadata_value(key, positive, operand, path)
        return ~q if negate else q

    def metadata_value(self, key: str, op: str, operand: Any, path: str) -> Q:
        """The condition on the value of a metadata key known to be present."""
        value = KeyTransform(key, "metadata")
        typeof = Func(value, function="jsonb_typeof", output_field=CharField())
        if op == "*":
            return ~Q(Exact(typeof, "null"))
        if op == "in":
            items = self.values(operand, path, lambda item, at: _json(item))
            return Q(KeyTransformIn(value, items))
        if op == "eq":
            return Q(KeyTransformExact(value, _json(operand)))
        if op in _JSON_COMPARE:
            if isinstance(operand, bool) or not isinstance(operand, int | float | str):
                raise FilterError(
                    path, f"{_describe(operand)} is not a number or a string"
                )
            json_type = "string" if isinstance(operand, str) else "number"
            # jsonb orders across types (string < number), so without the type
            # check {"lt": 5} would match every string value.
            compare = _JSON_COMPARE[op](value, _json(operand))
            return Q(Exact(typeof, json_type)) & Q(compare)
        is_string = Q(Exact(typeof, "string"))
        if op == "icontains":
            return is_string & Q(KeyTransformIContains(value, self.text(operand, path)))
        # contains: substring of a string value, or element of an array value.
        element = Q(Exact(typeof, "array")) & Q(DataContains(value, _json([operand])))
        if isinstance(operand, str):
            text = KeyTextTransform(key, "metadata")
            return (is_string & Q(Contains(text, operand))) | element
        return element
