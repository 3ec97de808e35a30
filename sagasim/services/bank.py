"""A simulated bank: balances in integer cents, debits and credits.

The bank is the external system a transfer saga moves money through. It
follows the request model of :class:`~sagasim.services.Service` (latency,
capacity, outages, an error rate, the history and the effects ledger), and
applies each debit or credit atomically at the instant it arrives.

The bank does **not** deduplicate. A ``key`` is recorded in the history and
on the effect, nothing more: a debit sent twice is applied twice, whether
the second one is a retry after a timeout, a replay after a crash, or a
rollback handler that runs again. That is on purpose; the lab exists to
show what non-idempotent retries and compensations do, and the effects
ledger shows two effects with one key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sagasim
from sagasim.services._validate import check_count, check_key
from sagasim.services.base import Call, Service

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = ["Bank", "InsufficientFunds", "UnknownAccount"]


class InsufficientFunds(sagasim.NonRetryableError):
    """A debit asked for more than the account holds.

    Non-retryable: the step fails after the current attempt and the error
    reaches ``run()`` with this class, name and message. Nothing is applied.
    """


class UnknownAccount(sagasim.NonRetryableError):
    """A request named an account the bank does not have. Non-retryable."""


class Bank(Service):
    """A simulated bank holding integer-cent balances.

    Args:
        sim: the simulation whose clock and random streams the bank uses.
        name: the bank's name; it names its random stream, its errors and
            the conserved resource ``"money:<name>"``.
        accounts: opening balances in cents, by account name.
        latency, response_latency, capacity, outages, error_rate: the
            request model; see :class:`~sagasim.services.Service`.

    Each debit is an effect of kind ``"debit"`` with ``delta`` ``-amount``,
    each credit one of kind ``"credit"`` with ``delta`` ``+amount``; the
    entity is the account. The bank cannot tell which debit a credit gives
    back, so ``compensates`` is always ``None``.
    """

    kind = "bank"

    def __init__(
        self,
        sim: Simulation,
        name: str,
        accounts: Mapping[str, int] | None = None,
        **request: Any,
    ) -> None:
        # ``request`` holds the request model's options (latency, capacity,
        # outages, error rate, queue timeout, load factor): see Service.
        super().__init__(sim, name, **request)
        self._balances: dict[str, int] = {}
        for account, balance in (accounts or {}).items():
            check_count(balance, "opening balance", allow_zero=True)
            self._balances[account] = balance
        self._resource = "money:" + name

    def __repr__(self) -> str:
        return f"<Bank {self.name!r} total={self.total()}>"

    @property
    def balances(self) -> dict[str, int]:
        """A copy of the current balances in cents, by account."""
        return dict(self._balances)

    def balance(self, account: str) -> int:
        """The current balance of ``account`` in cents."""
        self._check_account(account)
        return self._balances[account]

    def total(self) -> int:
        """The sum of all balances in cents."""
        return sum(self._balances.values())

    def snapshot(self) -> dict[str, int]:
        """``{"money:<name>": total}``: the money the bank's customers hold."""
        return {self._resource: self.total()}

    @property
    def ledger(self) -> list[dict[str, Any]]:
        """The applied effects in the bank's own terms, in the order applied.

        Dicts with keys ``time``, ``op`` (``"debit"`` or ``"credit"``),
        ``account``, ``amount``, ``ref`` (the call's ``key``) and
        ``instance`` (the calling instance, or ``None``): the form the
        ``sagasim run`` ledger CSV has.
        """
        return [
            {
                "time": effect["time"],
                "op": effect["kind"],
                "account": effect["entity"],
                "amount": effect["amount"],
                "ref": effect["key"],
                "instance": effect["instance"],
            }
            for effect in self.effects
        ]

    async def debit(
        self, account: str, amount: int, *, key: str | None = None
    ) -> dict[str, Any]:
        """Take ``amount`` cents from ``account``.

        At arrival it fails with :class:`ServiceUnavailable` during an
        outage, with :class:`~sagasim.services.ServiceError` on an injected
        error (both retryable), with :class:`UnknownAccount` or with
        :class:`InsufficientFunds` when the balance is short (both not);
        otherwise it applies the debit. Returns a receipt (see
        :meth:`credit`).

        On retry or replay the debit is sent again and applied again: the
        bank keeps no memory of ``key``.
        """
        check_count(amount, "amount")
        check_key(key)
        return await self._request(
            "debit",
            {"account": account, "amount": amount},
            lambda call: self._move(call, "debit", account, amount),
            key=key,
        )

    async def credit(
        self, account: str, amount: int, *, key: str | None = None
    ) -> dict[str, Any]:
        """Add ``amount`` cents to ``account``.

        At arrival it fails as :meth:`debit` does (but never for funds);
        otherwise it applies the credit and returns a receipt ``{"bank",
        "account", "op", "amount", "key", "balance", "time"}``, where
        ``balance`` is the balance after the effect and ``time`` the
        simulated second it was applied.

        Like a debit, a credit sent twice is applied twice.
        """
        check_count(amount, "amount")
        check_key(key)
        return await self._request(
            "credit",
            {"account": account, "amount": amount},
            lambda call: self._move(call, "credit", account, amount),
            key=key,
        )

    def _move(self, call: Call, op: str, account: str, amount: int) -> dict[str, Any]:
        self._check_account(account)
        if op == "debit" and self._balances[account] < amount:
            raise InsufficientFunds(
                f"account {account!r} at bank {self.name!r} holds "
                f"{self._balances[account]}, cannot debit {amount}"
            )

        delta = amount if op == "credit" else -amount
        self._balances[account] += delta
        self._apply_effect(call, op, account, self._resource, delta, amount)
        return {
            "bank": self.name,
            "account": account,
            "op": op,
            "amount": amount,
            "key": call["key"],
            "balance": self._balances[account],
            "time": self.sim.now,
        }

    def _check_account(self, account: str) -> None:
        if account not in self._balances:
            raise UnknownAccount(f"bank {self.name!r} has no account {account!r}")
