"""Serializer plumbing shared by every app's API: strict JSON fields, unknown
field rejection and the documented error body.

JSON bodies are typed: a string field refuses numbers, a boolean refuses
``"yes"``, an integer refuses ``"5"`` and ``5.0``. Coercing would hide client
bugs (``"user_id": 42`` and ``"42"`` would dedupe as one scope). Query
parameters, which are always text, use DRF's usual parsing instead.
"""

from rest_framework import serializers

from memoryhub.safejson import text_problem


class StrictCharField(serializers.CharField):
    """A JSON string, never a coerced number; not trimmed by default.

    NULs and unpaired surrogates never get this far: the JSON parser refuses
    them anywhere in a body.
    """

    default_error_messages = {"invalid": "must be a string"}

    def __init__(self, **kwargs):
        """Keep whitespace unless told otherwise (content is stored as sent)."""
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        """Accept only ``str``."""
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryCharField(serializers.CharField):
    """A query-string value PostgreSQL can compare (no NUL characters)."""

    def to_internal_value(self, data):
        """Reject what :func:`memoryhub.safejson.text_problem` reports."""
        value = super().to_internal_value(data)
        problem = text_problem(value)
        if problem:
            raise serializers.ValidationError(problem, code="invalid")
        return value


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` / ``false`` only."""

    default_error_messages = {"invalid": "must be true or false"}

    def to_internal_value(self, data):
        """Accept only ``bool``."""
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, never a string, float or boolean."""

    default_error_messages = {"invalid": "must be an integer"}

    def to_internal_value(self, data):
        """Accept only ``int`` (bools are not integers here)."""
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number, never a string or boolean."""

    default_error_messages = {"invalid": "must be a number"}

    def to_internal_value(self, data):
        """Accept ``int`` and ``float`` only."""
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDictField(serializers.DictField):
    """A JSON object with any values."""

    default_error_messages = {"not_a_dict": "must be a JSON object"}

    def __init__(self, **kwargs):
        """Values are arbitrary JSON; the services validate them."""
        kwargs.setdefault("child", serializers.JSONField())
        super().__init__(**kwargs)


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not declare, naming them and listing the allowed ones.

    A typo such as ``"userid"`` would otherwise be dropped silently and the
    memory stored under the wrong scope.
    """

    def to_internal_value(self, data):
        """Validate declared fields after refusing undeclared ones."""
        if isinstance(data, dict):
            writable = {
                name for name, field in self.fields.items() if not field.read_only
            }
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {
                        unknown[0]: [
                            f"unknown field(s) {', '.join(unknown)}; allowed: "
                            f"{', '.join(sorted(writable))}"
                        ]
                    },
                    code="unknown_field",
                )
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    """Every error response: a sentence, a machine code and maybe the field."""

    detail = serializers.CharField(help_text="What went wrong and how to fix it.")
    code = serializers.CharField(
        help_text="Machine-readable: invalid, required, unknown_field, parse_error, "
        "not_authenticated, permission_denied, not_found, conflict, too_large, "
        "throttled, ..."
    )
    field = serializers.CharField(
        required=False, help_text="The request field the error is about."
    )
    errors = serializers.DictField(
        required=False,
        child=serializers.JSONField(),
        help_text="All per-field messages when the body had several problems.",
    )
