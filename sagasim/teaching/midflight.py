"""Notebook 03: failures in mid-flight, and handlers that see ``UNDEFINED``.

A :class:`Checkout` reserves stock, charges a card, then ships. Three
things go wrong:

- the processor's answer to a charge is lost (a ``lose_output`` fault):
  the charge landed, the step saw an error and retried; when every
  attempt's answer is lost the step fails for good, ``run()`` fails, and
  the charge's handler receives ``UNDEFINED`` although the customer *was*
  charged;
- the processor is down for a while: a checkout whose every charge attempt
  meets the outage was never charged, and its handler receives
  ``UNDEFINED`` with nothing to undo;
- and some orders are refused at shipping, after a charge that answered.

What the handler can do depends on what it knows without the step's
output. The charge is made with an idempotency key built from the instance
id *before* the call, an identifier stored out of band: the handler can
always name the charge. The four :data:`HANDLERS` compared by
:func:`compare_handlers`:

``"output only"``
    refund the charge id in ``output``; with ``UNDEFINED`` do nothing. Leaks
    every charge whose answer was lost.
``"find by key"``
    with ``UNDEFINED``, ask ``payments.find(key)`` and refund what it finds;
    nothing found means nothing to undo.
``"refund by key"``
    refund by key whatever the output says; the processor refuses a refund
    of a charge that never happened (``UnknownCharge``), the handler fails
    for good, and the rollback halts: the reservation before it is never
    released.
``"refund by key, best effort"``
    the same, taking ``UnknownCharge`` (nothing to undo) and
    ``AlreadyRefunded`` (undone already) as done.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

import sagasim
from sagasim.checks import run_checks
from sagasim.faults import Fault
from sagasim.services import (
    AlreadyRefunded,
    Inventory,
    Payments,
    UnknownCharge,
    UnknownHold,
)

__all__ = ["HANDLERS", "Checkout", "checkout_run", "compare_chart", "compare_handlers"]

HANDLERS = ("output only", "find by key", "refund by key", "refund by key, best effort")
PRICE = 2_500
"""What one checkout charges, in cents."""
_RETRIES = {"retries": {"limit": 2, "delay": 500, "backoff": "constant"}}
# A compensation should outlast an outage: its retries reach 31 s.
_HANDLER_RETRIES = {"retries": {"limit": 5, "delay": 1000, "backoff": "exponential"}}


class Checkout(sagasim.Workflow):
    """Reserve one unit, charge ``PRICE``, then ship; the payload names the
    charge's handler (one of :data:`HANDLERS`) and whether shipping is
    refused. The reservation is released by its key."""

    name = "checkout"

    async def run(self, event: dict[str, Any], step: Any) -> str:
        order = event["payload"]
        payments: Payments = self.env["payments"]
        inventory: Inventory = self.env["inventory"]
        hold_key = f"{event['instance_id']}:reserve"
        # The key is known before the call and survives retries and replays:
        # the handler can name the charge even if no answer ever came back.
        key = f"{event['instance_id']}:charge"
        handler = order["handler"]

        async def reserve(ctx: Any) -> str:
            return await inventory.hold("widget", 1, key=hold_key)

        async def release(output: Any, error: Any, ctx: Any) -> None:
            try:
                await inventory.release(hold_key)
            except UnknownHold:
                pass  # nothing was reserved

        async def charge(ctx: Any) -> str:
            return await payments.charge(order["customer"], PRICE, key=key)

        async def refund(output: Any, error: Any, ctx: Any) -> None:
            if handler == "output only":
                if output is not sagasim.UNDEFINED:
                    await payments.refund(output)
            elif handler == "find by key":
                if output is sagasim.UNDEFINED:
                    found = await payments.find(key)
                    output = None if found is None else found["id"]
                if output is not None:
                    await payments.refund(output)
            elif handler == "refund by key":
                await payments.refund(key)
            else:
                try:
                    await payments.refund(key)
                except (UnknownCharge, AlreadyRefunded):
                    pass  # nothing to undo, or undone already

        def ship(ctx: Any) -> str:
            if order["refuse"]:
                raise sagasim.NonRetryableError("no courier for this address")
            return "shipped"

        await step.do("reserve", reserve, config=_RETRIES, rollback=release)
        charged = await step.do(
            "charge",
            charge,
            config=_RETRIES,
            rollback=refund,
            rollback_config=_HANDLER_RETRIES,
        )
        await step.do("ship", ship)
        return charged


def checkout_run(
    handler: str,
    *,
    instances: int = 200,
    lost: float = 0.5,
    outage: tuple[float, float] = (4.0, 6.0),
    refuse_every: int = 5,
    seed: int = 0,
) -> sagasim.Simulation:
    """A finished simulation of ``instances`` checkouts, all with ``handler``.

    Each charge attempt loses its answer with probability ``lost`` (drawn
    from the seed); the processor is down during ``outage`` (seconds); every
    ``refuse_every``-th order is refused at shipping. Orders arrive 50 ms
    apart; the processor is strict and answers in 50 ms (a fixed latency,
    so the handlers' own calls do not change when the checkouts' calls
    land, and every handler meets the same faults).
    """
    if handler not in HANDLERS:
        raise ValueError(f"handler must be one of {HANDLERS}, got {handler!r}")
    faults = [
        Fault("lose_output", step="charge", probability=lost, label="answer lost")
    ]
    sim = sagasim.Simulation(seed=seed, faults=faults)
    sim.bindings["payments"] = Payments(sim, strict=True, latency=50, outages=[outage])
    sim.bindings["inventory"] = Inventory(
        sim, stock={"widget": instances}, latency=20, idempotent_release=True
    )
    for index in range(instances):
        refuse = refuse_every > 0 and index % refuse_every == refuse_every - 1
        sim.create(
            Checkout,
            params={"customer": f"c{index + 1}", "handler": handler, "refuse": refuse},
            at=index * 0.05,
        )
    sim.run()
    return sim


def compare_handlers(**options: Any) -> pd.DataFrame:
    """Run :func:`checkout_run` once per handler (same seed, same faults);
    one row per handler: instances ``errored``; handler runs that saw
    ``UNDEFINED``; ``charged`` (customers charged), ``refunded`` and
    ``kept`` (charged, not refunded, order not complete: money taken for
    nothing); handler runs that ``failed``; ``holds kept`` (reservations of
    orders that did not complete, never released); and the violations the
    checks found, ``leaks`` among them."""
    rows = []
    for handler in HANDLERS:
        sim = checkout_run(handler, **options)
        payments: Payments = sim.bindings["payments"]
        complete = {i.id for i in sim.instances if i.status()["status"] == "complete"}
        charges = payments.charges.values()
        records = [r for i in sim.instances for r in i.rollbacks]
        violations = run_checks(sim)
        holds = sim.bindings["inventory"].holds.values()
        holds_kept = sum(
            1
            for hold in holds
            if not hold["releases"] and hold["key"].split(":")[0] not in complete
        )
        kept = sum(
            1
            for charge in charges
            if charge["refunded"] == 0 and charge["key"].split(":")[0] not in complete
        )
        rows.append(
            {
                "handler": handler,
                "errored": sum(
                    i.status()["status"] == "errored" for i in sim.instances
                ),
                "saw UNDEFINED": sum(r["output_undefined"] for r in records),
                "charged": len(charges),
                "refunded": sum(1 for charge in charges if charge["refunded"]),
                "kept": kept,
                "handler failed": sum(r["status"] != "success" for r in records),
                "holds kept": holds_kept,
                "leaks": int(violations["check"].str.endswith("_leak").sum()),
                "violations": len(violations),
            }
        )
    return pd.DataFrame(rows)


def compare_chart(table: pd.DataFrame) -> Figure:
    """Bars per handler: charges refunded, charges kept for orders that did
    not complete, handler runs that failed, and reservations never released
    (gids ``"refunded"``, ``"kept"``, ``"handler-failed"``,
    ``"holds-kept"``)."""
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.subplots()
    series = (
        ("refunded", "refunded", "#4c9f70"),
        ("kept", "kept without an order (leak)", "#d1495b"),
        ("handler failed", "handler failed for good", "#8c2f39"),
        ("holds kept", "reservation never released", "#edae49"),
    )
    width = 0.2
    for offset, (column, label, color) in enumerate(series):
        xs = [i + (offset - 1.5) * width for i in range(len(table))]
        bars = ax.bar(
            xs,
            table[column],
            width,
            label=label,
            color=color,
            gid=column.replace(" ", "-"),
        )
        ax.bar_label(bars, fontsize="small", padding=2)
    ax.set_xticks(range(len(table)), table["handler"])
    ax.set_ylabel("charges / handler runs")
    ax.set_title("What each rollback handler does with an UNDEFINED charge")
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    ax.grid(axis="y", alpha=0.3)
    return fig
