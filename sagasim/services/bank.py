"""A simulated bank: balances in integer cents, latency, outages, a ledger.

The bank is the external system a transfer saga moves money through. It is
deliberately simple so that what a run does to the money can be read off
its ledger:

- A request first travels: it spends the bank's latency in simulated time.
  The latency of each request is drawn, at call time, from the bank's own
  random stream ``sim.rng("service:" + name)``, so adding another service or
  another instance does not change this bank's draws.
- The request is then handled at one instant, the instant it arrives. If
  that instant falls in an outage window the request fails with
  :class:`ServiceUnavailable` and changes nothing. Otherwise it is checked
  and applied atomically: the balance changes and one ledger entry is added.
- A request cancelled while it travels (its step attempt timed out, or the
  instance was cancelled) never arrives and has no effect.

The bank does not deduplicate by ``ref``: a request sent twice is applied
twice. That is on purpose; the lab exists to show what non-idempotent
retries and compensations do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sagasim
from sagasim.services.errors import ServiceUnavailable

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = ["Bank", "InsufficientFunds", "UnknownAccount"]


class InsufficientFunds(sagasim.NonRetryableError):
    """A debit asked for more than the account holds.

    Non-retryable: the step fails after the current attempt and the error
    reaches ``run()`` with this class, name and message.
    """


class UnknownAccount(sagasim.NonRetryableError):
    """A request named an account the bank does not have. Non-retryable."""


Latency = int | tuple[int, int]


class Bank:
    """A simulated bank holding integer-cent balances.

    Args:
        sim: the simulation whose clock and random streams the bank uses.
        name: the bank's name; it names its random stream and its errors.
        accounts: opening balances in cents, by account name.
        latency: milliseconds each request spends travelling, either a fixed
            ``int`` or a ``(min, max)`` pair drawn uniformly (integers,
            both ends included).
        outages: windows ``(start, end)`` in simulated seconds during which
            the bank rejects every request; ``start`` is included, ``end``
            is not.

    Attributes:
        ledger: every applied effect, in the order applied, as dicts with
            keys ``time`` (simulated seconds), ``op`` (``"debit"`` or
            ``"credit"``), ``account``, ``amount``, ``ref`` and
            ``instance``. Rejected requests are not in it.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        accounts: Mapping[str, int] | None = None,
        *,
        latency: Latency = 0,
        outages: Iterable[tuple[float, float]] = (),
    ) -> None:
        self.sim = sim
        self.name = name
        self.latency = _check_latency(latency)
        self.outages = tuple((float(a), float(b)) for a, b in outages)
        self.ledger: list[dict[str, Any]] = []

        self._balances = {}
        for account, balance in (accounts or {}).items():
            _check_amount(balance, "opening balance", allow_zero=True)
            self._balances[account] = balance

        # The clock inside is integer milliseconds; compare outages there.
        self._outages_ms = tuple(
            (round(a * 1000), round(b * 1000)) for a, b in self.outages
        )
        self._rng = sim.rng("service:" + name)

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

    def is_down(self, time_ms: int) -> bool:
        """Whether the simulated instant ``time_ms`` is in an outage window."""
        return any(start <= time_ms < end for start, end in self._outages_ms)

    async def debit(
        self,
        account: str,
        amount: int,
        *,
        ref: str | None = None,
        instance: str | None = None,
    ) -> dict[str, Any]:
        """Take ``amount`` cents from ``account``.

        Spends the request's latency, then fails with
        :class:`ServiceUnavailable` during an outage, with
        :class:`InsufficientFunds` when the balance is short, or with
        :class:`UnknownAccount`; otherwise applies the debit and returns a
        receipt (see :meth:`credit`). ``ref`` and ``instance`` are recorded
        in the ledger as given.
        """
        return await self._request("debit", account, amount, ref, instance)

    async def credit(
        self,
        account: str,
        amount: int,
        *,
        ref: str | None = None,
        instance: str | None = None,
    ) -> dict[str, Any]:
        """Add ``amount`` cents to ``account``.

        Spends the request's latency, then fails with
        :class:`ServiceUnavailable` during an outage or with
        :class:`UnknownAccount`; otherwise applies the credit and returns a
        receipt ``{"bank", "account", "op", "amount", "ref", "balance",
        "time"}``, where ``balance`` is the balance after the effect.
        """
        return await self._request("credit", account, amount, ref, instance)

    async def _request(
        self,
        op: str,
        account: str,
        amount: int,
        ref: str | None,
        instance: str | None,
    ) -> dict[str, Any]:
        _check_amount(amount, "amount")
        delay = self._draw_latency()
        if delay:
            await sagasim.sleep(delay)

        if self.is_down(self.sim.env.now):
            raise ServiceUnavailable(
                f"bank {self.name!r} is unavailable at {self.sim.now:g}s"
            )
        self._check_account(account)
        if op == "debit" and self._balances[account] < amount:
            raise InsufficientFunds(
                f"account {account!r} at bank {self.name!r} holds "
                f"{self._balances[account]}, cannot debit {amount}"
            )

        self._balances[account] += amount if op == "credit" else -amount
        now = self.sim.now
        self.ledger.append(
            {
                "time": now,
                "op": op,
                "account": account,
                "amount": amount,
                "ref": ref,
                "instance": instance,
            }
        )
        return {
            "bank": self.name,
            "account": account,
            "op": op,
            "amount": amount,
            "ref": ref,
            "balance": self._balances[account],
            "time": now,
        }

    def _draw_latency(self) -> int:
        if isinstance(self.latency, int):
            return self.latency
        low, high = self.latency
        return self._rng.randint(low, high)

    def _check_account(self, account: str) -> None:
        if account not in self._balances:
            raise UnknownAccount(f"bank {self.name!r} has no account {account!r}")


def _check_amount(value: object, what: str, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer number of cents, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{what} must be positive, got {value!r}")


def _check_latency(latency: Latency) -> Latency:
    if isinstance(latency, tuple):
        low, high = latency
        if not (_is_ms(low) and _is_ms(high) and low <= high):
            raise ValueError(f"latency range must be 0 <= min <= max, got {latency!r}")
        return (low, high)
    if not _is_ms(latency):
        raise ValueError(f"latency must be a non-negative integer, got {latency!r}")
    return latency


def _is_ms(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
