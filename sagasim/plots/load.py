"""Load on a simulated service: requests, outcomes, queue and retries.

A service's ``history`` (one row per call, with ``invoked``, ``started``,
``ended`` and ``outcome``) says what it was asked and how each call ended;
the trace's ``ATTEMPT_START`` rows say which of those calls were retries.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sagasim.plots._style import COLORS, new_figure, text
from sagasim.plots.data import trace_of

__all__ = [
    "LOAD_COLUMNS",
    "history_frame",
    "load_chart",
    "queue_length",
    "service_load",
]

LOAD_COLUMNS = (
    "start",
    "end",
    "offered",
    "succeeded",
    "failed",
    "unknown",
    "retries",
    "max_queued",
    "max_in_service",
)
"""The columns of :func:`service_load`."""

_HISTORY_COLUMNS = (
    "op_id",
    "service",
    "op",
    "instance",
    "step",
    "count",
    "attempt",
    "rollback",
    "invoked",
    "started",
    "ended",
    "outcome",
)


def history_frame(source: Any) -> pd.DataFrame:
    """A service's history as a DataFrame: a Service, its ``history`` list,
    a DataFrame, or the path of a CSV with the history's columns.

    ``started`` and ``ended`` are NaN where the call never got a slot or
    never ended; ``instance`` and ``step`` are ``""`` outside a step. A
    history without a ``started`` column at all (a saved one that left it
    out) is read as if every call got its slot when it was made.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
    elif isinstance(source, str) or hasattr(source, "__fspath__"):
        frame = pd.read_csv(source, keep_default_na=False)
    else:
        frame = pd.DataFrame(list(getattr(source, "history", source)))
    if "started" not in frame.columns and "invoked" in frame.columns:
        frame["started"] = frame["invoked"]
    for column in _HISTORY_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    for column in ("invoked", "started", "ended"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("count", "attempt"):
        frame[column] = (
            pd.to_numeric(frame[column], errors="coerce").fillna(0).astype(int)
        )
    for column in ("instance", "step", "service", "op", "outcome"):
        frame[column] = frame[column].fillna("").astype(str)
    frame["rollback"] = frame["rollback"].map(_truthy)
    return frame


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) if value is not None and value == value else False


def queue_length(history: Any) -> pd.DataFrame:
    """The number of calls waiting for a slot and being served, over time.

    One row per instant at which either changes: ``time``, ``queued`` and
    ``in_service``, each the value from that instant on. A call waits from
    ``invoked`` to ``started`` and is served from ``started`` to ``ended``;
    one cancelled while it waited leaves the queue at ``ended``.
    """
    frame = history_frame(history)
    changes: list[tuple[float, int, int]] = []
    for call in frame.itertuples(index=False):
        started, ended = call.started, call.ended
        changes.append((call.invoked, 1, 0))
        if not math.isnan(started):
            changes.append((started, -1, 1))
            if not math.isnan(ended):
                changes.append((ended, 0, -1))
        elif not math.isnan(ended):
            changes.append((ended, -1, 0))
    if not changes:
        return pd.DataFrame(columns=["time", "queued", "in_service"])
    steps = pd.DataFrame(changes, columns=["time", "queued", "in_service"])
    steps = steps.groupby("time", sort=True).sum().cumsum().reset_index()
    return steps.astype({"queued": int, "in_service": int})


def _retry_keys(frame: pd.DataFrame) -> set[tuple[str, str, int, bool]]:
    return {
        (call.instance, call.step, int(call.count), bool(call.rollback))
        for call in frame.itertuples(index=False)
        if call.instance
    }


