"""Capacity: at most N calls are served at once, the rest wait in FIFO order."""

from __future__ import annotations

import pytest

from sagasim import Simulation
from sagasim.services import Bank

from .helpers import in_step, no_retries, scripted


def credit_in_step(bank, *, timeout=60_000):
    """A script that credits 1 cent to "a" in one step with no retries."""
    return in_step("credit", lambda ctx: bank.credit("a", 1), no_retries(timeout))


def starts_and_ends(bank):
    return [
        (row["instance"], row["started"], row["ended"], row["outcome"])
        for row in bank.history
    ]


def test_calls_beyond_capacity_start_when_a_slot_frees():
    """Capacity 2, 100 ms each, five calls at 0 s: served two by two."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"a": 0}, latency=100, capacity=2)
    for _ in range(5):
        sim.create(scripted(credit_in_step(bank)))

    sim.run()

    assert [
        ("inst-1", 0.0, 0.1, "ok"),
        ("inst-2", 0.0, 0.1, "ok"),
        ("inst-3", 0.1, 0.2, "ok"),
        ("inst-4", 0.1, 0.2, "ok"),
        ("inst-5", 0.2, 0.3, "ok"),
    ] == starts_and_ends(bank)
    assert [0.0] * 5 == [row["invoked"] for row in bank.history]
    assert [0.1, 0.1, 0.2, 0.2, 0.3] == [e["time"] for e in bank.effects]


def test_the_slot_is_held_through_the_response_latency():
    """Capacity 1, 100 ms there and 50 ms back: the next call starts at 0.15 s."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"a": 0}, latency=100, response_latency=50, capacity=1)
    for _ in range(3):
        sim.create(scripted(credit_in_step(bank)))

    sim.run()

    assert [
        ("inst-1", 0.0, 0.15, "ok"),
        ("inst-2", 0.15, 0.3, "ok"),
        ("inst-3", 0.3, 0.45, "ok"),
    ] == starts_and_ends(bank)
    assert [0.1, 0.25, 0.4] == [e["time"] for e in bank.effects]


def test_active_and_queued_count_calls_while_the_run_is_paused():
    """At 0.05 s two calls hold slots and three wait; at the end none do."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"a": 0}, latency=100, capacity=2)
    for _ in range(5):
        sim.create(scripted(credit_in_step(bank)))

    sim.run(until=0.05)
    during = (bank.active, bank.queued)
    sim.run()

    assert (2, 3) == during
    assert (0, 0) == (bank.active, bank.queued)


def test_a_cancelled_waiter_leaves_the_queue():
    """A queued call whose attempt times out never runs; the next one moves up."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"a": 0}, latency=100, capacity=1)
    sim.create(scripted(credit_in_step(bank)))
    sim.create(scripted(credit_in_step(bank, timeout=50)))
    sim.create(scripted(credit_in_step(bank)))

    sim.run(until=0.06)
    queued_after_timeout = bank.queued
    sim.run()

    assert 1 == queued_after_timeout
    assert [
        ("inst-1", 0.0, 0.1, "ok"),
        ("inst-2", None, 0.05, "unknown"),
        ("inst-3", 0.1, 0.2, "ok"),
    ] == starts_and_ends(bank)
    assert [(1, 0.1), (3, 0.2)] == [(e["op_id"], e["time"]) for e in bank.effects]


def test_a_cancelled_call_frees_its_slot_at_once():
    """A call cut off in flight releases its slot at the timeout, not later."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"a": 0}, latency=100, capacity=1)
    sim.create(scripted(credit_in_step(bank, timeout=40)))
    sim.create(scripted(credit_in_step(bank)))

    sim.run()

    assert [
        ("inst-1", 0.0, 0.04, "unknown"),
        ("inst-2", 0.04, 0.14, "ok"),
    ] == starts_and_ends(bank)
    assert [(2, 0.14)] == [(e["op_id"], e["time"]) for e in bank.effects]


def test_failed_calls_release_their_slots():
    """Calls refused at arrival free their slots like successful ones."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"a": 0}, latency=100, capacity=1)
    for _ in range(2):
        script = in_step("debit", lambda ctx: bank.debit("a", 5), no_retries())
        sim.create(scripted(script))

    sim.run()

    assert [
        ("inst-1", 0.0, 0.1, "failed"),
        ("inst-2", 0.1, 0.2, "failed"),
    ] == starts_and_ends(bank)
    assert (0, 0) == (bank.active, bank.queued)


def test_no_capacity_means_no_queue():
    """Without a capacity every call starts at once."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"a": 0}, latency=100)
    for _ in range(4):
        sim.create(scripted(credit_in_step(bank)))

    sim.run()

    assert [0.0] * 4 == [row["started"] for row in bank.history]
    assert [0.1] * 4 == [e["time"] for e in bank.effects]


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True, "2"])
def test_capacity_must_be_a_positive_integer(capacity):
    """Capacity is a positive int or None."""
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        Bank(Simulation(), "north", capacity=capacity)
