"""Argument checks shared by the services; they raise at call time.

The errors are non-retryable (and still a ``TypeError`` or ``ValueError``):
a step whose request is malformed fails after one attempt rather than
retrying the same mistake.
"""

from __future__ import annotations

from sagasim.services.errors import InvalidArgumentType, InvalidArgumentValue

__all__ = ["check_count", "check_key"]


def check_count(
    value: object, what: str, unit: str = "cents", *, allow_zero: bool = False
) -> None:
    """Raise unless ``value`` is a positive (or, with ``allow_zero``, a
    non-negative) ``int``; ``bool`` is refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentType(
            f"{what} must be an integer number of {unit}, got {value!r}"
        )
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidArgumentValue(f"{what} must be positive, got {value!r}")


def check_key(key: object) -> None:
    """Raise unless ``key`` is ``None`` or a non-empty string."""
    if key is not None and not (isinstance(key, str) and key):
        raise InvalidArgumentType(
            f"key must be a non-empty string or None, got {key!r}"
        )
