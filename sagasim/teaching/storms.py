"""Notebook 05: a retry storm, and what retries do after an outage ends.

Instances call one capacity-limited :class:`~sagasim.storms.Endpoint` from
a single step each. A steady stream keeps the service busy; at the start of
an outage a herd of instances joins it. During the outage every call fails
and every failing instance retries; after it, their retries arrive on top
of the stream. Retries that fail together come back together: if each
wave is more than the service can serve inside its queue timeout, most of
the wave fails again, and the service stays overloaded after its trigger
(the outage) is gone: a metastable failure. Spreading the retries out
(jitter, a lab extension, not Cloudflare's behaviour) breaks the waves up.

:func:`storm_study` uses the lab's retry-storm experiment,
:func:`sagasim.storms.run_storm`, when this installation has it, and
otherwise the small storm of this module (:func:`small_storm`), built from
the same endpoint; its result says which one ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import sagasim
from sagasim.storms import Endpoint

__all__ = [
    "STRATEGIES",
    "StormStudy",
    "StormCall",
    "has_storm_experiment",
    "small_storm",
    "storm_study",
    "study_chart",
]

STRATEGIES = {
    "constant 1 s": {"limit": math.inf, "delay": 1000, "backoff": "constant"},
    "exponential 1 s": {"limit": math.inf, "delay": 1000, "backoff": "exponential"},
    "exponential, limit 3": {"limit": 3, "delay": 1000, "backoff": "exponential"},
    "exponential + full jitter (lab)": {
        "limit": math.inf,
        "delay": 1000,
        "backoff": "exponential",
        "jitter": "full",
    },
}
"""The retry strategies compared by :func:`small_storm`: Cloudflare's retry
settings, plus full jitter, a lab extension (``config["lab"]``)."""


def has_storm_experiment() -> bool:
    """Whether :mod:`sagasim.storms` has the lab's retry-storm experiment."""
    import sagasim.storms as storms

    return hasattr(storms, "run_storm") and hasattr(storms, "StormScenario")


class StormCall(sagasim.Workflow):
    """One instance: one step that asks the endpoint ``api`` for one unit of
    work under the step config in the payload."""

    name = "storm-call"

    async def run(self, event: dict[str, Any], step: Any) -> Any:
        api: Endpoint = self.env["api"]
        key = event["instance_id"]

        async def call() -> Any:
            return await api.handle(key)

        return await step.do("call", call, config=event["payload"])


@dataclass
class StormStudy:
    """What :func:`storm_study` returns.

    Attributes:
        source: ``"sagasim.storms"`` (the lab's experiment) or
            ``"sagasim.teaching.storms"`` (this module's small storm).
        table: one row per strategy: ``strategy``, ``attempts`` (calls
            made), ``completed``, ``gave_up``, ``unfinished``,
            ``recovery_s`` (seconds from the outage's end until the service
            stays healthy; NaN if it never does) and ``peak_queue``.
        timeline: per strategy and 1 s bin: ``offered``, ``successes`` and
            ``failures`` per second and ``queue`` (calls waiting).
        outage: the outage window, seconds.
        figure: the chart, when the source drew its own.
    """

    source: str
    table: pd.DataFrame
    timeline: pd.DataFrame
    outage: tuple[float, float]
    figure: Figure | None = None


def small_storm(
    *,
    rate: float = 20.0,
    duration: float = 60.0,
    herd: int = 400,
    outage: tuple[float, float] = (10.0, 20.0),
    capacity: int = 10,
    horizon: float = 120.0,
    strategies: dict[str, dict[str, Any]] | None = None,
    seed: int = 0,
) -> StormStudy:
    """A storm on one :class:`~sagasim.storms.Endpoint`: ``rate``
    instances a second for ``duration`` seconds, plus ``herd`` instances
    over the first second of the ``outage``. The endpoint serves
    ``capacity`` calls at once in 80 to 120 ms (slower under load,
    ``load_factor`` 1) and fails a call that waits more than 300 ms for a
    slot; each attempt times out after 1 s. Each strategy runs in its own
    simulation, with the same arrivals and seed, until ``horizon``."""
    strategies = strategies or STRATEGIES
    arrivals = [i / rate for i in range(round(rate * duration))]
    arrivals += [outage[0] + i / herd for i in range(herd)]
    arrivals.sort()
    rows, lines = [], []
    for name, retries in strategies.items():
        config: dict[str, Any] = {
            "retries": {k: retries[k] for k in ("limit", "delay", "backoff")},
            "timeout": 1000,
        }
        if "jitter" in retries:
            config["lab"] = {"jitter": retries["jitter"]}
        sim = sagasim.Simulation(seed=seed)
        api = Endpoint(
            sim,
            latency=(80, 120),
            capacity=capacity,
            outages=[outage],
            queue_timeout=300,
            load_factor=1.0,
        )
        sim.bindings["api"] = api
        for at in arrivals:
            sim.create(StormCall, params=config, at=at)
        sim.run(until=horizon)
        line = _timeline(api.history, horizon)
        line.insert(0, "strategy", name)
        lines.append(line)
        statuses = pd.Series([i.status()["status"] for i in sim.instances])
        rows.append(
            {
                "strategy": name,
                "attempts": len(api.history),
                "completed": int((statuses == "complete").sum()),
                "gave_up": int((statuses == "errored").sum()),
                "unfinished": int(statuses.isin(["running", "queued"]).sum()),
                "recovery_s": _recovery(line, outage[1]),
                "peak_queue": int(line["queue"].max()),
            }
        )
    return StormStudy(
        "sagasim.teaching.storms",
        pd.DataFrame(rows),
        pd.concat(lines, ignore_index=True),
        outage,
    )


