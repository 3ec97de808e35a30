"""The explorer's knobs set the scenario fields they name, and nothing else."""

from __future__ import annotations

import pytest

from sagasim.widgets import apply_knobs, explore, knob_defaults, load_source
from sagasim.widgets.model import fan_out_document, transfer_document


def test_step_knobs_set_the_workflow_config_and_every_step_that_sets_its_own():
    """A step's own retries follow the knob; rollback_config is left alone."""
    document = fan_out_document(2)
    document["workflow"]["steps"][1]["config"] = {"retries": {"limit": 9}}

    out = apply_knobs(
        document, {"retry_limit": 1, "delay_ms": 250, "backoff": "constant"}
    )

    workflow = out["workflow"]
    assert {"limit": 1, "delay": 250, "backoff": "constant"} == workflow["config"][
        "retries"
    ]
    assert {"limit": 1, "delay": 250, "backoff": "constant"} == workflow["steps"][1][
        "config"
    ]["retries"]
    assert {"retries": {"limit": 5, "delay": 500}} == workflow["rollback_config"]
    assert {"limit": 9} == document["workflow"]["steps"][1]["config"]["retries"]


def test_failure_and_lost_replies_become_labelled_faults():
    """failure hits the last call step, lost_reply every forward step."""
    out = apply_knobs(transfer_document(), {"failure": 0.25, "lost_reply": 0.1})

    assert [
        {
            "kind": "lose_output",
            "step": "*",
            "probability": 0.1,
            "label": "explorer: reply lost",
        },
        {
            "kind": "mock_error",
            "step": "credit",
            "probability": 0.25,
            "retryable": False,
            "error": "credit refused",
            "error_name": "Refused",
            "label": "explorer: credit fails",
        },
    ] == out["faults"]


def test_no_faults_are_added_at_probability_zero():
    """Zero probabilities leave the document without a faults table."""
    out = apply_knobs(transfer_document(), {"failure": 0.0, "lost_reply": 0.0})
    assert "faults" not in out


def test_idempotency_off_drops_keys_but_keeps_those_a_release_needs():
    """Keys go, except where a compensation names {key}; releases repeat."""
    out = apply_knobs(fan_out_document(2), {"idempotent": False})

    steps = out["workflow"]["steps"]
    assert ["{instance}:leg-1", "{instance}:leg-2"] == [
        leg["key"] for leg in steps[0]["parallel"]
    ]
    assert "key" not in steps[1]
    assert "key" not in steps[2]
    assert out["services"][0]["idempotent_release"] is False


def test_the_error_rate_reaches_every_service():
    """error_rate is set on each service of the document."""
    out = apply_knobs(transfer_document(), {"error_rate": 0.05})
    assert [0.05, 0.05] == [service["error_rate"] for service in out["services"]]


def test_unknown_knobs_are_refused():
    """A knob the model does not know is a ValueError naming it."""
    with pytest.raises(ValueError, match="timeout"):
        apply_knobs(transfer_document(), {"timeout": 5})


def test_step_knobs_are_refused_for_a_python_workflow():
    """A workflow written as a class has no step config for the knobs."""
    document = transfer_document()
    document["workflow"] = "sagasim.scenarios.transfer:Transfer"
    with pytest.raises(ValueError, match="Python class"):
        apply_knobs(document, {"retry_limit": 1})


def test_defaults_of_a_builtin():
    """The fan-out opens at width 3 with its own seed and step config."""
    assert {
        "seed": 1,
        "instances": 200,
        "max_concurrent": 100,
        "width": 3,
        "failure": 0.0,
        "lost_reply": 0.0,
        "error_rate": 0.0,
        "retry_limit": 3,
        "delay_ms": 500,
        "backoff": "exponential",
        "timeout_ms": 3000,
        "idempotent": True,
        "inflight": "cancel",
    } == knob_defaults("fan-out")


def test_explore_summarises_statuses_rollbacks_and_violations():
    """The summary table lists what the dashboard shows, in its order."""
    result = explore("transfer", instances=60, retry_limit=0)

    assert [
        ("instances", 60),
        ("status: complete", 39),
        ("status: errored", 21),
        ("instances rolled back", 21),
        ("handler runs: success", 42),
        ("handlers that saw UNDEFINED", 21),
        ("violations", 0),
        ("simulated seconds", 6.039),
    ] == list(result.summary().itertuples(index=False, name=None))


def test_a_source_loads_once_and_is_reused():
    """load_source passes a Source through and names built-ins by name."""
    source = load_source("fan-out")
    assert source is load_source(source)
    assert ("fan-out", "<fan-out>", True) == (
        source.name,
        source.path,
        source.has_width,
    )
