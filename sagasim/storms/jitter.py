"""A reproduction of the published backoff-and-jitter simulation, on the lab.

The simulation (Brooker, "Exponential Backoff and Jitter", AWS Architecture
Blog, 2015; ``reference/saga-systems.md`` §4) races clients for one
optimistic-concurrency row. Each client reads the row's version, then
writes with it; only a write whose version is still current succeeds. On a
lost write the client waits ``backoff(attempt)`` and reads again; it stops
after its first successful write. Every message hop takes ``|N(10, 2)|`` ms.
All clients start at 0; a run's time is the instant of its last event (the
last client hearing its write succeed), its calls are the write attempts
(reads do not count).

Here the row is an :class:`~sagasim.storms.occ.OccRow`, a service on the
lab's :class:`~sagasim.services.Service` request model, and every client is
a **sagasim workflow instance** with one step, ``update``, whose body reads
and then writes and raises :class:`~sagasim.storms.occ.StaleWrite` on a lost
write. The waits between attempts are the engine's own retries: the step's
retry config and :meth:`~sagasim.engine.config.StepConfig.retry_delay`, with
the lab's ``jitter`` and ``cap`` (``config["lab"]``). Instances rather than
bare coroutines, because the question the lab asks is what the engine's
retry machinery does under contention, and this way the reproduction runs
exactly that code path (attempt loop, per-attempt jitter draws, waits
measured from the failure instant); it costs about 1.7 times a bare
coroutine loop.

Attention: jitter and the cap are **lab extensions, not Cloudflare's
behaviour**. Cloudflare's backoff is ``constant``, ``linear`` or
``exponential`` with neither jitter nor a cap; only the ``none`` and the
un-jittered ``exponential`` strategy below (the latter without its cap) are
configurations Cloudflare can express.

The strategies, with base 5 ms and cap 2000 ms as published, ``n`` the
published attempt counter (1 after the first lost write):

=================  ============================  ==========================
name (published)   wait after lost write ``n``   engine config
=================  ============================  ==========================
``exponential``    ``min(cap, 5 * 2**n)``        exponential, delay 10 ms,
(Exponential)                                    lab cap
``full``           ``U(0, that)``                + lab jitter ``full``
(FullJitter)
``equal``          ``that/2 + U(0, that/2)``     + lab jitter ``equal``
(EqualJitter)
``decorrelated``   ``min(cap, U(5, 3 * prev))``  delay 5 ms, lab jitter
(Decorr)           ``prev`` from 5               ``decorrelated``, lab cap
``none`` (None,    0                             constant, delay 0
labelled
NoBackoff)
=================  ============================  ==========================

The engine's exponential wait after attempt ``n`` is ``delay * 2**(n-1)``,
so a delay of 10 ms gives the published ``5 * 2**n``.

NOTE: the lab's clock counts whole milliseconds, and at that resolution
hops of 10 +- 2 ms tie often and a full-jitter wait in U(0, 10) ms has
eleven values, where the published simulation's time is continuous. The
reproduction therefore runs the clock at ``scale`` ticks per published
millisecond (1000 by default: one tick is a microsecond) by multiplying
every duration, latencies and retry delays alike, by ``scale``, and divides
the reported times by it. The difference turns out small: at 100 clients
and 20 runs, ``scale=1`` moves the means of full, decorrelated and no
backoff by under 3%.

Run it with ``make jitter`` (or ``python -m sagasim.storms jitter``); it
writes ``jitter.csv`` (the table), ``jitter.png`` (the chart) and
``shape.csv`` (:func:`check_shape`'s verdicts) and prints the folder.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

import sagasim
from sagasim.storms.occ import AbsNormal, OccRow, StaleWrite

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "BASE_MS",
    "CAP_MS",
    "CLIENTS",
    "HOP_MS",
    "JITTER_STRATEGIES",
    "QUICK_CLIENTS",
    "QUICK_RUNS",
    "RUNS",
    "JitterStrategy",
    "OccClient",
    "OccRun",
    "check_shape",
    "jitter_chart",
    "main",
    "run_jitter",
    "simulate_occ",
]

BASE_MS = 5
CAP_MS = 2000
HOP_MS = (10, 2)
"""Mean and standard deviation of one message hop, ``|N(10, 2)|`` ms."""
CLIENTS = tuple(range(10, 200, 10))
RUNS = 100
QUICK_CLIENTS = (10, 20, 40)
QUICK_RUNS = 5
SCALE = 1000
LAB_NOTE = "jitter and cap are lab extensions, not Cloudflare behaviour"


@dataclass(frozen=True)
class JitterStrategy:
    """One backoff strategy of the published simulation, as a step config.

    ``delay_ms`` is the engine's retry delay (the base its backoff scales),
    ``jitter`` and ``cap_ms`` go into the config's ``lab`` key (lab
    extensions, not Cloudflare's).
    """

    name: str
    label: str
    backoff: str
    delay_ms: float
    jitter: str = "none"
    cap_ms: float | None = None

    def config(self, scale: int = SCALE) -> dict[str, Any]:
        """The step config, every duration in ticks of ``1 / scale`` ms."""
        config: dict[str, Any] = {
            "retries": {
                "limit": math.inf,
                "delay": round(self.delay_ms * scale),
                "backoff": self.backoff,
            },
            "timeout": "365 days",
        }
        lab: dict[str, Any] = {}
        if self.jitter != "none":
            lab["jitter"] = self.jitter
        if self.cap_ms is not None:
            lab["cap"] = round(self.cap_ms * scale)
        if lab:
            config["lab"] = lab
        return config


JITTER_STRATEGIES: dict[str, JitterStrategy] = {
    s.name: s
    for s in (
        JitterStrategy("exponential", "Exponential", "exponential", 2 * BASE_MS,
                       cap_ms=CAP_MS),
        JitterStrategy("decorrelated", "Decorr", "exponential", BASE_MS,
                       "decorrelated", CAP_MS),
        JitterStrategy("equal", "EqualJitter", "exponential", 2 * BASE_MS,
                       "equal", CAP_MS),
        JitterStrategy("full", "FullJitter", "exponential", 2 * BASE_MS,
                       "full", CAP_MS),
        JitterStrategy("none", "NoBackoff", "constant", 0),
    )
}  # fmt: skip
"""The published strategies, by name, in the published order. Labels are
the published names, except ``NoBackoff`` for the published ``None`` (which
pandas would read back from a CSV as a missing value)."""


class OccClient(sagasim.Workflow):
    """A client that updates the row once: read, write, and on a lost write
    retry (the engine's retries, under the step config in the payload)."""

    async def run(self, event: dict[str, Any], step: sagasim.Step) -> None:
        row: OccRow = self.env["row"]

        async def update() -> None:
            version = await row.read()
            if not await row.write(version):
                raise StaleWrite(f"version {version} is no longer current")

        await step.do("update", update, config=event["payload"])


class OccRun(NamedTuple):
    """One run: when its last client finished (published ms), its writes."""

    completion_ms: float
    calls: int


def simulate_occ(
    clients: int, strategy: str | JitterStrategy, seed: int = 0, scale: int = SCALE
) -> OccRun:
    """Race ``clients`` workflow instances for one OCC row; one run.

    Deterministic for a seed: the hops come from the row's random stream,
    the jitter from the engine's per-attempt draws.
    """
    if isinstance(strategy, str):
        strategy = JITTER_STRATEGIES[strategy]
    sim = sagasim.Simulation(seed=seed)
    hop = AbsNormal(HOP_MS[0] * scale, HOP_MS[1] * scale)
    row = OccRow(sim, latency=hop, response_latency=hop)
    sim.bindings["row"] = row
    config = strategy.config(scale)
    for _ in range(clients):
        sim.create(OccClient, params=config)
    sim.run()

    last = max(
        (call["ended"] for call in row.history if call["result"] is True),
        default=0.0,
    )
    return OccRun(last * 1000 / scale, row.writes)


def run_jitter(
    clients: Iterable[int] = CLIENTS,
    runs: int = RUNS,
    strategies: Iterable[str] = tuple(JITTER_STRATEGIES),
    seed: int = 0,
    *,
    scale: int = SCALE,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """The reproduction's table: one row per strategy and client count.

    Run ``r`` (0-based) of every cell uses seed ``seed + r``, so the
    strategies meet the same network draws where they make the same calls.
    ``n_jobs`` above 1 (or -1 for every core) spreads the cells over worker
    processes; the table does not depend on it. ``progress(done, total)``
    is called as cells finish.

    Returns:
        A DataFrame with columns ``strategy``, ``label`` (the published
        name), ``clients``, ``runs``, ``completion_ms`` and ``calls`` (means
        over the runs) and their standard deviations ``completion_ms_sd``
        and ``calls_sd``; times in published milliseconds.
    """
    cells = [(name, n) for name in strategies for n in clients]
    for name, _ in cells:
        if name not in JITTER_STRATEGIES:
            raise ValueError(
                f"unknown strategy {name!r}; known: {', '.join(JITTER_STRATEGIES)}"
            )
    total = len(cells)
    # The biggest client counts go first, so that the last cells to finish
    # are small ones and no worker idles long at the end.
    order = sorted(cells, key=lambda cell: -cell[1])
    if n_jobs == 1:
        results: Iterable[dict] = (
            _cell(name, n, runs, seed, scale) for name, n in order
        )
    else:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        results = parallel(
            delayed(_cell)(name, n, runs, seed, scale) for name, n in order
        )
    by_cell = {}
    for done, row in enumerate(results, 1):
        by_cell[row["strategy"], row["clients"]] = row
        if progress is not None:
            progress(done, total)
    rows = [by_cell[cell] for cell in cells]
    return pd.DataFrame(rows, columns=_COLUMNS)


_COLUMNS = [
    "strategy",
    "label",
    "clients",
    "runs",
    "completion_ms",
    "calls",
    "completion_ms_sd",
    "calls_sd",
]


def _cell(name: str, clients: int, runs: int, seed: int, scale: int) -> dict:
    times = np.empty(runs)
    calls = np.empty(runs)
    # NOTE: a finished simulation is a graph of reference cycles that only
    # the cyclic collector frees, and a collection walks every live object.
    # Collecting after each small run would cost more than the run, so the
    # collector is paused and run by hand every ~20,000 write calls, which
    # keeps the garbage to a few tens of megabytes.
    enabled = gc.isenabled()
    gc.disable()
    pending = 0
    try:
        for r in range(runs):
            result = simulate_occ(clients, name, seed + r, scale)
            times[r] = result.completion_ms
            calls[r] = result.calls
            pending += result.calls
            if pending > 20_000:
                gc.collect()
                pending = 0
    finally:
        gc.collect()
        if enabled:
            gc.enable()
    strategy = JITTER_STRATEGIES[name]
    return {
        "strategy": name,
        "label": strategy.label,
        "clients": clients,
        "runs": runs,
        "completion_ms": float(times.mean()),
        "calls": float(calls.mean()),
        "completion_ms_sd": float(times.std(ddof=1)) if runs > 1 else 0.0,
        "calls_sd": float(calls.std(ddof=1)) if runs > 1 else 0.0,
    }


def check_shape(table: pd.DataFrame) -> pd.DataFrame:
    """Check the table against the published shape (§4), claim by claim.

    The claims and the tests used here:

    1. un-jittered exponential is far slower than full jitter: its mean
       time is at least twice full jitter's at every client count from 50;
    2. full and equal jitter do the least work: summed over client counts,
       they make the two smallest numbers of calls;
    3. decorrelated jitter is close to full jitter on time (summed time
       within 25% of full's) with somewhat more calls (between 1 and 2
       times full's, summed);
    4. no backoff finishes fastest: the smallest mean time at every client
       count;
    5. no backoff's calls grow roughly with the square of the clients: the
       slope of log(calls) against log(clients) is between 1.6 and 2.4.

    Returns:
        A DataFrame with columns ``claim``, ``holds`` (bool) and
        ``evidence`` (the numbers behind the verdict).
    """
    time_ = table.pivot(index="clients", columns="strategy", values="completion_ms")
    calls = table.pivot(index="clients", columns="strategy", values="calls")
    rows: list[tuple[str, bool, str]] = []

    ratio = time_["exponential"] / time_["full"]
    wide = ratio[ratio.index >= 50]
    if wide.empty:
        wide = ratio
    rows.append(
        (
            "un-jittered exponential is far slower than full jitter",
            bool((wide >= 2).all()),
            f"time ratio exponential/full {wide.min():.1f}x to {wide.max():.1f}x",
        )
    )

    work = calls.sum().sort_values()
    least = set(work.index[:2])
    rows.append(
        (
            "full and equal jitter do the least work",
            least == {"full", "equal"},
            "summed calls: "
            + ", ".join(f"{name} {value:,.0f}" for name, value in work.items()),
        )
    )

    time_close = time_["decorrelated"].sum() / time_["full"].sum()
    calls_more = calls["decorrelated"].sum() / calls["full"].sum()
    rows.append(
        (
            "decorrelated is close to full on time, with somewhat more calls",
            bool(abs(time_close - 1) <= 0.25 and 1 < calls_more <= 2),
            f"decorrelated/full: time {time_close:.2f}x, calls {calls_more:.2f}x",
        )
    )

    fastest = time_.idxmin(axis=1)
    rows.append(
        (
            "no backoff finishes fastest",
            bool((fastest == "none").all()),
            "fastest by clients: "
            + ", ".join(f"{n}: {name}" for n, name in fastest.items()),
        )
    )

    slope = _loglog_slope(calls.index, calls["none"])
    full_slope = _loglog_slope(calls.index, calls["full"])
    rows.append(
        (
            "no backoff's calls grow roughly with the square of the clients",
            bool(1.6 <= slope <= 2.4),
            f"log-log slope of calls: none {slope:.2f}, full {full_slope:.2f}",
        )
    )
    return pd.DataFrame(rows, columns=["claim", "holds", "evidence"])


def _loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    if len(x) < 2:
        return math.nan
    return float(np.polyfit(np.log(np.asarray(x)), np.log(np.asarray(y)), 1)[0])


def jitter_chart(table: pd.DataFrame) -> Figure:
    """Mean completion time and mean write calls against clients, one line
    per strategy; a matplotlib Figure (it is never shown)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), layout="constrained")
    ax_time, ax_calls = figure.subplots(1, 2)
    for name, group in table.groupby("strategy", sort=False):
        group = group.sort_values("clients")
        label = JITTER_STRATEGIES[name].label if name in JITTER_STRATEGIES else name
        ax_time.plot(group["clients"], group["completion_ms"], marker=".", label=label)
        ax_calls.plot(group["clients"], group["calls"], marker=".", label=label)
    ax_time.set(
        title="Completion time (last event)", xlabel="clients", ylabel="mean ms"
    )
    ax_calls.set(title="Work (write calls)", xlabel="clients", ylabel="mean calls")
    for ax in (ax_time, ax_calls):
        ax.grid(alpha=0.3)
    ax_time.legend()
    runs = int(table["runs"].max()) if len(table) else 0
    figure.suptitle(
        f"Backoff and jitter on one OCC row, {runs} runs per point ({LAB_NOTE})",
        fontsize=10,
    )
    return figure


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sagasim.storms jitter``: run the reproduction, write
    ``jitter.csv``, ``jitter.png`` and ``shape.csv`` into ``--out``, print
    the shape checks and the folder."""
    parser = argparse.ArgumentParser(
        prog="python -m sagasim.storms jitter",
        description="Reproduce the published backoff-and-jitter simulation "
        f"({LAB_NOTE}).",
    )
    parser.add_argument("--out", default="runs/jitter", help="output folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_RUNS} runs at {', '.join(map(str, QUICK_CLIENTS))} clients",
    )
    parser.add_argument("--runs", type=int, help="runs per point")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--jobs", type=int, default=-1, help="worker processes (-1: every core)"
    )
    args = parser.parse_args(argv)

    clients = QUICK_CLIENTS if args.quick else CLIENTS
    runs = args.runs or (QUICK_RUNS if args.quick else RUNS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(
            f"\r{done}/{total} points, {time.monotonic() - started:.0f}s",
            end="" if done < total else "\n",
            file=sys.stderr,
            flush=True,
        )

    jobs = args.jobs if args.jobs != -1 else (os.cpu_count() or 1)
    table = run_jitter(clients, runs, seed=args.seed, n_jobs=jobs, progress=progress)
    table.to_csv(out / "jitter.csv", index=False, float_format="%.3f")
    jitter_chart(table).savefig(out / "jitter.png", dpi=120)
    shape = check_shape(table)
    shape.to_csv(out / "shape.csv", index=False)

    print(f"{runs} runs per point, {len(clients)} client counts ({LAB_NOTE})")
    widest = table[table["clients"] == max(clients)].set_index("label")
    print(
        widest[["completion_ms", "calls"]]
        .round(1)
        .to_string(header=["mean ms", "mean calls"])
    )
    for claim in shape.itertuples():
        print(
            f"{'holds' if claim.holds else 'FAILS'}: {claim.claim} ({claim.evidence})"
        )
    print(out)
    return 0
