"""The explorer dashboard runs only when Run is pressed, and shows that run."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import pytest

from sagasim.widgets import Explorer

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture
def explorer():
    return Explorer("transfer")


def test_nothing_runs_until_the_button_is_pressed(explorer):
    """A new explorer has no result, no figure and says it has not run."""
    assert explorer.result is None
    assert explorer.figure is None
    assert explorer.runs == 0
    assert "not run yet" in explorer.status.value


def test_clicking_run_runs_the_source_once_and_draws_it(explorer):
    """The button's handler runs the scenario and fills the summary and chart."""
    explorer.button.click()

    assert 1 == explorer.runs
    assert not explorer.stale
    assert {"complete": 101, "errored": 19} == explorer.result.statuses
    assert 19 == explorer.result.rolled_back
    assert {"success": 38} == explorer.result.handler_runs
    assert 19 == explorer.result.undefined
    assert {} == explorer.result.by_check
    assert bytes(explorer.chart.value).startswith(b"\x89PNG")
    assert "status: errored" in explorer.summary.value
    assert "run 1: transfer, seed 7, 120 instances" in explorer.status.value


def test_a_control_change_alone_does_not_run(explorer):
    """Setting a control marks the view stale and keeps the old result."""
    explorer.button.click()
    before = explorer.result
    png = explorer.chart.value

    explorer.controls["retry_limit"].value = 0
    explorer.controls["seed"].value = 99

    assert 1 == explorer.runs
    assert explorer.result is before
    assert explorer.chart.value == png
    assert explorer.stale
    assert "press Run" in explorer.status.value


def test_clicking_after_a_change_redraws_with_the_new_values(explorer):
    """With no retries, every credit that meets the outage fails its transfer."""
    explorer.button.click()
    explorer.controls["retry_limit"].value = 0
    explorer.button.click()

    assert 2 == explorer.runs
    assert not explorer.stale
    assert 0 == explorer.result.knobs["retry_limit"]
    assert {"complete": 70, "errored": 50} == explorer.result.statuses
    assert {"success": 100} == explorer.result.handler_runs


def test_enough_retries_outlast_the_outage(explorer):
    """Six retries with exponential backoff carry every credit past the outage."""
    explorer.controls["retry_limit"].value = 6
    explorer.run()

    assert {"complete": 120} == explorer.result.statuses
    assert 0 == explorer.result.rolled_back


def test_the_in_flight_policy_and_concurrency_reach_the_simulation(explorer):
    """inflight and max_concurrent are set on the simulation that runs."""
    explorer.controls["inflight"].value = "race"
    explorer.controls["max_concurrent"].value = 5
    explorer.run()

    assert "race" == explorer.result.sim.inflight
    assert 5 == explorer.result.sim.max_concurrent
    assert {"complete": 115, "errored": 5} == explorer.result.statuses


def test_the_same_settings_give_the_same_numbers():
    """Two explorers with one seed and one setting agree to the row."""
    a = Explorer("fan-out", failure=0.3, lost_reply=0.2, run=True)
    b = Explorer("fan-out", failure=0.3, lost_reply=0.2, run=True)

    assert a.result.summary().equals(b.result.summary())
    assert a.chart.value == b.chart.value


def test_turning_idempotency_off_shows_double_effects_and_leaks():
    """Without keys the lost replies become second charges and mails."""
    explorer = Explorer("fan-out", failure=0.3, lost_reply=0.2, run=True)
    assert {"irreversible": 12} == explorer.result.by_check

    explorer.controls["idempotent"].value = False
    assert {"irreversible": 12} == explorer.result.by_check
    explorer.button.click()

    assert {"complete": 133, "errored": 67} == explorer.result.statuses
    assert {
        "double_effect": 91,
        "charge_leak": 16,
        "irreversible": 16,
    } == explorer.result.by_check
    assert {
        "explorer: reply lost": 262,
        "explorer: confirm fails": 67,
    } == explorer.result.faults_fired
    bars = [p for p in explorer.figure.axes[1].patches if p.get_gid() == "violations"]
    assert [91, 16, 16] == [round(p.get_width()) for p in bars]


def test_the_width_control_sets_the_number_of_parallel_legs():
    """Five legs are five parallel steps, each rolled back when confirm fails."""
    explorer = Explorer("fan-out", instances=40, failure=0.5)
    explorer.controls["width"].value = 5
    explorer.run()

    trace = explorer.result.sim.trace
    steps = set(trace.loc[trace["event"] == "STEP_START", "step"])
    assert {"leg-1", "leg-2", "leg-3", "leg-4", "leg-5", "pay", "confirm"} == steps
    assert {"complete": 23, "errored": 17} == explorer.result.statuses
    assert {"success": 102} == explorer.result.handler_runs


def test_the_instance_control_picks_the_timeline(explorer):
    """The timeline shows the instance named, else the most telling one."""
    explorer.run()
    assert "inst-40" == explorer.figure.shown_instance

    explorer.controls["instance"].value = "inst-3"
    explorer.run()
    assert "inst-3" == explorer.figure.shown_instance
    assert explorer.figure.axes[0].get_title().startswith("inst-3")


def test_an_unknown_instance_is_reported_and_keeps_the_last_result(explorer):
    """A bad instance id shows the error in the status line and raises."""
    explorer.run()
    before = explorer.result
    explorer.controls["instance"].value = "inst-999"

    with pytest.raises(ValueError, match="inst-999"):
        explorer.run()
    assert explorer.result is before
    assert "ValueError" in explorer.status.value


def test_a_scenario_file_starts_from_its_own_values():
    """The controls open at the file's seed, sizes and step config."""
    explorer = Explorer(SCENARIOS / "bank_transfer.toml")
    values = explorer.values()

    assert 7 == values["seed"]
    assert 400 == values["instances"]
    assert 100 == values["max_concurrent"]
    assert 3 == values["retry_limit"]
    assert 1000 == values["delay_ms"]
    assert "exponential" == values["backoff"]
    assert 5000 == values["timeout_ms"]
    assert values["width"] is None
    assert explorer.controls["width"].disabled


def test_a_scenario_file_runs_with_the_controls_values():
    """Fewer instances of the bundled transfer run, and the books balance."""
    explorer = Explorer(SCENARIOS / "bank_transfer.toml", instances=60)
    explorer.controls["retry_limit"].value = 0
    explorer.button.click()

    assert 60 == sum(explorer.result.statuses.values())
    assert {"complete": 60} == explorer.result.statuses
    assert {} == explorer.result.by_check


def test_sliders_report_only_when_released():
    """No slider or text box sends values while it is being dragged or typed."""
    explorer = Explorer("fan-out")
    for control in explorer.controls.values():
        if hasattr(control, "continuous_update"):
            assert control.continuous_update is False, control.description


def test_the_dashboard_is_one_widget():
    """The explorer displays as its VBox, controls and button inside it."""
    explorer = Explorer("fan-out")
    assert isinstance(explorer.widget, widgets.VBox)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_unknown_knobs_are_refused():
    """A misspelt knob is an error, not silently ignored."""
    with pytest.raises(ValueError, match="retry_limt"):
        Explorer("fan-out", retry_limt=3)
