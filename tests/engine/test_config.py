"""Step config: validation is fatal, ctx.config shows resolved values (rules 1, 11)."""

from datetime import timedelta

import pytest

import sagasim

from .conftest import events, ok, run, times, undo

BAD_CONFIGS = [
    pytest.param({"timeout": 1000, "colour": "red"}, id="unknown-key"),
    pytest.param({"retries": {"delay": 1000}}, id="retries-without-limit"),
    pytest.param({"retries": {"limit": 3}}, id="retries-without-delay"),
    pytest.param(
        {"retries": {"limit": 3, "delay": 1000, "backoff": "quadratic"}},
        id="bad-backoff",
    ),
    pytest.param({"timeout": 0}, id="timeout-zero"),
    pytest.param({"timeout": "0 seconds"}, id="timeout-zero-string"),
    pytest.param({"timeout": -1}, id="negative-timeout"),
    pytest.param({"retries": {"limit": -1, "delay": 1000}}, id="negative-limit"),
    pytest.param({"retries": {"limit": 1, "delay": -1}}, id="negative-delay"),
    pytest.param({"timeout": "10 fortnights"}, id="unknown-timeout-unit"),
    pytest.param(
        {"retries": {"limit": 1, "delay": "3 parsecs"}}, id="unknown-delay-unit"
    ),
    pytest.param({"timeout": "soon"}, id="unparsable-timeout"),
]

BAD_NAMES = [
    pytest.param("x" * 257, id="257-chars"),
    pytest.param("line\nbreak", id="newline"),
    pytest.param("tab\there", id="tab"),
    pytest.param("nul\x00byte", id="nul"),
    pytest.param("esc\x1b[0m", id="escape"),
]

BAD_ROLLBACK_CONFIGS = [
    pytest.param({"colour": "red"}, id="unknown-key"),
    pytest.param(
        {"retries": {"limit": 1, "delay": 0}, "backoff": "linear"}, id="backoff"
    ),
]


