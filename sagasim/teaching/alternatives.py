"""Notebook 07: when not to roll back.

A rollback is for a saga that *cannot* go on. Three cases where something
else is better, each against the saga that rolls back:

- **Continuation** (:func:`continuation`): the failure is transient (the
  receiving bank is down for a few seconds). Retrying long enough to
  outlast it finishes every transfer; giving up early rolls transfers back
  that would have gone through a moment later.
- **A local transaction** (:func:`local_transaction`): both accounts are at
  one bank, which can move money between them atomically.
  :class:`LedgerBank` (a :class:`~sagasim.services.Bank` with a
  ``transfer`` operation, a model of this package) applies the debit and
  the credit at one instant; the two-step saga leaves money in flight
  between them, visible to anyone who reads the balances, and must
  compensate when the credit is refused.
- **Correction events** (:func:`corrections`): a mail cannot be unsent.
  Sending the confirmation early makes the rollback a correction mail (the
  customer gets two); sending it last, after everything that can fail,
  needs no compensation at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

import sagasim
from sagasim.checks import irreversible
from sagasim.plots.overview import instances_over_time
from sagasim.services import Bank, Mailer, Payments
from sagasim.services.base import Call
from sagasim.widgets import explore

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = [
    "LedgerBank",
    "continuation",
    "continuation_chart",
    "corrections",
    "corrections_chart",
    "local_transaction",
    "local_transaction_chart",
]


# -- continuation --------------------------------------------------------------------


def continuation(
    instances: int = 120, limits: Iterable[int] = (2, 8), seed: int = 7
) -> tuple[pd.DataFrame, dict[int, Any]]:
    """The built-in ``"transfer"`` saga of the explorer (south is down from
    4 s to 9 s) with each retry limit in ``limits`` (1 s, exponential).

    Returns:
        A table, one row per limit: ``complete``, ``errored`` (rolled
        back), ``refunds`` (debit handlers that gave money back) and the
        simulated second the last transfer ended; and each run's
        :class:`~sagasim.widgets.Exploration` by limit, for the chart.
    """
    rows, runs = [], {}
    for limit in limits:
        result = explore(
            "transfer",
            instances=instances,
            seed=seed,
            retry_limit=limit,
            delay_ms=1000,
            backoff="exponential",
        )
        runs[limit] = result
        refunds = sum(
            1 for effect in result.run.services["north"].effects if effect["rollback"]
        )
        rows.append(
            {
                "retry limit": limit,
                "complete": result.statuses.get("complete", 0),
                "rolled back": result.statuses.get("errored", 0),
                "refunds": refunds,
                "last end (s)": result.sim_time,
                "violations": len(result.violations),
            }
        )
    return pd.DataFrame(rows), runs


def continuation_chart(runs: Mapping[int, Any]) -> Figure:
    """Completed and rolled-back transfers over time, one line each per
    retry limit (gids ``"complete"`` and ``"errored"``); the outage of the
    south bank shaded."""
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.axvspan(4, 9, color="#f5b7b1", alpha=0.6, lw=0, label="south is down")
    for limit, result in runs.items():
        table = instances_over_time(result.sim)
        line = ax.step(
            table["time"], table["complete"], where="post", gid="complete",
            label=f"limit {limit}: complete",
        )  # fmt: skip
        ax.step(
            table["time"], table["errored"], where="post", gid="errored",
            color=line[0].get_color(), linestyle="--",
            label=f"limit {limit}: rolled back",
        )  # fmt: skip
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("transfers")
    ax.set_title("Retry through the outage, or roll back")
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    ax.grid(alpha=0.3)
    return fig


# -- a local transaction ------------------------------------------------------------


class LedgerBank(Bank):
    """A :class:`~sagasim.services.Bank` that can also move money between
    two of its own accounts in one request, atomically.

    This is a model of the teaching package, not one of the lab's
    services: its :meth:`transfer` applies a ``"debit"`` and a ``"credit"``
    effect at the same instant, or neither.
    """

    async def transfer(
        self, source: str, destination: str, amount: int, *, key: str | None = None
    ) -> dict[str, Any]:
        """Move ``amount`` cents from ``source`` to ``destination`` at once.

        Refused, with nothing applied, for an unknown account
        (:class:`~sagasim.services.UnknownAccount`) or too small a balance
        (:class:`~sagasim.services.InsufficientFunds`).
        """

        def apply(call: Call) -> dict[str, Any]:
            self._check_account(destination)
            receipt = self._move(call, "debit", source, amount)
            self._move(call, "credit", destination, amount)
            return receipt

        return await self._request(
            "transfer",
            {"from": source, "to": destination, "amount": amount},
            apply,
            key=key,
        )


class TwoStepTransfer(sagasim.Workflow):
    """Debit then credit at one bank, as a saga: the credit's failure rolls
    the debit back."""

    name = "two-step"

    async def run(self, event: dict[str, Any], step: Any) -> str:
        bank: LedgerBank = self.env["bank"]
        order = event["payload"]

        async def debit(ctx: Any) -> Any:
            return await bank.debit("alice", order["amount"])

        async def refund(output: Any, error: Any, ctx: Any) -> None:
            if output is not sagasim.UNDEFINED:
                await bank.credit("alice", order["amount"])

        async def credit(ctx: Any) -> Any:
            return await bank.credit(order["to"], order["amount"])

        await step.do("debit", debit, rollback=refund)
        await step.do("credit", credit)
        return "moved"


class LocalTransfer(sagasim.Workflow):
    """One step, one atomic request: nothing to roll back."""

    name = "local"

    async def run(self, event: dict[str, Any], step: Any) -> str:
        bank: LedgerBank = self.env["bank"]
        order = event["payload"]

        async def move(ctx: Any) -> Any:
            return await bank.transfer("alice", order["to"], order["amount"])

        await step.do("transfer", move)
        return "moved"


def _ledger_run(workflow: type, instances: int, seed: int) -> Simulation:
    sim = sagasim.Simulation(seed=seed)
    bank = LedgerBank(sim, "bank", {"alice": 10_000_000, "bob": 0}, latency=(20, 200))
    sim.bindings["bank"] = bank
    for index in range(instances):
        # Every fifth transfer names an account the bank does not have.
        to = "carol" if index % 5 == 4 else "bob"
        sim.create(workflow, params={"amount": 1_000, "to": to}, at=index * 0.05)
    sim.run()
    return sim


def local_transaction(
    instances: int = 100, seed: int = 0
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``instances`` transfers from alice, 50 ms apart, four in five to bob
    and one in five to an account that does not exist, once as the two-step
    saga and once as one local transaction.

    Returns:
        A table, one row per way: ``complete``, ``rolled back``, the
        ``effects`` applied, the most money ever in flight (debited and not
        yet credited or refunded, in cents), and how long (simulated
        seconds) some money was in flight; and the bank's total over time
        for each way, for the chart.
    """
    rows, totals = [], {}
    for label, workflow in (("saga", TwoStepTransfer), ("local", LocalTransfer)):
        sim = _ledger_run(workflow, instances, seed)
        bank = sim.bindings["bank"]
        curve = _total_over_time(bank)
        totals[label] = curve
        missing = curve["opening"] - curve["total"]
        widths = curve["time"].diff().shift(-1).fillna(0)
        statuses = pd.Series([i.status()["status"] for i in sim.instances])
        rows.append(
            {
                "way": label,
                "complete": int((statuses == "complete").sum()),
                "rolled back": sum(bool(i.rollbacks) for i in sim.instances),
                "refused": int((statuses == "errored").sum()),
                "effects": len(bank.effects),
                "most in flight (cents)": int(missing.max()),
                "seconds with money in flight": round(
                    float(widths[missing > 0].sum()), 3
                ),
            }
        )
    return pd.DataFrame(rows), totals


