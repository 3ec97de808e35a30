"""The timeline of one instance: every attempt, wait and rollback handler."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sagasim.plots._style import COLORS, new_figure, text
from sagasim.plots.data import (
    handler_runs,
    outcome,
    pick_instance,
    spans,
    step_label,
    trace_of,
    workflow_of,
)

__all__ = ["instance_timeline"]

_BAR = 0.6
_THIN = 0.18
_MARKS = {
    "ENGINE_CRASH": ("crash", COLORS["crash"], ":"),
    "ROLLBACK_START": ("run-failed", COLORS["run_failed"], "--"),
    "WORKFLOW_TERMINATED": ("terminated", COLORS["cancelled"], "--"),
    "WORKFLOW_FAILURE": ("workflow-failure", COLORS["run_failed"], "-"),
}


def instance_timeline(
    source: Any,
    instance: Any = None,
    *,
    ax: Axes | None = None,
    max_rows: int = 40,
    width: float = 9.0,
) -> Figure:
    """Draw one instance's life, one row per step, in simulated seconds.

    Each step attempt is a bar from its start to its end, coloured by how it
    ended (success, failure, cancelled, still open), so retries show as
    several bars on one row with the retry wait as a thin grey bar between
    them. Sleeps and event waits are hatched bars on their own rows. Each
    ``FAULT_INJECTED`` is a black cross where it fired. Rollback handler
    attempts are orange bars on the row of the step they undo, after the
    failure, each handler run numbered in a circle in the order it ran. A
    dashed line marks where ``run()`` failed and the rollback began, a
    dotted one each engine crash.

    Artists carry a ``gid`` so a notebook or a test can find them:
    ``"attempt"``, ``"retry-wait"``, ``"sleep"``, ``"wait"``,
    ``"rollback"``, ``"rollback-wait"``, ``"rollback-order"`` (the numbers),
    ``"instant"`` (a tick over each attempt that took no time),
    ``"fault"``, ``"crash"``, ``"run-failed"`` (the rollback starting),
    ``"workflow-failure"``, ``"terminated"``.

    Args:
        source: a finished Simulation, an Instance, a trace DataFrame or the
            path of a saved trace CSV.
        instance: an instance id or :class:`~sagasim.Instance`; by default
            the most telling one (see
            :func:`~sagasim.plots.data.pick_instance`).
        ax: draw into these axes instead of a new figure.
        max_rows: the most step rows drawn; later steps are left out and
            the title says how many.
        width: the figure width in inches (its height follows the rows).
    """
    trace = trace_of(source)
    if instance is None and hasattr(source, "host") and hasattr(source, "id"):
        instance = source.id
    name = pick_instance(trace, instance)
    table = spans(trace, name)
    rows = _rows(trace, name)
    shown = rows[:max_rows]
    index = {key: i for i, key in enumerate(shown)}

    if ax is None:
        fig = new_figure(width, 1.4 + 0.32 * max(len(shown), 2))
        ax = fig.subplots()
    else:
        fig = ax.figure

    for entry in table.itertuples(index=False):
        y = index.get((entry.step, int(entry.count)))
        if y is not None:
            _draw_span(ax, entry, y)
    _draw_handler_numbers(ax, trace, name, index)
    _draw_faults(ax, trace, name, index)
    _draw_marks(ax, trace, name)

    ax.set_yticks(range(len(shown)), [text(step_label(*key)) for key in shown])
    ax.set_ylim(len(shown) - 0.4, -0.6)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("step")
    workflow = workflow_of(trace, name)
    title = f"{name}" + (f" ({workflow})" if workflow else "")
    title += f": {outcome(trace, name)}"
    if len(rows) > len(shown):
        title += f", first {len(shown)} of {len(rows)} steps"
    ax.set_title(text(title, 96))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        handles=_legend(table, trace, name),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        frameon=False,
    )
    return fig


def _rows(trace, instance: str) -> list[tuple[str, int]]:
    rows = trace[trace["instance"] == instance]
    opening = rows["event"].isin(
        ["STEP_START", "SLEEP_START", "WAIT_START", "ROLLBACK_STEP_START"]
    )
    keys = zip(rows.loc[opening, "step"], rows.loc[opening, "count"], strict=True)
    return list(dict.fromkeys((step, int(count)) for step, count in keys))


def _draw_span(ax: Axes, entry: Any, y: int) -> None:
    start, length = entry.start, entry.end - entry.start
    kind = entry.kind
    if kind in ("attempt", "rollback") and length == 0:
        # NOTE: an attempt that ends at the instant it starts (a refusal, a
        # mocked result) has a bar of no width; a tick shows where it is.
        color = COLORS[entry.outcome] if kind == "attempt" else COLORS["rollback"]
        ax.plot(
            [start],
            [y],
            marker="|",
            markersize=14,
            markeredgewidth=2.5,
            color=color,
            linestyle="none",
            gid="instant",
        )
    if kind == "attempt":
        color = COLORS[entry.outcome]
        ax.barh(
            y,
            length,
            left=start,
            height=_BAR,
            color=color,
            edgecolor="#333333",
            linewidth=0.8,
            hatch="//" if entry.outcome == "open" else None,
            gid="attempt",
        )
    elif kind in ("retry_wait", "rollback_wait"):
        ax.barh(
            y,
            length,
            left=start,
            height=_THIN,
            color=COLORS["retry_wait"],
            linewidth=0,
            gid=kind.replace("_", "-"),
        )
    elif kind in ("sleep", "wait"):
        ax.barh(
            y,
            length,
            left=start,
            height=_BAR * 0.7,
            color=COLORS[kind],
            edgecolor="#555555",
            linewidth=0.6,
            hatch="//" if kind == "sleep" else "..",
            gid=kind,
        )
    elif kind == "rollback":
        failed = entry.outcome in ("failure", "cancelled")
        ax.barh(
            y,
            length,
            left=start,
            height=_BAR,
            color=COLORS["rollback_failure" if failed else "rollback"],
            edgecolor="#333333",
            linewidth=0.8,
            gid="rollback",
        )


def _draw_handler_numbers(ax: Axes, trace, instance: str, index: dict) -> None:
    for number, key, time in handler_runs(trace, instance):
        y = index.get(key)
        if y is None:
            continue
        ax.annotate(
            str(number),
            xy=(time, y),
            xytext=(-9, 0),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize="x-small",
            fontweight="bold",
            color="white",
            bbox={"boxstyle": "circle,pad=0.2", "fc": "#333333", "ec": "none"},
            gid="rollback-order",
            annotation_clip=False,
        )


def _draw_faults(ax: Axes, trace, instance: str, index: dict) -> None:
    rows = trace[(trace["instance"] == instance) & (trace["event"] == "FAULT_INJECTED")]
    for row in rows.itertuples():
        y = index.get((row.step, int(row.count)))
        if y is None:
            ax.axvline(row.time, color=COLORS["fault"], linewidth=0.8, gid="fault")
            continue
        ax.plot(
            [row.time],
            [y],
            marker="X",
            markersize=8,
            color=COLORS["fault"],
            markeredgecolor="white",
            linestyle="none",
            zorder=5,
            gid="fault",
        )


def _draw_marks(ax: Axes, trace, instance: str) -> None:
    rows = trace[(trace["instance"] == instance) & trace["event"].isin(_MARKS)]
    for row in rows.itertuples():
        gid, color, style = _MARKS[row.event]
        ax.axvline(row.time, color=color, linestyle=style, linewidth=1.2, gid=gid)


def _legend(table, trace, instance: str) -> list:
    kinds = set(table["kind"])
    outcomes = set(table.loc[table["kind"] == "attempt", "outcome"])
    handles: list = []
    for result, label in (
        ("success", "attempt succeeded"),
        ("failure", "attempt failed"),
        ("cancelled", "attempt cancelled"),
        ("open", "attempt still open"),
    ):
        if result in outcomes:
            handles.append(
                Patch(
                    facecolor=COLORS[result],
                    edgecolor="#333333",
                    hatch="//" if result == "open" else None,
                    label=label,
                )
            )
    if "retry_wait" in kinds or "rollback_wait" in kinds:
        handles.append(Patch(color=COLORS["retry_wait"], label="retry wait"))
    if "sleep" in kinds:
        handles.append(
            Patch(
                facecolor=COLORS["sleep"],
                hatch="//",
                edgecolor="#555555",
                label="sleep",
            )
        )
    if "wait" in kinds:
        handles.append(
            Patch(
                facecolor=COLORS["wait"],
                hatch="..",
                edgecolor="#555555",
                label="event wait",
            )
        )
    handler_outcomes = set(table.loc[table["kind"] == "rollback", "outcome"])
    if handler_outcomes & {"failure", "cancelled"}:
        handles.append(
            Patch(
                facecolor=COLORS["rollback_failure"],
                edgecolor="#333333",
                label="rollback handler attempt failed",
            )
        )
    if "rollback" in kinds:
        handles.append(
            Patch(
                facecolor=COLORS["rollback"],
                edgecolor="#333333",
                label="rollback handler (n = order run)",
            )
        )
    events = set(trace.loc[trace["instance"] == instance, "event"])
    if "FAULT_INJECTED" in events:
        handles.append(
            Line2D(
                [],
                [],
                marker="X",
                color=COLORS["fault"],
                linestyle="none",
                label="fault injected",
            )
        )
    if "ROLLBACK_START" in events:
        handles.append(
            Line2D(
                [],
                [],
                color=COLORS["run_failed"],
                linestyle="--",
                label="run() failed, rollback starts",
            )
        )
    if "WORKFLOW_FAILURE" in events:
        handles.append(
            Line2D(
                [],
                [],
                color=COLORS["run_failed"],
                linestyle="-",
                label="instance ends errored",
            )
        )
    if "ENGINE_CRASH" in events:
        handles.append(
            Line2D([], [], color=COLORS["crash"], linestyle=":", label="engine crash")
        )
    return handles
