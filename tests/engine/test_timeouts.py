"""Per-attempt timeouts: cancel at the await point, drop the result (DESIGN rule 2)."""

from datetime import timedelta

import pytest

import sagasim

from .conftest import column, records, run, times


def one_step(body, config):
    """A workflow that returns the output of one step named "slow"."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("slow", body, config=config)

    return W


def test_timed_out_body_stops_at_its_await_point():
    """At the deadline the body is cancelled where it waits; its rest never runs."""
    marks = []

    async def body(ctx):
        marks.append("before")
        await sagasim.sleep(5000)
        marks.append("after")
        return "late"

    config = {"retries": {"limit": 0, "delay": 0}, "timeout": "2 seconds"}
    sim, inst = run(one_step(body, config))

    assert marks == ["before"]
    assert times(sim, "ATTEMPT_FAILURE", step="slow") == [2.0]
    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {
            "name": "WorkflowTimeoutError",
            "message": "Execution timed out after 2000ms",
        },
    }
    assert sim.now == 2.0


def test_timed_out_result_is_never_recorded_later():
    """A timed-out attempt's late result is dropped; the retry's is the output."""
    marks = []

    async def body(ctx):
        latency = 5000 if ctx.attempt == 1 else 2000
        await sagasim.sleep(latency)
        marks.append(ctx.attempt)
        return f"attempt {ctx.attempt}"

    config = {
        "retries": {"limit": 1, "delay": 1000, "backoff": "constant"},
        "timeout": 3000,
    }
    sim, inst = run(one_step(body, config))

    assert marks == [2]
    assert times(sim, "ATTEMPT_START", step="slow") == [0.0, 4.0]
    assert records(sim, ["time", "attempt"], "ATTEMPT_FAILURE") == [(3.0, 1)]
    assert records(sim, ["time", "attempt"], "ATTEMPT_SUCCESS") == [(6.0, 2)]
    assert times(sim, "STEP_SUCCESS", step="slow") == [6.0]
    assert inst.status()["output"] == "attempt 2"
    assert sim.now == 6.0


async def one_sleep_of_300ms(ctx):
    await sagasim.sleep(300)
    return "done"


async def three_sleeps_of_100ms(ctx):
    for _ in range(3):
        await sagasim.sleep(100)
    return "done"


async def mixed_forms_adding_to_300ms(ctx):
    await sagasim.sleep(timedelta(milliseconds=100))
    await sagasim.sleep("100 ms")
    await sagasim.sleep(100)
    return "done"


async def gather_ending_at_300ms(ctx):
    await sagasim.gather(sagasim.sleep(100), sagasim.sleep(300))
    return "done"


async def nested_helper_ending_at_300ms(ctx):
    async def helper(ms):
        await sagasim.sleep(ms)

    await helper(200)
    await helper(100)
    return "done"


async def race_ending_at_300ms(ctx):
    await sagasim.sleep(200)
    await sagasim.race(sagasim.sleep(100), sagasim.sleep(500))
    return "done"


@pytest.mark.parametrize(
    "body",
    [
        one_sleep_of_300ms,
        three_sleeps_of_100ms,
        mixed_forms_adding_to_300ms,
        gather_ending_at_300ms,
        nested_helper_ending_at_300ms,
        race_ending_at_300ms,
    ],
    ids=["one-sleep", "three-sleeps", "mixed-forms", "gather", "nested", "race"],
)
def test_body_finishing_exactly_at_the_deadline_succeeds(body):
    """A body that returns exactly at its 300 ms timeout succeeds (rule 2)."""
    config = {"retries": {"limit": 0, "delay": 0}, "timeout": 300}

    sim, inst = run(one_step(body, config))

    assert times(sim, "STEP_SUCCESS", step="slow") == [0.3]
    assert times(sim, "ATTEMPT_FAILURE") == []
    assert inst.status() == {"status": "complete", "output": "done", "error": None}
    assert sim.now == 0.3


def test_timeout_is_an_ordinary_retryable_failure():
    """Every attempt that times out is retried until the limit is used up."""

    async def body(ctx):
        await sagasim.sleep(5000)

    config = {
        "retries": {"limit": 2, "delay": 1000, "backoff": "constant"},
        "timeout": "1 second",
    }
    sim, inst = run(one_step(body, config))

    assert times(sim, "ATTEMPT_START", step="slow") == [0.0, 2.0, 4.0]
    assert records(sim, ["time", "error_name", "error_message"], "ATTEMPT_FAILURE") == [
        (1.0, "WorkflowTimeoutError", "Execution timed out after 1000ms"),
        (3.0, "WorkflowTimeoutError", "Execution timed out after 1000ms"),
        (5.0, "WorkflowTimeoutError", "Execution timed out after 1000ms"),
    ]
    assert inst.status()["error"] == {
        "name": "WorkflowTimeoutError",
        "message": "Execution timed out after 1000ms",
    }
    assert sim.now == 5.0


def test_timeout_reaches_run_as_workflow_timeout_error_with_its_message():
    """A 300 ms step timeout raises WorkflowTimeoutError with the reference message."""

    async def body(ctx):
        await sagasim.sleep(1000)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            config = {"retries": {"limit": 0, "delay": 0}, "timeout": 300}
            try:
                await step.do("slow", body, config=config)
            except sagasim.WorkflowTimeoutError as error:
                return str(error)

    sim, inst = run(W)

    assert inst.status() == {
        "status": "complete",
        "output": "Execution timed out after 300ms",
        "error": None,
    }
    assert sim.now == 0.3


def test_timeout_applies_per_attempt_not_per_step():
    """Attempts of 2 s each under a 3 s timeout succeed though the step takes 8 s."""

    async def body(ctx):
        await sagasim.sleep(2000)
        if ctx.attempt < 3:
            raise RuntimeError("flaky")
        return "third time"

    config = {
        "retries": {"limit": 2, "delay": 1000, "backoff": "constant"},
        "timeout": 3000,
    }
    sim, inst = run(one_step(body, config))

    assert times(sim, "ATTEMPT_START", step="slow") == [0.0, 3.0, 6.0]
    assert column(sim, "error_name", "ATTEMPT_FAILURE") == [
        "RuntimeError",
        "RuntimeError",
    ]
    assert times(sim, "STEP_SUCCESS", step="slow") == [8.0]
    assert inst.status()["output"] == "third time"


def test_default_timeout_is_ten_minutes():
    """Without a timeout an attempt is cut off after 600 s."""

    async def body(ctx):
        await sagasim.sleep("11 minutes")

    sim, inst = run(one_step(body, {"retries": {"limit": 0, "delay": 0}}))

    assert records(sim, ["time", "error_message"], "ATTEMPT_FAILURE") == [
        (600.0, "Execution timed out after 600000ms")
    ]
    assert sim.now == 600.0


def test_body_catching_exception_cannot_swallow_its_cancellation():
    """A body's `except Exception` around its await does not survive the timeout."""
    marks = []

    async def body(ctx):
        try:
            await sagasim.sleep(5000)
        except Exception:
            marks.append("swallowed")
            return "swallowed"
        return "finished"

    config = {"retries": {"limit": 0, "delay": 0}, "timeout": 1000}
    sim, inst = run(one_step(body, config))

    assert marks == []
    assert inst.status()["error"] == {
        "name": "WorkflowTimeoutError",
        "message": "Execution timed out after 1000ms",
    }
    assert sim.now == 1.0


