"""Leaks: what a rolled-back instance took and never gave back.

After an instance rolls back and ends errored or terminated, every forward
effect it made should have been undone: money returned to the account it
came from, holds released, charges refunded. Whatever is left over is a
leak, whether the handler failed, was missing, was never written, or undid
less than its step did.
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

__all__ = ["leaks", "leaks_of"]

_CHECKS = {
    "debit": "money_leak",
    "credit": "money_leak",
    "charge": "charge_leak",
    "capture": "charge_leak",
    "hold": "hold_leak",
}
# Kinds whose effect without a cause another check reports.
_UNDOS = frozenset({"refund", "release"})


def leaks(trace: pd.DataFrame, effects: Iterable[Effect]) -> pd.DataFrame:
    """Report the forward effects that a rollback left in place.

    The instances judged are those whose last epoch rolled back
    (``ROLLBACK_START``) and then ended ``WORKFLOW_FAILURE`` or
    ``WORKFLOW_TERMINATED`` (see :func:`sagasim.checks.episodes.rolled_back`);
    an instance still rolling back is left alone. Their effects are grouped
    by what they act on: the ``(service, entity)`` of the effect, or of the
    effect its ``compensates`` names. A group with a forward effect
    (``rollback`` false) whose deltas do not add up to zero is a leak. This
    is finer than a net per resource: money moved from one account to
    another and never moved back shows, though the resource's total did not
    change. Sends and corrections are left to
    :func:`sagasim.checks.irreversible`.

    Each row names the check for the group's first forward effect:
    ``money_leak`` (a debit or credit not reversed), ``charge_leak`` (a
    charge not refunded in full), ``hold_leak`` (a hold not released), or
    ``leak`` for other kinds. A group with compensations only and a net
    other than zero is an ``over_compensation``: the rollback undid what the
    instance never did, as a handler does that ignores an ``UNDEFINED``
    output (refunds and releases of nothing are left to
    :func:`sagasim.checks.double_effects`). ``subject`` is the entity
    qualified by its service. Evidence: every effect id of the group,
    forward and compensating, which together show the net.

    Returns:
        The violations, in apply order of each group's first effect.
    """
    return leaks_of(rolled_back(trace), EffectIndex.of(effects))


def leaks_of(outcomes: dict[str, Outcome], index: EffectIndex) -> pd.DataFrame:
    """:func:`leaks` from the instances' outcomes and the indexed effects."""
    groups: dict[tuple[str, str, str], list[Effect]] = {}
    for effect in index:
        instance = instance_of(effect)
        outcome = outcomes.get(instance)
        if outcome is None or is_irreversible(effect):
            continue
        if effect.get("kind") == "correction":
            continue
        if not outcome.owns(
            effect.get("time", 0.0), effect.get("step", ""), effect.get("count", 0)
        ):
            continue
        groups.setdefault((instance, *index.target(effect)), []).append(effect)

    violations = []
    for (instance, service, entity), group in groups.items():
        forward = [e for e in group if not e.get("rollback")]
        net = sum(int(e.get("delta") or 0) for e in group)
        if net == 0:
            continue
        if forward:
            check = _CHECKS.get(forward[0].get("kind", ""), "leak")
        elif all(e.get("kind") in _UNDOS for e in group):
            continue
        else:
            check = "over_compensation"
        violations.append(
            Violation(
                check,
                instance,
                entity_name(service, entity),
                _message(check, instance, service, entity, group, net),
                evidence(*(e.get("effect_id") for e in group)),
            )
        )
    return frame(violations)


def _message(
    check: str,
    instance: str,
    service: str,
    entity: str,
    group: list[Effect],
    net: int,
) -> str:
    done = ", ".join(
        f"{e.get('kind')} {e.get('amount')}"
        + (" by its rollback" if e.get("rollback") else "")
        for e in group
    )
    what = {
        "money_leak": f"account {entity} at {service} was not restored",
        "charge_leak": (
            f"charge {entity} at {service} was not refunded in full"
            if net > 0
            else f"charge {entity} at {service} was refunded more than it took"
        ),
        "hold_leak": (
            f"hold {entity} at {service} was not released"
            if net < 0
            else f"hold {entity} at {service} was released more than it held"
        ),
    }.get(check, f"{entity} at {service} was not restored")
    resource = group[0].get("resource") or "its resource"
    if check == "over_compensation":
        return (
            f"the rollback of {instance} changed {entity} at {service}, which "
            f"{instance} never changed ({done}): {net:+d} {resource}"
        )
    return f"{what} after {instance} rolled back ({done}): {net:+d} {resource}"
