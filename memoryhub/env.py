"""Typed readers for environment variables.

Settings read everything from the environment through these helpers, so a bad
value fails at start-up with a message that names the variable and says what
to set, instead of surfacing later as an obscure error.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the variable as a string, or ``default`` when it is unset."""
    return os.environ.get(name, default)


def env_required(name: str, hint: str) -> str:
    """Return the variable or fail fast with ``hint`` on how to set it."""
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"{name} is not set. {hint}")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    """Parse 1/0, true/false, yes/no, on/off (case-insensitive)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """Parse an integer, optionally bounded below and above."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name}={value} must be at most {maximum}.")
    return value


def env_float(name: str, default: float) -> float:
    """Parse a float."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Parse a comma-separated list, dropping empty items."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]
