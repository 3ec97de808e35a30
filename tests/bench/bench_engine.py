"""Benchmarks of the engine against raw SimPy; run with ``make bench``.

Each benchmark runs in this one process and prints seconds and ratios:

(a) concurrent instances of a 10-step saga, 5% of them failing at step 6
    and rolling back, against raw SimPy doing the same number of timeouts;
(b) one instance of many steps that fails on the last and rolls all back;
(c) the same at a tenth of the steps, to show how cost grows;
(d) trace memory per row, and the time to build ``sim.trace`` for a
    million rows.

``--quick`` runs everything at a tenth of the size.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import simpy

import sagasim
from sagasim.runtime.trace import TraceRecorder

STEP_MS = 100
UNDO_MS = 50


async def body(ctx):
    await sagasim.sleep(STEP_MS)
    return ctx.step.count


async def failing(ctx):
    await sagasim.sleep(STEP_MS)
    raise sagasim.NonRetryableError("declined")


async def undo(output, error, ctx):
    await sagasim.sleep(UNDO_MS)


class Saga(sagasim.Workflow):
    """Ten steps with handlers; the payload says which step fails, if any."""

    async def run(self, event, step):
        fail_at = event["payload"]["fail_at"]
        for n in range(event["payload"]["steps"]):
            await step.do("step", failing if n == fail_at else body, rollback=undo)


def engine_run(instances: int, steps: int, failing_every: int | None) -> tuple:
    sim = sagasim.Simulation(seed=1, step_limit=min(25_000, max(steps, 1)))
    for n in range(instances):
        fails = failing_every is not None and n % failing_every == 0
        sim.create(Saga, params={"steps": steps, "fail_at": steps - 1 if fails else -1})
    start = time.perf_counter()
    sim.run()
    elapsed = time.perf_counter() - start
    timeouts = _timeouts(sim)
    return elapsed, timeouts, len(sim.recorder)


def _timeouts(sim) -> int:
    """How many sleeps the run resumed: one per attempt and one per handler."""
    trace = sim.trace
    return int(trace["event"].isin(["ATTEMPT_START", "ROLLBACK_ATTEMPT_START"]).sum())


def raw_simpy(processes: int, timeouts_each: int, delay: int = STEP_MS) -> float:
    env = simpy.Environment()

    def process(env):
        for _ in range(timeouts_each):
            yield env.timeout(delay)

    for _ in range(processes):
        env.process(process(env))
    gc.disable()
    start = time.perf_counter()
    env.run()
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed


def bench_concurrent(instances: int) -> None:
    elapsed, timeouts, rows = engine_run(instances, 10, failing_every=20)
    raw = raw_simpy(instances, round(timeouts / instances))
    print(
        f"(a) {instances:,} instances x 10 steps, 5% rolling back: "
        f"{elapsed:.2f}s engine, {raw:.2f}s raw SimPy for {timeouts:,} timeouts; "
        f"ratio {elapsed / raw:.1f}x (target <= 5x); {rows:,} trace rows"
    )


def bench_long(steps: int) -> float:
    elapsed, timeouts, rows = engine_run(1, steps, failing_every=1)
    raw = raw_simpy(1, timeouts)
    print(
        f"(b) 1 instance x {steps:,} steps, failing on the last, all rolled back: "
        f"{elapsed:.2f}s engine, {raw:.2f}s raw SimPy; ratio {elapsed / raw:.1f}x"
    )
    return elapsed


def bench_growth(steps: int) -> None:
    small = engine_run(1, steps // 10, failing_every=1)[0]
    large = engine_run(1, steps, failing_every=1)[0]
    print(
        f"(c) {steps // 10:,} steps {small:.2f}s, {steps:,} steps {large:.2f}s: "
        f"10x the steps for {large / small:.1f}x the time (target <= 11x)"
    )


def bench_trace(rows: int) -> None:
    instances = [f"inst-{n}" for n in range(1000)]
    steps = [f"step-{n}" for n in range(100)]
    tracemalloc.start()
    recorder = TraceRecorder()
    for n in range(rows):
        recorder.record(n, instances[n % 1000], "ATTEMPT_START", steps[n % 100], 1, 1)
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    start = time.perf_counter()
    recorder.frame()
    built = time.perf_counter() - start
    print(
        f"(d) {rows:,} rows: {used / rows:.0f} bytes a row (target < 200); "
        f"DataFrame built in {built:.2f}s (target < 1s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the size")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    bench_concurrent(50_000 // scale)
    bench_long(25_000 // scale)
    bench_growth(25_000 // scale)
    bench_trace(1_000_000 // scale)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
