"""The checks on the ledgers of the real simulated services."""

import sagasim
from sagasim.checks import run_checks, snapshot
from sagasim.services import Bank, Inventory, Mailer, Payments

from .conftest import NO_RETRIES, found


def banks(resource):
    """Banks name their money per bank; a transfer conserves the sum."""
    return "banks" if resource in ("money:A", "money:B") else resource


class Checkout(sagasim.Workflow):
    """Move the price between banks, hold stock, charge a fee, mail a
    receipt, then fail at the fraud check; undo everything undoable."""

    async def run(self, event, step):
        env = self.env
        careless = event["payload"]["careless"]
        retry = {"retries": {"limit": 2, "delay": 10}, "timeout": "50 ms"}

        async def debit(ctx):
            return await env["A"].debit("alice", 500, key=f"{ctx.instance_id}:a")

        async def credit_back(output, error, ctx):
            await env["A"].credit("alice", 500)

        async def credit(ctx):
            return await env["B"].credit("shop", 500)

        async def debit_back(output, error, ctx):
            await env["B"].debit("shop", 500)

        async def hold(ctx):
            return await env["STOCK"].hold("mug", 1)

        async def release(output, error, ctx):
            await env["STOCK"].release(output)

        async def charge(ctx):
            key = None if careless else f"{ctx.instance_id}:fee"
            charged = await env["PAY"].charge("alice", 30, key=key)
            if ctx.attempt == 1:
                # The charge landed, but the answer is late: the attempt
                # times out and the step tries again.
                await sagasim.sleep(100)
            return charged

        async def refund(output, error, ctx):
            await env["PAY"].refund(output or f"{ctx.instance_id}:fee")

        async def receipt(ctx):
            return await env["MAIL"].send("alice", "your mug")

        async def correct(output, error, ctx):
            await env["MAIL"].correct(output, "sorry, no mug")

        await step.do("debit", debit, rollback=credit_back)
        await step.do("credit", credit, rollback=debit_back)
        await step.do("hold", hold, rollback=None if careless else release)
        await step.do("fee", charge, config=retry, rollback=refund)
        if careless:
            await step.do("receipt", receipt, rollback=correct)

        async def fraud_check():
            raise sagasim.NonRetryableError("flagged")

        await step.do("fraud", fraud_check, config=NO_RETRIES)


def checkout(careless):
    sim = sagasim.Simulation(seed=3)
    sim.bindings.update(
        A=Bank(sim, "A", {"alice": 1000}, latency=5),
        B=Bank(sim, "B", {"shop": 0}, latency=5),
        STOCK=Inventory(sim, "STOCK", {"mug": 3}, latency=5),
        PAY=Payments(sim, "PAY", latency=10),
        MAIL=Mailer(sim, "MAIL", latency=5),
    )
    opening = {
        resource: total
        for resource, total in snapshot(sim).items()
        if resource in ("money:A", "money:B")
    }
    inst = sim.create(Checkout, params={"careless": careless})
    sim.run()
    return sim, inst, opening


def test_a_careful_checkout_that_rolls_back_is_clean():
    """Keyed charges, every step undone, nothing sent: no violation, though
    the fee timed out and was retried."""
    sim, inst, opening = checkout(careless=False)

    assert inst.status()["rollback"]["status"] == "complete"
    assert found(run_checks(sim, opening=opening, pool=banks)) == []


def test_a_careless_checkout_shows_each_kind_of_damage():
    """An unkeyed retried charge, a hold without handler and a receipt that
    cannot be unsent, each reported from the real ledgers."""
    sim, inst, opening = checkout(careless=True)
    pay = sim.bindings["PAY"]
    charges = [e["effect_id"] for e in pay.effects if e["kind"] == "charge"]

    result = run_checks(sim, opening=opening, pool=banks)

    assert charges == [1, 2]
    assert found(result) == [
        ("double_effect", "inst-1", "PAY:ch_2", (1, 2)),
        ("hold_leak", "inst-1", "STOCK:hold_1", (1,)),
        ("charge_leak", "inst-1", "PAY:ch_1", (1,)),
        ("irreversible", "inst-1", "MAIL:msg_1", (1, 2)),
    ]
