"""Latency models: how long a request takes, in integer milliseconds.

A model draws one latency per request from the service's random stream. The
simulation clock counts whole milliseconds, so every draw is rounded to an
integer. A :class:`Fixed` model draws nothing from the stream, so making one
leg of a request fixed leaves the draws of the other legs unchanged.

:func:`parse_latency` turns the plain form a scenario file or a caller
writes into a model:

- ``50`` (or ``"50 ms"``, ``"2 seconds"``, a ``timedelta``): :class:`Fixed`;
- ``{"min": 20, "max": 80}`` or the pair ``(20, 80)``: :class:`Uniform`;
- ``{"median": 40, "sigma": 0.5}``: :class:`LogNormal`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sagasim.durations import parse_duration

__all__ = ["Fixed", "LatencyModel", "LogNormal", "Uniform", "parse_latency"]


class LatencyModel:
    """A distribution of request latencies in integer milliseconds.

    Subclasses implement :meth:`draw`; a draw may take any number of values
    from the stream, and must take the same number for the same state of it.
    """

    def draw(self, rng: random.Random) -> int:
        """One latency in milliseconds, taking what it needs from ``rng``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Fixed(LatencyModel):
    """Every request takes exactly ``ms`` milliseconds; draws nothing."""

    ms: int

    def __post_init__(self) -> None:
        if not _is_ms(self.ms):
            raise ValueError(
                f"latency must be a non-negative integer of milliseconds, "
                f"got {self.ms!r}"
            )

    def draw(self, rng: random.Random) -> int:
        return self.ms


@dataclass(frozen=True)
class Uniform(LatencyModel):
    """A whole number of milliseconds from ``lo`` to ``hi``, both included.

    One draw is ``rng.randint(lo, hi)``.
    """

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not (_is_ms(self.lo) and _is_ms(self.hi) and self.lo <= self.hi):
            raise ValueError(
                f"latency range must be 0 <= min <= max, got ({self.lo!r}, {self.hi!r})"
            )

    def draw(self, rng: random.Random) -> int:
        return rng.randint(self.lo, self.hi)


@dataclass(frozen=True)
class LogNormal(LatencyModel):
    """A long-tailed latency: half the requests take less than ``median_ms``.

    One draw is ``round(rng.lognormvariate(log(median_ms), sigma))``; with
    ``sigma`` 0 every request takes the median. Larger ``sigma`` gives a
    longer tail (the 99th percentile is ``median_ms * exp(2.33 * sigma)``).
    """

    median_ms: float
    sigma: float

    def __post_init__(self) -> None:
        if not (_is_number(self.median_ms) and self.median_ms > 0):
            raise ValueError(
                f"latency median must be a positive number of milliseconds, "
                f"got {self.median_ms!r}"
            )
        if not (_is_number(self.sigma) and self.sigma >= 0):
            raise ValueError(
                f"latency sigma must be a non-negative number, got {self.sigma!r}"
            )

    def draw(self, rng: random.Random) -> int:
        return round(rng.lognormvariate(math.log(self.median_ms), self.sigma))


def parse_latency(spec: Any) -> LatencyModel:
    """The latency model that ``spec`` describes (see the module docstring).

    A :class:`LatencyModel` is returned as it is.

    Raises:
        ValueError: ``spec`` is of none of the accepted forms, or its numbers
            are out of range.
    """
    if isinstance(spec, LatencyModel):
        return spec
    if isinstance(spec, bool):
        raise ValueError(f"expected a latency, got {spec!r}")
    if isinstance(spec, int):
        return Fixed(spec)
    if isinstance(spec, (str, timedelta)):
        return Fixed(parse_duration(spec))
    if isinstance(spec, tuple) and len(spec) == 2:
        return Uniform(*spec)
    if isinstance(spec, Mapping):
        keys = set(spec)
        if keys == {"min", "max"}:
            return Uniform(spec["min"], spec["max"])
        if keys == {"median", "sigma"}:
            return LogNormal(spec["median"], spec["sigma"])
        raise ValueError(
            f"expected a latency {{min, max}} or {{median, sigma}}, got {dict(spec)!r}"
        )
    raise ValueError(
        f"expected a latency: milliseconds, {{min, max}} or {{median, sigma}}, "
        f"got {spec!r}"
    )


def _is_ms(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
