"""Payments: charges, idempotency keys, find, refunds strict and not, capture."""

from __future__ import annotations

import pytest

import sagasim
from sagasim import Simulation
from sagasim.services import (
    AlreadyRefunded,
    IdempotencyConflict,
    Payments,
    RefundExceedsCharge,
    UnknownCharge,
)

from .helpers import body, in_step, no_retries, outcomes, run_script

# One retry, and a 150 ms timeout that a 100 ms + 100 ms round trip overruns:
# the first attempt's charge lands at 0.1 s, its answer is lost at 0.15 s.
LOST_ANSWER = {"retries": {"limit": 1, "delay": 0}, "timeout": 150}


def slow_payments(sim, **options):
    """Payments whose answer comes 100 ms after a 100 ms request."""
    return Payments(sim, latency=100, response_latency=100, **options)


def kinds(pay):
    return [(e["kind"], e["entity"], e["delta"], e["compensates"]) for e in pay.effects]


def test_a_charge_returns_a_deterministic_id_and_records_the_effect():
    """Charges are ch_1, ch_2 in order; each adds its amount to money:usd."""
    sim = Simulation(seed=1)
    pay = Payments(sim, latency=10)

    async def two(ctx):
        return [await pay.charge("ann", 500), await pay.charge("bob", 200)]

    inst = run_script(sim, in_step("charge", two))

    assert ["ch_1", "ch_2"] == inst.status()["output"]
    assert [("charge", "ch_1", 500, None), ("charge", "ch_2", 200, None)] == kinds(pay)
    assert ["money:usd", "money:usd"] == [e["resource"] for e in pay.effects]
    assert {"money:usd": 700} == pay.snapshot()
    assert {
        "ch_1": {
            "id": "ch_1",
            "key": None,
            "customer": "ann",
            "amount": 500,
            "captured": False,
            "refunded": 0,
        },
        "ch_2": {
            "id": "ch_2",
            "key": None,
            "customer": "bob",
            "amount": 200,
            "captured": False,
            "refunded": 0,
        },
    } == pay.charges


def test_a_retried_charge_with_a_key_charges_once():
    """The lost first answer is retried with the same key: one charge, ch_1."""
    sim = Simulation(seed=1)
    pay = slow_payments(sim)

    async def charge(ctx):
        return await pay.charge("ann", 500, key=f"{ctx.instance_id}:charge")

    inst = run_script(sim, in_step("charge", charge, config=LOST_ANSWER))

    assert "WorkflowTimeoutError" == inst.status()["error"]["name"]
    assert [
        ("charge", "unknown", "", 0.0, 0.15),
        ("charge", "unknown", "", 0.15, 0.3),
    ] == outcomes(pay)
    assert [("charge", "ch_1", 500, None)] == kinds(pay)
    assert {"money:usd": 500} == pay.snapshot()


def test_a_repeated_charge_with_the_key_returns_the_first_charge():
    """The second call with the key hears ch_1 back and charges nothing."""
    sim = Simulation(seed=1)
    pay = Payments(sim, latency=10)

    async def twice(ctx):
        return [
            await pay.charge("ann", 500, key="order-7"),
            await pay.charge("ann", 500, key="order-7"),
        ]

    inst = run_script(sim, in_step("charge", twice))

    assert ["ch_1", "ch_1"] == inst.status()["output"]
    assert [("ok", "order-7", "ch_1", 0.01), ("ok", "order-7", "ch_1", 0.02)] == [
        (row["outcome"], row["key"], row["result"], row["ended"]) for row in pay.history
    ]
    assert [("charge", "ch_1", 500, None)] == kinds(pay)
    assert {"money:usd": 500} == pay.snapshot()


def test_a_retried_charge_without_a_key_charges_twice():
    """No key, no deduplication: both attempts' charges land."""
    sim = Simulation(seed=1)
    pay = slow_payments(sim)

    run_script(
        sim, in_step("charge", lambda ctx: pay.charge("ann", 500), config=LOST_ANSWER)
    )

    assert [("charge", "ch_1", 500, None), ("charge", "ch_2", 500, None)] == kinds(pay)
    assert [0.1, 0.25] == [e["time"] for e in pay.effects]
    assert {"money:usd": 1_000} == pay.snapshot()


