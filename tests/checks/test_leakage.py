"""Leaks: forward effects a rollback left in place."""

import sagasim
from sagasim.checks import leaks

from .conftest import NO_RETRIES, Ledger, Trace, effect, found


def rolled_back(*instances, end="WORKFLOW_FAILURE"):
    """A trace in which each instance rolled back and ended with ``end``."""
    t = Trace()
    for instance in instances:
        t.add("ROLLBACK_START", instance=instance)
        t.add("ROLLBACK_COMPLETE", instance=instance)
        t.add(end, instance=instance)
    return t.frame()


def test_every_forward_effect_undone_is_clean():
    """A debit credited back and a charge refunded leave nothing behind."""
    effects = [
        effect(1, "debit", "alice", -500),
        effect(1, "charge", "ch_1", 900, service="PAY", step="charge"),
        effect(2, "refund", "ch_1", -900, service="PAY", rollback=True, compensates=1),
        effect(2, "credit", "alice", 500, rollback=True),
    ]

    assert found(leaks(rolled_back("inst-1"), effects)) == []


def test_a_debit_not_returned_is_a_money_leak():
    """A debit with no credit back, cited alone."""
    effects = [
        effect(1, "debit", "alice", -500),
        effect(2, "credit", "bob", 500, step="credit"),
        effect(3, "debit", "bob", -500, step="credit", rollback=True),
    ]

    result = leaks(rolled_back("inst-1"), effects)

    assert found(result) == [("money_leak", "inst-1", "BANK:alice", (1,))]
    assert "-500" in result["message"][0]


def test_money_moved_between_accounts_and_left_there_leaks_from_both():
    """Both legs of a transfer left in place balance the resource, yet both
    accounts are reported."""
    effects = [
        effect(1, "debit", "alice", -500),
        effect(2, "credit", "bob", 500, step="credit"),
    ]

    assert found(leaks(rolled_back("inst-1"), effects)) == [
        ("money_leak", "inst-1", "BANK:alice", (1,)),
        ("money_leak", "inst-1", "BANK:bob", (2,)),
    ]


def test_a_partial_refund_is_a_charge_leak():
    """A charge refunded for less than it took cites both effects."""
    effects = [
        effect(1, "charge", "ch_1", 900, service="PAY"),
        effect(2, "refund", "ch_1", -400, service="PAY", rollback=True),
    ]

    assert found(leaks(rolled_back("inst-1"), effects)) == [
        ("charge_leak", "inst-1", "PAY:ch_1", (1, 2))
    ]


def test_a_hold_not_released_is_a_hold_leak():
    """A hold with no release, terminated instances included."""
    effects = [effect(1, "hold", "h1", -2, service="STOCK", resource="stock:x")]

    trace = rolled_back("inst-1", end="WORKFLOW_TERMINATED")

    assert found(leaks(trace, effects)) == [("hold_leak", "inst-1", "STOCK:h1", (1,))]


def test_a_compensation_for_nothing_is_an_over_compensation():
    """A credit back of a debit that never landed creates money."""
    effects = [effect(1, "credit", "alice", 500, rollback=True)]

    assert found(leaks(rolled_back("inst-1"), effects)) == [
        ("over_compensation", "inst-1", "BANK:alice", (1,))
    ]


def test_undos_of_nothing_are_left_to_the_double_effects_check():
    """A refund with no charge is not reported here, nor are sends."""
    effects = [
        effect(1, "refund", "ch_9", -5, service="PAY", rollback=True),
        effect(1, "send", "msg_1", service="MAIL"),
    ]

    assert found(leaks(rolled_back("inst-1"), effects)) == []


def test_instances_that_did_not_end_after_a_rollback_are_not_judged():
    """A completed instance and one still rolling back keep their effects."""
    t = Trace()
    t.add("WORKFLOW_SUCCESS", instance="done")
    t.add("ROLLBACK_START", instance="busy")
    effects = [
        effect(1, "debit", "alice", -5, instance="done"),
        effect(2, "debit", "alice", -5, instance="busy"),
    ]

    assert found(leaks(t.frame(), effects)) == []


def restarted(*, replayed):
    """An instance that completed, was restarted and then rolled back."""
    t = Trace()
    t.add("STEP_START", "debit", time=1.0)
    t.add("WORKFLOW_SUCCESS", time=2.0)
    t.add("WORKFLOW_RESTARTED", time=5.0)
    if replayed:
        t.add("STEP_REPLAYED", "debit", time=5.0)
    t.add("ROLLBACK_START", time=7.0)
    t.add("WORKFLOW_FAILURE", time=9.0)
    return t.frame()


def test_effects_of_an_earlier_epoch_are_not_judged_after_a_restart():
    """A debit of the epoch before a full restart is not this epoch's leak."""
    effects = [
        effect(1, "debit", "alice", -5, time=1.0),
        effect(2, "debit", "alice", -5, time=6.0),
        effect(3, "credit", "alice", 5, time=8.0, rollback=True),
    ]

    assert found(leaks(restarted(replayed=False), effects)) == []


def test_effects_of_a_step_kept_by_a_restart_are_judged():
    """A step kept from before a restart from a later step belongs to the
    epoch that replayed it."""
    effects = [effect(1, "debit", "alice", -5, time=1.0)]

    assert found(leaks(restarted(replayed=True), effects)) == [
        ("money_leak", "inst-1", "BANK:alice", (1,))
    ]


class Transfer(sagasim.Workflow):
    """Debit alice, credit bob, fail; the credit's handler may be missing."""

    async def run(self, event, step):
        bank = self.env["BANK"]
        undo_credit = event["payload"]["undo_credit"]

        async def credit_back(output, error, ctx):
            await bank.credit("alice", 500)

        async def debit_back(output, error, ctx):
            await bank.debit("bob", 500)

        await step.do("debit", lambda: bank.debit("alice", 500), rollback=credit_back)
        await step.do(
            "credit",
            lambda: bank.credit("bob", 500),
            rollback=debit_back if undo_credit else None,
        )

        async def fail():
            raise sagasim.NonRetryableError("fraud check")

        await step.do("fail", fail, config=NO_RETRIES)


def transfer(undo_credit):
    sim = sagasim.Simulation()
    bank = Ledger(sim, latency=10)
    sim.bindings["BANK"] = bank
    sim.create(Transfer, params={"undo_credit": undo_credit})
    sim.run()
    return sim, bank


def test_a_fully_compensated_transfer_leaks_nothing():
    """On the real engine: both legs undone."""
    sim, bank = transfer(undo_credit=True)

    assert found(leaks(sim.trace, bank.effects)) == []


def test_a_transfer_whose_credit_is_not_undone_leaks_to_bob():
    """On the real engine: the credit without a handler stays with bob,
    though alice got her money back."""
    sim, bank = transfer(undo_credit=False)

    assert found(leaks(sim.trace, bank.effects)) == [
        ("money_leak", "inst-1", "BANK:bob", (2,))
    ]
