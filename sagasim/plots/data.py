"""What the charts draw, as tables read from a trace.

Every chart in :mod:`sagasim.plots` starts from a trace: ``sim.trace`` of a
finished :class:`~sagasim.Simulation`, or a trace saved as CSV and read back.
The functions here turn that trace into the spans, orders and counts the
charts draw, so a notebook can look at the numbers behind a picture, and a
test can compare a picture with the trace it came from.

Orders are read from ``seq``, the trace's total order, never from ``time``
alone: two steps that start or finish at one instant keep the order the
engine recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from sagasim.runtime.trace import COLUMNS

__all__ = [
    "SPAN_COLUMNS",
    "RollbackOrders",
    "StepKey",
    "detail",
    "Row",
    "by_instance",
    "disagreeing_pairs",
    "handler_runs",
    "instance_ids",
    "outcome",
    "pick_instance",
    "read_trace",
    "records",
    "rollback_orders",
    "rolled_back",
    "spans",
    "step_label",
    "trace_of",
    "workflow_of",
]

StepKey = tuple[str, int]
"""A step occurrence, ``(name, count)``: how the engine keys steps."""

SPAN_COLUMNS = (
    "kind",
    "step",
    "count",
    "attempt",
    "start",
    "end",
    "outcome",
    "order",
    "seq",
)
"""The columns of :func:`spans`."""


class Row(NamedTuple):
    """One trace row as plain Python values, fields named as the columns."""

    seq: int
    time: float
    instance: str
    event: str
    step: str
    count: int
    attempt: int
    error_name: str
    error_message: str
    detail: str


_INT_COLUMNS = ("seq", "count", "attempt")
_STR_COLUMNS = ("instance", "event", "step", "error_name", "error_message", "detail")
_ENDS = {
    "WORKFLOW_SUCCESS": "complete",
    "WORKFLOW_FAILURE": "errored",
    "WORKFLOW_TERMINATED": "terminated",
}
_STEP_SETTLED = ("STEP_SUCCESS", "STEP_FAILURE", "STEP_CANCELLED")


# -- reading traces ------------------------------------------------------------


def read_trace(path: str | Path) -> pd.DataFrame:
    """A trace saved as CSV (``sagasim run`` writes ``trace.csv``), read
    back with the column types ``sim.trace`` has: empty strings stay empty
    strings, whatever a step or instance is called."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    return _typed(frame)


def trace_of(source: Any) -> pd.DataFrame:
    """The trace of ``source``: a Simulation (or anything with a ``sim`` or
    ``trace`` attribute, such as a scenario run), a trace DataFrame, or the
    path of a saved trace CSV.

    Raises:
        TypeError: for anything else.
        ValueError: for a DataFrame without the trace's columns.
    """
    if isinstance(source, pd.DataFrame):
        return _typed(source)
    if isinstance(source, (str, Path)):
        return read_trace(source)
    if hasattr(source, "host") and hasattr(source, "id"):
        return _typed(source.host.trace)
    trace = getattr(source, "trace", None)
    if trace is None and hasattr(source, "sim"):
        trace = source.sim.trace
    if isinstance(trace, pd.DataFrame):
        return _typed(trace)
    raise TypeError(
        "expected a Simulation, a trace DataFrame or a trace CSV path, "
        f"got {type(source).__name__}"
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"not a trace: no column {missing[0]!r}")
    frame = frame.copy()
    for column in _INT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column]).astype("int64")
    frame["time"] = pd.to_numeric(frame["time"]).astype("float64")
    for column in _STR_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str)
    return frame.sort_values("seq", kind="stable", ignore_index=True)


def records(frame: pd.DataFrame) -> list[Row]:
    """The rows of a typed trace frame as :class:`Row` tuples, in order."""
    columns = [frame[c].tolist() for c in COLUMNS]
    # NOTE: Row._make skips the generated __new__, which is most of the cost
    # of building a million rows.
    return list(map(Row._make, zip(*columns, strict=True)))