def bad_step_workflow(calls, handled, *, name="bad", config=None, rollback_config=None):
    """A good step with a handler for 1 s, then a step whose definition is bad."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "good", ok("fine", ms=1000, calls=calls), rollback=undo(handled)
            )
            await step.do(
                name,
                ok("never", calls=calls),
                config=config,
                rollback=undo(handled),
                rollback_config=rollback_config,
            )
            return "finished"

    return W


def assert_fatal_at_one_second(sim, inst, calls, handled):
    status = inst.status()
    assert status["status"] == "errored"
    assert status["output"] is None
    assert status["error"]["name"] == "WorkflowFatalError"
    assert "rollback" not in status
    assert calls == ["good"]
    assert handled == []
    assert inst.rollbacks == []
    assert events(sim, prefix="ROLLBACK") == []
    assert times(sim, "WORKFLOW_FAILURE") == [1.0]
    assert sim.now == 1.0


@pytest.mark.parametrize("config", BAD_CONFIGS)
def test_bad_config_is_fatal_before_the_body_runs(config):
    """A bad step config ends the instance errored at once, no body run, no rollback."""
    calls, handled = [], []

    sim, inst = run(bad_step_workflow(calls, handled, config=config))

    assert_fatal_at_one_second(sim, inst, calls, handled)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_step_name_is_fatal_before_the_body_runs(name):
    """A step name over 256 chars or with a control character is fatal."""
    calls, handled = [], []

    sim, inst = run(bad_step_workflow(calls, handled, name=name))

    assert_fatal_at_one_second(sim, inst, calls, handled)


@pytest.mark.parametrize("rollback_config", BAD_ROLLBACK_CONFIGS)
def test_rollback_config_keys_other_than_retries_and_timeout_are_fatal(rollback_config):
    """A rollback_config with a key besides retries and timeout is fatal."""
    calls, handled = [], []

    sim, inst = run(bad_step_workflow(calls, handled, rollback_config=rollback_config))

    assert_fatal_at_one_second(sim, inst, calls, handled)


def test_fatal_config_error_cannot_be_caught_away():
    """Catching the error of a bad config in run() still ends the instance errored."""
    calls, handled = [], []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "good", ok("fine", ms=1000, calls=calls), rollback=undo(handled)
            )
            try:
                await step.do("bad", ok("never", calls=calls), config={"timeout": 0})
            except Exception:
                pass
            await step.do("after", ok("after", calls=calls))
            return "caught"

    sim, inst = run(W)

    assert_fatal_at_one_second(sim, inst, calls, handled)


def test_name_of_exactly_256_chars_is_accepted():
    """A step name of 256 characters is within the limit."""
    name = "n" * 256

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do(name, ok("fine"))

    sim, inst = run(W)

    assert inst.status() == {"status": "complete", "output": "fine", "error": None}
    assert times(sim, "STEP_SUCCESS", step=name) == [0.0]


def test_edge_values_limit_zero_delay_zero_timeout_one_ms_are_accepted():
    """limit 0, delay 0 and a 1 ms timeout form a valid config."""
    config = {"retries": {"limit": 0, "delay": 0, "backoff": "linear"}, "timeout": 1}

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("quick", ok("fine"), config=config)

    sim, inst = run(W)

    assert inst.status() == {"status": "complete", "output": "fine", "error": None}


def config_seen_by(config):
    """Run one step with ``config`` and return the ctx.config its body saw."""
    seen = []

    async def body(ctx):
        seen.append(ctx.config)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("look", body, config=config)

    sim, inst = run(W)
    assert inst.status()["status"] == "complete"
    assert sim.now == 0.0
    return seen[0]


def test_ctx_config_shows_defaults_as_the_reference_writes_them():
    """Without config, ctx.config holds 5, 10000, exponential and "10 minutes"."""
    assert config_seen_by(None) == {
        "retries": {"limit": 5, "delay": 10000, "backoff": "exponential"},
        "timeout": "10 minutes",
    }


def test_empty_config_means_all_defaults():
    """An empty config dict resolves to the same defaults as no config."""
    assert config_seen_by({}) == {
        "retries": {"limit": 5, "delay": 10000, "backoff": "exponential"},
        "timeout": "10 minutes",
    }


def test_ctx_config_shows_durations_as_the_user_gave_them():
    """A full config appears in ctx.config exactly as written."""
    config = {
        "retries": {"limit": 2, "delay": "1 second", "backoff": "linear"},
        "timeout": 30000,
    }

    assert config_seen_by(config) == {
        "retries": {"limit": 2, "delay": "1 second", "backoff": "linear"},
        "timeout": 30000,
    }


def test_ctx_config_fills_missing_retries_from_defaults():
    """A config with only a timeout gets the default retries in ctx.config."""
    assert config_seen_by({"timeout": "1 minute"}) == {
        "retries": {"limit": 5, "delay": 10000, "backoff": "exponential"},
        "timeout": "1 minute",
    }


def test_ctx_config_merges_retries_one_level_deep():
    """Retries without backoff get the default backoff; the timeout defaults too."""
    assert config_seen_by({"retries": {"limit": 1, "delay": 500}}) == {
        "retries": {"limit": 1, "delay": 500, "backoff": "exponential"},
        "timeout": "10 minutes",
    }


def test_ctx_config_keeps_a_timedelta_as_given():
    """A timedelta delay appears in ctx.config as the same timedelta."""
    seen = config_seen_by({"retries": {"limit": 1, "delay": timedelta(seconds=2)}})

    assert seen["retries"]["delay"] == timedelta(seconds=2)


def test_ctx_config_is_a_copy():
    """Mutating ctx.config changes neither the retries nor later attempts' view."""
    config = {"retries": {"limit": 1, "delay": 500}}
    seen = []

    async def body(ctx):
        seen.append(ctx.config["retries"]["limit"])
        ctx.config["retries"]["limit"] = 100
        ctx.config["timeout"] = 1
        raise RuntimeError("again")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("mutate", body, config=config)

    sim, inst = run(W)

    assert seen == [1, 1]
    assert times(sim, "ATTEMPT_START", step="mutate") == [0.0, 0.5]
    assert config == {"retries": {"limit": 1, "delay": 500}}
    assert inst.status()["error"] == {"name": "RuntimeError", "message": "again"}


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (1500, 1500),
        ("1500", 1500),
        ("250 ms", 250),
        ("1 second", 1000),
        ("10 seconds", 10_000),
        ("2 minutes", 120_000),
        ("1 hour", 3_600_000),
        ("1 day", 86_400_000),
        ("1 week", 604_800_000),
        ("1 month", 2_592_000_000),
        ("1 year", 31_557_600_000),
        (timedelta(minutes=1, milliseconds=5), 60_005),
    ],
)
def test_parse_duration_returns_integer_milliseconds(duration, expected):
    """Durations follow Cloudflare: numbers are ms, "<n> <unit>", timedelta."""
    assert sagasim.parse_duration(duration) == expected
