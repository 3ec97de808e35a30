"""Dynamic retry delays: ``retries.delay`` given as a function."""

import sagasim

from .conftest import column, run, times


def always_fail(message="down"):
    async def body(ctx):
        raise RuntimeError(message)

    return body


def test_dynamic_delay_result_is_the_base_that_backoff_scales():
    """A delay function's result is the base, and exponential backoff doubles it."""
    seen = []

    def delay(arg):
        seen.append((arg["ctx"].attempt, str(arg["error"])))
        return 1000 * arg["ctx"].attempt

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "x",
                always_fail(),
                config={"retries": {"limit": 3, "delay": delay}},
            )

    sim, inst = run(W)

    # base 1 s, 2 s, 3 s after attempts 1, 2, 3; scaled by 1, 2, 4.
    assert times(sim, "ATTEMPT_START", step="x") == [0.0, 1.0, 5.0, 17.0]
    assert seen == [(1, "down"), (2, "down"), (3, "down")]
    assert inst.status()["error"] == {"name": "RuntimeError", "message": "down"}


def test_dynamic_delay_may_be_async_and_return_a_duration_string():
    """An async delay function may return a duration string; its own time passes."""

    async def delay(arg):
        await sagasim.sleep(500)
        return "2 seconds"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "x",
                always_fail(),
                config={"retries": {"limit": 1, "delay": delay, "backoff": "constant"}},
            )

    sim, _ = run(W)

    assert times(sim, "ATTEMPT_START", step="x") == [0.0, 2.5]


def test_dynamic_delay_that_raises_ends_retries_with_non_retryable_delay_error():
    """A delay function that raises stops the retries after the current attempt."""

    def delay(arg):
        raise ValueError("no idea")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "x", always_fail(), config={"retries": {"limit": 5, "delay": delay}}
            )

    sim, inst = run(W)

    assert times(sim, "ATTEMPT_START", step="x") == [0.0]
    assert inst.status()["error"]["name"] == "NonRetryableDelayError"


def test_dynamic_delay_that_takes_over_five_seconds_times_out():
    """A delay function still running after 5 s ends the retries."""

    async def delay(arg):
        await sagasim.sleep(60_000)
        return 10

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "x", always_fail(), config={"retries": {"limit": 5, "delay": delay}}
            )

    sim, inst = run(W)

    assert times(sim, "ATTEMPT_START", step="x") == [0.0]
    assert inst.status()["error"] == {
        "name": "NonRetryableDelayError",
        "message": "dynamic delay timed out after 5000ms",
    }
    assert sim.now == 5.0


def test_dynamic_delay_returning_a_negative_value_ends_retries():
    """A negative delay is not a duration, so the retries end."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "x",
                always_fail(),
                config={"retries": {"limit": 5, "delay": lambda arg: -1}},
            )

    sim, inst = run(W)

    assert inst.status()["error"]["name"] == "NonRetryableDelayError"
    assert column(sim, "event", step="x") == [
        "STEP_START",
        "ATTEMPT_START",
        "ATTEMPT_FAILURE",
        "STEP_FAILURE",
    ]


def test_ctx_config_has_no_delay_key_with_a_dynamic_delay():
    """With a delay function, ctx.config.retries has no delay key."""
    shown = []

    async def body(ctx):
        shown.append(ctx.config)
        return 1

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "x", body, config={"retries": {"limit": 2, "delay": lambda a: 5}}
            )

    run(W)

    assert shown == [
        {
            "retries": {"limit": 2, "backoff": "exponential"},
            "timeout": "10 minutes",
        }
    ]
