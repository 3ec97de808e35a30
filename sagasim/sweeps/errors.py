"""The errors a sweep raises."""

from __future__ import annotations

__all__ = ["RunFailedError", "SweepError"]


class SweepError(ValueError):
    """A sweep cannot start: a bad grid key or value, a bad number of seeds
    or jobs, a missing optional dependency. The message is one line and names
    what is wrong, for example ``grid simulation.max_concurent: ...``."""


class RunFailedError(RuntimeError):
    """One run of a sweep raised; the message names the run (grid point,
    seed index, seed) and the error, on one line, so it can be re-run alone.

    Only the message is kept, so the error crosses process boundaries intact.
    """
