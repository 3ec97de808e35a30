"""The retry-storm experiment: an outage, a herd, and what retries do next.

Thousands of workflow instances call one capacity-limited
:class:`~sagasim.storms.endpoint.Endpoint` from a single step each, under
the step's retry config. A steady stream of instances keeps the service
comfortably loaded; at the start of an outage a batch of instances (the
*herd*, a fan-out that happens to land in the outage) joins them. During
the outage every call fails, and the failing instances retry. After it,
their retries arrive on top of the stream.

What makes a storm outlive its trigger here:

- the service serves at most ``capacity`` calls at once, and a call that
  waits longer than ``queue_timeout`` for a slot fails (and is retried);
- its latency grows with the calls in service (``load_factor``), so an
  overloaded service is also a slower one;
- the step's attempt timeout cancels calls that take too long.

Un-jittered retries of instances that failed together arrive together, so
every wave of the herd overloads the service again and most of it fails
again: the service stays overloaded long after the outage ended, and the
stream's calls fail with it, until the waves have been spread far enough
apart or the retries run out. That is a metastable failure in the sense of
``reference/saga-systems.md`` §5: the trigger (the outage) is gone and the
sustaining effect (retry load) keeps the failure going. Jitter breaks the
waves up; a retry limit ends them, at the price of instances that give up.

Without a queue timeout the service has a second way to stay down: a FIFO
queue under overload serves the oldest calls first, whose attempts are
about to time out, so almost nothing it serves succeeds (goodput near 0).
Try ``StormScenario(queue_timeout_ms=None)`` (``--fifo`` below): there
constant retries never recover while traffic lasts, and jitter, which
smooths the load, keeps the queue from ever draining and makes recovery
*later* than un-jittered waves, whose gaps let the queue empty.

Run it with ``python -m sagasim.storms storm [--fifo]``; it writes
``storm.csv`` (:func:`storm_table`), ``timeline.csv`` and ``storm.png``
(:func:`storm_chart`) and prints the folder.

Attention: jitter and the cap (``config["lab"]``) are **lab extensions,
not Cloudflare's behaviour**; Cloudflare's backoff is constant, linear or
exponential with neither. Strategies that use them say so in their name,
in the table's ``lab`` column and in the chart.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import sagasim
from sagasim.storms.endpoint import Endpoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "STORM_STRATEGIES",
    "RetryStrategy",
    "StormClient",
    "StormResults",
    "StormScenario",
    "main",
    "run_storm",
    "storm_chart",
    "storm_table",
]

LAB_NOTE = "jitter and cap are lab extensions, not Cloudflare behaviour"


@dataclass(frozen=True)
class StormScenario:
    """The workload, the service and how the run is measured.

    Times are simulated seconds unless the name ends in ``_ms``.

    Attributes:
        rate: stream instances created per second, evenly spaced, from 0.
        duration: how long the stream lasts.
        herd: instances created at ``herd_at``, evenly spread over
            ``herd_spread`` seconds.
        herd_at, herd_spread: when the herd arrives and over how long.
        outage: the service's outage window ``(start, end)``.
        capacity: calls the service serves at once.
        latency_ms: the request latency, uniform on ``(min, max)`` ms.
        load_factor: the service's latency growth with load (see
            :class:`~sagasim.services.Service`).
        queue_timeout_ms: the longest wait for a slot, or ``None``.
        timeout_ms: the step's attempt timeout.
        horizon: the run stops here; instances still retrying then are
            counted as unfinished.
        bin_s: the width of the timeline's bins.
        healthy_failures: a bin is healthy when at most this share of the
            calls that ended in it failed (a bin where none ended is
            healthy).
    """

    rate: float = 30.0
    duration: float = 120.0
    herd: int = 1000
    herd_at: float = 10.0
    herd_spread: float = 1.0
    outage: tuple[float, float] = (10.0, 20.0)
    capacity: int = 20
    latency_ms: tuple[int, int] = (80, 120)
    load_factor: float = 1.0
    queue_timeout_ms: int | None = 300
    timeout_ms: int = 1000
    horizon: float = 300.0
    bin_s: float = 1.0
    healthy_failures: float = 0.1

    def arrivals(self) -> list[float]:
        """Every instance's creation time, stream then herd."""
        stream = [i / self.rate for i in range(round(self.rate * self.duration))]
        herd = [
            self.herd_at + self.herd_spread * i / self.herd for i in range(self.herd)
        ]
        return stream + herd


