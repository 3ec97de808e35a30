"""A simulated card processor: charges, captures, refunds, idempotency keys.

Payments follows the request model of :class:`~sagasim.services.Service`.
What it conserves is the money the merchant has taken from customers,
``"money:<currency>"``: a charge adds its amount, a refund takes its amount
back off, a capture changes nothing (it only settles a charge).

**Idempotency keys.** A call that gives a ``key`` is deduplicated on it: the
first charge made with a key is the only one; a later charge with the same
key (a retry after a timeout, a replay, a second instance reusing the key)
returns the first charge's id and applies nothing. The key is per call:
with ``key=None`` every charge is a new charge, so a retried charge whose
first attempt landed charges the customer twice. Reusing a key with a
different customer or amount is refused with
:class:`~sagasim.services.IdempotencyConflict`.

**Refunds** name the charge by its id or by the key it was made with, so a
rollback handler whose step never received the charge id (the attempt timed
out after the charge landed) can still refund it; :meth:`Payments.find`
looks a charge up by key. Refunds themselves are not deduplicated. What a
refund of an unknown or already refunded charge does depends on ``strict``:

- ``strict=True``: it is refused with :class:`UnknownCharge`,
  :class:`AlreadyRefunded` or :class:`RefundExceedsCharge`, all
  non-retryable, and nothing is applied. (A handler retried after its
  refund landed then fails: the refund happened, the handler cannot tell.)
- ``strict=False`` (the default): the refund is applied and recorded anyway,
  so the effects ledger shows the double refund or the refund without a
  charge, and the checks can flag it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sagasim
from sagasim.services._records import Records
from sagasim.services._validate import check_count, check_key
from sagasim.services.base import Call, Service
from sagasim.services.errors import IdempotencyConflict

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = ["AlreadyRefunded", "Payments", "RefundExceedsCharge", "UnknownCharge"]


class UnknownCharge(sagasim.NonRetryableError):
    """No charge has that id or key. Non-retryable; nothing is applied."""


class AlreadyRefunded(sagasim.NonRetryableError):
    """The charge has been refunded in full (strict mode, or a capture).

    Non-retryable; nothing is applied.
    """


class RefundExceedsCharge(sagasim.NonRetryableError):
    """A refund asked for more than is left of the charge (strict mode).

    Non-retryable; nothing is applied.
    """


class Payments(Service):
    """A simulated payment processor holding charges in integer cents.

    Args:
        sim: the simulation whose clock and random streams it uses.
        name: the service's name (default ``"payments"``).
        currency: names the conserved resource, ``"money:<currency>"``.
        strict: refuse refunds of unknown or fully refunded charges, and
            refunds larger than what is left (see the module docstring).
        latency, response_latency, capacity, outages, error_rate: the
            request model; see :class:`~sagasim.services.Service`.

    Charge ids are ``"ch_1"``, ``"ch_2"``, ... and refund ids ``"re_1"``,
    ... in the order the charges and refunds are applied.

    Effects: ``"charge"`` (entity the charge id, ``delta`` ``+amount``),
    ``"capture"`` (``delta`` 0, ``amount`` the charge's) and ``"refund"``
    (entity the charge id, or the reference given when no charge matched;
    ``delta`` ``-amount``; ``compensates`` the charge's effect id, or
    ``None`` when no charge matched).
    """

    kind = "payments"

    def __init__(
        self,
        sim: Simulation,
        name: str = "payments",
        *,
        currency: str = "usd",
        strict: bool = False,
        **request: Any,
    ) -> None:
        # ``request`` holds the request model's options (latency, capacity,
        # outages, error rate, queue timeout, load factor): see Service.
        super().__init__(sim, name, **request)
        self.currency = currency
        self.strict = bool(strict)
        self._resource = "money:" + currency
        self._charges = Records("ch")
        self._refunds = 0
        self._refunds_by_key: dict[str, str] = {}
        self._taken = 0

    @property
    def charges(self) -> dict[str, dict[str, Any]]:
        """Copies of every charge by id: ``{"id", "key", "customer",
        "amount", "captured", "refunded"}``, ``refunded`` in cents so far
        (more than ``amount`` after a non-strict double refund)."""
        return self._charges.public()

    def snapshot(self) -> dict[str, int]:
        """``{"money:<currency>": cents}``: charged minus refunded, so far."""
        return {self._resource: self._taken}

    async def charge(self, customer: str, amount: int, key: str | None = None) -> str:
        """Charge ``customer`` ``amount`` cents; return the charge id.

        The charge is made uncaptured; :meth:`capture` settles it. With a
        ``key`` already used by an applied charge, returns that charge's id
        and applies nothing (see the module docstring); a retry after a
        timeout is then safe. Without a key, each call that arrives charges.
        A call cancelled before it arrives charges nothing; one cancelled
        after arrival has charged.
        """
        check_count(amount, "amount")
        check_key(key)
        return await self._request(
            "charge",
            {"customer": customer, "amount": amount},
            lambda call: self._charge(call, customer, amount),
            key=key,
        )

    async def capture(self, charge: str) -> str:
        """Settle the charge whose id (or key) is ``charge``; return its id.

        Capturing a captured charge returns at once with no new effect, so a
        retried capture is safe. Refused with :class:`UnknownCharge` when no
        charge matches and :class:`AlreadyRefunded` when it was refunded in
        full.
        """
        return await self._request(
            "capture", {"charge": charge}, lambda call: self._capture(call, charge)
        )

    async def refund(
        self, charge: str, amount: int | None = None, key: str | None = None
    ) -> str:
        """Refund ``amount`` cents (default: what is left) of a charge.

        ``charge`` is the charge id or the key the charge was made with; an
        id is tried first. Returns the refund id. With an idempotency
        ``key``, a refund repeated with the same key (a retry, or a handler
        run again after a crash) returns the first refund's id and refunds
        nothing more. Without one, refunds are not deduplicated: a retried
        refund whose first attempt landed refunds again, which ``strict``
        refuses and non-strict mode applies and records. In non-strict mode,
        ``amount=None`` on a charge already refunded in full refunds its full
        amount again, and on an unknown charge refunds 0 cents.
        """
        if amount is not None:
            check_count(amount, "amount")
        check_key(key)
        return await self._request(
            "refund",
            {"charge": charge, "amount": amount},
            lambda call: self._refund(call, charge, amount),
            key=key,
        )

    async def find(self, key: str) -> dict[str, Any] | None:
        """The charge made with idempotency key ``key``, or ``None``.

        A request like the others (latency, outages, history), with no
        effect. The charge is a copy, as in :attr:`charges`. A charge still
        travelling when ``find`` arrives is not found yet.
        """
        check_key(key)
        return await self._request("find", {"key": key}, lambda call: self._find(key))

    # -- what happens at arrival ----------------------------------------------

    def _charge(self, call: Call, customer: str, amount: int) -> str:
        key = call["key"]
        first = None if key is None else self._charges.by_key.get(key)
        if first is not None:
            if (first["customer"], first["amount"]) != (customer, amount):
                raise IdempotencyConflict(
                    f"key {key!r} was used for a charge of {first['amount']} to "
                    f"{first['customer']!r}, not {amount} to {customer!r}"
                )
            return first["id"]

        record = self._charges.add(
            key, customer=customer, amount=amount, captured=False, refunded=0
        )
        self._taken += amount
        record["effect_id"] = self._apply_effect(
            call, "charge", record["id"], self._resource, amount, amount
        )
        return record["id"]

    def _capture(self, call: Call, ref: str) -> str:
        record = self._charges.resolve(ref)
        if record is None:
            raise UnknownCharge(f"{self._who} has no charge {ref!r}")
        if record["captured"]:
            return record["id"]
        if record["refunded"] >= record["amount"]:
            raise AlreadyRefunded(
                f"charge {record['id']!r} is refunded, it cannot be captured"
            )

        record["captured"] = True
        self._apply_effect(
            call, "capture", record["id"], self._resource, 0, record["amount"]
        )
        return record["id"]

    def _refund(self, call: Call, ref: str, amount: int | None) -> str:
        key = call["key"]
        if key is not None and key in self._refunds_by_key:
            return self._refunds_by_key[key]
        refund_id = self._refund_once(call, ref, amount)
        if key is not None:
            self._refunds_by_key[key] = refund_id
        return refund_id

    def _refund_once(self, call: Call, ref: str, amount: int | None) -> str:
        record = self._charges.resolve(ref)
        if record is None:
            if self.strict:
                raise UnknownCharge(f"{self._who} has no charge {ref!r}")
            return self._apply_refund(call, ref, amount or 0, None)

        left = record["amount"] - record["refunded"]
        if amount is None:
            amount = left if left > 0 else record["amount"]
        if self.strict and left <= 0:
            raise AlreadyRefunded(f"charge {record['id']!r} is already refunded")
        if self.strict and amount > left:
            raise RefundExceedsCharge(
                f"charge {record['id']!r} has {left} left to refund, "
                f"cannot refund {amount}"
            )

        record["refunded"] += amount
        return self._apply_refund(call, record["id"], amount, record["effect_id"])

    def _apply_refund(
        self, call: Call, entity: str, amount: int, compensates: int | None
    ) -> str:
        self._refunds += 1
        self._taken -= amount
        self._apply_effect(
            call,
            "refund",
            entity,
            self._resource,
            -amount,
            amount,
            compensates=compensates,
        )
        return f"re_{self._refunds}"

    def _find(self, key: str) -> dict[str, Any] | None:
        record = self._charges.by_key.get(key)
        if record is None:
            return None
        return {k: v for k, v in record.items() if k != "effect_id"}

    @property
    def _who(self) -> str:
        return f"{self.kind} {self.name!r}"
