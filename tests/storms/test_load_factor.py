"""Load factor: request latency grows with the calls in service."""

from __future__ import annotations

import math

import pytest

from sagasim import Simulation
from sagasim.storms import Endpoint

from .helpers import calls, no_retries, one_call


def run_calls(api, sim, count):
    for _ in range(count):
        sim.create(one_call(api, no_retries()))
    sim.run()
    return calls(api)


def test_each_call_is_stretched_by_the_calls_in_service_when_it_starts():
    """Capacity 4, 100 ms, load factor 1: the k-th of four calls at 0 s sees
    k in service and takes 100 * (1 + k/4) ms."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, capacity=4, load_factor=1)

    assert [
        (1, 0.0, 0.125, "ok", ""),
        (2, 0.0, 0.15, "ok", ""),
        (3, 0.0, 0.175, "ok", ""),
        (4, 0.0, 0.2, "ok", ""),
    ] == run_calls(api, sim, 4)


def test_a_queued_call_sees_the_load_when_it_gets_its_slot():
    """Capacity 2: the third call starts at 0.15 s beside the second, so it
    takes 200 ms and ends at 0.35 s."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, capacity=2, load_factor=1)

    assert [
        (1, 0.0, 0.15, "ok", ""),
        (2, 0.0, 0.2, "ok", ""),
        (3, 0.15, 0.35, "ok", ""),
    ] == run_calls(api, sim, 3)


def test_only_the_request_latency_is_stretched():
    """100 ms there at load 1/2 with factor 2 (200 ms), 50 ms back unchanged:
    the effect lands at 0.2 s, the answer at 0.25 s."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, response_latency=50, capacity=2, load_factor=2)

    assert [(1, 0.0, 0.25, "ok", "")] == run_calls(api, sim, 1)
    assert [0.2] == [e["time"] for e in api.effects]


def test_stretched_latencies_round_halves_up():
    """103 ms * 1.5 = 154.5 ms is served in 155 ms."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=103, capacity=2, load_factor=1)

    assert [(1, 0.0, 0.155, "ok", "")] == run_calls(api, sim, 1)


def test_a_timeout_cuts_off_a_call_slowed_by_load():
    """At full load a 100 ms call takes 300 ms; a 250 ms attempt timeout
    cancels it before it arrives, so nothing is applied."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, capacity=1, load_factor=2)
    sim.create(one_call(api, no_retries(timeout=250)))
    sim.run()

    assert [(1, 0.0, 0.25, "unknown", "")] == calls(api)
    assert [] == api.effects


def test_the_load_factor_can_be_set_later():
    """Setting the attribute changes the stretch of later calls."""
    sim = Simulation(seed=1)
    api = Endpoint(sim, latency=100, capacity=2)
    api.load_factor = 3

    assert 3.0 == api.load_factor
    assert [(1, 0.0, 0.25, "ok", "")] == run_calls(api, sim, 1)


def test_a_load_factor_needs_a_capacity():
    """Load is measured against capacity; without one it is an error."""
    with pytest.raises(ValueError, match="load_factor needs a capacity"):
        Endpoint(Simulation(), load_factor=0.5)


@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf, True, "1"])
def test_a_load_factor_is_a_finite_number_at_least_zero(value):
    """Negative, non-finite and non-numbers are refused."""
    with pytest.raises(ValueError, match="load_factor must be a number >= 0"):
        Endpoint(Simulation(), capacity=1, load_factor=value)
