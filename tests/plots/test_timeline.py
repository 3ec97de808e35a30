"""The instance timeline draws what the trace says happened."""

from __future__ import annotations

import io

import pytest
from matplotlib.colors import to_hex

import sagasim
from sagasim.faults import Fault
from sagasim.plots import instance_timeline
from sagasim.plots._style import COLORS

from .conftest import Sequence, Tour, artists, attempt_intervals, pause, rows, undo


def row_labels(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def row_of(ax, y):
    return row_labels(ax)[round(y)]


def bars(ax, gid):
    """(row label, start, end) of each bar with this gid, in drawing order."""
    return [
        (
            row_of(ax, p.get_y() + p.get_height() / 2),
            p.get_x(),
            p.get_x() + p.get_width(),
        )
        for p in artists(ax, gid)
    ]


def test_one_bar_per_attempt_from_its_start_to_its_end(tour):
    """Each ATTEMPT_START is one bar spanning to that attempt's outcome row."""
    ax = instance_timeline(tour).axes[0]
    expected = sorted(
        (step, start, end) for step, _, start, end in attempt_intervals(tour.trace)
    )
    assert len(expected) == 4
    drawn = sorted(bars(ax, "attempt"))
    assert [d[0] for d in drawn] == [e[0] for e in expected]
    for (_, start, end), (_, x0, x1) in zip(expected, drawn, strict=True):
        assert x0 == pytest.approx(start)
        assert x1 == pytest.approx(end)


def test_rows_are_steps_in_start_order_with_axis_labels(tour):
    """One row per step, sleep and wait, in the order they began."""
    fig = instance_timeline(tour)
    ax = fig.axes[0]
    assert ["a", "nap", "b", "c", "w"] == row_labels(ax)
    assert "simulated time (s)" == ax.get_xlabel()
    assert "step" == ax.get_ylabel()
    assert "inst-1 (tour): errored" == ax.get_title()


def test_failed_attempt_is_red_and_followed_by_its_retry_wait(tour):
    """b's lost reply fails attempt 1 at 1.6 s; the wait runs to 1.7 s."""
    ax = instance_timeline(tour).axes[0]
    b_bars = [p for p in artists(ax, "attempt") if row_of(ax, p.get_y() + 0.3) == "b"]
    colours = [
        to_hex(p.get_facecolor()) for p in sorted(b_bars, key=lambda p: p.get_x())
    ]
    assert [COLORS["failure"], COLORS["success"]] == colours
    assert [("b", pytest.approx(1.6), pytest.approx(1.7))] == bars(ax, "retry-wait")


def test_sleeps_and_waits_are_drawn_apart_from_attempts(tour):
    """The sleep and the event wait are hatched bars with gids of their own."""
    ax = instance_timeline(tour).axes[0]
    assert [("nap", pytest.approx(0.1), pytest.approx(1.1))] == bars(ax, "sleep")
    assert [("w", pytest.approx(2.2), pytest.approx(4.2))] == bars(ax, "wait")
    hatches = {p.get_hatch() for p in artists(ax, "sleep") + artists(ax, "wait")}
    assert None not in hatches
    assert {None} == {p.get_hatch() for p in artists(ax, "attempt")}


def test_injected_fault_is_marked_where_it_fired(tour):
    """The lose_output fault shows as one marker on b's row at 1.1 s."""
    ax = instance_timeline(tour).axes[0]
    faults = rows(tour.trace, event="FAULT_INJECTED")
    marks = artists(ax, "fault")
    assert len(faults) == len(marks) == 1
    x, y = marks[0].get_xdata()[0], marks[0].get_ydata()[0]
    assert (1.1, "b") == (pytest.approx(x), row_of(ax, y))


def test_rollback_handlers_are_numbered_in_the_order_they_ran(tour):
    """The numbers 1, 2, 3 sit on the rows of c, b, a: the trace's order."""
    ax = instance_timeline(tour).axes[0]
    handler_rows = rows(tour.trace, event="ROLLBACK_STEP_START")
    expected = list(handler_rows["step"])
    numbers = sorted(artists(ax, "rollback-order"), key=lambda t: int(t.get_text()))
    assert ["1", "2", "3"] == [t.get_text() for t in numbers]
    assert expected == [row_of(ax, t.xy[1]) for t in numbers]
    assert ["c", "b", "a"] == expected


def test_rollback_bars_come_after_the_failure(tour):
    """Every handler attempt is drawn on its step's row after ROLLBACK_START."""
    ax = instance_timeline(tour).axes[0]
    began = rows(tour.trace, event="ROLLBACK_START")["time"].iloc[0]
    drawn = bars(ax, "rollback")
    assert len(rows(tour.trace, event="ROLLBACK_ATTEMPT_START")) == len(drawn) == 3
    assert all(start >= began for _, start, _ in drawn)
    assert ["c", "b", "a"] == [
        label for label, _, _ in sorted(drawn, key=lambda d: d[1])
    ]
    assert [pytest.approx(began)] == [
        line.get_xdata()[0] for line in artists(ax, "run-failed")
    ]


def test_the_same_chart_comes_from_a_trace_saved_as_csv(tour, tmp_path):
    """A trace written to CSV and read back draws the same bars."""
    path = tmp_path / "trace.csv"
    tour.trace.to_csv(path, index=False)
    live = instance_timeline(tour).axes[0]
    saved = instance_timeline(path).axes[0]
    for gid in ("attempt", "retry-wait", "sleep", "wait", "rollback"):
        assert bars(live, gid) == bars(saved, gid)
    assert row_labels(live) == row_labels(saved)


class Cut(sagasim.Workflow):
    """b (500 ms) and c (100 ms, refused) in parallel: c's failure cancels b."""

    async def run(self, event, step):
        b = step.do("b", pause(500), rollback=undo)
        c = step.do("c", pause(100, fail=True), rollback=undo)
        await sagasim.gather(b, c)


def test_a_cancelled_attempt_ends_where_its_step_was_cancelled():
    """b's attempt has no outcome row; its bar ends at STEP_CANCELLED, grey."""
    sim = sagasim.Simulation()
    sim.create(Cut)
    sim.run()
    ax = instance_timeline(sim).axes[0]
    cancelled = rows(sim.trace, event="STEP_CANCELLED")["time"].iloc[0]
    b_bar = [p for p in artists(ax, "attempt") if row_of(ax, p.get_y() + 0.3) == "b"]
    assert len(artists(ax, "attempt")) == len(rows(sim.trace, event="ATTEMPT_START"))
    assert 1 == len(b_bar)
    assert pytest.approx(cancelled) == b_bar[0].get_x() + b_bar[0].get_width()
    assert COLORS["cancelled"] == to_hex(b_bar[0].get_facecolor())


def test_engine_crash_is_a_line_and_the_cut_attempt_fails_at_replay():
    """A crash 50 ms into a's first attempt: a dotted line at 0.05 s, and
    that attempt's bar ends at 0.05 s, where the replay failed it."""
    sim = sagasim.Simulation(
        faults=[Fault("crash_during", step="a", attempt=1, after=50)]
    )
    sim.create(Sequence)
    sim.run()
    ax = instance_timeline(sim).axes[0]
    assert [pytest.approx(0.05)] == [
        line.get_xdata()[0] for line in artists(ax, "crash")
    ]
    first = min(bars(ax, "attempt"), key=lambda bar: bar[1])
    assert ("a", 0.0, pytest.approx(0.05)) == first


def test_an_instance_can_be_chosen_and_names_are_never_mathtext():
    """A step called "$x$ cost" renders as written, for the instance asked."""

    class Priced(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("$x$ cost", pause(10))

    sim = sagasim.Simulation()
    sim.create(Sequence)
    sim.create(Priced)
    sim.run()
    fig = instance_timeline(sim, "inst-2")
    fig.savefig(io.BytesIO(), format="png")
    ax = fig.axes[0]
    assert [r"\$x\$ cost"] == row_labels(ax)
    assert ax.get_title().startswith("inst-2 (Priced)")


def test_by_default_the_instance_shown_is_one_that_rolled_back():
    """With a clean instance first, the chart picks the one that failed."""

    class Fine(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("only", pause(10))

    sim = sagasim.Simulation()
    sim.create(Fine)
    sim.create(Tour)
    sim.run()
    assert instance_timeline(sim).axes[0].get_title().startswith("inst-2")
    assert instance_timeline(sim.get("inst-1")).axes[0].get_title().startswith("inst-1")
