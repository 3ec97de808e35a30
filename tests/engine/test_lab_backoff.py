"""The lab's retry extensions, jitter and a cap: not Cloudflare's behaviour."""

import pytest

import sagasim

from .conftest import run, times


def always_fail(ctx):
    raise RuntimeError("down")


def workflow(config):
    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("x", always_fail, config=config)

    return W


def waits(sim):
    starts = times(sim, "ATTEMPT_START", step="x")
    return [round(b - a, 3) for a, b in zip(starts, starts[1:], strict=False)]


def test_cap_limits_exponential_waits():
    """With lab.cap the exponential waits stop growing at the cap."""
    config = {
        "retries": {"limit": 4, "delay": "10 seconds"},
        "lab": {"cap": "25 seconds"},
    }

    sim, _ = run(workflow(config))

    assert times(sim, "ATTEMPT_START", step="x") == [0.0, 10.0, 30.0, 55.0, 80.0]


def test_without_lab_key_delays_are_cloudflare_exact():
    """No lab key: the same config waits 10, 20, 40, 80 seconds."""
    config = {"retries": {"limit": 4, "delay": "10 seconds"}}

    sim, _ = run(workflow(config))

    assert waits(sim) == [10.0, 20.0, 40.0, 80.0]


@pytest.mark.parametrize(
    "jitter, low, high",
    [("full", 0.0, 1.0), ("equal", 0.5, 1.0)],
)
def test_full_and_equal_jitter_stay_within_their_bounds(jitter, low, high):
    """Full jitter waits U(0, v), equal jitter v/2 + U(0, v/2), v the backoff."""
    config = {
        "retries": {"limit": 6, "delay": 1000},
        "lab": {"jitter": jitter},
    }

    sim, _ = run(workflow(config))

    for n, wait in enumerate(waits(sim), start=1):
        v = 2 ** (n - 1)
        assert low * v <= wait <= high * v


def test_decorrelated_jitter_stays_between_base_and_three_times_previous():
    """Decorrelated jitter waits min(cap, U(base, 3 * previous))."""
    config = {
        "retries": {"limit": 8, "delay": 5},
        "lab": {"jitter": "decorrelated", "cap": 2000},
    }

    sim, _ = run(workflow(config))

    previous = 0.005
    for wait in waits(sim):
        assert 0.005 <= wait <= min(2.0, 3 * previous) + 0.001
        previous = wait


def test_jitter_is_the_same_for_the_same_seed_and_differs_across_seeds():
    """Jittered waits are drawn from the seed: the same seed, the same waits."""
    config = {"retries": {"limit": 5, "delay": 1000}, "lab": {"jitter": "full"}}

    first, _ = run(workflow(config), seed=4)
    again, _ = run(workflow(config), seed=4)
    other, _ = run(workflow(config), seed=5)

    assert waits(first) == waits(again)
    assert waits(first) != waits(other)


def test_jittered_wait_survives_a_crash_during_the_wait():
    """A crash during a jittered wait keeps its durable wake time."""
    config = {"retries": {"limit": 1, "delay": 10_000}, "lab": {"jitter": "full"}}
    plain, _ = run(workflow(config), seed=9)

    sim, inst = sagasim.Simulation(seed=9), None
    inst = sim.create(workflow(config))
    sim.run(until=0.001)
    inst.crash()
    sim.run()

    assert times(sim, "ATTEMPT_START", step="x") == times(
        plain, "ATTEMPT_START", step="x"
    )


@pytest.mark.parametrize(
    "lab, message",
    [
        ({"jitter": "sometimes"}, "lab.jitter must be one of none, full"),
        ({"cap": 0}, "lab.cap must be greater than 0"),
        ({"spread": 1}, "lab: unknown key 'spread'"),
    ],
)
def test_bad_lab_settings_are_fatal(lab, message):
    """A bad lab setting is a WorkflowFatalError like any bad config."""
    sim, inst = run(workflow({"lab": lab}))

    assert inst.status()["error"]["name"] == "WorkflowFatalError"
    assert message in inst.status()["error"]["message"]
