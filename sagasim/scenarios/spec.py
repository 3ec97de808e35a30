"""The validated, immutable form of a scenario file.

:func:`sagasim.scenarios.load_scenario` turns TOML into these dataclasses;
nothing else constructs them from user input, so code that receives a
:class:`Scenario` may rely on every invariant documented here. Durations
are integer milliseconds, money is integer cents, windows are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "AccountRef",
    "BankSpec",
    "Latency",
    "Retries",
    "Scenario",
    "SimulationSpec",
    "TransferSpec",
]


@dataclass(frozen=True)
class SimulationSpec:
    """How many instances to run, how often they arrive, under which seed.

    Instance ``i`` (0-based) is created at ``i * arrival_interval_ms``.
    """

    seed: int
    instances: int
    arrival_interval_ms: int
    max_concurrent: int


@dataclass(frozen=True)
class Latency:
    """Per-request latency in milliseconds, uniform on ``[min_ms, max_ms]``.

    A fixed latency has ``min_ms == max_ms``.
    """

    min_ms: int
    max_ms: int

    @property
    def value(self) -> int | tuple[int, int]:
        """The form :class:`sagasim.services.Bank` takes."""
        if self.min_ms == self.max_ms:
            return self.min_ms
        return (self.min_ms, self.max_ms)


@dataclass(frozen=True)
class BankSpec:
    """One simulated bank: its accounts, latency and outage windows.

    ``accounts`` maps account names to opening balances in cents (read-only).
    ``outages`` are ``(start, end)`` windows in simulated seconds, ``start``
    included and ``end`` excluded, with ``0 <= start < end``.
    """

    name: str
    latency: Latency
    accounts: MappingProxyType[str, int]
    outages: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class AccountRef:
    """An account at a named bank; both are known to exist in the scenario."""

    bank: str
    account: str


@dataclass(frozen=True)
class Retries:
    """A step's retry policy, as the engine's ``retries`` config takes it."""

    limit: int
    delay_ms: int
    backoff: str

    def as_config(self) -> dict[str, Any]:
        return {"limit": self.limit, "delay": self.delay_ms, "backoff": self.backoff}


@dataclass(frozen=True)
class TransferSpec:
    """What each transfer instance moves, from where to where, and how.

    Each instance moves an amount drawn uniformly from
    ``[amount_min, amount_max]`` cents (equal for a fixed amount).
    ``retries`` and ``timeout_ms`` are ``None`` when the file leaves them to
    the engine's defaults; both apply to the "debit" and "credit" steps.
    """

    amount_min: int
    amount_max: int
    source: AccountRef
    destination: AccountRef
    retries: Retries | None
    timeout_ms: int | None

    def step_config(self) -> dict[str, Any] | None:
        """The ``config`` given to ``step.do``, or ``None`` for the defaults."""
        config: dict[str, Any] = {}
        if self.retries is not None:
            config["retries"] = self.retries.as_config()
        if self.timeout_ms is not None:
            config["timeout"] = self.timeout_ms
        return config or None


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file, validated.

    ``path`` is the file it was read from and ``name`` its stem.
    """

    path: Path
    name: str
    simulation: SimulationSpec
    banks: tuple[BankSpec, ...]
    transfer: TransferSpec

    def bank(self, name: str) -> BankSpec:
        """The bank called ``name``."""
        for spec in self.banks:
            if spec.name == name:
                return spec
        raise KeyError(name)
