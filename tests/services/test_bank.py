"""The simulated bank: debits, credits, outages, insufficient funds, the ledger."""

from __future__ import annotations

import pytest

import sagasim
from sagasim import Simulation
from sagasim.scenarios import Transfer, transfer_params
from sagasim.services import Bank, InsufficientFunds, ServiceUnavailable

from .helpers import attempt_failures, body, no_retries, scripted


def entry(time, op, account, amount, ref=None, instance=None):
    return {
        "time": time,
        "op": op,
        "account": account,
        "amount": amount,
        "ref": ref,
        "instance": instance,
    }


def test_debit_spends_latency_then_applies_and_records():
    """A debit lands after the fixed latency, with one ledger entry."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 10_000}, latency=50)

    async def script(event, step):
        return await step.do(
            "debit",
            body(lambda ctx: bank.debit("alice", 1_250, key="r-1")),
        )

    inst = sim.create(scripted(script))
    sim.run()

    assert {
        "status": "complete",
        "output": {
            "bank": "north",
            "account": "alice",
            "op": "debit",
            "amount": 1_250,
            "key": "r-1",
            "balance": 8_750,
            "time": 0.05,
        },
        "error": None,
    } == inst.status()
    assert [entry(0.05, "debit", "alice", 1_250, "r-1", "inst-1")] == bank.ledger
    assert {"alice": 8_750} == bank.balances
    assert 8_750 == bank.total()
    assert 0.05 == sim.now


def test_requests_in_sequence_add_their_latencies():
    """A credit then a debit take two latencies; the ledger keeps their order."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 0, "bob": 500}, latency=200)

    async def both(ctx):
        await bank.credit("alice", 300, key="c")
        await bank.debit("bob", 500, key="d")

    async def script(event, step):
        await step.do("both", both)

    sim.create(scripted(script))
    sim.run()

    assert [
        entry(0.2, "credit", "alice", 300, "c", "inst-1"),
        entry(0.4, "debit", "bob", 500, "d", "inst-1"),
    ] == bank.ledger
    assert {"alice": 300, "bob": 0} == bank.balances
    assert 300 == bank.total()


def test_uniform_latency_is_drawn_from_the_bank_stream():
    """Each request's latency comes from sim.rng("service:" + name), in order."""
    expected_stream = Simulation(seed=42).rng("service:north")
    latencies = [expected_stream.randint(20, 80) for _ in range(3)]

    sim = Simulation(seed=42)
    bank = Bank(sim, "north", {"alice": 0}, latency=(20, 80))

    async def three_credits(ctx):
        for n in range(3):
            await bank.credit("alice", 1, key=f"c{n}")

    async def script(event, step):
        await step.do("credits", three_credits)

    sim.create(scripted(script))
    sim.run()

    ends = [sum(latencies[: n + 1]) / 1000 for n in range(3)]
    assert ends == [row["time"] for row in bank.ledger]


def test_outage_rejects_requests_that_arrive_inside_the_window():
    """A request arriving at the window's start fails; one arriving at its end
    succeeds; failures are retried and leave no effect."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "south", {"bob": 0}, latency=100, outages=[(1, 2)])

    async def script(event, step):
        await step.sleep("wait", 900)
        await step.do(
            "credit",
            body(lambda ctx: bank.credit("bob", 700, key="c")),
            config={
                "retries": {"limit": 5, "delay": 400, "backoff": "constant"},
                "timeout": "10 seconds",
            },
        )

    inst = sim.create(scripted(script))
    sim.run()

    assert "complete" == inst.status()["status"]
    assert [
        (1.0, "ServiceUnavailable", "bank 'south' is unavailable at 1s"),
        (1.5, "ServiceUnavailable", "bank 'south' is unavailable at 1.5s"),
    ] == attempt_failures(sim)
    assert [entry(2.0, "credit", "bob", 700, "c", "inst-1")] == bank.ledger
    assert 700 == bank.balance("bob")


def test_outage_outlasting_the_retries_fails_the_step():
    """ServiceUnavailable is retryable: the step fails only when retries run out."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "south", {"bob": 0}, latency=10, outages=[(0, 60)])

    async def script(event, step):
        await step.do(
            "credit",
            body(lambda ctx: bank.credit("bob", 1, key="c")),
            config={"retries": {"limit": 2, "delay": 1000, "backoff": "linear"}},
        )

    inst = sim.create(scripted(script))
    sim.run()

    assert {
        "status": "errored",
        "output": None,
        "error": {
            "name": "ServiceUnavailable",
            "message": "bank 'south' is unavailable at 3.03s",
        },
    } == inst.status()
    assert [0.01, 1.02, 3.03] == [time for time, _, _ in attempt_failures(sim)]
    assert [] == bank.ledger


