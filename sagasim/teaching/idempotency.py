"""Notebook 04: retries and crashes against idempotent and other steps.

A step runs *at least once*: a lost answer is retried, and an engine crash
between the effect and the stored output replays the body. A handler runs
at least once too: a crash in the middle of a rollback runs it again on
replay. Whether that is harmless depends on the call, not on the engine.

:func:`matrix` runs one :class:`Purchase` saga (charge, then a shipment
that is always refused, so every purchase is refunded) under each of
:data:`FAULTS`, with the charge and the refund each made with an
idempotency key or without one. It counts what the customers see: second
charges, second refunds, and the money the merchant keeps or gives away
in the end (every purchase rolled back, so the right answer is 0).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

import sagasim
from sagasim.checks import double_effects
from sagasim.faults import Fault
from sagasim.services import Payments

__all__ = ["FAULTS", "Purchase", "matrix", "matrix_chart", "purchase_run"]

PRICE = 1_000
"""What one purchase charges, in cents."""

FAULTS = {
    "answer lost": Fault("lose_output", step="charge", attempt=1),
    "crash before persist": Fault("crash_before_persist", step="charge", attempt=1),
    "handler answer lost": Fault(
        "lose_output", step="charge", phase="rollback", attempt=1
    ),
    "crash mid-handler": Fault(
        "crash_during", step="charge", phase="rollback", attempt=1, after=30
    ),
}
"""One fault per case, on every purchase. The first two hit the charge
(its first attempt is retried, or replayed); the last two hit the refund
handler (its first attempt's answer is lost so it retries, or the engine
crashes after the refund landed at 20 ms and before its answer at 40 ms, so
the handler runs again on replay)."""

_RETRIES = {"retries": {"limit": 3, "delay": 200, "backoff": "constant"}}


class Purchase(sagasim.Workflow):
    """Charge ``PRICE``, then ship; shipping is refused, so the charge is
    refunded. ``step_key`` and ``handler_key`` in the payload say whether
    the charge and the refund carry idempotency keys."""

    name = "purchase"

    async def run(self, event: dict[str, Any], step: Any) -> None:
        payload = event["payload"]
        payments: Payments = self.env["payments"]
        instance = event["instance_id"]
        charge_key = f"{instance}:charge" if payload["step_key"] else None
        refund_key = f"{instance}:refund" if payload["handler_key"] else None

        async def charge(ctx: Any) -> str:
            return await payments.charge(payload["customer"], PRICE, key=charge_key)

        async def refund(output: Any, error: Any, ctx: Any) -> None:
            target = charge_key if output is sagasim.UNDEFINED else output
            if target is not None:
                await payments.refund(target, key=refund_key)

        def ship(ctx: Any) -> None:
            raise sagasim.NonRetryableError("parcel refused")

        await step.do(
            "charge", charge, config=_RETRIES, rollback=refund, rollback_config=_RETRIES
        )
        await step.do("ship", ship)


def purchase_run(
    fault: str, step_key: bool, handler_key: bool, *, instances: int = 20, seed=0
) -> sagasim.Simulation:
    """A finished simulation of ``instances`` purchases under ``fault`` (a
    key of :data:`FAULTS`). The processor answers in 20 + 20 ms and applies
    what it is asked (not strict), so a second refund is paid out."""
    sim = sagasim.Simulation(seed=seed, faults=[FAULTS[fault]])
    sim.bindings["payments"] = Payments(sim, latency=20, response_latency=20)
    for index in range(instances):
        sim.create(
            Purchase,
            params={
                "customer": f"c{index + 1}",
                "step_key": step_key,
                "handler_key": handler_key,
            },
            at=index * 0.1,
        )
    sim.run()
    return sim


def matrix(instances: int = 20, seed: int = 0) -> pd.DataFrame:
    """One row per fault and key setting: ``charges`` and ``refunds``
    applied (``instances`` of each is right), the ``double_effects``
    violations, and ``kept``: cents the merchant holds at the end (positive:
    customers charged for nothing; negative: refunds of money never
    taken)."""
    rows = []
    for fault in FAULTS:
        for step_key in (False, True):
            for handler_key in (False, True):
                sim = purchase_run(
                    fault, step_key, handler_key, instances=instances, seed=seed
                )
                payments: Payments = sim.bindings["payments"]
                kinds = pd.Series([e["kind"] for e in payments.effects])
                rows.append(
                    {
                        "fault": fault,
                        "charge key": step_key,
                        "refund key": handler_key,
                        "charges": int((kinds == "charge").sum()),
                        "refunds": int((kinds == "refund").sum()),
                        "double_effects": len(
                            double_effects(payments.effects, payments.history)
                        ),
                        "kept": payments.snapshot()["money:usd"],
                    }
                )
    return pd.DataFrame(rows)


def matrix_chart(table: pd.DataFrame) -> Figure:
    """A grid of the money kept, one row per fault and one column per key
    setting, green where it is 0 and red where it is not (gid ``"cell"``
    on each cell's text)."""
    faults = list(dict.fromkeys(table["fault"]))
    settings = [(False, False), (True, False), (False, True), (True, True)]
    labels = [
        f"charge {'key' if s else 'no key'}\nrefund {'key' if h else 'no key'}"
        for s, h in settings
    ]
    fig = Figure(figsize=(9, 0.9 + 0.7 * len(faults)), layout="constrained")
    ax = fig.subplots()
    for y, fault in enumerate(faults):
        for x, (step_key, handler_key) in enumerate(settings):
            row = table[
                (table["fault"] == fault)
                & (table["charge key"] == step_key)
                & (table["refund key"] == handler_key)
            ].iloc[0]
            kept = int(row["kept"])
            color = "#d5f5e3" if kept == 0 else "#f5b7b1"
            ax.add_patch(
                _cell(x, y, color),
            )
            ax.text(
                x,
                y,
                f"{kept / 100:+.2f} $\n{int(row['double_effects'])} doubles",
                ha="center",
                va="center",
                fontsize="small",
                gid="cell",
            )
    ax.set_xlim(-0.5, len(settings) - 0.5)
    ax.set_ylim(len(faults) - 0.5, -0.5)
    ax.set_xticks(range(len(settings)), labels, fontsize="small")
    ax.set_yticks(range(len(faults)), faults)
    ax.xaxis.tick_top()
    ax.set_title("Money the merchant keeps after every purchase was rolled back")
    return fig


def _cell(x: int, y: int, color: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.48, y - 0.45), 0.96, 0.9, color=color, lw=0)
