"""Instances over time: in flight, rolling back, ended."""

from __future__ import annotations

import sagasim
from sagasim.plots import instances_chart, instances_over_time

from .conftest import Sequence, artists, pause


class Quick(sagasim.Workflow):
    async def run(self, event, step):
        await step.do("only", pause(100))


def test_counts_follow_starts_rollbacks_and_ends():
    """A quick instance (done at 0.1 s) and a sequence that fails at 0.31 s
    and rolls back four handlers of 50 ms: errored at 0.51 s."""
    sim = sagasim.Simulation()
    sim.create(Quick)
    sim.create(Sequence)
    sim.run()
    table = instances_over_time(sim)
    assert [0.0, 0.1, 0.31, 0.51] == list(table["time"].round(3))
    assert [2, 1, 1, 0] == list(table["running"])
    assert [0, 0, 1, 0] == list(table["rolling_back"])
    assert [0, 1, 1, 1] == list(table["complete"])
    assert [0, 0, 0, 1] == list(table["errored"])

    fig = instances_chart(sim)
    ax, totals = fig.axes
    (running,) = artists(ax, "running")
    assert [2, 1, 1, 0] == list(running.get_data().values)
    assert {"complete", "errored"} == {a.get_gid() for a in totals.patches}
    assert "instances in flight" == ax.get_ylabel()
    assert "Instances over time: 2 ended" == ax.get_title()


def test_a_long_run_is_drawn_in_slices_that_keep_its_peaks():
    """Forty instances one after another, drawn in 8 slices: each slice
    shows the one instance running and the totals at its end."""
    sim = sagasim.Simulation()
    for i in range(40):
        sim.create(Quick, at=i * 0.2)
    sim.run()
    full = instances_over_time(sim)
    assert 80 == len(full)
    ax = instances_chart(sim, max_points=8).axes[0]
    (running,) = artists(ax, "running")
    assert [1] * 8 == list(running.get_data().values)
    totals = [a for a in ax.figure.axes[1].patches if a.get_gid() == "complete"]
    assert 40 == totals[0].get_data().values[-1]
    assert 8 == len(totals[0].get_data().values)
