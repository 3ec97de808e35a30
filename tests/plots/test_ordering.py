"""The ordering charts draw the orders and disagreements the trace implies."""

from __future__ import annotations

import pandas as pd
import pytest

import sagasim
from sagasim.plots import disagreement_chart, ordering_chart, ordering_disagreement
from sagasim.plots.data import disagreeing_pairs, rollback_orders
from sagasim.plots.ordering import DISAGREEMENT_COLUMNS

from .conftest import Sequence, artists, discordant, rows


def column(ax, gid):
    """The labels of one column, top to bottom (the y axis is inverted)."""
    return [
        t.get_text()
        for t in sorted(artists(ax, gid), key=lambda t: t.get_position()[1])
    ]


def finish_order(trace):
    """Rolled-back steps, latest STEP_SUCCESS/FAILURE/CANCELLED first."""
    handled = list(rows(trace, event="ROLLBACK_STEP_START")["step"])
    settled = rows(trace)
    settled = settled[
        settled["event"].isin(["STEP_SUCCESS", "STEP_FAILURE", "STEP_CANCELLED"])
        & settled["step"].isin(handled)
    ]
    return list(settled.sort_values("seq", ascending=False)["step"])


def test_left_column_is_the_handler_order_of_the_trace(four_legs):
    """Ranked labels read prepare last, the legs newest start first."""
    ax = ordering_chart(four_legs).axes[0]
    handled = list(rows(four_legs.trace, event="ROLLBACK_STEP_START")["step"])
    assert ["leg-4", "leg-3", "leg-2", "leg-1", "prepare"] == handled
    assert [f"{i}. {s}" for i, s in enumerate(handled, 1)] == column(ax, "start-order")


def test_right_column_is_the_reverse_order_of_completion(four_legs):
    """Legs finished 2, 4, 3, 1, so reverse completion is 1, 3, 4, 2."""
    ax = ordering_chart(four_legs).axes[0]
    expected = finish_order(four_legs.trace)
    assert ["leg-1", "leg-3", "leg-4", "leg-2", "prepare"] == expected
    assert [f"{i}. {s}" for i, s in enumerate(expected, 1)] == column(
        ax, "completion-order"
    )


def test_highlighted_pairs_are_exactly_the_pairs_in_the_other_order(four_legs):
    """One red dot per discordant pair, found here by brute force."""
    ax = ordering_chart(four_legs).axes[0]
    handled = list(rows(four_legs.trace, event="ROLLBACK_STEP_START")["step"])
    expected = discordant(handled, finish_order(four_legs.trace))
    dots = artists(ax, "disagreement")
    drawn = {frozenset(d.get_label().split(" / ")) for d in dots}
    assert len(expected) == len(dots) == 4
    assert expected == drawn
    red = {
        step
        for line, step in zip(artists(ax, "link"), handled, strict=True)
        if line.get_color() == "#d1495b"
    }
    assert {"leg-1", "leg-2", "leg-3", "leg-4"} == red
    assert "4 pairs in the other order" in ax.get_title()


def test_each_dot_sits_where_its_two_links_cross(four_legs):
    """A dot lies on both lines of the pair it names."""
    ax = ordering_chart(four_legs).axes[0]
    handled = list(rows(four_legs.trace, event="ROLLBACK_STEP_START")["step"])
    links = dict(zip(handled, artists(ax, "link"), strict=True))
    for dot in artists(ax, "disagreement"):
        x, y = dot.get_xdata()[0], dot.get_ydata()[0]
        for step in dot.get_label().split(" / "):
            (x0, x1), (y0, y1) = links[step].get_xdata(), links[step].get_ydata()
            assert y == pytest.approx(y0 + (y1 - y0) * (x - x0) / (x1 - x0))


def test_a_sequential_saga_has_orders_that_agree():
    """Steps one after the other finish in start order: nothing to highlight."""
    sim = sagasim.Simulation()
    sim.create(Sequence)
    sim.run()
    ax = ordering_chart(sim).axes[0]
    assert column(ax, "start-order") == column(ax, "completion-order")
    assert ["1. d", "2. c", "3. b", "4. a"] == column(ax, "start-order")
    assert [] == artists(ax, "disagreement")
    assert ax.get_title().endswith("the two orders agree")


