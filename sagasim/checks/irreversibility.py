"""Irreversible effects: what a rollback cannot take back.

A message that was sent stays sent. A saga that rolls back after sending one
can at best send a correction; the ledger shows whether it did. Either way
the compensation only pretended to undo the step, which is the lesson: put
irreversible steps last, after everything that can still fail.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from sagasim.checks.episodes import Outcome, rolled_back
from sagasim.checks.frame import Violation, evidence, frame
from sagasim.checks.ledger import (
    Effect,
    EffectIndex,
    entity_name,
    instance_of,
    is_irreversible,
)

__all__ = ["irreversible", "irreversible_of"]


def irreversible(trace: pd.DataFrame, effects: Iterable[Effect]) -> pd.DataFrame:
    """Report every irreversible forward effect of an instance that rolled
    back.

    The instances judged are those of :func:`sagasim.checks.leaks`: the
    last epoch rolled back and then ended errored or terminated. An effect is
    irreversible when its ``irreversible`` flag is set or its kind is
    ``"send"``; only forward ones (``rollback`` false) are reported, since a
    message a handler sends is the compensation itself. The corrections of a
    send are the ``"correction"`` effects whose ``compensates`` names it, or,
    when none does, the corrections (naming nothing) made at the same
    service for the same instance, step and count.

    Each row is named ``irreversible``; ``subject`` is the message qualified
    by its service. Evidence: the send's effect id and those of its
    corrections (just the send when it was never corrected).

    Returns:
        The violations, in apply order of the sends.
    """
    return irreversible_of(rolled_back(trace), EffectIndex.of(effects))


def irreversible_of(outcomes: dict[str, Outcome], index: EffectIndex) -> pd.DataFrame:
    """:func:`irreversible` from the instances' outcomes and the indexed
    effects."""
    by_target: dict[tuple[str, int], list[Effect]] = {}
    by_step: dict[tuple, list[Effect]] = {}
    for effect in index:
        if effect.get("kind") != "correction":
            continue
        service = effect.get("service", "")
        if effect.get("compensates") is not None:
            by_target.setdefault((service, effect["compensates"]), []).append(effect)
        else:
            by_step.setdefault(_step_key(effect), []).append(effect)

    violations = []
    for effect in index:
        if (
            not is_irreversible(effect)
            or effect.get("rollback")
            or effect.get("kind") == "correction"
        ):
            continue
        instance = instance_of(effect)
        outcome = outcomes.get(instance)
        if outcome is None or not outcome.owns(
            effect.get("time", 0.0), effect.get("step", ""), effect.get("count", 0)
        ):
            continue
        service = effect.get("service", "")
        entity = effect.get("entity", "")
        fixes = by_target.get((service, effect.get("effect_id"))) or by_step.get(
            _step_key(effect), []
        )
        step = effect.get("step", "")
        if fixes:
            message = (
                f"{effect.get('kind')} {entity} at {service} by step {step!r} "
                f"cannot be undone; {instance}'s rollback only sent "
                f"{len(fixes)} correction(s)"
            )
        else:
            message = (
                f"{effect.get('kind')} {entity} at {service} by step {step!r} "
                f"cannot be undone, and {instance}'s rollback never corrected it"
            )
        violations.append(
            Violation(
                "irreversible",
                instance,
                entity_name(service, entity),
                message,
                evidence(effect.get("effect_id"), *(f.get("effect_id") for f in fixes)),
            )
        )
    return frame(violations)


def _step_key(effect: Effect) -> tuple:
    return (
        effect.get("service", ""),
        instance_of(effect),
        effect.get("step", ""),
        effect.get("count", 0),
    )
