"""Latency models, their seeded draws, and the time a request takes."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from sagasim import Simulation
from sagasim.services import (
    Bank,
    Fixed,
    LogNormal,
    Mailer,
    Uniform,
    parse_latency,
)

from .helpers import in_step, run_script


def test_uniform_draws_whole_milliseconds_from_the_stream():
    """Uniform(20, 80) on seed 42's "service:north" stream gives these five."""
    rng = Simulation(seed=42).rng("service:north")

    assert [42, 60, 61, 36, 54] == [Uniform(20, 80).draw(rng) for _ in range(5)]


def test_lognormal_draws_rounded_milliseconds_from_the_stream():
    """LogNormal(40, 0.5) on seed 7's "service:api" stream gives these five."""
    rng = Simulation(seed=7).rng("service:api")

    assert [21, 58, 35, 43, 64] == [LogNormal(40, 0.5).draw(rng) for _ in range(5)]


def test_lognormal_with_sigma_zero_is_the_median():
    """With no spread every draw is the median."""
    rng = random.Random(1)

    assert [40, 40, 40] == [LogNormal(40, 0).draw(rng) for _ in range(3)]


def test_fixed_draws_nothing_from_the_stream():
    """A fixed latency leaves the stream where it was."""
    rng = random.Random("0:service:x")
    untouched = random.Random("0:service:x")

    assert [50, 50] == [Fixed(50).draw(rng), Fixed(50).draw(rng)]
    assert untouched.random() == rng.random()


@pytest.mark.parametrize(
    ("spec", "model"),
    [
        (0, Fixed(0)),
        (50, Fixed(50)),
        ("2 seconds", Fixed(2000)),
        (timedelta(milliseconds=15), Fixed(15)),
        ((20, 80), Uniform(20, 80)),
        ({"min": 5, "max": 5}, Uniform(5, 5)),
        ({"median": 40, "sigma": 0.5}, LogNormal(40, 0.5)),
        (LogNormal(3, 1), LogNormal(3, 1)),
    ],
)
def test_plain_specs_parse_to_models(spec, model):
    """An int, a duration, {min, max}, a pair or {median, sigma} name a model."""
    assert model == parse_latency(spec)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (-1, "latency must be a non-negative integer of milliseconds, got -1"),
        (True, "expected a latency, got True"),
        (1.5, "expected a latency: milliseconds, {min, max} or {median, sigma}"),
        ((50, 10), r"latency range must be 0 <= min <= max, got \(50, 10\)"),
        ({"min": 1}, r"expected a latency \{min, max\} or \{median, sigma\}"),
        ({"mean": 3, "sigma": 1}, r"expected a latency \{min, max\}"),
        ({"median": 0, "sigma": 1}, "latency median must be a positive number"),
        ({"median": 10, "sigma": -1}, "latency sigma must be a non-negative number"),
        ("soon", "expected '<n> <unit>'"),
    ],
)
def test_bad_specs_are_refused(spec, message):
    """A spec of no accepted form, or with numbers out of range, is a ValueError."""
    with pytest.raises(ValueError, match=message):
        parse_latency(spec)


def test_fixed_latency_sets_arrival_and_return_times():
    """50 ms there and 30 ms back: applied at 0.05 s, answered at 0.08 s."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 100}, latency=50, response_latency=30)

    inst = run_script(sim, in_step("credit", lambda ctx: bank.credit("alice", 1)))

    assert 0.08 == sim.now
    assert 0.05 == inst.status()["output"]["time"]
    assert [0.05] == [effect["time"] for effect in bank.effects]
    assert [(0.0, 0.0, 0.08)] == [
        (row["invoked"], row["started"], row["ended"]) for row in bank.history
    ]


def test_uniform_latency_in_a_run_follows_the_seeded_draws():
    """Five credits in a row land at the running sums of 42, 60, 61, 36, 54 ms."""
    sim = Simulation(seed=42)
    bank = Bank(sim, "north", {"alice": 0}, latency={"min": 20, "max": 80})

    async def five_credits(ctx):
        for _ in range(5):
            await bank.credit("alice", 1)

    run_script(sim, in_step("credits", five_credits))

    assert [0.042, 0.102, 0.163, 0.199, 0.253] == [e["time"] for e in bank.effects]


def test_request_and_response_latencies_are_drawn_in_turn():
    """Each call draws its request latency, then its response latency."""
    rng = Simulation(seed=5).rng("service:bank")
    assert [(24, 3), (16, 4), (21, 3)] == [
        (rng.randint(10, 30), rng.randint(1, 5)) for _ in range(3)
    ]

    sim = Simulation(seed=5)
    bank = Bank(sim, "bank", {"a": 0}, latency=(10, 30), response_latency=(1, 5))

    async def three_credits(ctx):
        for _ in range(3):
            await bank.credit("a", 1)

    run_script(sim, in_step("credits", three_credits))

    assert [0.024, 0.043, 0.068] == [e["time"] for e in bank.effects]
    assert [(0.0, 0.027), (0.027, 0.047), (0.047, 0.071)] == [
        (row["invoked"], row["ended"]) for row in bank.history
    ]


def test_lognormal_latency_in_a_run_follows_the_seeded_draws():
    """A {median, sigma} spec: sends land after 21, 58, 35, 43, 64 ms in turn."""
    sim = Simulation(seed=7)
    mailer = Mailer(sim, "api", latency={"median": 40, "sigma": 0.5})

    async def five_sends(ctx):
        for n in range(5):
            await mailer.send("ann@example.com", f"note {n}")

    run_script(sim, in_step("send", five_sends))

    assert [0.021, 0.079, 0.114, 0.157, 0.221] == [
        effect["time"] for effect in mailer.effects
    ]


def test_streams_are_per_service():
    """Two services with one spec draw from their own streams: 42 ms, 43 ms."""
    sim = Simulation(seed=42)
    north = Bank(sim, "north", {"a": 0}, latency=(20, 80))
    south = Bank(sim, "south", {"a": 0}, latency=(20, 80))

    async def both(ctx):
        await north.credit("a", 1)
        await south.credit("a", 1)

    run_script(sim, in_step("both", both))

    assert [0.042] == [e["time"] for e in north.effects]
    assert [0.085] == [e["time"] for e in south.effects]
