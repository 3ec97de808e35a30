"""Durations as Cloudflare Workflows takes them, in integer milliseconds.

A number (or a string of digits) is milliseconds; a string is ``"<n> <unit>"``
with an optional trailing ``s`` on the unit; a :class:`datetime.timedelta` is
accepted too. Unlike the reference's parser, an unknown unit is an error
rather than a silent multiplication by one.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = ["DurationError", "format_ms", "parse_duration"]

_UNIT_MS = {
    "ms": 1,
    "millisecond": 1,
    "second": 1_000,
    "minute": 60_000,
    "hour": 3_600_000,
    "day": 86_400_000,
    "week": 604_800_000,
    "month": 2_592_000_000,
    "year": 31_557_600_000,
}

_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$")


class DurationError(ValueError):
    """A value that is not a duration; the message says what was expected."""


def parse_duration(value: object) -> int:
    """Return ``value`` as a whole number of milliseconds, rounded.

    Raises:
        DurationError: for a negative, non-finite or unparsable value, or a
            string whose unit is not one of ms, millisecond, second, minute,
            hour, day, week, month (30 days) and year (365.25 days).
    """
    if isinstance(value, bool):
        raise DurationError(f"expected a duration, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise DurationError(f"expected a non-negative duration, got {value!r}")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise DurationError(f"expected a non-negative duration, got {value!r}")
        return round(value)
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise DurationError(f"expected a non-negative duration, got {value!r}")
        return round(value / timedelta(milliseconds=1))
    if isinstance(value, str):
        return _parse_string(value)
    raise DurationError(
        f"expected milliseconds, a '<n> <unit>' string or a timedelta, got {value!r}"
    )


def _parse_string(text: str) -> int:
    match = _PATTERN.match(text)
    if match is None:
        raise DurationError(f"expected '<n> <unit>', got {text!r}")
    number, unit = match.groups()
    unit = unit.lower()
    if unit == "":
        factor = 1
    else:
        factor = _UNIT_MS.get(unit)
        if factor is None and unit.endswith("s"):
            factor = _UNIT_MS.get(unit[:-1])
        if factor is None:
            raise DurationError(f"unknown duration unit {unit!r} in {text!r}")
    return round(float(number) * factor)


def format_ms(ms: int) -> str:
    """A short human form of a duration: ``"250ms"``, ``"1.5s"``, ``"3m20s"``,
    ``"14d6m40s"`` (units that are zero are left out)."""
    if ms < 1000:
        return f"{ms}ms"
    seconds, rest = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else ""]
    parts.append(f"{minutes}m" if minutes else "")
    if rest:
        parts.append(f"{seconds + rest / 1000:g}s")
    elif seconds:
        parts.append(f"{seconds}s")
    return "".join(parts)