@dataclass(frozen=True)
class RetryStrategy:
    """A step retry config under a name: Cloudflare's knobs plus the lab's.

    ``backoff``, ``delay_ms`` and ``limit`` are Cloudflare's retry settings;
    ``jitter`` and ``cap_ms`` are the lab extension (``config["lab"]``).
    """

    name: str
    backoff: str = "exponential"
    delay_ms: int = 1000
    limit: float = math.inf
    jitter: str = "none"
    cap_ms: int | None = None

    @property
    def lab(self) -> bool:
        """Whether it uses a lab extension (jitter or a cap)."""
        return self.jitter != "none" or self.cap_ms is not None

    def config(self, timeout_ms: int) -> dict[str, Any]:
        """The step config, with ``timeout_ms`` per attempt."""
        config: dict[str, Any] = {
            "retries": {
                "limit": self.limit,
                "delay": self.delay_ms,
                "backoff": self.backoff,
            },
            "timeout": timeout_ms,
        }
        lab: dict[str, Any] = {}
        if self.jitter != "none":
            lab["jitter"] = self.jitter
        if self.cap_ms is not None:
            lab["cap"] = self.cap_ms
        if lab:
            config["lab"] = lab
        return config


STORM_STRATEGIES: tuple[RetryStrategy, ...] = (
    RetryStrategy("constant", "constant"),
    RetryStrategy("linear", "linear"),
    RetryStrategy("exponential"),
    RetryStrategy("exponential, limit 5", limit=5),
    RetryStrategy("exponential + full jitter (lab)", jitter="full"),
    RetryStrategy("exponential + equal jitter (lab)", jitter="equal"),
    RetryStrategy("exponential + decorrelated jitter (lab)", jitter="decorrelated"),
    RetryStrategy("exponential + full jitter, cap 10 s (lab)", jitter="full",
                  cap_ms=10_000),
)  # fmt: skip
"""The default strategies: 1 s delay, no retry limit unless named."""


class StormClient(sagasim.Workflow):
    """One instance: a single step, ``call``, that asks the endpoint for one
    unit of work under the step config in the payload."""

    async def run(self, event: dict[str, Any], step: sagasim.Step) -> Any:
        api: Endpoint = self.env["api"]
        key = event["instance_id"]

        async def call() -> Any:
            return await api.handle(key)

        return await step.do("call", call, config=event["payload"])


@dataclass
class StormResults:
    """What :func:`run_storm` returns.

    Attributes:
        scenario: the scenario run.
        strategies: the strategies, in order.
        seed: the seed every strategy ran under.
        timeline: one row per strategy and bin: ``strategy``, ``time`` (the
            bin's start, s), ``offered`` (calls made, per second),
            ``successes`` and ``failures`` (calls that ended in the bin, per
            second) and ``queue`` (mean calls waiting for a slot).
        table: one row per strategy; see :func:`storm_table`.
    """

    scenario: StormScenario
    strategies: tuple[RetryStrategy, ...]
    seed: int
    timeline: pd.DataFrame
    table: pd.DataFrame = field(repr=False)