def _total_over_time(bank: Bank) -> pd.DataFrame:
    opening = 10_000_000
    total = opening
    rows = [(0.0, total)]
    for effect in bank.effects:
        total += effect["delta"]
        if rows[-1][0] == effect["time"]:
            rows[-1] = (effect["time"], total)
        else:
            rows.append((effect["time"], total))
    frame = pd.DataFrame(rows, columns=["time", "total"])
    frame["opening"] = opening
    return frame


def local_transaction_chart(totals: Mapping[str, pd.DataFrame]) -> Figure:
    """The money the bank's customers hold over time, per way (gid
    ``"total"``): flat for the local transaction, dipping while the saga
    has money in flight."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.subplots()
    for label, curve in totals.items():
        ax.step(
            curve["time"], (curve["total"] - curve["opening"]) / 100, where="post",
            label=label, gid="total",
        )  # fmt: skip
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("total - opening ($)")
    ax.set_title("What a reader of the balances sees: money in flight")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return fig


# -- correction events -------------------------------------------------------------


class MailedOrder(sagasim.Workflow):
    """Charge, ship, and mail a confirmation: early (right after the
    charge, compensated by a correction) or last (after shipping, with
    nothing to compensate). Shipping is refused when the payload says so."""

    name = "mailed-order"

    async def run(self, event: dict[str, Any], step: Any) -> str:
        order = event["payload"]
        payments: Payments = self.env["payments"]
        mailer: Mailer = self.env["mailer"]
        instance = event["instance_id"]

        async def charge(ctx: Any) -> str:
            return await payments.charge(instance, 3_000, key=f"{instance}:charge")

        async def refund(output: Any, error: Any, ctx: Any) -> None:
            await payments.refund(f"{instance}:charge")

        async def confirm(ctx: Any) -> str:
            return await mailer.send(
                f"{instance}@example.com", "Your order is confirmed",
                key=f"{instance}:confirm",
            )  # fmt: skip

        async def correct(output: Any, error: Any, ctx: Any) -> None:
            await mailer.correct(
                f"{instance}:confirm", "Sorry: we could not ship your order."
            )

        def ship(ctx: Any) -> str:
            if order["refuse"]:
                raise sagasim.NonRetryableError("no courier")
            return "shipped"

        await step.do("charge", charge, rollback=refund)
        if order["mail"] == "early":
            await step.do("confirm", confirm, rollback=correct)
            await step.do("ship", ship)
        else:
            await step.do("ship", ship)
            await step.do("confirm", confirm)
        return "done"


def corrections(instances: int = 100, seed: int = 0) -> pd.DataFrame:
    """``instances`` orders, one in four refused at shipping, with the
    confirmation mailed early and mailed last. One row per way: orders
    ``complete`` and ``rolled back``, ``mails`` and ``corrections`` sent,
    customers told "confirmed" about an order that failed, and the
    :func:`~sagasim.checks.irreversible` violations."""
    rows = []
    for mail in ("early", "last"):
        sim = sagasim.Simulation(seed=seed)
        mailer = Mailer(sim, latency=40)
        sim.bindings.update(payments=Payments(sim, latency=(20, 60)), mailer=mailer)
        for index in range(instances):
            sim.create(
                MailedOrder,
                params={"mail": mail, "refuse": index % 4 == 3},
                at=index * 0.05,
            )
        sim.run()
        failed = {i.id for i in sim.instances if i.status()["status"] == "errored"}
        messages = mailer.messages.values()
        kinds = [effect["kind"] for effect in mailer.effects]
        rows.append(
            {
                "mail": mail,
                "complete": len(sim.instances) - len(failed),
                "rolled back": len(failed),
                "mails": kinds.count("send"),
                "corrections": kinds.count("correction"),
                "told 'confirmed' wrongly": sum(
                    1
                    for m in messages
                    if m["corrects"] is None and m["to"].split("@")[0] in failed
                ),
                "irreversible": len(irreversible(sim.trace, mailer.effects)),
            }
        )
    return pd.DataFrame(rows)


def corrections_chart(table: pd.DataFrame) -> Figure:
    """Mails, corrections and wrong confirmations per way (gids ``"mails"``,
    ``"corrections"``, ``"wrong"``)."""
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    series = (
        ("mails", "mails sent", "#2e86c1"),
        ("corrections", "corrections sent", "#edae49"),
        ("told 'confirmed' wrongly", "told 'confirmed' wrongly", "#d1495b"),
    )
    width = 0.26
    for offset, (column, label, color) in enumerate(series):
        xs = [i + (offset - 1) * width for i in range(len(table))]
        gid = {"mails": "mails", "corrections": "corrections"}.get(column, "wrong")
        bars = ax.bar(xs, table[column], width, label=label, color=color, gid=gid)
        ax.bar_label(bars, fontsize="small", padding=2)
    ax.set_xticks(range(len(table)), [f"mail {m}" for m in table["mail"]])
    ax.set_ylabel("messages")
    ax.set_title("A mail cannot be unsent: compensate with a correction, or wait")
    ax.legend(frameon=False, fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    ax.grid(axis="y", alpha=0.3)
    return fig
