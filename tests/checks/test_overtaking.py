"""Compensations that reach a service before the effect they undo."""

import sagasim
from sagasim.checks import compensation_before_effect, leaks, run_checks

from .conftest import Ledger, Trace, effect, found


def test_a_compensation_after_its_effect_is_clean():
    """Debit, then credit back."""
    effects = [
        effect(1, "debit", "alice", -5),
        effect(2, "credit", "alice", 5, rollback=True),
    ]

    assert found(compensation_before_effect(effects)) == []


def test_a_forward_effect_after_a_compensation_is_reported():
    """The credit back landed first; the late debit is reported with it."""
    effects = [
        effect(1, "credit", "alice", 5, rollback=True),
        effect(2, "debit", "alice", -5),
    ]

    assert found(compensation_before_effect(effects)) == [
        ("compensation_before_effect", "inst-1", "BANK:alice", (1, 2))
    ]


def test_a_refund_before_its_charge_is_reported_through_compensates():
    """A refund naming the charge acts on the charge's entity."""
    effects = [
        effect(1, "charge", "ch_1", 9, service="PAY", time=5.0),
        effect(2, "refund", "x", -9, service="PAY", rollback=True, compensates=3),
        effect(3, "charge", "ch_3", 9, service="PAY"),
    ]

    assert found(compensation_before_effect(effects)) == [
        ("compensation_before_effect", "inst-1", "PAY:ch_3", (2, 3))
    ]


def test_other_instances_and_entities_are_not_compared():
    """A compensation only orders effects of its instance on its entity."""
    effects = [
        effect(1, "credit", "alice", 5, rollback=True),
        effect(2, "debit", "alice", -5, instance="inst-2"),
        effect(3, "debit", "bob", -5),
        effect(4, "debit", "alice", -5, service="OTHER"),
    ]

    assert found(compensation_before_effect(effects)) == []


def test_a_restart_separates_the_epochs_when_the_trace_is_given():
    """A debit made again after a restart follows no compensation of its
    epoch."""
    effects = [
        effect(1, "debit", "alice", -5, time=1.0),
        effect(2, "credit", "alice", 5, rollback=True, time=2.0),
        effect(3, "debit", "alice", -5, time=6.0),
    ]
    t = Trace()
    t.add("WORKFLOW_RESTARTED", time=5.0)

    assert found(compensation_before_effect(effects, t.frame())) == []
    assert found(compensation_before_effect(effects)) == [
        ("compensation_before_effect", "inst-1", "BANK:alice", (2, 3))
    ]


class SlowDebit(sagasim.Workflow):
    """A slow debit in parallel with a step that fails early."""

    async def run(self, event, step):
        bank = self.env["BANK"]

        async def debit(ctx):
            await sagasim.sleep(500)
            await bank.debit("alice", 100)

        async def credit_back(output, error, ctx):
            await bank.credit("alice", 100)

        async def fail(ctx):
            await sagasim.sleep(100)
            raise sagasim.NonRetryableError("no")

        await sagasim.gather(
            step.do("debit", debit, rollback=credit_back), step.do("fail", fail)
        )


def slow_debit(inflight):
    sim = sagasim.Simulation(inflight=inflight)
    bank = Ledger(sim, latency=10)
    sim.bindings["BANK"] = bank
    sim.create(SlowDebit)
    sim.run()
    return sim, bank


def test_a_rollback_racing_its_step_is_overtaken_by_the_debit():
    """On the real engine with inflight="race": the credit back lands at
    0.11 s, the debit at 0.51 s."""
    sim, bank = slow_debit("race")

    assert [(e["kind"], e["time"]) for e in bank.effects] == [
        ("credit", 0.11),
        ("debit", 0.51),
    ]
    assert found(compensation_before_effect(bank.effects, sim.trace)) == [
        ("compensation_before_effect", "inst-1", "BANK:alice", (1, 2))
    ]
    assert found(run_checks(sim)) == [
        ("compensation_before_effect", "inst-1", "BANK:alice", (1, 2))
    ]


def test_a_rollback_that_drains_its_steps_first_is_clean():
    """On the real engine with inflight="drain": debit, then credit back."""
    sim, bank = slow_debit("drain")

    assert [e["kind"] for e in bank.effects] == ["debit", "credit"]
    assert found(compensation_before_effect(bank.effects, sim.trace)) == []
    assert found(run_checks(sim)) == []


def test_a_cancelled_step_whose_handler_credits_anyway_over_compensates():
    """On the real engine with inflight="cancel": the debit never lands, the
    handler credits back regardless; nothing overtook, but money appeared."""
    sim, bank = slow_debit("cancel")

    assert [e["kind"] for e in bank.effects] == ["credit"]
    assert found(compensation_before_effect(bank.effects, sim.trace)) == []
    assert found(leaks(sim.trace, bank.effects)) == [
        ("over_compensation", "inst-1", "BANK:alice", (1,))
    ]
