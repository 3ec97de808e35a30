"""Retries: attempts = limit + 1, waits measured from the failure (DESIGN rule 1)."""

from datetime import timedelta

import pytest

import sagasim

from .conftest import column, events, fail, records, run, times


def always_failing(config, *, ms=0):
    """A workflow with one step, named "flaky", that fails on every attempt."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("flaky", fail("down", ms=ms), config=config)

    return W


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        ("exponential", [0.0, 10.0, 30.0, 70.0]),
        ("linear", [0.0, 10.0, 30.0, 60.0]),
        ("constant", [0.0, 10.0, 20.0, 30.0]),
    ],
)
def test_backoff_sets_attempt_start_times(backoff, expected):
    """An always-failing step, limit 3, delay 10 s, starts attempts per backoff."""
    config = {"retries": {"limit": 3, "delay": "10 seconds", "backoff": backoff}}

    sim, inst = run(always_failing(config))

    assert times(sim, "ATTEMPT_START", step="flaky") == expected
    assert column(sim, "attempt", "ATTEMPT_START", step="flaky") == [1, 2, 3, 4]
    assert times(sim, "STEP_FAILURE", step="flaky") == [expected[-1]]
    assert sim.now == expected[-1]


def test_wait_is_measured_from_the_failure_instant():
    """With a body that fails after 2 s, exponential backoff starts at 0, 12, 34, 76."""
    config = {"retries": {"limit": 3, "delay": 10_000, "backoff": "exponential"}}

    sim, inst = run(always_failing(config, ms=2000))

    assert times(sim, "ATTEMPT_START", step="flaky") == [0.0, 12.0, 34.0, 76.0]
    assert times(sim, "ATTEMPT_FAILURE", step="flaky") == [2.0, 14.0, 36.0, 78.0]
    assert times(sim, "WORKFLOW_FAILURE") == [78.0]
    assert sim.now == 78.0


def test_limit_zero_is_a_single_attempt():
    """A step with retries.limit 0 runs exactly one attempt."""
    config = {"retries": {"limit": 0, "delay": 10_000}}

    sim, inst = run(always_failing(config, ms=1000))

    assert records(sim, ["time", "attempt"], "ATTEMPT_START") == [(0.0, 1)]
    assert times(sim, "STEP_FAILURE", step="flaky") == [1.0]
    assert sim.now == 1.0


def test_delay_zero_retries_at_the_failure_instant():
    """A zero delay is legal and starts each retry the instant the attempt fails."""
    config = {"retries": {"limit": 2, "delay": 0, "backoff": "exponential"}}

    sim, inst = run(always_failing(config, ms=1000))

    assert times(sim, "ATTEMPT_START", step="flaky") == [0.0, 1.0, 2.0]
    assert times(sim, "ATTEMPT_FAILURE", step="flaky") == [1.0, 2.0, 3.0]
    assert inst.status()["status"] == "errored"


def test_defaults_are_five_retries_ten_seconds_exponential():
    """Without config a step retries 5 times from 10 s, exponentially (rule 1)."""
    sim, inst = run(always_failing(None))

    assert times(sim, "ATTEMPT_START", step="flaky") == [
        0.0,
        10.0,
        30.0,
        70.0,
        150.0,
        310.0,
    ]
    assert column(sim, "attempt", "ATTEMPT_START") == [1, 2, 3, 4, 5, 6]
    assert sim.now == 310.0


def test_default_backoff_is_exponential_when_retries_omit_it():
    """Retries given without backoff still back off exponentially."""
    config = {"retries": {"limit": 3, "delay": 1000}}

    sim, inst = run(always_failing(config))

    assert times(sim, "ATTEMPT_START", step="flaky") == [0.0, 1.0, 3.0, 7.0]


@pytest.mark.parametrize(
    "delay",
    [10_000, "10000", "10 seconds", "10 second", timedelta(seconds=10)],
    ids=["ms", "ms-string", "plural-unit", "singular-unit", "timedelta"],
)
def test_delay_accepts_every_duration_form(delay):
    """A retry delay given in ms, a duration string or a timedelta means 10 s."""
    config = {"retries": {"limit": 2, "delay": delay, "backoff": "constant"}}

    sim, inst = run(always_failing(config))

    assert times(sim, "ATTEMPT_START", step="flaky") == [0.0, 10.0, 20.0]


def test_step_succeeds_on_a_later_attempt_with_ctx_attempt_counting_up():
    """A step that fails twice then succeeds returns its third attempt's value."""
    seen = []

    async def body(ctx):
        seen.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError(f"fail {ctx.attempt}")
        return f"ok on {ctx.attempt}"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            config = {"retries": {"limit": 5, "delay": 1000}}
            return await step.do("flaky", body, config=config)

    sim, inst = run(W)

    assert seen == [1, 2, 3]
    assert times(sim, "ATTEMPT_START", step="flaky") == [0.0, 1.0, 3.0]
    assert times(sim, "STEP_SUCCESS", step="flaky") == [3.0]
    assert inst.status() == {"status": "complete", "output": "ok on 3", "error": None}


def test_last_attempts_error_reaches_run():
    """When retries run out, run() receives the error of the last attempt."""

    async def body(ctx):
        raise RuntimeError(f"fail {ctx.attempt}")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            config = {"retries": {"limit": 2, "delay": 0}}
            try:
                await step.do("flaky", body, config=config)
            except RuntimeError as error:
                return str(error)

    sim, inst = run(W)

    assert inst.status() == {"status": "complete", "output": "fail 3", "error": None}
    assert sim.now == 0.0


def test_failing_step_traces_each_attempt_and_one_step_failure():
    """Each failed attempt logs ATTEMPT_FAILURE with its error, then STEP_FAILURE."""
    config = {"retries": {"limit": 1, "delay": 500, "backoff": "constant"}}

    sim, inst = run(always_failing(config, ms=1000))

    assert events(sim, step="flaky") == [
        "STEP_START",
        "ATTEMPT_START",
        "ATTEMPT_FAILURE",
        "ATTEMPT_START",
        "ATTEMPT_FAILURE",
        "STEP_FAILURE",
    ]
    assert records(
        sim, ["time", "attempt", "error_name", "error_message"], "ATTEMPT_FAILURE"
    ) == [(1.0, 1, "RuntimeError", "down"), (2.5, 2, "RuntimeError", "down")]


def test_exhausted_retries_end_the_instance_errored_with_the_error():
    """An uncaught error after the last retry ends the instance errored."""
    config = {"retries": {"limit": 1, "delay": 1000}}

    sim, inst = run(always_failing(config))

    status = inst.status()
    assert status["status"] == "errored"
    assert status["output"] is None
    assert status["error"] == {"name": "RuntimeError", "message": "down"}
    assert times(sim, "WORKFLOW_FAILURE") == [1.0]
