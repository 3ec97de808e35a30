"""The OCC row: only a write with the current version succeeds."""

from __future__ import annotations

import random

import pytest

import sagasim
from sagasim import Simulation
from sagasim.storms import AbsNormal, OccRow

ONE_ATTEMPT = {"retries": {"limit": 0, "delay": 0}}


def run_steps(sim, script):
    class Script(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("s", script, config=ONE_ATTEMPT)

    inst = sim.create(Script)
    sim.run()
    return inst.status()


def test_a_write_with_the_current_version_bumps_it_and_a_stale_one_fails():
    """Read 0, write 0 (won), write 0 again (lost): version 1, two writes."""
    sim = Simulation(seed=1)
    row = OccRow(sim, latency=10, response_latency=10)

    async def script():
        seen = await row.read()
        return [seen, await row.write(seen), await row.write(seen), await row.read()]

    assert {"status": "complete", "output": [0, True, False, 1], "error": None} == (
        run_steps(sim, script)
    )
    assert (1, 2) == (row.version, row.writes)
    assert {"version:row": 1} == row.snapshot()
    assert [(0.03, "write", 1)] == [
        (e["time"], e["kind"], e["delta"]) for e in row.effects
    ]


def test_reads_and_writes_are_judged_when_they_arrive():
    """Two readers race; the first write to arrive wins, the other loses."""
    sim = Simulation(seed=1)
    row = OccRow(sim, latency=10, response_latency=10)
    results = []

    async def slow_writer():
        seen = await row.read()
        await sagasim.sleep(5)
        results.append(("slow", await row.write(seen)))

    async def fast_writer():
        seen = await row.read()
        results.append(("fast", await row.write(seen)))

    class Race(sagasim.Workflow):
        async def run(self, event, step):
            slow = step.do("slow", slow_writer)
            fast = step.do("fast", fast_writer)
            await sagasim.gather(slow, fast)

    sim.create(Race)
    sim.run()

    assert [("fast", True), ("slow", False)] == results
    assert [(0.02, 0.04, True), (0.025, 0.045, False)] == [
        (call["invoked"], call["ended"], call["result"])
        for call in row.history
        if call["op"] == "write"
    ]
    assert [0.03] == [e["time"] for e in row.effects]


def test_abs_normal_draws_the_absolute_value_rounded():
    """|N(0, 5)| draws are whole, never negative, and follow the stream."""
    model = AbsNormal(0, 5)
    draws = [model.draw(random.Random(3)) for _ in range(2)]
    stream = random.Random(3)
    expected = round(abs(stream.normalvariate(0, 5)))

    assert [expected, expected] == draws
    assert all(model.draw(stream) >= 0 for _ in range(200))


def test_abs_normal_refuses_a_negative_sd():
    """The standard deviation must be >= 0."""
    with pytest.raises(ValueError, match="non-negative sd"):
        AbsNormal(10, -1)
