"""The whole run at a glance: instances in flight and finished, over time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sagasim.plots._style import COLORS, new_figure
from sagasim.plots.data import trace_of

__all__ = ["instances_chart", "instances_over_time"]

_ENDS = {
    "WORKFLOW_SUCCESS": "complete",
    "WORKFLOW_FAILURE": "errored",
    "WORKFLOW_TERMINATED": "terminated",
}


def instances_over_time(source: Any) -> pd.DataFrame:
    """One row per instant at which an instance starts, ends or begins to
    roll back: ``time``, ``running`` (started, not yet ended),
    ``rolling_back`` (of those, the ones whose rollback has begun) and the
    running totals ``complete``, ``errored`` and ``terminated``.

    An instance counts as running from its first ``WORKFLOW_START`` to its
    last end row (``WORKFLOW_SUCCESS``, ``WORKFLOW_FAILURE`` or
    ``WORKFLOW_TERMINATED``); one restarted after it ended counts again.
    """
    trace = trace_of(source)
    events = ["WORKFLOW_START", "ROLLBACK_START", *_ENDS]
    rows = trace[trace["event"].isin(events)]
    columns = ["time", "running", "rolling_back", "complete", "errored", "terminated"]
    running: set[str] = set()
    rolling: set[str] = set()
    totals = {"complete": 0, "errored": 0, "terminated": 0}
    found: list[list[Any]] = []
    for row in rows.itertuples(index=False):
        if row.event == "WORKFLOW_START":
            running.add(row.instance)
        elif row.event == "ROLLBACK_START":
            if row.instance in running:
                rolling.add(row.instance)
        else:
            running.discard(row.instance)
            rolling.discard(row.instance)
            totals[_ENDS[row.event]] += 1
        values = [row.time, len(running), len(rolling), *totals.values()]
        if found and found[-1][0] == row.time:
            found[-1] = values
        else:
            found.append(values)
    return pd.DataFrame(found, columns=columns)


def _thinned(table: pd.DataFrame, points: int) -> pd.DataFrame:
    """At most ``points`` rows: over equal slices of time, the most instances
    running and rolling back in each slice, and the totals at its end."""
    if len(table) <= points:
        return table
    first, last = float(table["time"].iloc[0]), float(table["time"].iloc[-1])
    width = (last - first) / points or 1.0
    slot = ((table["time"] - first) // width).clip(upper=points - 1)
    grouped = table.groupby(slot, sort=True)
    thinned = grouped.agg(
        {
            "time": "first",
            "running": "max",
            "rolling_back": "max",
            "complete": "last",
            "errored": "last",
            "terminated": "last",
        }
    )
    return thinned.reset_index(drop=True)


def instances_chart(
    source: Any,
    *,
    ax: Axes | None = None,
    width: float = 9.0,
    height: float = 3.2,
    max_points: int = 2_000,
) -> Figure:
    """Draw how many instances are in flight over simulated time, how many of
    them are rolling back, and how many have ended each way so far.

    Left axis: instances running (gid ``"running"``) and rolling back
    (``"rolling-back"``), as step lines. Right axis: the running totals of
    instances ``complete``, ``errored`` and ``terminated`` (gids the same).
    A run with more than ``max_points`` changes is drawn over that many equal
    slices of time, each showing its peaks and its closing totals.
    """
    table = _thinned(instances_over_time(source), max_points)
    if ax is None:
        fig = new_figure(width, height)
        ax = fig.subplots()
    else:
        fig = ax.figure
    totals = ax.twinx()
    if len(table):
        times = table["time"].to_numpy(dtype=float)
        edges = np.append(times, times[-1] + max(1e-3, 0.02 * (times[-1] - times[0])))
        ax.stairs(
            table["running"],
            edges,
            color=COLORS["in_service"],
            fill=True,
            alpha=0.35,
            label="running",
            gid="running",
        )
        ax.stairs(
            table["rolling_back"],
            edges,
            color=COLORS["rollback"],
            fill=True,
            alpha=0.8,
            label="rolling back",
            gid="rolling-back",
        )
        for column, color in (
            ("complete", COLORS["success"]),
            ("errored", COLORS["failure"]),
            ("terminated", COLORS["cancelled"]),
        ):
            if table[column].iloc[-1]:
                totals.stairs(
                    table[column],
                    edges,
                    color=color,
                    linewidth=1.6,
                    label=f"{column} so far",
                    gid=column,
                    baseline=None,
                )
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("instances in flight")
    totals.set_ylabel("instances ended")
    ax.set_ylim(bottom=0)
    totals.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + totals.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles=handles, fontsize="small", loc="upper left")
    ended = ["complete", "errored", "terminated"]
    count = int(table[ended].iloc[-1].sum()) if len(table) else 0
    ax.set_title(f"Instances over time: {count:,} ended")
    ax.grid(alpha=0.3)
    return fig
