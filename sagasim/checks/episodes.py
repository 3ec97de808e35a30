"""Reading a trace instance by instance, the way the rollback checks need it.

A trace (``sim.trace``, or one loaded from a saved run) is sorted by ``seq``
and split by instance. An instance's rows are further split into *epochs* at
each ``WORKFLOW_RESTARTED``: a restart begins a new run of ``run()``, with
its own terminal failure and its own rollback.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import pandas as pd

from sagasim.runtime.trace import COLUMNS as TRACE_COLUMNS

__all__ = [
    "ENDS",
    "ROLLBACK_EVENTS",
    "Outcome",
    "Row",
    "detail_of",
    "few_collections",
    "normalize",
    "rolled_back",
    "rolled_back_ids",
    "rows_by_instance",
]

#: The events that end an epoch of an instance.
ENDS = frozenset({"WORKFLOW_SUCCESS", "WORKFLOW_FAILURE", "WORKFLOW_TERMINATED"})

#: The engine's rollback events.
ROLLBACK_EVENTS = frozenset(
    {
        "ROLLBACK_START",
        "ROLLBACK_STEP_START",
        "ROLLBACK_ATTEMPT_START",
        "ROLLBACK_ATTEMPT_SUCCESS",
        "ROLLBACK_ATTEMPT_FAILURE",
        "ROLLBACK_STEP_SUCCESS",
        "ROLLBACK_STEP_FAILURE",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
    }
)

_DEFAULTS: dict[str, Any] = {
    "time": 0.0,
    "step": "",
    "count": 0,
    "attempt": 0,
    "error_name": "",
    "error_message": "",
    "detail": "",
}
_TEXT = ("instance", "event", "step", "error_name", "error_message")
_NORMALIZED = "sagasim.checks.normalized"


class Row(NamedTuple):
    """One trace row, with the trace's columns as attributes."""

    seq: int
    time: float
    instance: str
    event: str
    step: str
    count: int
    attempt: int
    error_name: str
    error_message: str
    detail: Any

    @property
    def key(self) -> tuple[str, int]:
        """The step the row is about: ``(name, count)``."""
        return (self.step, self.count)


def normalize(trace: pd.DataFrame) -> pd.DataFrame:
    """``trace`` with every trace column present, sorted by ``seq``.

    A saved trace may lack optional columns or carry missing values where
    the recorder writes ``""`` or ``0`` (a CSV round trip does that); they are
    filled in. ``seq``, ``instance`` and ``event`` are required.

    Raises:
        ValueError: when a required column is missing.
    """
    if trace.attrs.get(_NORMALIZED) and list(trace.columns) == list(TRACE_COLUMNS):
        return trace
    missing = [name for name in ("seq", "instance", "event") if name not in trace]
    if missing:
        raise ValueError(f"trace lacks the column(s) {', '.join(missing)}")
    trace = trace.copy()
    for name, default in _DEFAULTS.items():
        if name not in trace:
            trace[name] = default
    for name in _TEXT:
        trace[name] = trace[name].fillna("").astype(str)
    trace["detail"] = trace["detail"].fillna("")
    for name in ("seq", "count", "attempt"):
        trace[name] = trace[name].fillna(0).astype("int64")
    trace = trace.sort_values("seq", kind="stable")[list(TRACE_COLUMNS)]
    trace.attrs[_NORMALIZED] = True
    return trace


def rows_by_instance(
    trace: pd.DataFrame,
    *,
    events: Iterable[str] | None = None,
    instances: Iterable[str] | None = None,
) -> dict[str, list[Row]]:
    """Each instance's rows in ``seq`` order, optionally only some events of
    some instances; instances in the order they first appear."""
    trace = normalize(trace)
    if events is not None:
        trace = trace[trace["event"].isin(list(events))]
    if instances is not None:
        trace = trace[trace["instance"].isin(list(instances))]
    columns = [trace[name].tolist() for name in TRACE_COLUMNS]
    grouped: dict[str, list[Row]] = {}
    make = Row._make
    with few_collections():
        for values in zip(*columns, strict=True):
            row = make(values)
            rows = grouped.get(row.instance)
            if rows is None:
                rows = grouped[row.instance] = []
            rows.append(row)
    return grouped


