"""Rollback order: reverse start (what the engine does) against reverse
completion, for one instance and over many.

With steps in parallel, the step that started last need not be the one that
finished last. The engine undoes steps in reverse order of *start*; undoing
them in reverse order of *completion* would differ on every pair of
parallel steps that finished in the other order than they started. How
often that happens grows with the number of parallel steps and with how
much their latencies spread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

import sagasim
from sagasim.plots._style import COLORS, new_figure, text
from sagasim.plots.data import (
    by_instance,
    disagreeing_pairs,
    pick_instance,
    rollback_orders,
    rolled_back,
    step_label,
    trace_of,
)

__all__ = [
    "DISAGREEMENT_COLUMNS",
    "FanOut",
    "disagreement_chart",
    "ordering_chart",
    "ordering_disagreement",
]

DISAGREEMENT_COLUMNS = (
    "concurrency",
    "spread",
    "instances",
    "rolled_back",
    "disagreeing",
    "rate",
    "pairs",
    "disagreeing_pairs",
    "pair_rate",
)
"""The columns of :func:`ordering_disagreement`."""


def ordering_chart(
    source: Any, instance: Any = None, *, ax: Axes | None = None
) -> Figure:
    """Draw one rollback's handler order beside the reverse-completion order.

    The left column lists the handlers in the order the engine ran them
    (reverse start order), the right one the same steps latest-finished
    first. A line joins each step's two places; the lines of steps on which
    the two orders disagree are red, and each disagreeing pair is marked
    with a red dot where its two lines cross. The pairs are listed under
    the chart.

    Artists carry a ``gid``: ``"start-order"`` and ``"completion-order"``
    (the labels ``"<rank>. <step>"``, top to bottom), ``"link"`` (the
    lines) and ``"disagreement"`` (one dot per pair, labelled
    ``"<a> / <b>"`` with ``a`` undone first by the engine).

    Args:
        source: a finished Simulation, an Instance, a trace DataFrame or a
            saved trace CSV path.
        instance: the instance; by default the first whose orders
            disagree, else the first that rolled back.
        ax: draw into these axes instead of a new figure.
    """
    trace = trace_of(source)
    if instance is None and hasattr(source, "host") and hasattr(source, "id"):
        instance = source.id
    name = pick_instance(trace, instance)
    orders = rollback_orders(trace, name)
    ran = orders.ran
    completion = [key for key in orders.reverse_completion if key in set(ran)]
    pairs = disagreeing_pairs(ran, completion)
    involved = {key for pair in pairs for key in pair}

    if ax is None:
        fig = new_figure(7.0, 1.8 + 0.42 * max(len(ran), 2))
        ax = fig.subplots()
    else:
        fig = ax.figure

    left = {key: i for i, key in enumerate(ran)}
    right = {key: i for i, key in enumerate(completion)}
    for key in ran:
        color = COLORS["highlight"] if key in involved else COLORS["plain"]
        ax.add_line(
            Line2D(
                [0, 1],
                [left[key], right[key]],
                color=color,
                linewidth=2.2 if key in involved else 1.2,
                gid="link",
            )
        )
        ax.text(
            -0.04,
            left[key],
            text(f"{left[key] + 1}. {step_label(*key)}"),
            ha="right",
            va="center",
            gid="start-order",
        )
        when = orders.start_time.get(key)
        if when is not None:
            ax.text(
                -0.04,
                left[key] + 0.28,
                f"started {when:.3f}s",
                ha="right",
                va="center",
                fontsize="x-small",
                color="#666666",
            )
    for key in completion:
        ax.text(
            1.04,
            right[key],
            text(f"{right[key] + 1}. {step_label(*key)}"),
            ha="left",
            va="center",
            gid="completion-order",
        )
        when = orders.settle_time.get(key)
        note = "still running" if when is None else f"finished {when:.3f}s"
        ax.text(
            1.04,
            right[key] + 0.28,
            note,
            ha="left",
            va="center",
            fontsize="x-small",
            color="#666666",
        )
    for a, b in pairs:
        x, y = _crossing(left[a], right[a], left[b], right[b])
        ax.plot(
            [x],
            [y],
            marker="o",
            markersize=7,
            color=COLORS["highlight"],
            linestyle="none",
            zorder=5,
            gid="disagreement",
            label=f"{step_label(*a)} / {step_label(*b)}",
        )

    ax.set_xlim(-0.9, 1.9)
    ax.set_ylim(max(len(ran), 1) - 0.3, -0.8)
    ax.set_xticks([0, 1], ["reverse start\n(engine order)", "reverse completion"])
    ax.xaxis.tick_top()
    ax.set_yticks([])
    for side in ("left", "right", "bottom", "top"):
        ax.spines[side].set_visible(False)
    if not ran:
        verdict = "no rollback handler ran"
    elif pairs:
        verdict = (
            f"{len(pairs)} pair{'s' if len(pairs) != 1 else ''} in the other order"
        )
    else:
        verdict = "the two orders agree"
    ax.set_title(text(f"Rollback order of {name}: {verdict}", 96))
    if pairs:
        listed = ", ".join(
            f"{step_label(*a)} \u2194 {step_label(*b)}" for a, b in pairs[:8]
        )
        if len(pairs) > 8:
            listed += f" and {len(pairs) - 8} more"
        ax.set_xlabel(
            text("disagreeing pairs: " + listed, 120), color=COLORS["highlight"]
        )
    return fig


def _crossing(a0: float, a1: float, b0: float, b1: float) -> tuple[float, float]:
    """Where the segments (0, a0)-(1, a1) and (0, b0)-(1, b1) cross."""
    slope = (a1 - a0) - (b1 - b0)
    t = 0.5 if slope == 0 else (b0 - a0) / slope
    t = min(max(t, 0.0), 1.0)
    return t, a0 + (a1 - a0) * t


# -- many instances ------------------------------------------------------------------


class FanOut(sagasim.Workflow):
    """A saga with steps in parallel, made to roll back.

    ``"prepare"`` runs first; then steps ``"leg-1"``, ``"leg-2"``, ... are
    started ``stagger`` ms apart (the way a loop that does a little work
    between calls starts them), leg ``i`` taking ``legs[i]`` ms; once all
    are done, ``"commit"`` fails with a :class:`~sagasim.NonRetryableError`,
    so every step is rolled back. The payload is ``{"legs": [ms, ...],
    "stagger": ms}``.
    """

    name = "fan-out"

    async def run(self, event: dict[str, Any], step: Any) -> None:
        legs = event["payload"]["legs"]
        stagger = event["payload"].get("stagger", 0)

        async def undo(output: Any, error: Any, ctx: Any) -> None:
            await sagasim.sleep(5)

        await step.do("prepare", _pause(10), rollback=undo)
        started = []
        for i, ms in enumerate(legs, start=1):
            if i > 1 and stagger:
                await sagasim.sleep(stagger)
            started.append(step.do(f"leg-{i}", _pause(ms), rollback=undo))
        await sagasim.gather(*started)
        await step.do("commit", _refuse, rollback=undo)


def _pause(ms: int):
    async def body(ctx: Any) -> int:
        await sagasim.sleep(ms)
        return ms

    return body


def _refuse(ctx: Any) -> None:
    raise sagasim.NonRetryableError("commit refused")


def ordering_disagreement(
    concurrency: Iterable[int] = (1, 2, 3, 4, 6, 8),
    spread: Iterable[float] = (0.0, 0.1, 0.25, 0.5, 1.0),
    *,
    instances: int = 25,
    latency_ms: int = 100,
    stagger_ms: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """How often reverse start and reverse completion disagree, measured.

    For each number of parallel steps and each latency spread, one seeded
    simulation runs ``instances`` :class:`FanOut` sagas, their parallel
    steps started ``stagger_ms`` apart. Each leg's latency is log-normal,
    median ``latency_ms`` and shape ``spread`` (0: every leg takes exactly
    ``latency_ms``, so they finish in the order they started), drawn from
    the stream ``sim.rng("fan-out:latency")``. The orders disagree once the
    latencies spread by more than the starts do. Every instance rolls back; its two
    orders are read from the trace with
    :func:`~sagasim.plots.data.rollback_orders`.

    Returns:
        One row per (concurrency, spread), with
        :data:`DISAGREEMENT_COLUMNS`: ``rolled_back`` instances,
        ``disagreeing`` (how many of them have at least one pair in the
        other order), ``rate`` (their share), ``pairs`` and
        ``disagreeing_pairs`` (over all those rollbacks) and ``pair_rate``.
    """
    rows = []
    for k in concurrency:
        for sigma in spread:
            rows.append(
                _measure(int(k), float(sigma), instances, latency_ms, stagger_ms, seed)
            )
    return pd.DataFrame(rows, columns=list(DISAGREEMENT_COLUMNS))


def _measure(
    k: int, sigma: float, instances: int, latency_ms: int, stagger_ms: int, seed: int
) -> dict:
    sim = sagasim.Simulation(seed=seed)
    rng = sim.rng("fan-out:latency")
    for _ in range(instances):
        legs = [
            max(1, round(latency_ms * math.exp(sigma * rng.gauss(0.0, 1.0))))
            for _ in range(k)
        ]
        sim.create(FanOut, params={"legs": legs, "stagger": stagger_ms})
    sim.run()
    trace = sim.trace
    undone = rolled_back(trace)
    grouped = by_instance(trace)
    disagreeing = pairs = bad_pairs = 0
    for name in undone:
        orders = rollback_orders(grouped[name], name)
        n = len(orders.ran)
        found = len(disagreeing_pairs(orders.ran, orders.reverse_completion))
        pairs += n * (n - 1) // 2
        bad_pairs += found
        disagreeing += found > 0
    return {
        "concurrency": k,
        "spread": sigma,
        "instances": instances,
        "rolled_back": len(undone),
        "disagreeing": disagreeing,
        "rate": disagreeing / len(undone) if undone else 0.0,
        "pairs": pairs,
        "disagreeing_pairs": bad_pairs,
        "pair_rate": bad_pairs / pairs if pairs else 0.0,
    }


def disagreement_chart(
    table: pd.DataFrame | None = None,
    *,
    concurrency: Sequence[int] = (1, 2, 3, 4, 6, 8),
    spread: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 1.0),
    instances: int = 25,
    latency_ms: int = 100,
    stagger_ms: int = 20,
    seed: int = 0,
) -> Figure:
    """Plot how often the two rollback orders disagree.

    Left: the share of rollbacks with at least one pair of steps in the
    other order; right: the share of pairs. Both against the number of
    parallel steps, one line per latency spread (gid ``"rate"`` and
    ``"pair-rate"``, labelled ``"spread <s>"``).

    Args:
        table: the result of :func:`ordering_disagreement`; when ``None``
            it is computed here from the other arguments (each a
            parameter of :func:`ordering_disagreement`).
    """
    if table is None:
        table = ordering_disagreement(
            concurrency,
            spread,
            instances=instances,
            latency_ms=latency_ms,
            stagger_ms=stagger_ms,
            seed=seed,
        )
    fig = new_figure(10.0, 4.2)
    rate_ax, pair_ax = fig.subplots(1, 2, sharey=True)
    for sigma, group in table.groupby("spread", sort=True):
        group = group.sort_values("concurrency")
        label = f"spread {sigma:g}"
        rate_ax.plot(
            group["concurrency"], group["rate"], marker="o", label=label, gid="rate"
        )
        pair_ax.plot(
            group["concurrency"],
            group["pair_rate"],
            marker="o",
            label=label,
            gid="pair-rate",
        )
    rate_ax.set_title("rollbacks with a pair in the other order")
    pair_ax.set_title("pairs of steps in the other order")
    for ax in (rate_ax, pair_ax):
        ax.set_xlabel("parallel steps")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    rate_ax.set_ylabel("share")
    pair_ax.legend(title="latency spread (log-normal \u03c3)", fontsize="small")
    n = int(table["instances"].max()) if len(table) else 0
    fig.suptitle(f"Reverse start vs reverse completion, {n} instances per point")
    return fig