def by_instance(trace: pd.DataFrame) -> dict[str, list[Row]]:
    """Each instance's rows, in trace order, from one pass over ``trace``."""
    grouped: dict[str, list[Row]] = {}
    for row in records(trace):
        grouped.setdefault(row.instance, []).append(row)
    return grouped


def _rows_of(trace: pd.DataFrame | list[Row], instance: str) -> list[Row]:
    if isinstance(trace, list):
        return [row for row in trace if row.instance == instance]
    return records(trace[trace["instance"] == instance])


def detail(row: Any) -> dict[str, Any]:
    """A trace row's ``detail`` JSON as a dict (``{}`` when empty).

    ``row`` is a row (a Series or an ``itertuples`` tuple) or the text."""
    if isinstance(row, str):
        text = row
    elif hasattr(row, "detail"):
        text = row.detail
    else:
        text = row["detail"]
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def step_label(step: str, count: int = 1) -> str:
    """How charts name a step occurrence: ``"debit"``, or ``"debit#2"`` for
    the second ``step.do("debit", ...)`` of an instance."""
    return step if count <= 1 else f"{step}#{count}"


# -- instances -----------------------------------------------------------------


def instance_ids(trace: pd.DataFrame) -> list[str]:
    """The instances in ``trace``, in the order they first appear."""
    ids = trace.loc[trace["instance"] != "", "instance"]
    return [str(name) for name in pd.unique(ids)]


def workflow_of(trace: pd.DataFrame, instance: str) -> str:
    """The workflow name of ``instance`` (from ``WORKFLOW_QUEUED``), or ``""``."""
    rows = trace[
        (trace["instance"] == instance) & (trace["event"] == "WORKFLOW_QUEUED")
    ]
    for _, row in rows.iterrows():
        name = detail(row).get("workflow")
        if name:
            return str(name)
    return ""


def outcome(trace: pd.DataFrame, instance: str) -> str:
    """How ``instance`` ended in ``trace``: ``"complete"``, ``"errored"``,
    ``"terminated"``, or ``"running"`` when the trace shows no end."""
    rows = trace[(trace["instance"] == instance) & trace["event"].isin(_ENDS)]
    if rows.empty:
        return "running"
    return _ENDS[rows["event"].iloc[-1]]


def rolled_back(trace: pd.DataFrame) -> list[str]:
    """The instances that ran at least one rollback handler, in trace order."""
    rows = trace[trace["event"] == "ROLLBACK_STEP_START"]
    return [str(name) for name in pd.unique(rows["instance"])]


def pick_instance(
    trace: pd.DataFrame,
    instance: Any = None,
    *,
    grouped: dict[str, list[Row]] | None = None,
) -> str:
    """The instance a chart of one instance should show.

    ``instance`` may be an id or an :class:`~sagasim.Instance`. By default:
    the first instance whose rollback orders disagree, else the first that
    rolled back, else the first that failed, else the first.

    ``grouped`` is :func:`by_instance` of the trace, when the caller has it.

    Raises:
        ValueError: when the trace has no such instance, or none at all.
    """
    if instance is not None:
        name = getattr(instance, "id", instance)
        if not trace["instance"].eq(name).any():
            raise ValueError(f"the trace has no instance {name!r}")
        return str(name)
    ids = instance_ids(trace)
    if not ids:
        raise ValueError("the trace has no instance")
    undone = rolled_back(trace)
    if undone and grouped is None:
        grouped = by_instance(trace)
    for name in undone:
        orders = rollback_orders(grouped[name], name)
        if disagreeing_pairs(orders.reverse_start, orders.reverse_completion):
            return name
    if undone:
        return undone[0]
    failed = trace.loc[trace["event"] == "WORKFLOW_FAILURE", "instance"]
    if len(failed):
        return str(failed.iloc[0])
    return ids[0]


