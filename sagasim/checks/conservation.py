"""Conservation: what a run should neither create nor destroy.

Money moved between accounts, or between banks, is conserved: the total of
every balance before a run equals the total after it, whatever the sagas
did, as long as each one either completed or was compensated. A drift means
money was created (a compensation that returned what was never taken, a
repeated credit) or destroyed (a debit nobody undid).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from sagasim.checks.frame import Violation, frame
from sagasim.checks.ledger import Effect

__all__ = ["conservation", "snapshot"]


def conservation(
    opening: Mapping[str, int],
    closing: Mapping[str, int],
    *,
    effects: Iterable[Effect] | None = None,
    pool: Callable[[str], str] | None = None,
) -> pd.DataFrame:
    """Report every conserved quantity whose total changed over a run.

    Only the resources named in ``opening`` are checked: pass the ones that
    should be conserved (money moved between accounts is; stock sold to a
    customer is not). ``pool`` maps a resource to the quantity it is part of,
    for services that name resources per bank: with
    ``pool=lambda r: r.split(":")[0]``, ``"money:BANK_A"`` and
    ``"money:BANK_B"`` are summed as ``"money"``.

    Each row of the result names one of these checks; ``instance`` is ``""``
    and ``subject`` is the pool:

    - ``conservation``: the closing total differs from the opening total.
    - ``ledger_mismatch`` (only when ``effects`` are given): the effects'
      deltas on the pool do not add up to the change of its total, so the
      ledger does not explain the services' state.

    Evidence is empty: the snapshots, not any one effect, show the drift;
    :func:`sagasim.checks.leaks` names the effects that caused one.

    Args:
        opening: total per resource before the run (``snapshot(sim)``).
        closing: total per resource after it.
        effects: the run's effects, to compare the ledger with the drift.
        pool: maps a resource name to the name of what is conserved.
    """
    name = pool or (lambda resource: resource)
    before = _pooled(opening, name)
    after = _pooled(closing, name)
    ledger = None
    if effects is not None:
        ledger = {}
        for effect in effects:
            key = name(effect.get("resource") or "")
            ledger[key] = ledger.get(key, 0) + int(effect.get("delta") or 0)

    violations = []
    for resource, total in before.items():
        drift = after.get(resource, 0) - total
        if drift:
            violations.append(
                Violation(
                    "conservation",
                    "",
                    resource,
                    f"{resource} was {total} before the run and "
                    f"{after.get(resource, 0)} after it: {drift:+d}",
                    (),
                )
            )
        if ledger is not None and ledger.get(resource, 0) != drift:
            violations.append(
                Violation(
                    "ledger_mismatch",
                    "",
                    resource,
                    f"the effects on {resource} add up to "
                    f"{ledger.get(resource, 0):+d} but its total changed by "
                    f"{drift:+d}",
                    (),
                )
            )
    return frame(violations)


def snapshot(services: Any) -> dict[str, int]:
    """The total per resource over ``services``: a Simulation (every
    binding with a ``snapshot()`` method) or an iterable of services. A
    service bound under two names is counted once."""
    bindings = getattr(services, "bindings", None)
    found = bindings.values() if isinstance(bindings, Mapping) else services
    unique = {id(service): service for service in found}
    totals: dict[str, int] = {}
    for service in unique.values():
        take = getattr(service, "snapshot", None)
        if not callable(take):
            continue
        for resource, total in take().items():
            totals[resource] = totals.get(resource, 0) + int(total)
    return totals


def _pooled(totals: Mapping[str, int], name: Callable[[str], str]) -> dict[str, int]:
    pooled: dict[str, int] = {}
    for resource, total in totals.items():
        key = name(resource)
        pooled[key] = pooled.get(key, 0) + int(total)
    return pooled
