"""The request model: history rows, outcomes, effects rows, EFFECT_APPLIED."""

from __future__ import annotations

import sagasim
from sagasim import Simulation
from sagasim.services import Bank, Payments

from .helpers import (
    body,
    effect_rows,
    in_step,
    no_retries,
    outcomes,
    run_script,
    scripted,
)


def test_a_successful_call_is_one_ok_history_row():
    """A debit in a step: the row names the caller, the key, args and result."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 1_000}, latency=50)

    run_script(sim, in_step("pay", lambda ctx: bank.debit("alice", 300, key="k-1")))

    assert [
        {
            "op_id": 1,
            "service": "north",
            "op": "debit",
            "instance": "inst-1",
            "step": "pay",
            "count": 1,
            "attempt": 1,
            "rollback": False,
            "key": "k-1",
            "args": {"account": "alice", "amount": 300},
            "invoked": 0.0,
            "started": 0.0,
            "ended": 0.05,
            "outcome": "ok",
            "error": "",
            "result": {
                "bank": "north",
                "account": "alice",
                "op": "debit",
                "amount": 300,
                "key": "k-1",
                "balance": 700,
                "time": 0.05,
            },
        }
    ] == bank.history


def test_the_effect_row_and_its_trace_row():
    """An applied debit is one effects row and one EFFECT_APPLIED trace row."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 1_000}, latency=50)

    run_script(sim, in_step("pay", lambda ctx: bank.debit("alice", 300, key="k-1")))

    assert [
        {
            "effect_id": 1,
            "op_id": 1,
            "time": 0.05,
            "service": "north",
            "op": "debit",
            "kind": "debit",
            "entity": "alice",
            "resource": "money:north",
            "delta": -300,
            "amount": 300,
            "key": "k-1",
            "instance": "inst-1",
            "step": "pay",
            "count": 1,
            "attempt": 1,
            "rollback": False,
            "compensates": None,
            "irreversible": False,
        }
    ] == bank.effects
    assert [
        (
            0.05,
            "inst-1",
            "pay",
            1,
            1,
            {
                "service": "north",
                "op": "debit",
                "kind": "debit",
                "entity": "alice",
                "amount": 300,
                "effect_id": 1,
            },
        )
    ] == effect_rows(sim)
    assert {"money:north": 700} == bank.snapshot()


def test_a_call_in_flight_is_pending():
    """Before its answer arrives a call's row is pending with no end."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 1_000}, latency=50, response_latency=50)
    sim.create(scripted(in_step("pay", lambda ctx: bank.debit("alice", 1))))

    sim.run(until=0.02)
    before_arrival = outcomes(bank)
    sim.run(until=0.07)
    after_arrival = outcomes(bank)
    sim.run()

    assert [("debit", "pending", "", 0.0, None)] == before_arrival
    assert [("debit", "pending", "", 0.0, None)] == after_arrival
    assert [0.05] == [effect["time"] for effect in bank.effects]
    assert [("debit", "ok", "", 0.0, 0.1)] == outcomes(bank)


def test_a_refused_call_is_failed_with_the_error_name():
    """InsufficientFunds at arrival: the row is failed, nothing is applied."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 10}, latency=50, response_latency=20)

    run_script(sim, in_step("pay", lambda ctx: bank.debit("alice", 11)))

    assert [("debit", "failed", "InsufficientFunds", 0.0, 0.07)] == outcomes(bank)
    assert None is bank.history[0]["result"]
    assert [] == bank.effects
    assert [] == effect_rows(sim)


def test_a_timeout_before_arrival_is_unknown_and_applies_nothing():
    """Timeout 50 ms against latency 100 ms: unknown at 0.05 s, no effect."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 1_000}, latency=100)

    inst = run_script(
        sim,
        in_step("pay", lambda ctx: bank.debit("alice", 300), config=no_retries(50)),
    )

    assert "WorkflowTimeoutError" == inst.status()["error"]["name"]
    assert [("debit", "unknown", "", 0.0, 0.05)] == outcomes(bank)
    assert [] == bank.effects
    assert 1_000 == bank.balance("alice")


def test_a_timeout_after_arrival_is_unknown_but_the_effect_stands():
    """Both answers are lost to the 150 ms timeout; both debits landed."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 1_000}, latency=100, response_latency=100)
    config = {"retries": {"limit": 1, "delay": 0}, "timeout": 150}

    inst = run_script(
        sim, in_step("pay", lambda ctx: bank.debit("alice", 300), config=config)
    )

    assert "WorkflowTimeoutError" == inst.status()["error"]["name"]
    assert [
        ("debit", "unknown", "", 0.0, 0.15),
        ("debit", "unknown", "", 0.15, 0.3),
    ] == outcomes(bank)
    assert [(1, 1, 0.1, -300), (2, 2, 0.25, -300)] == [
        (e["op_id"], e["attempt"], e["time"], e["delta"]) for e in bank.effects
    ]
    assert 400 == bank.balance("alice")


