"""Double effects: repeated requests, double undos and undos of nothing."""

import sagasim
from sagasim.checks import double_effects

from .conftest import Ledger, effect, found


def test_distinct_effects_are_clean():
    """Different accounts, steps, counts and directions are not repeats."""
    effects = [
        effect(1, "debit", "alice", -5),
        effect(2, "debit", "bob", -5),
        effect(3, "debit", "alice", -5, step="fee"),
        effect(4, "debit", "alice", -5, count=2),
        effect(5, "credit", "alice", 5, rollback=True),
        effect(6, "debit", "alice", -5, instance="inst-2"),
        effect(7, "debit", "alice", -5, instance=None, step=""),
        effect(8, "debit", "alice", -5, instance=None, step=""),
    ]

    assert found(double_effects(effects)) == []


def test_a_debit_repeated_by_a_retry_is_reported():
    """The same step occurrence debiting the same account from a second call
    is reported with the original and the repeat."""
    effects = [
        effect(1, "debit", "alice", -500, attempt=1),
        effect(2, "credit", "bob", 500),
        effect(3, "debit", "alice", -500, attempt=2),
    ]

    result = double_effects(effects)

    assert found(result) == [("double_effect", "inst-1", "BANK:alice", (1, 3))]
    assert "attempts 1 and 2" in result["message"][0]


def test_each_repeat_is_one_row():
    """Three charges from three calls are two repeats of the first."""
    effects = [
        effect(i, "charge", "card", 9, service="PAY", step="charge", attempt=i)
        for i in (1, 2, 3)
    ]

    assert found(double_effects(effects)) == [
        ("double_effect", "inst-1", "PAY:card", (1, 2)),
        ("double_effect", "inst-1", "PAY:card", (1, 3)),
    ]


def test_a_charge_repeated_as_a_new_charge_is_reported():
    """A retried charge makes another charge id; it is still a repeat, named
    by the new charge."""
    effects = [
        effect(1, "charge", "ch_1", 30, service="PAY", step="fee", attempt=1),
        effect(2, "charge", "ch_2", 30, service="PAY", step="fee", attempt=2),
        effect(3, "charge", "ch_3", 30, service="PAY", step="tip", attempt=1),
    ]

    assert found(double_effects(effects)) == [
        ("double_effect", "inst-1", "PAY:ch_2", (1, 2))
    ]


def test_effects_of_one_call_are_not_repeats():
    """Two effects that share an op_id came from one request."""
    effects = [
        effect(1, "debit", "alice", -5, op_id=7),
        effect(2, "debit", "alice", -5, op_id=7),
    ]

    assert found(double_effects(effects)) == []


def test_a_repeated_compensation_is_reported():
    """A handler that credits back twice repeats its effect too."""
    effects = [
        effect(1, "debit", "alice", -5),
        effect(2, "credit", "alice", 5, rollback=True, attempt=1),
        effect(3, "credit", "alice", 5, rollback=True, attempt=2),
    ]

    assert found(double_effects(effects)) == [
        ("double_effect", "inst-1", "BANK:alice", (2, 3))
    ]


def test_the_message_says_what_the_caller_heard_first():
    """With history, an unknown first outcome explains the retry."""
    effects = [
        effect(1, "debit", "alice", -5, attempt=1),
        effect(2, "debit", "alice", -5, attempt=2),
    ]
    history = [
        {"service": "BANK", "op_id": 1, "outcome": "unknown", "error": ""},
        {"service": "BANK", "op_id": 2, "outcome": "ok", "error": ""},
    ]

    result = double_effects(effects, history)

    assert "never heard back" in result["message"][0]


def charge_and_refunds(*refunds):
    return [effect(1, "charge", "ch_1", 900, service="PAY", step="charge")] + [
        effect(
            i,
            "refund",
            "ch_1",
            -900,
            service="PAY",
            step="charge",
            rollback=True,
            compensates=compensates,
        )
        for i, compensates in refunds
    ]


def test_one_refund_of_a_charge_is_clean():
    """A charge refunded once."""
    assert found(double_effects(charge_and_refunds((2, 1)))) == []


def test_partial_refunds_up_to_the_charge_are_clean():
    """Two refunds adding up to the amount charged refund it once."""
    effects = [
        effect(1, "charge", "ch_1", 900, service="PAY"),
        effect(2, "refund", "ch_1", -300, service="PAY", compensates=1),
        effect(3, "refund", "ch_1", -600, service="PAY", compensates=1),
    ]

    assert found(double_effects(effects)) == []


def test_a_refund_beyond_the_charge_after_partial_ones_is_reported():
    """The refund that takes the total past the charge is the repeat."""
    effects = [
        effect(1, "charge", "ch_1", 900, service="PAY"),
        effect(2, "refund", "ch_1", -300, service="PAY", compensates=1),
        effect(3, "refund", "ch_1", -600, service="PAY", compensates=1),
        effect(4, "refund", "ch_1", -900, service="PAY", compensates=1),
    ]

    assert found(double_effects(effects)) == [
        ("double_refund", "inst-1", "PAY:ch_1", (2, 4))
    ]


