"""Running every check over a run, live or saved."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from sagasim.checks.conservation import conservation, snapshot
from sagasim.checks.duplicates import double_effects
from sagasim.checks.episodes import few_collections, normalize, rolled_back
from sagasim.checks.frame import concat
from sagasim.checks.irreversibility import irreversible_of
from sagasim.checks.leakage import leaks_of
from sagasim.checks.ledger import EffectIndex
from sagasim.checks.ordering import rollback_ordering
from sagasim.checks.overtaking import compensation_before_effect

__all__ = ["check_run", "ledgers", "run_checks", "services"]


def check_run(
    trace: pd.DataFrame,
    effects: Iterable[Mapping[str, Any]] = (),
    history: Iterable[Mapping[str, Any]] = (),
    *,
    opening: Mapping[str, int] | None = None,
    closing: Mapping[str, int] | None = None,
    pool: Callable[[str], str] | None = None,
    on_rollback_failure: str | None = None,
) -> pd.DataFrame:
    """Every check over the record of one run, one concatenated DataFrame.

    In order: :func:`rollback_ordering`, :func:`double_effects`,
    :func:`leaks`, :func:`irreversible`, :func:`compensation_before_effect`
    and, when both ``opening`` and ``closing`` are given,
    :func:`conservation`. Empty, with the violation columns, when the run is
    clean.
    """
    with few_collections():
        trace = normalize(trace)
        index = EffectIndex.of(effects)
        outcomes = rolled_back(trace)
        results = [
            rollback_ordering(trace, on_rollback_failure=on_rollback_failure),
            double_effects(index, history),
            leaks_of(outcomes, index),
            irreversible_of(outcomes, index),
            compensation_before_effect(index, trace),
        ]
        if opening is not None and closing is not None:
            results.append(conservation(opening, closing, effects=index, pool=pool))
        return concat(results)


def run_checks(
    sim: Any,
    *,
    opening: Mapping[str, int] | None = None,
    pool: Callable[[str], str] | None = None,
) -> pd.DataFrame:
    """Every check over a finished simulation.

    The ledgers are those of every service in ``sim.bindings`` that has
    ``history`` and ``effects`` (:func:`services`). Conservation is checked
    when ``opening`` is given, against the services' totals now: take it
    with ``snapshot(sim)`` before ``sim.run()``, keeping only the resources
    that should be conserved. The rollback policy is the simulation's own.
    """
    history, effects = ledgers(sim)
    closing = snapshot(services(sim)) if opening is not None else None
    return check_run(
        sim.trace,
        effects,
        history,
        opening=opening,
        closing=closing,
        pool=pool,
        on_rollback_failure=getattr(sim, "on_rollback_failure", None),
    )


def services(sim: Any) -> list[Any]:
    """The services among ``sim.bindings`` that keep a ledger (``history``
    and ``effects``), each once, in binding order."""
    found: dict[int, Any] = {}
    for service in sim.bindings.values():
        if hasattr(service, "history") and hasattr(service, "effects"):
            found.setdefault(id(service), service)
    return list(found.values())


def ledgers(sim: Any) -> tuple[list[dict], list[dict]]:
    """``(history, effects)``: every ledgered service's calls and effects."""
    history: list[dict] = []
    effects: list[dict] = []
    for service in services(sim):
        history.extend(service.history)
        effects.extend(service.effects)
    return history, effects
