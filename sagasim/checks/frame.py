"""The shape every check returns: one row per violation.

A check never raises on a bad run and never prints; it returns a DataFrame
with :data:`COLUMNS`, empty (with those columns) when the run is clean, so
that the results of many checks, instances and runs concatenate.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import pandas as pd

__all__ = ["COLUMNS", "Violation", "concat", "empty", "evidence", "frame"]

COLUMNS = ("check", "instance", "subject", "message", "evidence")


class Violation(NamedTuple):
    """One broken invariant.

    Attributes:
        check: the name of the broken invariant, such as ``"rollback_order"``.
        instance: the instance at fault, or ``""`` when none is (a resource
            whose total drifted).
        subject: what the violation is about: a step name, an account or a
            charge id qualified by its service (``"BANK_A:alice"``), a
            resource.
        message: one readable sentence.
        evidence: the smallest set of trace ``seq`` numbers or effect ids
            that shows the violation, in ascending order; each check says
            which kind it cites.
    """

    check: str
    instance: str
    subject: str
    message: str
    evidence: tuple[int, ...]


def frame(violations: Iterable[Violation]) -> pd.DataFrame:
    """The violations as a DataFrame with :data:`COLUMNS`, in the order given."""
    return pd.DataFrame(list(violations), columns=list(COLUMNS))


def empty() -> pd.DataFrame:
    """A DataFrame with :data:`COLUMNS` and no rows: a clean result."""
    return frame(())


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The rows of several check results, one after the other, reindexed."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty()
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def evidence(*ids: int | None) -> tuple[int, ...]:
    """``ids`` without ``None`` and repeats, as plain ints in ascending order."""
    return tuple(sorted({int(i) for i in ids if i is not None}))