def test_an_engine_crash_makes_the_call_unknown():
    """A crash at 0.05 s cuts the call off; the replayed attempt calls again."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 1_000}, latency=100)
    config = {"retries": {"limit": 2, "delay": 0}}
    inst = sim.create(
        scripted(in_step("pay", lambda ctx: bank.debit("alice", 300), config=config))
    )

    sim.run(until=0.05)
    inst.crash()
    sim.run()

    assert "complete" == inst.status()["status"]
    assert [
        ("debit", "unknown", "", 0.0, 0.05),
        ("debit", "ok", "", 0.05, 0.15),
    ] == outcomes(bank)
    assert [1, 2] == [row["attempt"] for row in bank.history]
    assert [(2, 0.15)] == [(e["op_id"], e["time"]) for e in bank.effects]


def test_a_rollback_handler_call_is_marked_rollback():
    """A handler's call carries the forward step, the handler attempt, rollback."""
    sim = Simulation(seed=1)
    pay = Payments(sim, latency=10)

    async def refund(output, error, ctx):
        await pay.refund(output)

    async def script(event, step):
        await step.do(
            "charge",
            body(lambda ctx: pay.charge("cus", 500, key="o-1")),
            rollback=refund,
        )
        raise sagasim.NonRetryableError("later step failed")

    inst = run_script(sim, script)

    assert "errored" == inst.status()["status"]
    assert [
        ("charge", "inst-1", "charge", 1, 1, False),
        ("refund", "inst-1", "charge", 1, 1, True),
    ] == [
        (r["op"], r["instance"], r["step"], r["count"], r["attempt"], r["rollback"])
        for r in pay.history
    ]
    assert [("charge", False, None), ("refund", True, 1)] == [
        (e["kind"], e["rollback"], e["compensates"]) for e in pay.effects
    ]


def test_a_call_outside_any_step_has_no_caller():
    """Called from run() itself: instance None, step "", zeros, not rollback."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 0}, latency=10)

    async def script(event, step):
        await bank.credit("alice", 5)

    run_script(sim, script)

    assert [(None, "", 0, 0, False)] == [
        (r["instance"], r["step"], r["count"], r["attempt"], r["rollback"])
        for r in bank.history
    ]
    assert [(0.01, "", "", 0, 0)] == [row[:5] for row in effect_rows(sim)]
    assert None is bank.effects[0]["instance"]


def test_op_and_effect_ids_count_from_one_per_service():
    """Each service numbers its own calls and effects, in order."""
    sim = Simulation(seed=1)
    north = Bank(sim, "north", {"a": 100}, latency=10)
    south = Bank(sim, "south", {"b": 0}, latency=10)

    async def moves(ctx):
        await north.debit("a", 10)
        await south.credit("b", 10)
        await north.debit("a", 10)

    run_script(sim, in_step("moves", moves))

    assert [1, 2] == [row["op_id"] for row in north.history]
    assert [1] == [row["op_id"] for row in south.history]
    assert [(1, 1), (2, 2)] == [(e["effect_id"], e["op_id"]) for e in north.effects]
    assert [(1, 1)] == [(e["effect_id"], e["op_id"]) for e in south.effects]


def test_the_result_in_history_is_a_copy():
    """Changing the returned receipt leaves the history row as it was."""
    sim = Simulation(seed=1)
    bank = Bank(sim, "north", {"alice": 0})

    async def script(event, step):
        receipt = await bank.credit("alice", 5)
        receipt["balance"] = -1

    run_script(sim, script)

    assert 5 == bank.history[0]["result"]["balance"]