class Declined(Exception):
    """An ordinary error with a keyword-only constructor and an attribute."""

    def __init__(self, *, code):
        super().__init__(f"declined with code {code}")
        self.code = code


def test_ordinary_error_reaches_run_with_its_class_and_attributes():
    """A retried-out error with a keyword-only constructor arrives in run() intact."""
    caught = []

    async def body(ctx):
        await sagasim.sleep(100)
        raise Declined(code=51)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            config = {"retries": {"limit": 1, "delay": 0}, "timeout": 1000}
            try:
                await step.do("pay", body, config=config)
            except Declined as error:
                caught.append((type(error), error.code, str(error)))
                return "declined"

    sim, inst = run(W)

    assert caught == [(Declined, 51, "declined with code 51")]
    assert inst.status()["output"] == "declined"
    assert sim.now == 0.2


def test_body_raising_exactly_at_the_deadline_fails_with_its_own_error():
    """A body that raises at its 300 ms deadline fails with that error (rule 10)."""

    async def body(ctx):
        await sagasim.sleep(300)
        raise RuntimeError("late fail")

    config = {"retries": {"limit": 0, "delay": 0}, "timeout": 300}
    sim, inst = run(one_step(body, config))

    assert records(sim, ["time", "error_name"], "ATTEMPT_FAILURE") == [
        (0.3, "RuntimeError")
    ]
    assert inst.status()["error"] == {"name": "RuntimeError", "message": "late fail"}
