"""An optimistic-concurrency row: one version number that writers race for.

This is the shared resource of the published backoff-and-jitter simulation
(Brooker, AWS Architecture Blog, 2015; see
``reference/saga-systems.md`` §4). A client reads the row's version, then
writes with it; the write succeeds only if the version is still current, and
bumps it. Every other write that read the same version loses and must read
again, so contention turns straight into wasted calls.

Both operations go through the :class:`~sagasim.services.Service` request
model: the read and the write are judged at the instant the request
arrives, and each leg of each call takes its own network latency.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sagasim.services.base import Call, Service
from sagasim.services.latency import LatencyModel

if TYPE_CHECKING:
    from sagasim import Simulation

__all__ = ["AbsNormal", "OccRow", "StaleWrite"]


@dataclass(frozen=True)
class AbsNormal(LatencyModel):
    """A network hop of ``|N(mean, sd)|`` milliseconds, rounded to whole ms.

    One draw is ``round(abs(rng.normalvariate(mean, sd)))``: the delay the
    published simulation gives every message, ``|N(10, 2)|`` ms there.
    """

    mean: float
    sd: float

    def __post_init__(self) -> None:
        if not (_is_number(self.mean) and _is_number(self.sd) and self.sd >= 0):
            raise ValueError(
                f"expected a mean and a non-negative sd, got ({self.mean!r}, "
                f"{self.sd!r})"
            )

    def draw(self, rng: random.Random) -> int:
        return round(abs(rng.normalvariate(self.mean, self.sd)))


class StaleWrite(Exception):
    """A client's write lost the race: the version it read is no longer current.

    Retryable: the client reads again and writes with the new version.
    """


class OccRow(Service):
    """One row with a version, read and written under optimistic concurrency.

    Args:
        sim: the simulation.
        name: the service's name (``"row"``).
        latency, response_latency: the two network hops of every call, in
            any form :func:`~sagasim.services.latency.parse_latency` takes,
            or a latency model such as :class:`AbsNormal`.
        **options: the rest of :class:`~sagasim.services.Service`'s knobs
            (capacity, outages, error rate, ``queue_timeout``,
            ``load_factor``).

    Attributes:
        version: the current version, from 0; each successful write adds 1.
        writes: how many write requests reached the row (won or lost): the
            published simulation's "calls".
    """

    kind = "row"

    def __init__(
        self,
        sim: Simulation,
        name: str = "row",
        *,
        latency: Any = 0,
        response_latency: Any = 0,
        **options: Any,
    ) -> None:
        super().__init__(
            sim, name, latency=latency, response_latency=response_latency, **options
        )
        self.version = 0
        self.writes = 0
        self._resource = "version:" + name

    async def read(self) -> int:
        """The version current when the request arrives."""
        return await self._request("read", {}, self._read)

    async def write(self, version: int) -> bool:
        """Write with ``version``: ``True`` and the version bumped if it is
        still current when the request arrives, else ``False`` and nothing
        applied. Either way it counts in :attr:`writes`."""

        def apply(call: Call) -> bool:
            self.writes += 1
            if version != self.version:
                return False
            self.version += 1
            self._apply_effect(call, "write", self.name, self._resource, 1, 1)
            return True

        return await self._request("write", {"version": version}, apply)

    def snapshot(self) -> dict[str, int]:
        return {self._resource: self.version}

    def _read(self, call: Call) -> int:
        return self.version


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