def test_reusing_a_key_with_other_arguments_is_refused():
    """The key is bound to its first charge's customer and amount."""
    sim = Simulation(seed=1)
    pay = Payments(sim)

    async def script(event, step):
        await step.do("one", body(lambda ctx: pay.charge("ann", 500, key="k")))
        await step.do("two", body(lambda ctx: pay.charge("ann", 600, key="k")))

    inst = run_script(sim, script)

    assert {
        "name": "IdempotencyConflict",
        "message": "key 'k' was used for a charge of 500 to 'ann', not 600 to 'ann'",
    } == inst.status()["error"]
    assert issubclass(IdempotencyConflict, sagasim.NonRetryableError)
    assert 1 == len(pay.effects)


def test_a_compensation_finds_a_charge_whose_id_it_never_received():
    """The charge lands, its answer is lost; the handler finds it by key and
    refunds it."""
    sim = Simulation(seed=1)
    pay = slow_payments(sim)
    found = []

    async def charge(ctx):
        return await pay.charge("ann", 500, key=f"{ctx.instance_id}:charge")

    async def refund(output, error, ctx):
        charge = await pay.find(f"{ctx.instance_id}:charge")
        found.append((output, charge))
        if charge is not None:
            await pay.refund(charge["id"])

    inst = run_script(
        sim, in_step("charge", charge, config=no_retries(150), rollback=refund)
    )

    assert "errored" == inst.status()["status"]
    assert [
        (
            sagasim.UNDEFINED,
            {
                "id": "ch_1",
                "key": "inst-1:charge",
                "customer": "ann",
                "amount": 500,
                "captured": False,
                "refunded": 0,
            },
        )
    ] == found
    assert [("charge", "ch_1", 500, None), ("refund", "ch_1", -500, 1)] == kinds(pay)
    assert ["charge", "find", "refund"] == [row["op"] for row in pay.history]
    assert {"money:usd": 0} == pay.snapshot()


def test_find_returns_none_for_an_unknown_key_and_applies_nothing():
    """find is a plain lookup: ok, no effect, None when nothing matches."""
    sim = Simulation(seed=1)
    pay = Payments(sim, latency=5)

    inst = run_script(sim, in_step("find", lambda ctx: pay.find("nope")))

    assert None is inst.status()["output"]
    assert [("find", "ok", "", 0.0, 0.005)] == outcomes(pay)
    assert [] == pay.effects


def test_refund_by_key_and_partial_refunds():
    """A refund names the charge by key; amounts default to what is left."""
    sim = Simulation(seed=1)
    pay = Payments(sim, strict=True)

    async def script(event, step):
        await step.do("charge", body(lambda ctx: pay.charge("ann", 500, key="o-1")))
        first = await step.do("part", body(lambda ctx: pay.refund("o-1", 200)))
        rest = await step.do("rest", body(lambda ctx: pay.refund("ch_1")))
        return [first, rest]

    inst = run_script(sim, script)

    assert ["re_1", "re_2"] == inst.status()["output"]
    assert [
        ("charge", "ch_1", 500, None),
        ("refund", "ch_1", -200, 1),
        ("refund", "ch_1", -300, 1),
    ] == kinds(pay)
    assert 500 == pay.charges["ch_1"]["refunded"]
    assert {"money:usd": 0} == pay.snapshot()


def test_strict_refunds_refuse_a_second_refund():
    """strict=True: refunding a refunded charge is AlreadyRefunded, no effect."""
    sim = Simulation(seed=1)
    pay = Payments(sim, strict=True)

    async def script(event, step):
        await step.do("charge", body(lambda ctx: pay.charge("ann", 500)))
        await step.do("refund", body(lambda ctx: pay.refund("ch_1")))
        await step.do("again", body(lambda ctx: pay.refund("ch_1")))

    inst = run_script(sim, script)

    assert {
        "name": "AlreadyRefunded",
        "message": "charge 'ch_1' is already refunded",
    } == inst.status()["error"]
    assert [("charge", "ch_1", 500, None), ("refund", "ch_1", -500, 1)] == kinds(pay)