def test_a_second_refund_of_a_charge_is_reported():
    """Two refunds of one charge, named by compensates or by entity."""
    effects = charge_and_refunds((2, 1), (3, None))

    assert found(double_effects(effects)) == [
        ("double_refund", "inst-1", "PAY:ch_1", (2, 3))
    ]


def test_refunds_across_instances_of_one_charge_are_reported():
    """The charge, not the caller, decides: another instance's refund counts."""
    effects = charge_and_refunds((2, 1))
    effects.append(effect(3, "refund", "ch_1", -900, service="PAY", instance="inst-2"))

    assert found(double_effects(effects)) == [
        ("double_refund", "inst-2", "PAY:ch_1", (2, 3))
    ]


def test_a_refund_without_a_charge_is_reported():
    """A refund of a charge the ledger never applied."""
    effects = [
        effect(1, "charge", "ch_1", 900, service="PAY"),
        effect(2, "refund", "ch_9", -900, service="PAY", rollback=True),
        effect(3, "refund", "ch_1", -900, service="OTHER", rollback=True),
    ]

    assert found(double_effects(effects)) == [
        ("orphan_refund", "inst-1", "PAY:ch_9", (2,)),
        ("orphan_refund", "inst-1", "OTHER:ch_1", (3,)),
    ]


def test_a_second_release_of_a_hold_is_reported():
    """A hold released twice; one release is clean."""
    hold = effect(1, "hold", "h1", -2, service="STOCK", resource="stock:x")
    releases = [
        effect(i, "release", "h1", 2, service="STOCK", resource="stock:x")
        for i in (2, 3)
    ]

    assert found(double_effects([hold, releases[0]])) == []
    assert found(double_effects([hold, *releases])) == [
        ("double_release", "inst-1", "STOCK:h1", (2, 3))
    ]


def test_a_release_without_a_hold_is_reported():
    """A release of a hold never taken."""
    effects = [effect(1, "release", "h9", 2, service="STOCK", resource="stock:x")]

    assert found(double_effects(effects)) == [
        ("orphan_release", "inst-1", "STOCK:h9", (1,))
    ]


class LostReply(sagasim.Workflow):
    """A debit whose first reply is lost, so the step retries it."""

    async def run(self, event, step):
        bank = self.env["BANK"]
        keyed = event["payload"]["keyed"]

        async def debit(ctx):
            key = f"{ctx.instance_id}:debit" if keyed else None
            await bank.debit("alice", 500, key=key)
            if ctx.attempt == 1:
                raise ConnectionError("reply lost")

        await step.do("debit", debit, config={"retries": {"limit": 2, "delay": 10}})


def lost_reply(keyed):
    sim = sagasim.Simulation()
    bank = Ledger(sim, latency=5, dedupe=True)
    sim.bindings["BANK"] = bank
    sim.create(LostReply, params={"keyed": keyed})
    sim.run()
    return bank


def test_a_retry_without_an_idempotency_key_debits_twice():
    """On the real engine: the retried debit lands twice and is reported."""
    bank = lost_reply(keyed=False)

    result = double_effects(bank.effects, bank.history)

    assert found(result) == [("double_effect", "inst-1", "BANK:alice", (1, 2))]


def test_a_retry_with_an_idempotency_key_debits_once():
    """On the real engine: the service deduplicates the keyed retry."""
    bank = lost_reply(keyed=True)

    assert len(bank.history) == 2
    assert found(double_effects(bank.effects, bank.history)) == []


class RefundsTwice(sagasim.Workflow):
    """A charge undone by a handler that refunds, then fails, then retries."""

    async def run(self, event, step):
        pay = self.env["PAY"]

        async def refund(output, error, ctx):
            await pay.refund(output)
            if ctx.step.name == "charge" and len(pay.effects) == 2:
                raise ConnectionError("reply lost")

        await step.do(
            "charge",
            lambda: pay.charge(900),
            rollback=refund,
            rollback_config={"retries": {"limit": 1, "delay": 0}},
        )

        async def fail():
            raise sagasim.NonRetryableError("out of stock")

        await step.do("fail", fail)


def test_a_handler_that_is_not_idempotent_refunds_twice():
    """On the real engine: a retried refund handler refunds the charge again."""
    sim = sagasim.Simulation()
    pay = Ledger(sim, "PAY")
    sim.bindings["PAY"] = pay
    sim.create(RefundsTwice)
    sim.run()

    assert found(double_effects(pay.effects)) == [
        ("double_refund", "inst-1", "PAY:ch_1", (2, 3))
    ]
