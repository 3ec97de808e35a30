"""The teaching models give the numbers the notebooks' prose relies on."""

from __future__ import annotations

import pytest

from sagasim.teaching.alternatives import continuation, corrections, local_transaction
from sagasim.teaching.basics import cases_table
from sagasim.teaching.common import at_scale, scenario_path
from sagasim.teaching.idempotency import matrix
from sagasim.teaching.invariants import (
    compare_orders,
    counterexample,
    expected_rollback,
    ordering_at_scale,
    run_shape,
)
from sagasim.teaching.midflight import compare_handlers
from sagasim.teaching.ordering import orders_across_seeds, policies_table
from sagasim.teaching.storms import has_storm_experiment, small_storm, storm_study


def test_the_scale_knob_picks_small_or_full_and_nothing_else():
    """at_scale reads "small" and "full"; any other scale is an error."""
    assert (1, 2) == (at_scale("small", 1, 2), at_scale("full", 1, 2))
    with pytest.raises(ValueError, match="medium"):
        at_scale("medium", 1, 2)


def test_scenarios_are_found_from_the_notebooks_folder(monkeypatch, tmp_path):
    """A bundled scenario is found by name wherever the notebook runs."""
    monkeypatch.chdir(tmp_path)
    assert "bank_transfer.toml" == scenario_path("bank_transfer").name


def test_only_started_steps_roll_back_newest_first():
    """The three transfers roll back nothing, both steps, or the debit alone."""
    table = cases_table(seed=7).set_index("case")
    assert ["none", "credit (UNDEFINED), debit", "debit (UNDEFINED)"] == list(
        table["handlers run"]
    )
    assert ["debit, credit", "debit, credit", "debit"] == list(table["steps started"])
    assert [9_000, 10_000, 10_000] == list(table["alice"])


def test_start_order_is_fixed_while_completion_order_varies():
    """Over eight seeds the engine's order is one, completion orders several."""
    table = orders_across_seeds(range(8))
    assert {"car > hotel > flight"} == set(table["undone (engine)"])
    assert 6 == table["finished"].nunique()


def test_racing_rollbacks_leak_holds_that_land_after_their_release():
    """Under race, five releases overtake their holds; cancel and drain leak none."""
    table = policies_table(40, seed=0).set_index("inflight")
    assert [36, 80, 80] == list(table["holds landed"])
    assert [0, 0, 5] == list(table["holds left"])
    assert "hold_leak: 5" == table.loc["race", "violations"]


def test_only_handlers_that_look_up_by_key_and_tolerate_nothing_are_clean():
    """Output-only leaks, strict refund-by-key halts, the other two are exact."""
    table = compare_handlers(instances=100, seed=0).set_index("handler")
    assert [16, 0, 0, 0] == list(table["kept"])
    assert [0, 0, 18, 0] == list(table["handler failed"])
    assert [0, 0, 18, 0] == list(table["holds kept"])
    assert [16, 0, 18, 0] == list(table["violations"])
    assert {34} == set(table["saw UNDEFINED"])


def test_each_key_protects_against_its_own_faults():
    """Charge keys fix step retries and replays; refund keys fix handler reruns."""
    table = matrix(instances=10, seed=0)
    kept = {
        (row["fault"], row["charge key"], row["refund key"]): row["kept"]
        for row in table.to_dict("records")
    }
    assert 10_000 == kept[("answer lost", False, True)]
    assert 0 == kept[("answer lost", True, False)]
    assert 10_000 == kept[("crash before persist", False, True)]
    assert -10_000 == kept[("crash mid-handler", True, False)]
    assert 0 == kept[("crash mid-handler", False, True)]
    assert -10_000 == kept[("handler answer lost", True, False)]
    assert {0} == set(table[table["charge key"] & table["refund key"]]["kept"])


def test_the_small_storm_recovers_soonest_with_a_limit_or_jitter():
    """Constant retries do the most work; a limit gives up on instances."""
    table = small_storm(
        rate=10, duration=20, herd=60, capacity=5, horizon=40
    ).table.set_index("strategy")
    assert [1403, 767, 687, 911] == list(table["attempts"])
    assert [6.0, 8.0, 2.0, 3.0] == list(table["recovery_s"])
    assert [0, 0, 80, 0] == list(table["gave_up"])


def test_the_storm_study_says_which_model_ran():
    """The lab's experiment when it is installed, else this package's storm."""
    study = storm_study("small")
    expected = "sagasim.storms" if has_storm_experiment() else "sagasim.teaching"
    assert study.source.startswith(expected)
    assert len(study.table) >= 4


def test_the_model_and_the_engine_agree_at_scale():
    """300 random shapes: no disagreement with the model, no violation."""
    result = ordering_at_scale(300, seed=0)
    assert {
        "instances": 300,
        "steps": 1874,
        "rollbacks": 153,
        "handlers": 523,
        "disagreements": 0,
        "violations": 0,
    } == {k: v for k, v in result.items() if k != "seconds"}


def test_hypothesis_finds_a_small_shape_where_completion_order_differs():
    """The shape found is small, the engine follows the model on it, and
    reverse completion would undo its legs in another order."""
    shape = counterexample()
    _, instance = run_shape(shape)
    undone = [record["step"] for record in instance.rollbacks]
    table = compare_orders(shape)

    assert sum(len(group) for group in shape["groups"]) <= 5
    assert undone == expected_rollback(shape)
    assert list(table["engine undoes it"]) != list(table["reverse completion would"])


def test_continuing_through_the_outage_rolls_nothing_back():
    """Limit 2 rolls 19 of 60 transfers back; limit 8 completes all of them."""
    table = continuation(60, seed=7)[0].set_index("retry limit")
    assert [41, 60] == list(table["complete"])
    assert [19, 0] == list(table["rolled back"])


def test_a_local_transaction_never_shows_money_in_flight():
    """The saga has up to 70 dollars in flight; the local transaction none."""
    table = local_transaction(50, seed=0)[0].set_index("way")
    assert [7_000, 0] == list(table["most in flight (cents)"])
    assert [10, 0] == list(table["rolled back"])
    assert [10, 10] == list(table["refused"])


def test_mailing_last_needs_no_corrections():
    """Mailing early sends one correction per rolled-back order."""
    table = corrections(40, seed=0).set_index("mail")
    assert [40, 30] == list(table["mails"])
    assert [10, 0] == list(table["corrections"])
    assert [10, 0] == list(table["irreversible"])
