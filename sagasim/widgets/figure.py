"""The explorer's chart: one instance's timeline above the violations found."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sagasim.plots import instance_timeline
from sagasim.plots.data import pick_instance
from sagasim.widgets.model import Exploration

__all__ = ["exploration_figure", "violations_bars"]

_VIOLATION_COLOR = "#d1495b"


def exploration_figure(
    exploration: Exploration, instance: Any = None, *, width: float = 11.0
) -> Figure:
    """Draw ``instance`` (by default the most telling one, see
    :func:`~sagasim.plots.data.pick_instance`) on a timeline, and under it
    the run's violations by check.

    The figure's ``shown_instance`` attribute holds the instance drawn.

    Raises:
        ValueError: the run has no instance ``instance``.
    """
    trace = exploration.sim.trace
    name = pick_instance(trace, instance or None)
    steps = trace.loc[
        (trace["instance"] == name) & trace["event"].eq("STEP_START"), "step"
    ]
    rows = min(max(len(steps) + 1, 3), 40)
    top = 1.4 + 0.32 * rows
    bottom = 1.2 + 0.35 * max(len(exploration.by_check), 1)
    fig = Figure(figsize=(width, top + bottom + 0.4), layout="constrained")
    timeline_ax, bars_ax = fig.subplots(
        2, 1, gridspec_kw={"height_ratios": [top, bottom]}
    )
    instance_timeline(trace, name, ax=timeline_ax)
    violations_bars(exploration.by_check, ax=bars_ax)
    fig.suptitle(f"{exploration.source}: seed {exploration.knobs['seed']}")
    fig.shown_instance = name
    return fig


def violations_bars(by_check: dict[str, int], *, ax: Axes) -> Axes:
    """A horizontal bar per check that found something (gid
    ``"violations"``), or the words "no violations" when none did."""
    if not by_check:
        ax.text(
            0.5,
            0.5,
            "no violations",
            ha="center",
            va="center",
            transform=ax.transAxes,
            gid="no-violations",
        )
        ax.set_axis_off()
        return ax
    names = list(by_check)
    counts = [by_check[name] for name in names]
    bars = ax.barh(names, counts, color=_VIOLATION_COLOR, gid="violations")
    ax.bar_label(bars, padding=3, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("violations")
    ax.set_title("violations by check")
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlim(0, max(counts) * 1.15)
    return ax
