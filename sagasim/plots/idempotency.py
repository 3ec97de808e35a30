"""Idempotency: what lost replies do to a saga with keys and without.

A step whose reply is lost after its effect landed is retried; a rollback
handler whose reply is lost runs again. With idempotency keys (and undo
operations that are safe to repeat) the service applies each request once
and a handler can find what to undo even when its step's output was lost.
Without them the ledger shows repeated effects, effects nobody undid, and
totals that drift away from what the sagas' outcomes say they should be.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

import sagasim
from sagasim.checks import double_effects, leaks
from sagasim.faults import Fault
from sagasim.plots._style import COLORS, new_figure
from sagasim.services import (
    AlreadyRefunded,
    Inventory,
    Payments,
    UnknownCharge,
    UnknownHold,
)

__all__ = [
    "IDEMPOTENCY_COLUMNS",
    "Order",
    "idempotency_chart",
    "idempotency_runs",
    "order_run",
]

IDEMPOTENCY_COLUMNS = (
    "failure_rate",
    "idempotent",
    "seed",
    "instances",
    "complete",
    "errored",
    "double_effects",
    "leaks",
    "drift",
    "money_drift",
    "stock_drift",
)
"""The columns of :func:`idempotency_runs`."""

PRICE = 1_000
"""What one order charges, in cents."""
QTY = 1
"""How many units one order holds."""
SKU = "widget"
_RETRIES = {"retries": {"limit": 3, "delay": 100, "backoff": "constant"}}


class Order(sagasim.Workflow):
    """Charge a customer, hold stock, ship; undo the first two on failure.

    Steps: ``"charge"`` (Payments ``charge``; undone by a refund),
    ``"hold"`` (Inventory ``hold``; undone by a release) and ``"ship"``,
    which fails with a :class:`~sagasim.NonRetryableError` when the payload
    says ``"fail"``. Services are bound as ``"payments"`` and
    ``"inventory"``. Each step and handler retries 3 times, 100 ms apart.

    With ``"idempotent"`` in the payload, requests carry keys built from the
    instance id, handlers undo by key (so they work when their step's
    output was lost) and treat "already undone" or "never happened" as
    done. Without it, requests carry no key and a handler can undo only
    what its step's output names.
    """

    name = "order"

    async def run(self, event: dict[str, Any], step: Any) -> dict[str, str]:
        order = event["payload"]
        keyed = bool(order.get("idempotent"))
        payments: Payments = self.env["payments"]
        inventory: Inventory = self.env["inventory"]
        charge_key = f"{event['instance_id']}:charge" if keyed else None
        hold_key = f"{event['instance_id']}:hold" if keyed else None

        async def charge(ctx: Any) -> str:
            return await payments.charge(order["customer"], PRICE, key=charge_key)

        async def refund(output: Any, error: Any, ctx: Any) -> None:
            if keyed:
                try:
                    await payments.refund(charge_key)
                except (AlreadyRefunded, UnknownCharge):
                    pass
            elif output is not sagasim.UNDEFINED:
                await payments.refund(output)

        async def hold(ctx: Any) -> str:
            return await inventory.hold(SKU, QTY, key=hold_key)

        async def release(output: Any, error: Any, ctx: Any) -> None:
            if keyed:
                try:
                    await inventory.release(hold_key)
                except UnknownHold:
                    pass
            elif output is not sagasim.UNDEFINED:
                await inventory.release(output)

        def ship(ctx: Any) -> str:
            if order.get("fail"):
                raise sagasim.NonRetryableError("no courier for this address")
            return "shipped"

        charged = await step.do(
            "charge",
            charge,
            config=_RETRIES,
            rollback=refund,
            rollback_config=_RETRIES,
        )
        held = await step.do(
            "hold",
            hold,
            config=_RETRIES,
            rollback=release,
            rollback_config=_RETRIES,
        )
        shipped = await step.do("ship", ship, config=_RETRIES)
        return {"charge": charged, "hold": held, "ship": shipped}


def order_run(
    failure_rate: float,
    idempotent: bool,
    *,
    instances: int = 30,
    fail_every: int = 3,
    seed: int = 0,
) -> sagasim.Simulation:
    """One finished simulation of ``instances`` :class:`Order` sagas.

    Every ``fail_every``-th order fails at ``"ship"`` and rolls back. Three
    ``lose_output`` faults, each firing with probability ``failure_rate``,
    lose the reply of a ``"charge"`` attempt, a ``"hold"`` attempt, and a
    rollback handler attempt. Without ``idempotent``, Payments refunds and
    Inventory releases whatever they are asked to, again and again; with
    it, Payments refuses a second refund (which the handler takes as done)
    and Inventory ignores a second release. Orders arrive 50 ms apart.
    """
    faults = [
        Fault("lose_output", step="charge", probability=failure_rate),
        Fault("lose_output", step="hold", probability=failure_rate),
        Fault("lose_output", step="*", phase="rollback", probability=failure_rate),
    ]
    sim = sagasim.Simulation(seed=seed, faults=faults)
    sim.bindings["payments"] = Payments(
        sim, strict=idempotent, latency=(10, 30), response_latency=5
    )
    sim.bindings["inventory"] = Inventory(
        sim,
        stock={SKU: 1_000_000},
        idempotent_release=idempotent,
        latency=(5, 15),
        response_latency=5,
    )
    for index in range(instances):
        sim.create(
            Order,
            params={
                "customer": f"customer-{index + 1}",
                "idempotent": idempotent,
                "fail": fail_every > 0 and index % fail_every == fail_every - 1,
            },
            at=index * 0.05,
        )
    sim.run()
    return sim


def idempotency_runs(
    failure_rates: Iterable[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    *,
    idempotent: Iterable[bool] = (False, True),
    seeds: Iterable[int] = (0,),
    instances: int = 30,
    fail_every: int = 3,
) -> pd.DataFrame:
    """Run :func:`order_run` for every failure rate, key setting and seed.

    Returns:
        One row per run, with :data:`IDEMPOTENCY_COLUMNS`: how many orders
        ended ``complete`` or ``errored``; ``double_effects`` and ``leaks``,
        the number of violations :func:`sagasim.checks.double_effects` and
        :func:`sagasim.checks.leaks` report; ``money_drift`` (cents) and
        ``stock_drift`` (units), how far the merchant's takings and the
        stock are from what the completed orders account for; and
        ``drift``, the two together in orders' worth
        (``|money_drift| / PRICE + |stock_drift| / QTY``).
    """
    rows = []
    for seed in seeds:
        for keyed in idempotent:
            for rate in failure_rates:
                sim = order_run(
                    rate,
                    keyed,
                    instances=instances,
                    fail_every=fail_every,
                    seed=seed,
                )
                rows.append(_measure(sim, rate, keyed, seed, instances))
    return pd.DataFrame(rows, columns=list(IDEMPOTENCY_COLUMNS))


def _measure(sim: Any, rate: float, keyed: bool, seed: int, instances: int) -> dict:
    payments = sim.bindings["payments"]
    inventory = sim.bindings["inventory"]
    history = payments.history + inventory.history
    effects = payments.effects + inventory.effects
    trace = sim.trace
    statuses = [inst.status()["status"] for inst in sim.instances]
    complete = statuses.count("complete")
    money_drift = payments.snapshot()["money:usd"] - complete * PRICE
    stock_drift = inventory.available(SKU) - (1_000_000 - complete * QTY)
    return {
        "failure_rate": float(rate),
        "idempotent": bool(keyed),
        "seed": seed,
        "instances": instances,
        "complete": complete,
        "errored": statuses.count("errored"),
        "double_effects": len(double_effects(effects, history)),
        "leaks": len(leaks(trace, effects)),
        "drift": abs(money_drift) / PRICE + abs(stock_drift) / QTY,
        "money_drift": money_drift,
        "stock_drift": stock_drift,
    }


_PANELS = (
    ("double_effects", "double effects", "violations"),
    ("leaks", "leaked effects", "violations"),
    ("drift", "ledger drift", "orders' worth"),
)


def idempotency_chart(table: pd.DataFrame | None = None, **params: Any) -> Figure:
    """Plot double effects, leaks and drift against the failure rate.

    One panel each, one line for runs with idempotency keys (gid
    ``"idempotent"``, green) and one for runs without (gid
    ``"non-idempotent"``, red), through the mean over the runs at each rate;
    with several runs per rate each run is also a faint dot (gid ``"run"``).

    Args:
        table: one row per run with at least ``failure_rate``,
            ``idempotent``, ``double_effects``, ``leaks`` and ``drift``, as
            :func:`idempotency_runs` returns; computed with ``params`` when
            ``None``.
    """
    if table is None:
        table = idempotency_runs(**params)
    fig = new_figure(12.0, 3.8)
    axes = fig.subplots(1, len(_PANELS), sharex=True)
    for ax, (column, title, unit) in zip(axes, _PANELS, strict=True):
        for keyed, label, gid, color in (
            (False, "no idempotency keys", "non-idempotent", COLORS["failure"]),
            (True, "idempotency keys", "idempotent", COLORS["success"]),
        ):
            runs = table[table["idempotent"] == keyed]
            if runs.empty:
                continue
            means = runs.groupby("failure_rate", sort=True)[column].mean()
            ax.plot(
                means.index, means.values, marker="o", color=color, label=label, gid=gid
            )
            if runs.duplicated("failure_rate").any():
                ax.plot(
                    runs["failure_rate"],
                    runs[column],
                    marker=".",
                    linestyle="none",
                    color=color,
                    alpha=0.35,
                    gid="run",
                )
        ax.set_title(title)
        ax.set_xlabel("lost-reply rate per attempt")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=min(0, ax.get_ylim()[0]))
    axes[0].legend(fontsize="small")
    n = int(table["instances"].max()) if "instances" in table and len(table) else 0
    suffix = f", {n} orders per run" if n else ""
    fig.suptitle(f"Lost replies with and without idempotency{suffix}")
    return fig