def _retries(frame: pd.DataFrame, trace: pd.DataFrame | None) -> np.ndarray:
    """The times of the retried attempts of steps (and handlers) that called
    the service: ``ATTEMPT_START`` / ``ROLLBACK_ATTEMPT_START`` with attempt > 1."""
    if trace is None or trace.empty:
        return np.array([], dtype=float)
    callers = _retry_keys(frame)
    starts = trace[
        trace["event"].isin(["ATTEMPT_START", "ROLLBACK_ATTEMPT_START"])
        & (trace["attempt"] > 1)
    ]
    times = [
        row.time
        for row in starts.itertuples(index=False)
        if (row.instance, row.step, int(row.count), row.event != "ATTEMPT_START")
        in callers
    ]
    return np.array(times, dtype=float)


def _bin_width(span: float, bins: int) -> float:
    raw = max(span, 1e-3) / bins
    scale = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * scale:
            return factor * scale
    return 10 * scale


def _peaks(queue: pd.DataFrame, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The highest queue and in-service levels held during each bin: the
    level the bin opens with, and every level set inside it."""
    count = len(edges) - 1
    peaks_q = np.zeros(count, dtype=int)
    peaks_s = np.zeros(count, dtype=int)
    times = queue["time"].tolist()
    queued = queue["queued"].tolist()
    served = queue["in_service"].tolist()
    level_q = level_s = 0
    i = 0
    for b in range(count):
        last_bin = b == count - 1
        if i < len(times) and times[i] <= edges[b]:
            # Levels set before the bin opened (or exactly as it opens).
            while i < len(times) and times[i] <= edges[b]:
                level_q, level_s = queued[i], served[i]
                i += 1
        top_q, top_s = level_q, level_s
        while i < len(times) and (times[i] < edges[b + 1] or last_bin):
            level_q, level_s = queued[i], served[i]
            top_q, top_s = max(top_q, level_q), max(top_s, level_s)
            i += 1
        peaks_q[b], peaks_s[b] = top_q, top_s
    return peaks_q, peaks_s


def service_load(
    service: Any, trace: Any = None, *, bin_width: float | None = None
) -> pd.DataFrame:
    """Counts per time bin for one service, with :data:`LOAD_COLUMNS`.

    ``offered`` counts calls by ``invoked``; ``succeeded`` (outcome
    ``"ok"``), ``failed`` and ``unknown`` by ``ended``; ``retries`` the
    retried attempts of the steps and handlers that called the service (from
    the trace, when given), by attempt start. ``max_queued`` and
    ``max_in_service`` are the most calls waiting and being served at any
    instant of the bin (:func:`queue_length`).

    Args:
        service: a Service, its history, or a history DataFrame or CSV path.
        trace: the run's trace (a Simulation, DataFrame or CSV path), for
            ``retries``; 0 throughout without it.
        bin_width: seconds per bin; by default a round width giving about
            60 bins over the run.
    """
    frame = history_frame(service)
    trace_frame = None if trace is None else trace_of(trace)
    retried = _retries(frame, trace_frame)
    times = [frame["invoked"], frame["ended"].dropna(), pd.Series(retried)]
    known = (
        pd.concat([t for t in times if len(t)]) if any(len(t) for t in times) else None
    )
    if known is None or known.empty:
        return pd.DataFrame(columns=list(LOAD_COLUMNS))
    first, last = 0.0, float(known.max())
    width = bin_width or _bin_width(last - first, 60)
    count = max(1, math.floor((last - first) / width) + 1)
    edges = first + width * np.arange(count + 1)

    def per_bin(values: Any) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        values = values[~np.isnan(values)]
        slots = np.clip(np.floor((values - first) / width).astype(int), 0, count - 1)
        return np.bincount(slots, minlength=count)

    ended = frame[frame["ended"].notna()]
    max_queued, max_served = _peaks(queue_length(frame), edges)

    return pd.DataFrame(
        {
            "start": edges[:-1],
            "end": edges[1:],
            "offered": per_bin(frame["invoked"]),
            "succeeded": per_bin(ended.loc[ended["outcome"] == "ok", "ended"]),
            "failed": per_bin(ended.loc[ended["outcome"] == "failed", "ended"]),
            "unknown": per_bin(ended.loc[ended["outcome"] == "unknown", "ended"]),
            "retries": per_bin(retried),
            "max_queued": max_queued,
            "max_in_service": max_served,
        },
        columns=list(LOAD_COLUMNS),
    )


def load_chart(
    service: Any,
    trace: Any = None,
    *,
    name: str | None = None,
    bin_width: float | None = None,
    outages: Any = None,
) -> Figure:
    """Draw the load on one service over simulated time, in three panels.

    Top: calls offered, succeeded and failed per bin (gids ``"offered"``,
    ``"succeeded"``, ``"failed"``; calls whose caller never heard back are
    counted with the failures). Middle: the most calls waiting for a slot
    and being served at once in each bin (``"queued"``, ``"in-service"``;
    :func:`queue_length` has the exact levels). Bottom:
    retried attempts of the steps that call the service, per bin
    (``"retries"``). Outage windows are shaded (``"outage"``).

    Args:
        service: a Service (its name and outages are used too), or its
            history as a list, DataFrame or CSV path.
        trace: the run's trace, for the retries panel.
        name: the service's name, when ``service`` is a bare history.
        bin_width: seconds per bin (see :func:`service_load`).
        outages: ``(start, end)`` windows to shade, when ``service`` is a
            bare history.
    """
    table = service_load(service, trace, bin_width=bin_width)
    frame = history_frame(service)
    if name is None and hasattr(service, "history"):
        name = getattr(service, "name", None)
    if name is None and len(frame):
        name = str(frame["service"].iloc[0])
    windows = list(outages or ())
    if not windows and hasattr(service, "history"):
        windows = list(getattr(service, "outages", None) or ())

    fig = new_figure(10.0, 6.5)
    requests, waiting, retries = fig.subplots(3, 1, sharex=True)
    width = float(table["end"].iloc[0] - table["start"].iloc[0]) if len(table) else 1.0
    edges = list(table["start"]) + (
        [float(table["end"].iloc[-1])] if len(table) else []
    )

    def steps(ax, values, gid, label, color):
        if len(table):
            ax.stairs(values, edges, label=label, color=color, linewidth=1.6, gid=gid)

    steps(requests, table["offered"], "offered", "offered", COLORS["offered"])
    steps(requests, table["succeeded"], "succeeded", "succeeded", COLORS["succeeded"])
    steps(
        requests,
        table["failed"] + table["unknown"],
        "failed",
        "failed or unanswered",
        COLORS["failed"],
    )
    requests.set_ylabel(f"calls per {width:g} s")
    requests.legend(fontsize="small", loc="upper right")

    steps(
        waiting, table["max_queued"], "queued", "waiting for a slot", COLORS["queued"]
    )
    steps(
        waiting,
        table["max_in_service"],
        "in-service",
        "being served",
        COLORS["in_service"],
    )
    waiting.set_ylabel("most calls at once")
    waiting.legend(fontsize="small", loc="upper right")

    if len(table):
        retries.bar(
            table["start"],
            table["retries"],
            width=width,
            align="edge",
            color=COLORS["retries"],
            gid="retries",
            label="retried attempts",
        )
    retries.set_ylabel(f"retries per {width:g} s")
    retries.set_xlabel("simulated time (s)")

    for ax in (requests, waiting, retries):
        for start, end in windows:
            if math.isinf(end):
                end = edges[-1] if edges else start + 1
            ax.axvspan(
                start,
                end,
                color=COLORS["outage"],
                alpha=0.5,
                linewidth=0,
                zorder=0,
                gid="outage",
            )
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    total = len(frame)
    title = f"Load on {name}: {total:,} calls" if name else f"Load: {total:,} calls"
    if windows:
        title += f", {len(windows)} outage{'s' if len(windows) != 1 else ''} shaded"
    requests.set_title(text(title, 96))
    return fig
