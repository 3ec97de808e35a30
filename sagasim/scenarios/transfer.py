"""The built-in bank-transfer saga.

A transfer moves ``amount`` cents between two accounts, possibly at two
banks, in two steps:

1. ``"debit"`` takes the money from the source account. Its rollback
   handler gives the money back with a credit to the same account.
2. ``"credit"`` pays the money into the destination account. Its rollback
   handler takes the money back out, if the credit had an output.

When the credit fails for good (the destination bank is down for longer
than the retries last), ``run()`` fails terminally and the engine runs the
handlers in reverse start order: first the credit's, which sees
``UNDEFINED`` and does nothing, then the debit's, which refunds the source.
The books balance again once the refund lands.

Each request carries a key ``"<instance>:<step>"`` (``":refund"`` or
``":reverse"`` appended for a handler), which the bank records in its
history and effects; the bank does not deduplicate on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sagasim

if TYPE_CHECKING:
    from sagasim.services.bank import Bank

__all__ = ["Transfer", "transfer_params"]


class Transfer(sagasim.Workflow):
    """Debit one account, then credit another; compensate on failure.

    The event payload is ``{"amount": cents, "from": {"bank", "account"},
    "to": {"bank", "account"}, "config": step config or None}``; see
    :func:`transfer_params`. Banks are looked up by name in ``self.env``,
    the simulation's bindings, so each :class:`~sagasim.services.Bank` must
    be bound under its name: ``sim.bindings[bank.name] = bank``.

    The output is ``{"debit": receipt, "credit": receipt}`` with the bank
    receipts of the two steps.
    """

    name = "transfer"

    async def run(self, event: dict[str, Any], step: Any) -> dict[str, Any]:
        payload = event["payload"]
        amount = payload["amount"]
        config = payload.get("config")
        source = payload["from"]
        destination = payload["to"]
        source_bank: Bank = self.env[source["bank"]]
        destination_bank: Bank = self.env[destination["bank"]]

        async def debit(ctx: Any) -> dict[str, Any]:
            return await source_bank.debit(
                source["account"],
                amount,
                key=f"{ctx.instance_id}:debit",
            )

        async def refund_debit(output: Any, error: Any, ctx: Any) -> None:
            # NOTE: a debit that failed is taken to have moved no money. That
            # holds while the bank answers at the instant it applies (no
            # response latency), so a request that lands always returns;
            # with a response latency or faults that lose a step's output
            # after the effect landed, the handler would need to look the
            # debit up by its key instead.
            if output is sagasim.UNDEFINED:
                return
            await source_bank.credit(
                source["account"],
                amount,
                key=f"{ctx.instance_id}:debit:refund",
            )

        async def credit(ctx: Any) -> dict[str, Any]:
            return await destination_bank.credit(
                destination["account"],
                amount,
                key=f"{ctx.instance_id}:credit",
            )

        async def reverse_credit(output: Any, error: Any, ctx: Any) -> None:
            if output is sagasim.UNDEFINED:
                return
            await destination_bank.debit(
                destination["account"],
                amount,
                key=f"{ctx.instance_id}:credit:reverse",
            )

        debit_receipt = await step.do(
            "debit", debit, config=config, rollback=refund_debit
        )
        credit_receipt = await step.do(
            "credit", credit, config=config, rollback=reverse_credit
        )
        return {"debit": debit_receipt, "credit": credit_receipt}


def transfer_params(
    amount: int,
    source: tuple[str, str],
    destination: tuple[str, str],
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``params`` for one :class:`Transfer` instance.

    ``source`` and ``destination`` are ``(bank, account)`` pairs; ``config``
    is the step config for both steps, or ``None`` for the engine defaults.
    """
    return {
        "amount": amount,
        "from": {"bank": source[0], "account": source[1]},
        "to": {"bank": destination[0], "account": destination[1]},
        "config": config,
    }