def test_orders_of_a_saved_trace_match_the_live_ones(four_legs, tmp_path):
    """rollback_orders reads the same orders back from CSV."""
    path = tmp_path / "trace.csv"
    four_legs.trace.to_csv(path, index=False)
    live = rollback_orders(four_legs.trace, "inst-1")
    saved = rollback_orders(pd.read_csv(path, keep_default_na=False), "inst-1")
    assert live == saved


def test_disagreeing_pairs_keeps_the_first_order():
    """Pairs are (a, b) with a first in the first order, in its order."""
    assert [("a", "c"), ("b", "c")] == disagreeing_pairs("abc", "cab")
    assert [] == disagreeing_pairs("abc", "abc")
    assert [("x", "y")] == disagreeing_pairs(["x", "y", "z"], ["y", "x"])


@pytest.fixture(scope="module")
def family():
    return ordering_disagreement(
        concurrency=(1, 4), spread=(0.0, 1.0), instances=8, seed=3
    )


def test_disagreement_table_has_a_row_per_setting(family):
    """Two concurrencies by two spreads, every instance rolled back."""
    assert list(DISAGREEMENT_COLUMNS) == list(family.columns)
    assert [(1, 0.0), (1, 1.0), (4, 0.0), (4, 1.0)] == list(
        zip(family["concurrency"], family["spread"], strict=True)
    )
    assert [8, 8, 8, 8] == list(family["rolled_back"])
    assert list(family["disagreeing"] / family["rolled_back"]) == list(family["rate"])


def test_orders_disagree_only_with_parallel_steps_and_spread_latency(family):
    """One leg, or legs of equal latency, never reorder; four spread legs do."""
    rate = family.set_index(["concurrency", "spread"])["rate"]
    assert 0.0 == rate[(1, 0.0)] == rate[(1, 1.0)] == rate[(4, 0.0)]
    assert rate[(4, 1.0)] > 0.0


def test_disagreement_family_is_deterministic(family):
    """The same seed gives the same table."""
    again = ordering_disagreement(
        concurrency=(1, 4), spread=(0.0, 1.0), instances=8, seed=3
    )
    pd.testing.assert_frame_equal(family, again)


def test_disagreement_chart_plots_the_table(family):
    """One line per spread in each panel, through the table's values."""
    fig = disagreement_chart(family)
    rate_ax, pair_ax = fig.axes[:2]
    for ax, gid, value in (
        (rate_ax, "rate", "rate"),
        (pair_ax, "pair-rate", "pair_rate"),
    ):
        lines = artists(ax, gid)
        assert ["spread 0", "spread 1"] == [line.get_label() for line in lines]
        for line, (_, group) in zip(lines, family.groupby("spread"), strict=True):
            assert list(group["concurrency"]) == list(line.get_xdata())
            assert list(group[value]) == list(line.get_ydata())
        assert "parallel steps" == ax.get_xlabel()
    assert "share" == rate_ax.get_ylabel()
    assert "rollbacks with a pair in the other order" == rate_ax.get_title()


def test_disagreement_chart_can_run_the_family_itself():
    """Without a table it runs the simulations with the arguments given."""
    fig = disagreement_chart(concurrency=(2,), spread=(0.0,), instances=3)
    lines = artists(fig.axes[0], "rate")
    assert [[0.0]] == [list(line.get_ydata()) for line in lines]
    assert "3 instances per point" in fig.get_suptitle()


def test_a_crash_during_the_rollback_keeps_the_whole_handler_order():
    """A crash in the last handler: the replay records ROLLBACK_START again
    and finishes that handler; the order still lists all four."""
    from sagasim.faults import Fault

    sim = sagasim.Simulation(
        faults=[Fault("crash_during", step="a", phase="rollback", attempt=1, after=10)]
    )
    sim.create(Sequence)
    sim.run()
    assert 2 == len(rows(sim.trace, event="ROLLBACK_START"))
    orders = rollback_orders(sim.trace, "inst-1")
    assert [("d", 1), ("c", 1), ("b", 1), ("a", 1)] == orders.ran
    ax = ordering_chart(sim).axes[0]
    assert ["1. d", "2. c", "3. b", "4. a"] == column(ax, "start-order")
