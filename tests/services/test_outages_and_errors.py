"""Outage windows and error rates: requests refused at arrival, retryably."""

from __future__ import annotations

import math

import pytest

import sagasim
from sagasim import Simulation
from sagasim.services import (
    Bank,
    Mailer,
    Payments,
    ServiceError,
    ServiceUnavailable,
)

from .helpers import (
    attempt_failures,
    body,
    in_step,
    no_retries,
    outcomes,
    run_script,
    scripted,
)


def after_sleep(ms, name, make, config):
    """A script that sleeps ``ms``, then runs one step awaiting ``make(ctx)``."""

    async def script(event, step):
        await step.sleep("pause", ms)
        return await step.do(name, body(make), config=config)

    return scripted(script)


def test_the_outage_is_judged_at_arrival_not_at_invocation():
    """Sent before the window and arriving in it fails; sent in it and arriving
    after it succeeds."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "south", {"b": 0}, latency=300, outages=[(1, 2)])
    sim.create(after_sleep(800, "in", lambda ctx: bank.credit("b", 1), no_retries()))
    sim.create(after_sleep(1_800, "out", lambda ctx: bank.credit("b", 2), no_retries()))

    sim.run()

    assert [
        ("credit", "failed", "ServiceUnavailable", 0.8, 1.1),
        ("credit", "ok", "", 1.8, 2.1),
    ] == outcomes(bank)
    assert [(2.1, 2)] == [(e["time"], e["amount"]) for e in bank.effects]


def test_an_outage_added_while_running_rejects_later_arrivals():
    """add_outage between runs: arrivals in [1.5, 3) fail, the next one lands."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "south", {"b": 0}, latency=100)
    config = {"retries": {"limit": 4, "delay": 1000, "backoff": "constant"}}
    sim.create(after_sleep(1_400, "credit", lambda ctx: bank.credit("b", 1), config))

    sim.run(until=1.0)
    bank.add_outage(1.5, 3)
    sim.run()

    assert [(1.5, "ServiceUnavailable"), (2.6, "ServiceUnavailable")] == [
        (time, name) for time, name, _ in attempt_failures(sim)
    ]
    assert [3.7] == [e["time"] for e in bank.effects]
    assert ((1.5, 3.0),) == bank.outages


def test_is_down_reads_the_windows_in_seconds():
    """Start included, end excluded; an open-ended window lasts for ever."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "south", outages=[(1, 2)])
    bank.add_outage(10, math.inf)

    assert [False, True, True, False, True, True] == [
        bank.is_down(at) for at in (0.999, 1, 1.999, 2, 10, 1e9)
    ]
    assert False is bank.is_down()


@pytest.mark.parametrize(
    "window", [(2, 1), (1, 1), (-1, 2), (math.nan, 2), (math.inf, math.inf), ("a", 2)]
)
def test_bad_outage_windows_are_refused(window):
    """A window needs 0 <= start < end, start finite."""
    with pytest.raises(ValueError, match="an outage window must satisfy"):
        Bank(Simulation(), "south").add_outage(*window)


def test_error_rate_fails_the_calls_its_seeded_rolls_pick():
    """error_rate 0.3 on seed 3's "service:flaky" stream fails calls 3, 5, 6, 9, 10."""
    rng = Simulation(seed=3).rng("service:flaky")
    assert [False, False, True, False, True, True, False, False, True, True] == [
        rng.random() < 0.3 for _ in range(10)
    ]

    sim = Simulation(seed=3)
    mailer = Mailer(sim, "flaky", latency=10, error_rate=0.3)

    async def ten_sends(ctx):
        for n in range(10):
            try:
                await mailer.send("ann@example.com", f"note {n}")
            except ServiceError:
                pass

    run_script(sim, in_step("send", ten_sends))

    assert [
        "ok",
        "ok",
        "failed",
        "ok",
        "failed",
        "failed",
        "ok",
        "ok",
        "failed",
        "failed",
    ] == [row["outcome"] for row in mailer.history]
    assert {"ServiceError"} == {
        row["error"] for row in mailer.history if row["outcome"] == "failed"
    }
    assert [(1, "msg_1"), (2, "msg_2"), (4, "msg_3"), (7, "msg_4"), (8, "msg_5")] == [
        (e["op_id"], e["entity"]) for e in mailer.effects
    ]


def test_errors_and_latency_share_the_stream_in_call_order():
    """Each call draws its latency then its error roll; the step retries past two
    injected failures (10 ms, 13 ms) and charges on the third call (13 ms)."""
    rng = Simulation(seed=9).rng("service:pay")
    assert [(10, True), (13, True), (13, False)] == [
        (rng.randint(10, 20), rng.random() < 0.5) for _ in range(3)
    ]

    sim = Simulation(seed=9)
    pay = Payments(sim, "pay", latency=(10, 20), error_rate=0.5)
    config = {"retries": {"limit": 5, "delay": 0}}

    inst = run_script(
        sim, in_step("charge", lambda ctx: pay.charge("cus", 100), config=config)
    )

    assert "ch_1" == inst.status()["output"]
    assert [
        (0.01, "ServiceError", "payments 'pay' failed the request at 0.01s"),
        (0.023, "ServiceError", "payments 'pay' failed the request at 0.023s"),
    ] == attempt_failures(sim)
    assert [0.036] == [e["time"] for e in pay.effects]


def test_error_rate_one_fails_every_call():
    """With rate 1 the one attempt fails with ServiceError and applies nothing."""
    sim = Simulation(seed=4)
    bank = Bank(sim, "north", {"a": 0}, latency=(1, 9), error_rate=1)

    inst = run_script(
        sim,
        in_step("credit", lambda ctx: bank.credit("a", 1), config=no_retries()),
    )

    assert "ServiceError" == inst.status()["error"]["name"]
    assert [] == bank.effects


@pytest.mark.parametrize("rate", [-0.1, 1.5, True, "0.2"])
def test_error_rate_must_be_a_probability(rate):
    """An error rate outside [0, 1] is refused."""
    with pytest.raises(ValueError, match="error_rate must be a number from 0 to 1"):
        Bank(Simulation(), "north", error_rate=rate)


def test_service_errors_are_retryable():
    """ServiceError and ServiceUnavailable are not NonRetryableError."""
    assert issubclass(ServiceUnavailable, ServiceError)
    assert not issubclass(ServiceError, sagasim.NonRetryableError)
