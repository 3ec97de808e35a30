"""Compensation before effect: an undo that overtook what it undoes.

With ``Simulation(inflight="race")`` rollback starts while steps still run,
and a request that timed out can still land later. Either way a
compensation may reach a service before the effect it was meant to undo:
the refund of a charge not made yet, the credit-back of a debit that lands
afterwards and is then never undone. An undo is not a time machine.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

import pandas as pd

from sagasim.checks.episodes import normalize
from sagasim.checks.frame import Violation, evidence, frame
from sagasim.checks.ledger import Effect, EffectIndex, entity_name, instance_of

__all__ = ["compensation_before_effect"]


def compensation_before_effect(
    effects: Iterable[Effect], trace: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Report each forward effect applied after a compensation of the same
    instance on the same entity.

    Effects are compared in apply order within their service (``effect_id``
    order; services apply effects one at a time). A compensating effect is
    one with ``rollback`` true; it acts on the ``(service, entity)`` of the
    effect its ``compensates`` names, or else on its own. A forward effect
    (``rollback`` false) of the same instance on that entity applied later is
    a violation, whichever step made it. When ``trace`` is given, an
    instance's restarts (``WORKFLOW_RESTARTED``) separate its effects: a
    debit made again after a restart does not follow the earlier epoch's
    compensation.

    Each row is named ``compensation_before_effect``; ``subject`` is the
    entity qualified by its service. Evidence: the first compensation on the
    entity and the later forward effect, by effect id. One row per late
    forward effect.

    Returns:
        The violations, in apply order of the late effects.
    """
    index = EffectIndex.of(effects)
    restarts = _restarts(trace) if trace is not None else {}
    first_undo: dict[tuple[str, int, str, str], Effect] = {}
    violations = []
    for effect in index:
        instance = instance_of(effect)
        if not instance:
            continue
        service, entity = index.target(effect)
        epoch = bisect_right(restarts.get(instance, ()), effect.get("time", 0.0))
        key = (instance, epoch, service, entity)
        if effect.get("rollback"):
            first_undo.setdefault(key, effect)
            continue
        undo = first_undo.get(key)
        if undo is None:
            continue
        violations.append(
            Violation(
                "compensation_before_effect",
                instance,
                entity_name(service, entity),
                f"the rollback of {instance} applied {undo.get('kind')} to "
                f"{entity} at {service} at {undo.get('time')}s, before step "
                f"{effect.get('step', '')!r} applied {effect.get('kind')} to it "
                f"at {effect.get('time')}s",
                evidence(undo.get("effect_id"), effect.get("effect_id")),
            )
        )
    return frame(violations)


def _restarts(trace: pd.DataFrame) -> dict[str, list[float]]:
    """The times of each instance's restarts, in order."""
    trace = normalize(trace)
    rows = trace[trace["event"] == "WORKFLOW_RESTARTED"]
    times: dict[str, list[float]] = {}
    for instance, time in zip(rows["instance"], rows["time"], strict=True):
        times.setdefault(instance, []).append(float(time))
    return times