# -- spans -----------------------------------------------------------------------


def spans(trace: pd.DataFrame, instance: str) -> pd.DataFrame:
    """Every interval of ``instance``'s life that a timeline draws.

    One row per interval, with :data:`SPAN_COLUMNS`; ``start`` and ``end``
    in simulated seconds, ``seq`` the trace row that opened it. ``kind`` is:

    - ``"attempt"``: one step attempt, ``ATTEMPT_START`` to its
      ``ATTEMPT_SUCCESS`` or ``ATTEMPT_FAILURE`` (``outcome`` ``"success"``
      or ``"failure"``), or to the ``STEP_CANCELLED`` / ``STEP_FAILURE`` /
      ``WORKFLOW_TERMINATED`` that cut it off (``"cancelled"``). An attempt
      still open at the end of the trace ends there (``"open"``). So there
      is one row per ``ATTEMPT_START``.
    - ``"retry_wait"``: the wait between a failed attempt and the next one
      of the same step.
    - ``"sleep"``: ``SLEEP_START`` to ``SLEEP_COMPLETE``.
    - ``"wait"``: ``WAIT_START`` to ``WAIT_COMPLETE`` (``"success"``) or
      ``WAIT_TIMED_OUT`` (``"timed_out"``).
    - ``"rollback"``: one attempt of a rollback handler, on the row of the
      forward step it undoes; ``order`` is the handler's place in the order
      handlers ran (1 for the first ``ROLLBACK_STEP_START`` of the
      instance), on every attempt of that handler run.
    - ``"rollback_wait"``: the wait between two attempts of a handler.

    ``order`` is 0 on every row that is not a rollback.

    ``trace`` may also be a list of :class:`Row` (see :func:`by_instance`).
    """
    rows = _rows_of(trace, instance)
    last_time = float(rows[-1].time) if rows else 0.0
    found: list[dict[str, Any]] = []
    open_attempts: dict[tuple[str, int, int], dict[str, Any]] = {}
    open_handlers: dict[tuple[str, int, int], dict[str, Any]] = {}
    open_timers: dict[tuple[str, str, int], dict[str, Any]] = {}
    waits: dict[tuple[str, str, int], dict[str, Any]] = {}
    handler_order: dict[StepKey, int] = {}
    handlers_run = 0

    def span(kind: str, step: str, count: int, attempt: int, row: Any) -> dict:
        entry = {
            "kind": kind,
            "step": step,
            "count": count,
            "attempt": attempt,
            "start": float(row.time),
            "end": float(row.time),
            "outcome": "open",
            "order": 0,
            "seq": int(row.seq),
        }
        found.append(entry)
        return entry

    def close(entry: dict, row: Any, result: str) -> None:
        entry["end"] = float(row.time)
        entry["outcome"] = result

    def end_wait(kind: str, step: str, count: int, row: Any) -> None:
        pending = waits.pop((kind, step, count), None)
        if pending is not None:
            close(pending, row, "success")

    for row in rows:
        event = row.event
        key = (row.step, int(row.count))
        if event == "ATTEMPT_START":
            end_wait("retry_wait", *key, row)
            stale = open_attempts.pop((*key, int(row.attempt)), None)
            if stale is not None:
                close(stale, row, "cancelled")
            open_attempts[(*key, int(row.attempt))] = span(
                "attempt", *key, int(row.attempt), row
            )
        elif event in ("ATTEMPT_SUCCESS", "ATTEMPT_FAILURE"):
            entry = open_attempts.pop((*key, int(row.attempt)), None)
            if entry is not None:
                close(
                    entry, row, "success" if event == "ATTEMPT_SUCCESS" else "failure"
                )
            if event == "ATTEMPT_FAILURE" and "retryDelayMs" in detail(row):
                waits[("retry_wait", *key)] = span(
                    "retry_wait", *key, int(row.attempt), row
                )
        elif event in ("STEP_CANCELLED", "STEP_FAILURE", "STEP_SUCCESS"):
            for attempt_key in [k for k in open_attempts if k[:2] == key]:
                close(open_attempts.pop(attempt_key), row, "cancelled")
            pending = waits.pop(("retry_wait", *key), None)
            if pending is not None:
                close(pending, row, "cancelled")
        elif event == "WORKFLOW_TERMINATED":
            for attempt_key in list(open_attempts):
                close(open_attempts.pop(attempt_key), row, "cancelled")
            for timer_key in list(open_timers):
                close(open_timers.pop(timer_key), row, "cancelled")
        elif event == "SLEEP_START":
            open_timers[("sleep", *key)] = span("sleep", *key, 0, row)
        elif event == "SLEEP_COMPLETE":
            entry = open_timers.pop(("sleep", *key), None)
            if entry is not None:
                close(entry, row, "success")
        elif event == "WAIT_START":
            open_timers[("wait", *key)] = span("wait", *key, 0, row)
        elif event in ("WAIT_COMPLETE", "WAIT_TIMED_OUT"):
            entry = open_timers.pop(("wait", *key), None)
            if entry is not None:
                result = "success" if event == "WAIT_COMPLETE" else "timed_out"
                close(entry, row, result)
        elif event == "ROLLBACK_STEP_START":
            handlers_run += 1
            handler_order[key] = handlers_run
        elif event == "ROLLBACK_ATTEMPT_START":
            end_wait("rollback_wait", *key, row)
            entry = span("rollback", *key, int(row.attempt), row)
            entry["order"] = handler_order.get(key, 0)
            open_handlers[(*key, int(row.attempt))] = entry
        elif event in ("ROLLBACK_ATTEMPT_SUCCESS", "ROLLBACK_ATTEMPT_FAILURE"):
            entry = open_handlers.pop((*key, int(row.attempt)), None)
            if entry is not None:
                ok = event == "ROLLBACK_ATTEMPT_SUCCESS"
                close(entry, row, "success" if ok else "failure")
            if event == "ROLLBACK_ATTEMPT_FAILURE" and "retryDelayMs" in detail(row):
                wait = span("rollback_wait", *key, int(row.attempt), row)
                wait["order"] = handler_order.get(key, 0)
                waits[("rollback_wait", *key)] = wait
        elif event in ("ROLLBACK_STEP_SUCCESS", "ROLLBACK_STEP_FAILURE"):
            for handler_key in [k for k in open_handlers if k[:2] == key]:
                close(open_handlers.pop(handler_key), row, "cancelled")
            pending = waits.pop(("rollback_wait", *key), None)
            if pending is not None:
                close(pending, row, "cancelled")

    for entry in found:
        if entry["outcome"] == "open":
            entry["end"] = max(entry["end"], last_time)
    frame = pd.DataFrame(found, columns=list(SPAN_COLUMNS))
    return frame.astype({"count": "int64", "attempt": "int64", "order": "int64"})


