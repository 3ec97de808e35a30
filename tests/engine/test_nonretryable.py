"""NonRetryableError ends retries, reaches run() intact, is not cached (rule 3)."""

import sagasim
from sagasim import NonRetryableError

from .conftest import column, ok, records, start, times

RETRY_FAST = {"retries": {"limit": 5, "delay": 1000, "backoff": "constant"}}


class CardDeclined(NonRetryableError):
    """A user subclass with a keyword-only constructor and its own attribute."""

    def __init__(self, message, *, code):
        super().__init__(message)
        self.code = code


def test_non_retryable_error_ends_retries_after_the_current_attempt():
    """A NonRetryableError on attempt 1 stops a step that had 5 retries left."""

    async def body(ctx):
        await sagasim.sleep(1000)
        raise NonRetryableError("declined")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("charge", body, config=RETRY_FAST)

    sim, inst = start(W)
    sim.run()

    assert times(sim, "ATTEMPT_START", step="charge") == [0.0]
    assert records(sim, ["time", "error_name"], "STEP_FAILURE") == [
        (1.0, "NonRetryableError")
    ]
    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {"name": "NonRetryableError", "message": "declined"},
    }
    assert sim.now == 1.0


def test_non_retryable_error_after_retryable_failures_stops_there():
    """Retryable failures are retried until an attempt raises NonRetryableError."""

    async def body(ctx):
        if ctx.attempt == 2:
            raise NonRetryableError("give up")
        raise RuntimeError("transient")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("charge", body, config=RETRY_FAST)

    sim, inst = start(W)
    sim.run()

    assert times(sim, "ATTEMPT_START", step="charge") == [0.0, 1.0]
    assert column(sim, "error_name", "ATTEMPT_FAILURE") == [
        "RuntimeError",
        "NonRetryableError",
    ]
    assert inst.status()["error"] == {"name": "NonRetryableError", "message": "give up"}


def test_subclass_reaches_run_with_class_name_message_and_attributes_intact():
    """A NonRetryableError subclass arrives in run() as itself, attributes and all."""
    caught = []

    async def body(ctx):
        raise CardDeclined("insufficient funds", code=51)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.do("charge", body, config=RETRY_FAST)
            except CardDeclined as error:
                caught.append(error)
                return "declined"

    sim, inst = start(W)
    sim.run()

    [error] = caught
    assert type(error) is CardDeclined
    assert str(error) == "insufficient funds"
    assert error.code == 51
    assert error.name == "CardDeclined"
    assert times(sim, "ATTEMPT_START", step="charge") == [0.0]
    assert inst.status() == {"status": "complete", "output": "declined", "error": None}


def test_uncaught_subclass_reports_its_own_name_in_status():
    """An uncaught NonRetryableError subclass names itself in the instance error."""

    async def body(ctx):
        raise CardDeclined("insufficient funds", code=51)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("charge", body, config=RETRY_FAST)

    sim, inst = start(W)
    sim.run()

    assert inst.status()["error"] == {
        "name": "CardDeclined",
        "message": "insufficient funds",
    }


def test_caught_non_retryable_error_lets_the_workflow_continue():
    """After catching a NonRetryableError, run() goes on to its next step."""

    async def body(ctx):
        raise NonRetryableError("declined")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.do("charge", body)
            except NonRetryableError:
                pass
            return await step.do("refund-note", ok("noted", ms=2000))

    sim, inst = start(W)
    sim.run()

    assert times(sim, "STEP_START", step="refund-note") == [0.0]
    assert inst.status() == {"status": "complete", "output": "noted", "error": None}
    assert sim.now == 2.0


def test_non_retryable_failure_is_not_cached_so_replay_reruns_the_step():
    """After a crash, a step that failed with NonRetryableError runs its body again."""
    calls = []

    async def body(ctx):
        calls.append(ctx.attempt)
        if len(calls) == 1:
            raise NonRetryableError("first lifetime")
        return "second lifetime"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                result = await step.do("charge", body)
            except NonRetryableError as error:
                result = str(error)
            await step.sleep("nap", "1 minute")
            return result

    sim, inst = start(W)
    sim.run(until=30)
    inst.crash()
    sim.run()

    assert len(calls) == 2
    assert times(sim, "STEP_START", step="charge")[0] == 0.0
    assert times(sim, "STEP_SUCCESS", step="charge") == [30.0]
    assert inst.status() == {
        "status": "complete",
        "output": "second lifetime",
        "error": None,
    }
    assert sim.now == 60.0