def test_non_strict_refunds_record_a_double_refund():
    """strict=False: the second refund is applied, refunding the amount again."""
    sim = Simulation(seed=1)
    pay = Payments(sim)

    async def script(event, step):
        await step.do("charge", body(lambda ctx: pay.charge("ann", 500)))
        await step.do("refund", body(lambda ctx: pay.refund("ch_1")))
        return await step.do("again", body(lambda ctx: pay.refund("ch_1")))

    inst = run_script(sim, script)

    assert "re_2" == inst.status()["output"]
    assert [
        ("charge", "ch_1", 500, None),
        ("refund", "ch_1", -500, 1),
        ("refund", "ch_1", -500, 1),
    ] == kinds(pay)
    assert 1_000 == pay.charges["ch_1"]["refunded"]
    assert {"money:usd": -500} == pay.snapshot()


def test_refund_of_an_unknown_charge_strict_or_not():
    """Strict: UnknownCharge. Non-strict: a refund effect with nothing to undo."""
    strict_sim = Simulation(seed=1)
    strict = Payments(strict_sim, strict=True)
    strict_inst = run_script(
        strict_sim, in_step("refund", lambda ctx: strict.refund("ch_9", 300))
    )
    lax_sim = Simulation(seed=1)
    lax = Payments(lax_sim)
    lax_inst = run_script(
        lax_sim, in_step("refund", lambda ctx: lax.refund("ch_9", 300))
    )

    assert {
        "name": "UnknownCharge",
        "message": "payments 'payments' has no charge 'ch_9'",
    } == strict_inst.status()["error"]
    assert [] == strict.effects
    assert "re_1" == lax_inst.status()["output"]
    assert [("refund", "ch_9", -300, None)] == kinds(lax)
    assert {"money:usd": -300} == lax.snapshot()


def test_strict_refund_larger_than_what_is_left_is_refused():
    """A strict partial refund cannot exceed the charge's remainder."""
    sim = Simulation(seed=1)
    pay = Payments(sim, strict=True)

    async def script(event, step):
        await step.do("charge", body(lambda ctx: pay.charge("ann", 500)))
        await step.do("refund", body(lambda ctx: pay.refund("ch_1", 200)))
        await step.do("more", body(lambda ctx: pay.refund("ch_1", 400)))

    inst = run_script(sim, script)

    assert {
        "name": "RefundExceedsCharge",
        "message": "charge 'ch_1' has 300 left to refund, cannot refund 400",
    } == inst.status()["error"]
    assert 2 == len(pay.effects)


def test_capture_settles_once():
    """A capture is an effect of delta 0; capturing again adds nothing."""
    sim = Simulation(seed=1)
    pay = Payments(sim)

    async def script(event, step):
        await step.do("charge", body(lambda ctx: pay.charge("ann", 500, key="o")))
        await step.do("capture", body(lambda ctx: pay.capture("ch_1")))
        return await step.do("again", body(lambda ctx: pay.capture("o")))

    inst = run_script(sim, script)

    assert "ch_1" == inst.status()["output"]
    assert [("charge", "ch_1", 500, None), ("capture", "ch_1", 0, None)] == kinds(pay)
    assert 500 == pay.effects[1]["amount"]
    assert True is pay.charges["ch_1"]["captured"]