def _timeline(history: list[dict[str, Any]], horizon: float) -> pd.DataFrame:
    edges = np.arange(0.0, horizon + 1.0, 1.0)
    invoked = np.array([call["invoked"] for call in history])
    ended = np.array(
        [np.nan if call["ended"] is None else call["ended"] for call in history]
    )
    ok = np.array([call["outcome"] == "ok" for call in history])
    done = ~np.isnan(ended)
    offered, _ = np.histogram(invoked, edges)
    successes, _ = np.histogram(ended[ok & done], edges)
    failures, _ = np.histogram(ended[done & ~ok], edges)
    # The calls waiting for a slot at each bin's start.
    started = np.array(
        [
            (call["started"] if call["started"] is not None else call["ended"])
            if (call["started"] is not None or call["ended"] is not None)
            else np.inf
            for call in history
        ],
        dtype=float,
    )
    at = edges[:-1]
    waiting = [int(((invoked <= t) & (started > t)).sum()) for t in at]
    return pd.DataFrame(
        {
            "time": at,
            "offered": offered,
            "successes": successes,
            "failures": failures,
            "queue": waiting,
        }
    )


def _recovery(line: pd.DataFrame, end: float) -> float:
    ended = line["successes"] + line["failures"]
    healthy = (line["failures"] <= 0.1 * ended).to_numpy()
    if not healthy[-1]:
        return math.nan
    unhealthy = np.flatnonzero(~healthy)
    first = 0 if unhealthy.size == 0 else unhealthy[-1] + 1
    return float(max(line["time"].iloc[first], end) - end)


def storm_study(scale: str = "small", seed: int = 0) -> StormStudy:
    """The retry storm at ``scale`` (``"small"``: a few hundred instances;
    ``"full"``: thousands), with the lab's experiment when it is there."""
    if has_storm_experiment():
        return _lab_storm(scale, seed)
    if scale == "small":
        return small_storm(rate=10, duration=40, herd=150, capacity=5, horizon=80,
                           seed=seed)  # fmt: skip
    return small_storm(seed=seed)


def _lab_storm(scale: str, seed: int) -> StormStudy:
    from sagasim.storms import StormScenario, run_storm, storm_chart

    if scale == "small":
        scenario = StormScenario(
            rate=10.0, duration=40.0, herd=150, capacity=5, horizon=80.0
        )
    else:
        scenario = StormScenario()
    results = run_storm(scenario, seed=seed)
    table = results.table
    columns = [
        c
        for c in (
            "strategy",
            "attempts",
            "completed",
            "gave_up",
            "unfinished",
            "recovery_s",
            "peak_queue",
        )
        if c in table.columns
    ]
    return StormStudy(
        "sagasim.storms",
        table[columns].copy(),
        results.timeline,
        tuple(scenario.outage),
        storm_chart(results),
    )


def study_chart(study: StormStudy) -> Figure:
    """The study's own chart when its source drew one; otherwise offered
    load and successes per second, one panel per strategy, the outage
    shaded (gids ``"offered"``, ``"successes"``)."""
    if study.figure is not None:
        return study.figure
    names = list(dict.fromkeys(study.timeline["strategy"]))
    fig = Figure(figsize=(11, 2.3 * math.ceil(len(names) / 2) + 0.6),
                 layout="constrained")  # fmt: skip
    axes = np.atleast_1d(fig.subplots(math.ceil(len(names) / 2), 2, sharex=True,
                                      sharey=True)).ravel()  # fmt: skip
    recovery = study.table.set_index("strategy")["recovery_s"]
    for ax, name in zip(axes, names, strict=False):
        line = study.timeline[study.timeline["strategy"] == name]
        ax.axvspan(*study.outage, color="#f5b7b1", alpha=0.6, lw=0)
        ax.step(line["time"], line["offered"], where="post", color="#7f8c8d",
                label="calls offered", gid="offered")  # fmt: skip
        ax.step(line["time"], line["successes"], where="post", color="#4c9f70",
                label="calls served", gid="successes")  # fmt: skip
        rec = recovery.get(name, math.nan)
        note = "not recovered" if math.isnan(rec) else f"recovered {rec:g} s after"
        ax.set_title(f"{name}: {note}", fontsize="small")
        ax.grid(alpha=0.3)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    axes[0].legend(frameon=False, fontsize="small")
    fig.supxlabel("simulated seconds")
    fig.supylabel("calls per second")
    fig.suptitle("Retry storm after an outage (shaded); jitter is a lab extension")
    return fig
