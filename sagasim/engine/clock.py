"""The small clock interface the engine is written against.

The engine never touches SimPy. It asks a :class:`Clock` for the time in
integer milliseconds and for callbacks at later times; the runtime implements
the interface on a SimPy environment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["COMPLETION", "CRASH", "DEADLINE", "Clock", "TimerHandle"]

COMPLETION = 1
"""Priority of ordinary wake-ups: a sleep ending, a retry starting, an event."""

DEADLINE = 2
"""Priority of deadlines: at one instant they come after every completion."""

CRASH = 3
"""Priority of injected engine crashes: after completions and deadlines."""


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled until it has run."""

    when: int

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Simulated time in integer milliseconds."""

    def now_ms(self) -> int: ...

    def call_later(
        self, delay: int, callback: Callable[[], None], priority: int = COMPLETION
    ) -> TimerHandle:
        """Run ``callback`` after ``delay`` ms; among callbacks due at one
        instant, lower ``priority`` runs first, then call order."""
        ...