@pytest.mark.parametrize(
    ("refund_first", "error", "message"),
    [
        (False, UnknownCharge, "payments 'payments' has no charge 'ch_2'"),
        (True, AlreadyRefunded, "charge 'ch_1' is refunded, it cannot be captured"),
    ],
)
def test_capture_is_refused_for_unknown_or_refunded_charges(
    refund_first, error, message
):
    """Capture needs a charge that is not refunded in full."""
    sim = Simulation(seed=1)
    pay = Payments(sim)

    async def script(event, step):
        await step.do("charge", body(lambda ctx: pay.charge("ann", 500)))
        if refund_first:
            await step.do("refund", body(lambda ctx: pay.refund("ch_1")))
        target = "ch_1" if refund_first else "ch_2"
        await step.do("capture", body(lambda ctx: pay.capture(target)))

    inst = run_script(sim, script)

    assert {"name": error.__name__, "message": message} == inst.status()["error"]
    assert "capture" not in [e["kind"] for e in pay.effects]


def test_each_service_numbers_its_own_charges():
    """Two Payments services both start at ch_1."""
    sim = Simulation(seed=1)
    a, b = Payments(sim, "a"), Payments(sim, "b", currency="eur")

    async def both(ctx):
        return [await a.charge("ann", 1), await b.charge("ann", 1)]

    inst = run_script(sim, in_step("both", both))

    assert ["ch_1", "ch_1"] == inst.status()["output"]
    assert {"money:eur": 1} == b.snapshot()


def test_bad_amounts_are_refused_at_call_time():
    """Amounts are positive integer cents."""
    pay = Payments(Simulation())

    with pytest.raises(ValueError, match="amount must be positive, got 0"):
        pay.charge("ann", 0).send(None)
    with pytest.raises(TypeError, match="integer number of cents, got 2.5"):
        pay.refund("ch_1", 2.5).send(None)
    with pytest.raises(TypeError, match="key must be a non-empty string"):
        pay.charge("ann", 1, key="").send(None)


def test_refusals_are_non_retryable():
    """Every Payments refusal ends the step's retries."""
    for error in (UnknownCharge, AlreadyRefunded, RefundExceedsCharge):
        assert issubclass(error, sagasim.NonRetryableError)


def test_a_refund_repeated_with_its_key_refunds_once():
    """A refund retried after a lost answer, with the same key, refunds once."""
    sim = Simulation(seed=1)
    pay = slow_payments(sim, strict=True)

    async def charge(ctx):
        return await pay.charge("ann", 500, key="order-1")

    async def refund(ctx):
        return await pay.refund("ch_1", key="order-1:refund")

    first = run_script(sim, in_step("charge", charge))
    assert first.status()["output"] == "ch_1"
    inst = run_script(sim, in_step("refund", refund, config=LOST_ANSWER), id="r")

    assert "WorkflowTimeoutError" == inst.status()["error"]["name"]
    assert [
        ("charge", "ch_1", 500, None),
        ("refund", "ch_1", -500, 1),
    ] == kinds(pay)
    assert {"money:usd": 0} == pay.snapshot()


def test_a_refund_without_a_key_applies_again_on_retry():
    """Without a key, the retried refund of a lost answer refunds twice."""
    sim = Simulation(seed=1)
    pay = slow_payments(sim)

    async def charge(ctx):
        return await pay.charge("ann", 500, key="order-1")

    async def refund(ctx):
        return await pay.refund("ch_1", 500)

    run_script(sim, in_step("charge", charge))
    run_script(sim, in_step("refund", refund, config=LOST_ANSWER), id="r")

    assert [
        ("charge", "ch_1", 500, None),
        ("refund", "ch_1", -500, 1),
        ("refund", "ch_1", -500, 1),
    ] == kinds(pay)


def test_a_malformed_request_fails_once_without_retries():
    """An amount that is not an int is refused as non-retryable: one attempt."""
    sim = Simulation(seed=1)
    pay = Payments(sim)

    async def charge(ctx):
        return await pay.charge("ann", "12 dollars")

    inst = run_script(sim, in_step("charge", charge))

    assert inst.status()["error"] == {
        "name": "InvalidArgumentType",
        "message": "amount must be an integer number of cents, got '12 dollars'",
    }
    starts = sim.trace.query("event == 'ATTEMPT_START'")
    assert len(starts) == 1
    assert pay.history == []