@contextmanager
def few_collections() -> Iterator[None]:
    """Pause the cyclic garbage collector while many rows are built."""
    # NOTE: building a million small tuples lets CPython's collector rescan
    # the young ones over and over, which costs more than building them. The
    # rows hold no reference cycles, so collection waits until they are
    # built; the engine's run loop does the same.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def detail_of(row: Row) -> dict[str, Any]:
    """The row's ``detail`` as a dict (``{}`` when it has none)."""
    detail = row.detail
    if isinstance(detail, dict):
        return detail
    if not isinstance(detail, str) or not detail:
        return {}
    try:
        value = json.loads(detail)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def rolled_back_ids(trace: pd.DataFrame) -> list[str]:
    """The instances with at least one rollback row, in seq order."""
    trace = normalize(trace)
    mask = trace["event"].isin(ROLLBACK_EVENTS)
    return list(dict.fromkeys(trace.loc[mask, "instance"].tolist()))


@dataclass(frozen=True)
class Outcome:
    """How an instance that rolled back ended, in its last epoch.

    Attributes:
        rollback_seq: the seq of the epoch's first ``ROLLBACK_START``.
        end_seq: the seq of the ``WORKFLOW_FAILURE`` or
            ``WORKFLOW_TERMINATED`` that ended the epoch after the rollback.
        end_event: that row's event name.
        restarted_at: the time (seconds) of the restart that began the
            epoch, or ``None`` when the instance was never restarted.
        replayed: the steps ``(name, count)`` the epoch took from the cache
            of an earlier epoch (a restart from a step keeps the steps
            before it); their effects belong to this epoch too.
    """

    rollback_seq: int
    end_seq: int
    end_event: str
    restarted_at: float | None
    replayed: frozenset[tuple[str, int]]

    def owns(self, time: float, step: str, count: int) -> bool:
        """Whether an effect made at ``time`` by step ``(step, count)``
        belongs to this epoch."""
        # NOTE: an effect landing at the very instant of the restart is taken
        # to belong to the new epoch; the trace's EFFECT_APPLIED rows, whose
        # seq orders them against WORKFLOW_RESTARTED, could settle the tie.
        if self.restarted_at is None or time >= self.restarted_at:
            return True
        return (step, count) in self.replayed


_OUTCOME_EVENTS = ENDS | {"WORKFLOW_RESTARTED", "ROLLBACK_START", "STEP_REPLAYED"}


def rolled_back(trace: pd.DataFrame) -> dict[str, Outcome]:
    """The instances whose last epoch rolled back and then ended errored or
    terminated, by instance id, in the order they first appear.

    An instance still rolling back when the run stopped is not included: its
    compensations may not have happened yet.
    """
    ids = rolled_back_ids(trace)
    grouped = rows_by_instance(trace, events=_OUTCOME_EVENTS, instances=ids)
    outcomes: dict[str, Outcome] = {}
    for instance, rows in grouped.items():
        restarted_at = None
        replayed: set[tuple[str, int]] = set()
        rollback = end = None
        for row in rows:
            event = row.event
            if event == "WORKFLOW_RESTARTED":
                restarted_at = row.time
                replayed = set()
                rollback = end = None
            elif end is not None:
                continue
            elif event == "STEP_REPLAYED":
                replayed.add(row.key)
            elif event == "ROLLBACK_START":
                rollback = rollback or row
            elif event in ENDS:
                end = row
        if (
            rollback is not None
            and end is not None
            and end.seq > rollback.seq
            and end.event in ("WORKFLOW_FAILURE", "WORKFLOW_TERMINATED")
        ):
            outcomes[instance] = Outcome(
                rollback.seq, end.seq, end.event, restarted_at, frozenset(replayed)
            )
    return outcomes
