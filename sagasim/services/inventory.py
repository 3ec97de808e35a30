"""A simulated inventory: stock per SKU, holds and their release.

Inventory follows the request model of :class:`~sagasim.services.Service`.
What it conserves is the stock available for sale, ``"stock:<sku>"``: a
hold takes its quantity off, a release puts it back.

**Holds** accept an idempotency key, with the rule Payments uses: a hold
made with a key already used by an applied hold returns that hold's id and
reserves nothing more; without a key, every hold that arrives reserves
stock, so a retried hold whose first attempt landed reserves twice.

**Releases** name the hold by id or by the key it was made with (an id is
tried first), so a rollback handler whose step never received the hold id
can still release it. Whether releasing a hold twice is safe is the
``idempotent_release`` setting:

- ``True``: the second release of a hold returns its id and changes
  nothing. A handler that runs again (after a crash or a lost answer) is
  harmless.
- ``False`` (the default): every release that arrives puts the hold's
  quantity back, so a second release makes stock that was never there. The
  effects ledger shows two releases compensating one hold; that drift is
  what the checks look for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sagasim
from sagasim.services._records import Records
from sagasim.services._validate import check_count, check_key
from sagasim.services.base import Call, Service
from sagasim.services.errors import IdempotencyConflict

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = ["Inventory", "OutOfStock", "UnknownHold", "UnknownSku"]


class OutOfStock(sagasim.NonRetryableError):
    """A hold asked for more units than are available. Non-retryable."""


class UnknownSku(sagasim.NonRetryableError):
    """A hold named a SKU the inventory does not stock. Non-retryable."""


class UnknownHold(sagasim.NonRetryableError):
    """No hold has that id or key. Non-retryable; nothing is applied."""


class Inventory(Service):
    """A simulated stock of integer units per SKU.

    Args:
        sim: the simulation whose clock and random streams it uses.
        name: the service's name (default ``"inventory"``).
        stock: opening units available, by SKU.
        idempotent_release: whether a second release of a hold is a no-op
            (see the module docstring); ``False`` by default.
        latency, response_latency, capacity, outages, error_rate: the
            request model; see :class:`~sagasim.services.Service`.

    Hold ids are ``"hold_1"``, ``"hold_2"``, ... in the order holds are
    applied. Effects: ``"hold"`` (entity the hold id, resource
    ``"stock:<sku>"``, ``delta`` ``-qty``) and ``"release"`` (``delta``
    ``+qty``, ``compensates`` the hold's effect id).
    """

    kind = "inventory"

    def __init__(
        self,
        sim: Simulation,
        name: str = "inventory",
        stock: Mapping[str, int] | None = None,
        *,
        idempotent_release: bool = False,
        **request: Any,
    ) -> None:
        # ``request`` holds the request model's options (latency, capacity,
        # outages, error rate, queue timeout, load factor): see Service.
        super().__init__(sim, name, **request)
        self.idempotent_release = bool(idempotent_release)
        self._stock: dict[str, int] = {}
        for sku, units in (stock or {}).items():
            check_count(units, "opening stock", "units", allow_zero=True)
            self._stock[sku] = units
        self._holds = Records("hold")

    @property
    def stock(self) -> dict[str, int]:
        """A copy of the units available now, by SKU."""
        return dict(self._stock)

    def available(self, sku: str) -> int:
        """The units of ``sku`` available now."""
        if sku not in self._stock:
            raise UnknownSku(f"{self._who} does not stock {sku!r}")
        return self._stock[sku]

    @property
    def holds(self) -> dict[str, dict[str, Any]]:
        """Copies of every hold by id: ``{"id", "key", "sku", "qty",
        "releases"}``, ``releases`` counting the releases applied to it."""
        return self._holds.public()

    def snapshot(self) -> dict[str, int]:
        """``{"stock:<sku>": units available}`` for every SKU."""
        return {"stock:" + sku: units for sku, units in self._stock.items()}

    async def hold(self, sku: str, qty: int, key: str | None = None) -> str:
        """Reserve ``qty`` units of ``sku``; return the hold id.

        Refused with :class:`UnknownSku` or :class:`OutOfStock`
        (non-retryable, nothing applied). With a ``key`` already used by an
        applied hold, returns that hold's id and reserves nothing more; a
        retry is then safe. Without a key each hold that arrives reserves.
        """
        check_count(qty, "qty", "units")
        check_key(key)
        return await self._request(
            "hold",
            {"sku": sku, "qty": qty},
            lambda call: self._hold(call, sku, qty),
            key=key,
        )

    async def release(self, hold: str) -> str:
        """Put back the units of the hold whose id (or key) is ``hold``.

        Returns the hold id. Refused with :class:`UnknownHold` when no hold
        matches. A hold released before is released again unless
        ``idempotent_release`` is set (see the module docstring).
        """
        return await self._request(
            "release", {"hold": hold}, lambda call: self._release_hold(call, hold)
        )

    # -- what happens at arrival ----------------------------------------------

    def _hold(self, call: Call, sku: str, qty: int) -> str:
        key = call["key"]
        first = None if key is None else self._holds.by_key.get(key)
        if first is not None:
            if (first["sku"], first["qty"]) != (sku, qty):
                raise IdempotencyConflict(
                    f"key {key!r} was used for a hold of {first['qty']} x "
                    f"{first['sku']!r}, not {qty} x {sku!r}"
                )
            return first["id"]
        if sku not in self._stock:
            raise UnknownSku(f"{self._who} does not stock {sku!r}")
        if self._stock[sku] < qty:
            raise OutOfStock(
                f"{self._who} has {self._stock[sku]} of {sku!r}, cannot hold {qty}"
            )

        record = self._holds.add(key, sku=sku, qty=qty, releases=0)
        self._stock[sku] -= qty
        record["effect_id"] = self._apply_effect(
            call, "hold", record["id"], "stock:" + sku, -qty, qty
        )
        return record["id"]

    def _release_hold(self, call: Call, ref: str) -> str:
        record = self._holds.resolve(ref)
        if record is None:
            raise UnknownHold(f"{self._who} has no hold {ref!r}")
        if record["releases"] and self.idempotent_release:
            return record["id"]

        sku, qty = record["sku"], record["qty"]
        record["releases"] += 1
        self._stock[sku] += qty
        self._apply_effect(
            call,
            "release",
            record["id"],
            "stock:" + sku,
            qty,
            qty,
            compensates=record["effect_id"],
        )
        return record["id"]

    @property
    def _who(self) -> str:
        return f"{self.kind} {self.name!r}"
