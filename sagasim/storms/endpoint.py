"""A plain capacity-limited API: the service a retry storm piles onto."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sagasim.services.base import Call, Service

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = ["Endpoint"]


class Endpoint(Service):
    """An API with one operation, :meth:`handle`, that does one unit of work.

    It has no business state: every call that arrives outside an outage and
    past the error roll succeeds and applies one ``"work"`` effect, so its
    ledger counts the work the service did (goodput), and its history counts
    every call it was offered. All of :class:`~sagasim.services.Service`'s
    knobs apply: capacity, ``queue_timeout``, ``load_factor``, outages,
    error rate.
    """

    kind = "endpoint"

    def __init__(
        self,
        sim: Simulation,
        name: str = "api",
        *,
        latency: Any = 0,
        response_latency: Any = 0,
        capacity: int | None = None,
        outages: Iterable[tuple[float, float]] = (),
        error_rate: float = 0.0,
        queue_timeout: Any = None,
        load_factor: float = 0.0,
    ) -> None:
        super().__init__(
            sim,
            name,
            latency=latency,
            response_latency=response_latency,
            capacity=capacity,
            outages=outages,
            error_rate=error_rate,
            queue_timeout=queue_timeout,
            load_factor=load_factor,
        )

    async def handle(self, key: str | None = None) -> dict[str, Any]:
        """Do one unit of work; returns ``{"served": op_id, "time": seconds}``.

        ``key`` labels the work (an instance id, say) in the ledger; the
        endpoint does not deduplicate on it: a retry is more work.
        """

        def apply(call: Call) -> dict[str, Any]:
            self._apply_effect(call, "work", key or "", "work:" + self.name, 1, 1)
            return {"served": call["op_id"], "time": self.sim.now}

        return await self._request("handle", {}, apply, key=key)
