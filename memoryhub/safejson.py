"""Strict JSON decoding shared by the API parsers and the import service.

Rejects what PostgreSQL cannot store or what would crash later as a 500:
NaN/Infinity, nesting deep enough to exhaust the recursion limit, and strings
(values or keys) holding NUL characters or unpaired UTF-16 surrogates.
"""

import json

from memoryhub.errors import InvalidInput


def _strict_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads_strict(text: str | bytes):
    """``json.loads`` without NaN/Infinity; too-deep nesting is a ``ValueError``."""
    try:
        return json.loads(text, parse_constant=_strict_constant)
    except RecursionError:
        raise ValueError("the JSON nests too deeply") from None


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store ``value`` (NUL, unpaired surrogate), or None."""
    if "\x00" in value:
        return "must not contain NUL (\\u0000) characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain unpaired UTF-16 surrogates"
    return None


def check_strings(data, root: str = "") -> None:
    """Raise ``InvalidInput`` naming the first string or key PostgreSQL can't store."""
    stack = [(root, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise InvalidInput(f"{path or 'value'} {problem}", field=path or None)
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    raise InvalidInput(
                        f"a key in {path or 'the body'} {problem}", field=path or None
                    )
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
