"""Idempotency runs and their chart: keys on and off, lost replies."""

from __future__ import annotations

import pandas as pd
import pytest

from sagasim import checks
from sagasim.plots import idempotency_chart, idempotency_runs
from sagasim.plots.idempotency import IDEMPOTENCY_COLUMNS, PRICE, order_run

from .conftest import artists


@pytest.fixture(scope="module")
def table():
    return idempotency_runs(failure_rates=(0.0, 0.4), instances=12)


def test_one_row_per_run(table):
    """Two rates by keys off and on: four runs, the documented columns."""
    assert list(IDEMPOTENCY_COLUMNS) == list(table.columns)
    assert [(False, 0.0), (False, 0.4), (True, 0.0), (True, 0.4)] == list(
        zip(table["idempotent"], table["failure_rate"], strict=True)
    )
    assert [12, 12, 12, 12] == list(table["complete"] + table["errored"])


def test_without_lost_replies_nothing_goes_wrong(table):
    """At rate 0 only the refused shipments roll back, cleanly."""
    clean = table[table["failure_rate"] == 0.0]
    assert [4, 4] == list(clean["errored"])
    assert [0, 0] == list(clean["double_effects"])
    assert [0, 0] == list(clean["leaks"])
    assert [0.0, 0.0] == list(clean["drift"])


def test_keys_keep_the_ledger_straight_under_lost_replies(table):
    """With keys, lost replies cause no double effect, leak or drift;
    without them, all three appear."""
    lossy = table[table["failure_rate"] == 0.4].set_index("idempotent")
    assert (0, 0, 0.0) == tuple(lossy.loc[True, ["double_effects", "leaks", "drift"]])
    assert lossy.loc[False, "double_effects"] > 0
    assert lossy.loc[False, "leaks"] > 0
    assert lossy.loc[False, "drift"] > 0


def test_counts_are_what_the_checks_report_on_the_run(table):
    """A row's counts equal the checks run on the same simulation."""
    sim = order_run(0.4, False, instances=12)
    history, effects = checks.ledgers(sim)
    row = table[(table["failure_rate"] == 0.4) & ~table["idempotent"]].iloc[0]
    assert len(checks.double_effects(effects, history)) == row["double_effects"]
    assert len(checks.leaks(sim.trace, effects)) == row["leaks"]
    complete = sum(inst.status()["status"] == "complete" for inst in sim.instances)
    taken = sim.bindings["payments"].snapshot()["money:usd"]
    assert taken - complete * PRICE == row["money_drift"]


def test_chart_draws_each_measure_for_keys_on_and_off(table):
    """Three panels; each line runs through the table's column."""
    fig = idempotency_chart(table)
    titles = [ax.get_title() for ax in fig.axes]
    assert ["double effects", "leaked effects", "ledger drift"] == titles
    for ax, name in zip(fig.axes, ("double_effects", "leaks", "drift"), strict=True):
        assert "lost-reply rate per attempt" == ax.get_xlabel()
        for gid, keyed in (("idempotent", True), ("non-idempotent", False)):
            (line,) = artists(ax, gid)
            runs = table[table["idempotent"] == keyed]
            assert list(runs["failure_rate"]) == list(line.get_xdata())
            assert list(runs[name]) == list(line.get_ydata())
    assert ["no idempotency keys", "idempotency keys"] == [
        t.get_text() for t in fig.axes[0].get_legend().get_texts()
    ]


def test_chart_of_several_runs_per_rate_draws_means_and_dots():
    """Two runs at a rate: the line goes through their mean, each is a dot."""
    table = pd.DataFrame(
        {
            "failure_rate": [0.1, 0.1, 0.2, 0.2],
            "idempotent": [False] * 4,
            "double_effects": [2, 4, 6, 10],
            "leaks": [1, 1, 3, 5],
            "drift": [0.0, 2.0, 4.0, 4.0],
        }
    )
    fig = idempotency_chart(table)
    (line,) = artists(fig.axes[0], "non-idempotent")
    assert [3.0, 8.0] == list(line.get_ydata())
    assert [] == artists(fig.axes[0], "idempotent")
    (dots,) = artists(fig.axes[0], "run")
    assert [2, 4, 6, 10] == list(dots.get_ydata())
