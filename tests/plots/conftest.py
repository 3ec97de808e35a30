"""Small workflows whose traces the chart tests read, and trace helpers
that find what a chart should show without the code that drew it."""

from __future__ import annotations

import itertools

import pytest

import sagasim
from sagasim.faults import Fault

NO_RETRIES = {"retries": {"limit": 0, "delay": 0}}


def pause(ms, *, fail=False):
    async def body(ctx):
        await sagasim.sleep(ms)
        if fail:
            raise sagasim.NonRetryableError("refused")
        return ms

    return body


async def undo(output, error, ctx):
    await sagasim.sleep(50)


class Tour(sagasim.Workflow):
    """a; sleep 1 s; b (500 ms, first reply lost, retried after 100 ms) and
    c (100 ms) in parallel; wait 2 s for an event that never comes.

    a 0-0.1; nap 0.1-1.1; b 1.1-1.6 fails, 1.7-2.2 succeeds; c 1.1-1.2;
    w 2.2-4.2 times out; handlers c 4.2, b 4.25, a 4.3; errored at 4.35.
    """

    name = "tour"

    async def run(self, event, step):
        await step.do("a", pause(100), rollback=undo)
        await step.sleep("nap", "1 second")
        b = step.do(
            "b",
            pause(500),
            rollback=undo,
            config={"retries": {"limit": 2, "delay": 100, "backoff": "constant"}},
        )
        c = step.do("c", pause(100), rollback=undo)
        await sagasim.gather(b, c)
        await step.wait_for_event("w", type="go", timeout="2 seconds")


class FourLegs(sagasim.Workflow):
    """prepare, then legs of 400, 100, 300 and 200 ms started together, then
    a refused commit: legs finish in the order 2, 4, 3, 1."""

    name = "four-legs"

    async def run(self, event, step):
        await step.do("prepare", pause(10), rollback=undo)
        await sagasim.gather(
            *(
                step.do(f"leg-{i}", pause(ms), rollback=undo)
                for i, ms in enumerate((400, 100, 300, 200), start=1)
            )
        )
        await step.do("commit", pause(0, fail=True), config=NO_RETRIES)


class Sequence(sagasim.Workflow):
    """a, b, c one after the other, then a refused d."""

    name = "sequence"

    async def run(self, event, step):
        for name in "abc":
            await step.do(name, pause(100), rollback=undo)
        await step.do("d", pause(10, fail=True), rollback=undo, config=NO_RETRIES)


@pytest.fixture
def tour():
    sim = sagasim.Simulation(seed=1, faults=[Fault("lose_output", step="b", attempt=1)])
    sim.create(Tour)
    sim.run()
    return sim


@pytest.fixture
def four_legs():
    sim = sagasim.Simulation(seed=2)
    sim.create(FourLegs)
    sim.run()
    return sim


def rows(trace, instance="inst-1", event=None):
    mine = trace[trace["instance"] == instance]
    if event is not None:
        mine = mine[mine["event"] == event]
    return mine


def attempt_intervals(trace, instance="inst-1"):
    """(step, attempt, start, end) of each ATTEMPT_START and the next
    ATTEMPT_SUCCESS/FAILURE of the same step and attempt."""
    found = []
    mine = rows(trace, instance)
    for _, start in mine[mine["event"] == "ATTEMPT_START"].iterrows():
        later = mine[
            (mine["seq"] > start["seq"])
            & mine["event"].isin(["ATTEMPT_SUCCESS", "ATTEMPT_FAILURE"])
            & (mine["step"] == start["step"])
            & (mine["attempt"] == start["attempt"])
        ]
        end = later["time"].iloc[0] if len(later) else None
        found.append((start["step"], start["attempt"], start["time"], end))
    return found


def discordant(first, second):
    """Every pair {x, y} that ``first`` and ``second`` order differently."""
    return {
        frozenset((x, y))
        for x, y in itertools.combinations(first, 2)
        if (first.index(x) < first.index(y)) != (second.index(x) < second.index(y))
    }


def artists(ax, gid):
    """Patches, lines, texts and collections of ``ax`` with this gid."""
    everything = [*ax.patches, *ax.lines, *ax.texts, *ax.collections]
    return [a for a in everything if a.get_gid() == gid]