def test_insufficient_funds_is_not_retried_and_changes_nothing():
    """A short balance fails the one attempt with InsufficientFunds."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 999}, latency=30)

    async def script(event, step):
        await step.do(
            "debit",
            body(lambda ctx: bank.debit("alice", 1_000)),
            config={"retries": {"limit": 5, "delay": 1000}},
        )

    inst = sim.create(scripted(script))
    sim.run()

    assert {
        "status": "errored",
        "output": None,
        "error": {
            "name": "InsufficientFunds",
            "message": "account 'alice' at bank 'north' holds 999, cannot debit 1000",
        },
    } == inst.status()
    assert [(0.03, "InsufficientFunds")] == [
        (time, name) for time, name, _ in attempt_failures(sim)
    ]
    assert [] == bank.ledger
    assert 999 == bank.balance("alice")


def test_insufficient_funds_is_a_non_retryable_error():
    """InsufficientFunds subclasses NonRetryableError; ServiceUnavailable does not."""
    assert issubclass(InsufficientFunds, sagasim.NonRetryableError)
    assert not issubclass(ServiceUnavailable, sagasim.NonRetryableError)


def test_unknown_account_fails_without_retry():
    """Naming an account the bank does not have is non-retryable."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 5}, latency=10)

    async def script(event, step):
        await step.do("credit", body(lambda ctx: bank.credit("zed", 1)))

    inst = sim.create(scripted(script))
    sim.run()

    assert {
        "name": "UnknownAccount",
        "message": "bank 'north' has no account 'zed'",
    } == inst.status()["error"]
    assert 1 == len(attempt_failures(sim))


def test_request_cut_off_by_a_timeout_has_no_effect():
    """A request still travelling when its attempt times out never lands."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 100}, latency=100)

    async def script(event, step):
        await step.do(
            "debit",
            body(lambda ctx: bank.debit("alice", 100)),
            config=no_retries(50),
        )

    inst = sim.create(scripted(script))
    sim.run()

    assert {
        "name": "WorkflowTimeoutError",
        "message": "Execution timed out after 50ms",
    } == inst.status()["error"]
    assert [] == bank.ledger
    assert 100 == bank.balance("alice")


def test_bad_amounts_and_settings_are_rejected_at_once():
    """Amounts must be positive integer cents; latency must be non-negative."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 100})

    with pytest.raises(ValueError, match="amount must be positive, got 0"):
        bank.debit("alice", 0).send(None)
    with pytest.raises(TypeError, match="integer number of cents, got 1.5"):
        bank.credit("alice", 1.5).send(None)
    with pytest.raises(ValueError, match="latency must be a non-negative"):
        Bank(sim, "b", {}, latency=-1)
    with pytest.raises(ValueError, match="latency range"):
        Bank(sim, "b", {}, latency=(50, 10))
    with pytest.raises(ValueError, match="opening balance must be positive"):
        Bank(sim, "b", {"x": -1})


def test_failed_transfer_refunds_its_debit_and_the_books_balance():
    """A credit that fails for good is compensated: the debit is refunded."""
    sim = Simulation(seed=1)
    north = Bank(sim, "north", {"alice": 5_000}, latency=50)
    south = Bank(sim, "south", {"bob": 0}, latency=100, outages=[(0, 10)])
    sim.bindings.update(north=north, south=south)

    inst = sim.create(
        Transfer,
        params=transfer_params(
            1_000,
            ("north", "alice"),
            ("south", "bob"),
            {"retries": {"limit": 1, "delay": 500, "backoff": "constant"}},
        ),
    )
    sim.run()

    status = inst.status()
    assert "errored" == status["status"]
    assert "ServiceUnavailable" == status["error"]["name"]
    assert [("credit", "success", True), ("debit", "success", False)] == [
        (r["step"], r["status"], r["output_undefined"]) for r in inst.rollbacks
    ]
    assert [
        entry(0.05, "debit", "alice", 1_000, "inst-1:debit", "inst-1"),
        entry(0.8, "credit", "alice", 1_000, "inst-1:debit:refund", "inst-1"),
    ] == north.ledger
    assert [] == south.ledger
    assert 5_000 == north.total() + south.total()


def test_successful_transfer_moves_the_money():
    """Debit then credit: the output holds both receipts."""
    sim = Simulation(seed=1)
    north = Bank(sim, "north", {"alice": 5_000}, latency=50)
    south = Bank(sim, "south", {"bob": 0}, latency=100)
    sim.bindings.update(north=north, south=south)

    inst = sim.create(
        Transfer,
        params=transfer_params(1_000, ("north", "alice"), ("south", "bob")),
    )
    sim.run()

    status = inst.status()
    assert "complete" == status["status"]
    assert (4_000, 0.05) == (
        status["output"]["debit"]["balance"],
        status["output"]["debit"]["time"],
    )
    assert (1_000, 0.15) == (
        status["output"]["credit"]["balance"],
        status["output"]["credit"]["time"],
    )
    assert [] == inst.rollbacks
    assert {"alice": 4_000} == north.balances
    assert {"bob": 1_000} == south.balances