def handler_runs(
    trace: pd.DataFrame, instance: str
) -> list[tuple[int, StepKey, float]]:
    """``(order, (step, count), time)`` for each ``ROLLBACK_STEP_START`` of
    ``instance``: every handler run, numbered from 1 in the order they ran."""
    rows = [r for r in _rows_of(trace, instance) if r.event == "ROLLBACK_STEP_START"]
    return [
        (number, (row.step, int(row.count)), float(row.time))
        for number, row in enumerate(rows, start=1)
    ]


# -- rollback orders ---------------------------------------------------------------


class RollbackOrders(NamedTuple):
    """The handler orders of one rollback, as step occurrences.

    Attributes:
        ran: the order the handlers ran in, from the trace: the
            ``ROLLBACK_STEP_START`` rows from the first ``ROLLBACK_START``
            after the instance's last ``WORKFLOW_RESTARTED`` on (a replay
            after a crash records ``ROLLBACK_START`` again, and goes on
            with the handlers that had not finished), each step once.
        reverse_start: the same steps, latest ``STEP_START`` first: what
            the engine is meant to do.
        reverse_completion: the same steps, latest to settle first
            (``STEP_SUCCESS``, ``STEP_FAILURE`` or ``STEP_CANCELLED``); a step
            still unsettled when the rollback started counts as settling then,
            after every settled one, in start order.
        started: the ``seq`` of each step's ``STEP_START``.
        settled: the ``seq`` of each step's settling row, ``None`` if none.
        start_time / settle_time: the same instants in simulated seconds.
    """

    ran: list[StepKey]
    reverse_start: list[StepKey]
    reverse_completion: list[StepKey]
    started: dict[StepKey, int]
    settled: dict[StepKey, int | None]
    start_time: dict[StepKey, float]
    settle_time: dict[StepKey, float | None]


