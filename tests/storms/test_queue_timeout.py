"""Queue timeout: a call that waits too long for a slot fails, retryably."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sagasim import Simulation
from sagasim.services import ServiceError
from sagasim.services.base import QueueTimeout
from sagasim.storms import Endpoint

from .helpers import calls, no_retries, one_call


def test_calls_waiting_past_the_queue_timeout_fail_and_apply_nothing():
    """Capacity 1, 100 ms, queue timeout 50 ms: the two waiters fail at 0.05 s."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, capacity=1, queue_timeout=50)
    for _ in range(3):
        sim.create(one_call(api, no_retries()))

    sim.run()

    assert [
        (1, 0.0, 0.1, "ok", ""),
        (2, None, 0.05, "failed", "QueueTimeout"),
        (3, None, 0.05, "failed", "QueueTimeout"),
    ] == calls(api)
    assert [(1, 0.1)] == [(e["op_id"], e["time"]) for e in api.effects]
    assert {
        "name": "QueueTimeout",
        "message": "queue timeout: endpoint 'api' kept the request waiting 50 ms",
    } == sim.get("inst-2").status()["error"]


def test_the_queue_timeout_is_a_retryable_service_error():
    """QueueTimeout is a ServiceError, so the engine retries it."""
    assert issubclass(QueueTimeout, ServiceError)


def test_a_slot_freed_at_the_timeout_instant_is_served():
    """Queue timeout 100 ms, slot frees at 0.1 s: the first waiter is served,
    the second, still waiting, fails at that instant."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, capacity=1, queue_timeout=100)
    for _ in range(3):
        sim.create(one_call(api, no_retries()))

    sim.run()

    assert [
        (1, 0.0, 0.1, "ok", ""),
        (2, 0.1, 0.2, "ok", ""),
        (3, None, 0.1, "failed", "QueueTimeout"),
    ] == calls(api)


def test_a_retry_after_a_queue_timeout_joins_the_back_of_the_queue():
    """The waiter fails at 0.06 s, retries at once and gets the slot at 0.1 s."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, capacity=1, queue_timeout=60)
    sim.create(one_call(api, no_retries()))
    retry_once = {"retries": {"limit": 1, "delay": 0, "backoff": "constant"}}
    inst = sim.create(one_call(api, retry_once))

    sim.run()

    assert [
        (1, 0.0, 0.1, "ok", ""),
        (2, None, 0.06, "failed", "QueueTimeout"),
        (3, 0.1, 0.2, "ok", ""),
    ] == calls(api)
    assert "complete" == inst.status()["status"]
    failures = sim.trace[sim.trace["event"] == "ATTEMPT_FAILURE"]
    assert [(0.06, "QueueTimeout")] == list(
        zip(failures["time"], failures["error_name"], strict=True)
    )


def test_an_attempt_timeout_first_cancels_the_wait_and_its_queue_timer():
    """Attempt timeout 30 ms, queue timeout 500 ms: the waiter leaves at 0.03 s
    and its dead queue timer does not move the clock to 0.5 s."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, capacity=1, queue_timeout=500)
    sim.create(one_call(api, no_retries()))
    sim.create(one_call(api, no_retries(timeout=30)))

    sim.run()

    assert [
        (1, 0.0, 0.1, "ok", ""),
        (2, None, 0.03, "unknown", ""),
    ] == calls(api)
    assert 0.1 == sim.now
    assert (0, 0) == (api.active, api.queued)


def test_the_queue_timeout_counts_from_when_the_call_was_made():
    """A call made at 0.08 s with queue timeout 50 ms fails at 0.13 s."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=200, capacity=1, queue_timeout=50)
    sim.create(one_call(api, no_retries()))
    sim.create(one_call(api, no_retries(), sleep_ms=80))

    sim.run()

    assert [
        (1, 0.0, 0.2, "ok", ""),
        (2, None, 0.13, "failed", "QueueTimeout"),
    ] == calls(api)


@pytest.mark.parametrize(
    "value, expected",
    [(250, 250), ("2 seconds", 2000), (timedelta(milliseconds=75), 75), (None, None)],
)
def test_the_queue_timeout_takes_durations_and_can_be_set_later(value, expected):
    """Durations as Cloudflare writes them, in ms; None turns it off."""
    later = Endpoint(Simulation(), capacity=2)
    later.queue_timeout = value
    given = Endpoint(Simulation(), capacity=2, queue_timeout=value)

    assert (expected, expected) == (later.queue_timeout, given.queue_timeout)


def test_a_queue_timeout_needs_a_capacity():
    """Without a capacity nothing waits, so a queue timeout is an error."""
    with pytest.raises(ValueError, match="queue_timeout needs a capacity"):
        Endpoint(Simulation(), queue_timeout=100)


@pytest.mark.parametrize("value", [-1, "ten", "5 fortnights", True])
def test_a_queue_timeout_must_be_a_duration(value):
    """Negative numbers and unparsable strings are refused."""
    with pytest.raises(ValueError, match="queue_timeout"):
        Endpoint(Simulation(), capacity=1, queue_timeout=value)