def run_storm(
    scenario: StormScenario | None = None,
    strategies: Iterable[RetryStrategy] = STORM_STRATEGIES,
    seed: int = 0,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> StormResults:
    """Run the scenario once per strategy, each in its own simulation.

    Every strategy meets the same arrivals, the same seed and so the same
    jitter draws per instance and attempt; the run is deterministic.
    ``progress(done, total)`` is called after each strategy.
    """
    scenario = scenario or StormScenario()
    strategies = tuple(strategies)
    timelines = []
    rows = []
    for done, strategy in enumerate(strategies, 1):
        timeline, row = _run_one(scenario, strategy, seed)
        timelines.append(timeline)
        rows.append(row)
        if progress is not None:
            progress(done, len(strategies))
    return StormResults(
        scenario,
        strategies,
        seed,
        pd.concat(timelines, ignore_index=True),
        pd.DataFrame(rows),
    )


def storm_table(results: StormResults) -> pd.DataFrame:
    """One row per strategy: how long recovery took and what it cost.

    Columns:

    - ``strategy``, ``backoff``, ``delay_ms``, ``limit``, ``jitter``,
      ``cap_ms``: the retry config;
    - ``lab``: true when it uses a lab extension (jitter or a cap), which
      Cloudflare does not have;
    - ``recovery_s``: seconds from the outage's end to the start of the
      first bin after which every bin is healthy; NaN when the storm is not
      over at the horizon (the last bin is unhealthy, or instances that
      failed are still retrying);
    - ``last_unhealthy_s``: the end of the last unhealthy bin, in simulated
      seconds (NaN if there was none);
    - ``attempts``: calls made, the total work; ``attempts_per_instance``;
    - ``completed``, ``gave_up`` (retries ran out), ``unfinished`` (still
      running at the horizon) and ``retrying`` (unfinished instances that
      have failed at least once): instance counts;
    - ``peak_queue``: the most calls waiting for a slot at once.
    """
    return results.table.copy()


def _run_one(
    scenario: StormScenario, strategy: RetryStrategy, seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    sim = sagasim.Simulation(seed=seed)
    api = Endpoint(
        sim,
        latency=tuple(scenario.latency_ms),
        capacity=scenario.capacity,
        outages=[scenario.outage],
        load_factor=scenario.load_factor,
        queue_timeout=scenario.queue_timeout_ms,
    )
    sim.bindings["api"] = api
    config = strategy.config(scenario.timeout_ms)
    for at in scenario.arrivals():
        sim.create(StormClient, params=config, at=at)
    sim.run(until=scenario.horizon)

    timeline = _timeline(api.history, scenario)
    timeline.insert(0, "strategy", strategy.name)
    statuses = pd.Series([inst.status()["status"] for inst in sim.instances])
    instances = len(statuses)
    failed_once = {call["key"] for call in api.history if call["outcome"] != "ok"}
    retrying = sum(
        1
        for inst, status in zip(sim.instances, statuses, strict=True)
        if status in ("running", "queued") and inst.id in failed_once
    )
    recovery = math.nan if retrying else _recovery(timeline, scenario)
    row = {
        "strategy": strategy.name,
        "backoff": strategy.backoff,
        "delay_ms": strategy.delay_ms,
        "limit": strategy.limit,
        "jitter": strategy.jitter,
        "cap_ms": strategy.cap_ms,
        "lab": strategy.lab,
        "recovery_s": recovery,
        "last_unhealthy_s": _last_unhealthy(timeline, scenario),
        "attempts": len(api.history),
        "attempts_per_instance": len(api.history) / instances if instances else 0.0,
        "completed": int((statuses == "complete").sum()),
        "gave_up": int((statuses == "errored").sum()),
        "unfinished": int(statuses.isin(["running", "queued"]).sum()),
        "retrying": retrying,
        "peak_queue": _peak_queue(api.history),
    }
    return timeline, row


def _timeline(history: list[dict[str, Any]], scenario: StormScenario) -> pd.DataFrame:
    # In integer milliseconds, the clock's own unit, so that bin edges and
    # the queue's integral are exact.
    horizon = round(scenario.horizon * 1000)
    width = round(scenario.bin_s * 1000)
    edges = np.arange(0, horizon + 1, width, dtype=np.int64)
    if edges[-1] < horizon:
        edges = np.append(edges, horizon)
    invoked = _ms([call["invoked"] for call in history])
    ended = _ms([call["ended"] for call in history])
    ok = np.array([call["outcome"] == "ok" for call in history], dtype=bool)
    done = ended >= 0
    offered, _ = np.histogram(invoked, edges)
    successes, _ = np.histogram(ended[ok], edges)
    failures, _ = np.histogram(ended[done & ~ok], edges)

    # A call waits for a slot from its invocation until it starts, or until
    # it ended without starting (queue timeout, cancellation).
    started = _ms([call["started"] for call in history])
    left = np.where(started >= 0, started, np.where(done, ended, horizon))
    waiting = np.diff(_waiting_integral(invoked, np.minimum(left, horizon), edges))

    spans = np.diff(edges) / 1000
    return pd.DataFrame(
        {
            "time": edges[:-1] / 1000,
            "offered": offered / spans,
            "successes": successes / spans,
            "failures": failures / spans,
            "queue": waiting / np.diff(edges),
        }
    )


def _ms(seconds: list[float | None]) -> np.ndarray:
    """Simulated seconds as integer milliseconds; ``None`` becomes -1."""
    return np.array(
        [-1 if value is None else round(value * 1000) for value in seconds],
        dtype=np.int64,
    )


def _waiting_integral(start: np.ndarray, end: np.ndarray, at: np.ndarray) -> np.ndarray:
    """For each ``x`` in ``at``, the integral up to ``x`` of how many of the
    intervals ``[start, end)`` hold: ``sum(min(x, end) - start)`` over the
    intervals begun by ``x``."""
    start = np.sort(start)
    end = np.sort(end)
    start_sums = np.concatenate([[0], np.cumsum(start)])
    end_sums = np.concatenate([[0], np.cumsum(end)])
    begun = np.searchsorted(start, at, side="right")
    over = np.searchsorted(end, at, side="right")
    return end_sums[over] + at * (begun - over) - start_sums[begun]


def _recovery(timeline: pd.DataFrame, scenario: StormScenario) -> float:
    ended = (timeline["successes"] + timeline["failures"]).to_numpy()
    failures = timeline["failures"].to_numpy()
    healthy = failures <= scenario.healthy_failures * ended
    times = timeline["time"].to_numpy()
    end = scenario.outage[1]
    if not healthy[-1]:
        return math.nan
    # The start of the trailing run of healthy bins, if it is after the end.
    unhealthy = np.flatnonzero(~healthy)
    first = 0 if unhealthy.size == 0 else unhealthy[-1] + 1
    return float(max(times[first], end) - end)


def _last_unhealthy(timeline: pd.DataFrame, scenario: StormScenario) -> float:
    ended = timeline["successes"] + timeline["failures"]
    unhealthy = timeline["failures"] > scenario.healthy_failures * ended
    if not unhealthy.any():
        return math.nan
    return float(
        min(timeline["time"][unhealthy].max() + scenario.bin_s, scenario.horizon)
    )


def _peak_queue(history: list[dict[str, Any]]) -> int:
    events: list[tuple[float, int]] = []
    for call in history:
        left = call["started"] if call["started"] is not None else call["ended"]
        if left is None:
            left = math.inf
        if left > call["invoked"]:
            events.append((call["invoked"], 1))
            events.append((left, -1))
    events.sort(key=lambda event: (event[0], event[1]))
    peak = depth = 0
    for _, change in events:
        depth += change
        peak = max(peak, depth)
    return peak


def storm_chart(results: StormResults, columns: int = 2) -> Figure:
    """Offered load, successes and queue length over time, one panel per
    strategy, the outage shaded and recovery marked; a matplotlib Figure
    (it is never shown)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    names = [strategy.name for strategy in results.strategies]
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(6 * columns, 2.6 * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, sharex=True, sharey=True))
    axes = axes.ravel()
    scenario = results.scenario
    recovery = results.table.set_index("strategy")["recovery_s"]
    retrying = results.table.set_index("strategy")["retrying"]
    peak_rate = results.timeline[["offered", "successes"]].to_numpy().max()
    peak_queue = max(results.timeline["queue"].max(), 1.0)
    for ax, name in zip(axes, names, strict=False):
        line = results.timeline[results.timeline["strategy"] == name]
        ax.axvspan(*scenario.outage, color="tab:red", alpha=0.12, lw=0)
        ax.plot(line["time"], line["offered"], color="tab:gray", lw=1, label="offered")
        ax.plot(
            line["time"], line["successes"], color="tab:green", lw=1, label="successes"
        )
        queue_ax = ax.twinx()
        queue_ax.fill_between(
            line["time"], line["queue"], step="post", color="tab:blue", alpha=0.25,
            lw=0, label="queue",
        )  # fmt: skip
        queue_ax.set_ylim(0, peak_queue * 1.05)
        queue_ax.tick_params(labelsize=7, colors="tab:blue")
        rec = recovery.get(name, math.nan)
        if math.isnan(rec):
            note = f"not recovered by {scenario.horizon:g} s"
            if retrying[name]:
                note += f", {retrying[name]:,} still retrying"
        else:
            note = f"recovered {rec:g} s after the outage"
            ax.axvline(scenario.outage[1] + rec, color="black", ls="--", lw=0.8)
        ax.set_title(f"{name}: {note}", fontsize=9)
        ax.set_ylim(0, peak_rate * 1.05)
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    for ax in axes[-columns:]:
        ax.set_xlabel("simulated seconds")
    for ax in axes[::columns]:
        ax.set_ylabel("calls / s")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Patch(color="tab:blue", alpha=0.25, label="queue (right axis)"))
    labels.append("queue (right axis)")
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
    figure.suptitle(
        f"Retry storm: {len(scenario.arrivals()):,} instances, capacity "
        f"{scenario.capacity}, outage {scenario.outage[0]:g}-{scenario.outage[1]:g} s"
        f" (shaded); {LAB_NOTE}",
        fontsize=10,
    )
    return figure


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sagasim.storms storm``: run the default strategies on the
    default scenario (``--fifo``: without a queue timeout), write
    ``storm.csv`` (the table), ``timeline.csv`` and ``storm.png`` into
    ``--out``, print the table and the folder."""
    parser = argparse.ArgumentParser(
        prog="python -m sagasim.storms storm",
        description=f"Run the retry-storm experiment ({LAB_NOTE}).",
    )
    parser.add_argument("--out", default="runs/storm", help="output folder")
    parser.add_argument(
        "--fifo",
        action="store_true",
        help="no queue timeout: the service's FIFO queue collapses under load",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    scenario = StormScenario()
    if args.fifo:
        scenario = dataclasses.replace(scenario, queue_timeout_ms=None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(
            f"{done}/{total} strategies, {time.monotonic() - started:.0f}s",
            file=sys.stderr,
            flush=True,
        )

    results = run_storm(scenario, seed=args.seed, progress=progress)
    table = storm_table(results)
    table.to_csv(out / "storm.csv", index=False)
    results.timeline.to_csv(out / "timeline.csv", index=False, float_format="%.4g")
    storm_chart(results).savefig(out / "storm.png", dpi=110)

    print(f"{len(scenario.arrivals()):,} instances; {LAB_NOTE}")
    shown = ["recovery_s", "attempts", "completed", "gave_up", "retrying"]
    print(table.set_index("strategy")[shown].to_string())
    print(out)
    return 0