def rollback_orders(trace: pd.DataFrame, instance: str) -> RollbackOrders:
    """The orders of ``instance``'s last rollback; see :class:`RollbackOrders`.

    All lists are empty when the instance ran no handler. ``trace`` may
    also be a list of :class:`Row` (see :func:`by_instance`).
    """
    rows = _rows_of(trace, instance)
    # A restart begins a new run of run(), with its own rollback; a replay
    # after a crash records ROLLBACK_START again for the same one.
    restarts = [i for i, row in enumerate(rows) if row.event == "WORKFLOW_RESTARTED"]
    epoch = restarts[-1] if restarts else 0
    begins = [
        i for i, row in enumerate(rows[epoch:], epoch) if row.event == "ROLLBACK_START"
    ]
    if not begins:
        return RollbackOrders([], [], [], {}, {}, {}, {})
    before = rows[: begins[0]]
    after = rows[begins[0] :]

    ran = list(
        dict.fromkeys(
            (row.step, int(row.count))
            for row in after
            if row.event == "ROLLBACK_STEP_START"
        )
    )
    started: dict[StepKey, int] = {}
    start_time: dict[StepKey, float] = {}
    settled: dict[StepKey, int | None] = {}
    settle_time: dict[StepKey, float | None] = {}
    for row in before:
        key = (row.step, int(row.count))
        if row.event == "STEP_START":
            started[key] = int(row.seq)
            start_time[key] = float(row.time)
            settled[key] = None
            settle_time[key] = None
        elif row.event in _STEP_SETTLED and key in started and settled[key] is None:
            settled[key] = int(row.seq)
            settle_time[key] = float(row.time)

    steps = [key for key in ran if key in started]
    unstarted = [key for key in ran if key not in started]
    reverse_start = sorted(steps, key=lambda k: started[k], reverse=True) + unstarted

    def completion(key: StepKey) -> tuple[int, int]:
        done = settled.get(key)
        return (1, started[key]) if done is None else (0, done)

    reverse_completion = sorted(steps, key=completion, reverse=True) + unstarted
    return RollbackOrders(
        ran,
        reverse_start,
        reverse_completion,
        {k: started[k] for k in steps},
        {k: settled[k] for k in steps},
        {k: start_time[k] for k in steps},
        {k: settle_time[k] for k in steps},
    )


def disagreeing_pairs(
    first: Sequence[Any], second: Iterable[Any]
) -> list[tuple[Any, Any]]:
    """The pairs that ``first`` and ``second`` put in opposite orders.

    Each pair is ``(a, b)`` with ``a`` before ``b`` in ``first``, listed in
    the order of ``first``. Items in only one of the two are ignored.
    """
    rank = {item: i for i, item in enumerate(second)}
    common = [item for item in first if item in rank]
    return [
        (a, b)
        for i, a in enumerate(common)
        for b in common[i + 1 :]
        if rank[a] > rank[b]
    ]
