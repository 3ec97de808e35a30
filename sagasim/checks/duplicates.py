"""Double effects: an operation applied twice where its meaning forbids it.

A retry after a lost reply, a replay after a crash, or a handler that is not
idempotent sends the same request again; a service that does not
deduplicate applies it again. The ledger shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from sagasim.checks.frame import Violation, evidence, frame
from sagasim.checks.ledger import Effect, EffectIndex, entity_name, instance_of

__all__ = ["REPEAT_FORBIDDEN", "double_effects"]

#: Effect kinds a step occurrence must apply at most once (per account for
#: debits and credits, per charge for captures).
REPEAT_FORBIDDEN = frozenset({"debit", "credit", "charge", "capture", "hold", "send"})

# Kinds whose effect makes a new entity (a charge id, a hold id, a message
# id): a repeat shows as another entity, so entities are not compared.
_MAKES_ENTITY = frozenset({"charge", "hold", "send"})

# What each kind of undo undoes.
_UNDOES = {"refund": ("charge", "capture"), "release": ("hold",)}


def double_effects(
    effects: Iterable[Effect], history: Iterable[dict[str, Any]] | None = None
) -> pd.DataFrame:
    """Report effects applied twice, and undos of nothing.

    Each row of the result names one of these checks:

    - ``double_effect``: one occurrence of a step (the same instance, step
      and count, forward or rollback alike) applied two effects of a kind in
      :data:`REPEAT_FORBIDDEN` at one service, from different calls
      (``op_id``): a retry or replay repeated a non-idempotent request.
      Debits and credits count per account and captures per charge; a
      charge, hold or send makes a new charge, hold or message each time,
      so any two from one step occurrence are a repeat. A step that debits
      one account twice on purpose is reported too; make those two steps.
      ``subject`` is the repeat's entity. Evidence: the first effect and the
      repeat.
    - ``double_refund``: a charge was refunded again after its refunds
      reached the amount charged, so it was refunded more than once over
      (partial refunds that add up to no more than the charge are fine).
      Evidence: the first refund and the one that went beyond.
    - ``double_release``: a hold already released was released again.
      Evidence: the first release and the repeat.
    - ``orphan_refund`` / ``orphan_release``: a refund of a charge, or a
      release of a hold, that the ledger never applied. Evidence: that
      refund or release.

    A refund or release acts on the charge or hold its ``compensates``
    names, or else on the one with its ``entity``. Each repeat is one row.

    Args:
        effects: the effects of one run, from any number of services.
        history: the services' operation calls, when available; messages
            then say what the caller heard from the first call.

    Returns:
        The violations; evidence is effect ids, all of the service named in
        ``subject``. Rows are in apply order of the effect they report.
    """
    index = EffectIndex.of(effects)
    outcomes = {
        (call.get("service", ""), call.get("op_id")): call for call in history or ()
    }
    found = _repeats(index, outcomes) + _undos(index)
    found.sort(key=lambda pair: pair[0])
    return frame(violation for _, violation in found)


def _repeats(index: EffectIndex, calls: dict) -> list[tuple[int, Violation]]:
    first: dict[tuple, Effect] = {}
    found = []
    for effect in index:
        kind = effect.get("kind")
        instance = instance_of(effect)
        if kind not in REPEAT_FORBIDDEN or not instance:
            continue
        service = effect.get("service", "")
        entity = effect.get("entity", "")
        key = (
            service,
            instance,
            effect.get("step", ""),
            effect.get("count", 0),
            bool(effect.get("rollback")),
            kind,
            "" if kind in _MAKES_ENTITY else entity,
        )
        original = first.setdefault(key, effect)
        if original is effect or original.get("op_id") == effect.get("op_id"):
            continue
        who = "the rollback handler of" if key[4] else ""
        step = f"{who} step {key[2]!r}".strip()
        if key[3] > 1:
            step += f" (count {key[3]})"
        found.append(
            (
                index.position(effect),
                Violation(
                    "double_effect",
                    instance,
                    entity_name(service, entity),
                    f"{step} applied {kind} {_what(original, effect)} at "
                    f"{service} twice, in attempts {original.get('attempt')} "
                    f"and {effect.get('attempt')}{_heard(calls, original)}",
                    evidence(original.get("effect_id"), effect.get("effect_id")),
                ),
            )
        )
    return found


def _what(original: Effect, repeat: Effect) -> str:
    amount = repeat.get("amount")
    first, second = original.get("entity", ""), repeat.get("entity", "")
    if first == second:
        return f"of {amount} to {first}"
    return f"of {amount} as {first} and again as {second}"


def _heard(calls: dict, effect: Effect) -> str:
    call = calls.get((effect.get("service", ""), effect.get("op_id")))
    if call is None:
        return ""
    outcome = call.get("outcome")
    if outcome == "unknown":
        return "; the caller never heard back from the first request"
    if outcome == "failed":
        return f"; the first request reported {call.get('error') or 'a failure'}"
    return f"; the first request reported {outcome}"


def _undos(index: EffectIndex) -> list[tuple[int, Violation]]:
    done: dict[tuple[str, str, str], Effect] = {}
    undone_so_far: dict[tuple[str, str, str], int] = {}
    found = []
    for effect in index:
        kind = effect.get("kind")
        kinds = _UNDOES.get(kind)
        if kinds is None:
            continue
        service, entity = index.target(effect)
        instance = instance_of(effect)
        subject = entity_name(service, entity)
        position = index.position(effect)

        undone = _undone(index, effect, kinds)
        if undone is None:
            message = (
                f"{kind} of {entity} at {service} undoes a {kinds[0]} the "
                "ledger never applied"
            )
            found.append(
                (
                    position,
                    Violation(
                        f"orphan_{kind}",
                        instance,
                        subject,
                        message,
                        evidence(effect.get("effect_id")),
                    ),
                )
            )
            continue

        key = (service, entity, kind)
        earlier = done.setdefault(key, effect)
        total = undone_so_far.get(key, 0) + int(effect.get("amount") or 0)
        undone_so_far[key] = total
        if kind == "refund" and total <= int(undone.get("amount") or 0):
            continue
        if earlier is not effect:
            message = (
                f"{undone.get('kind')} {entity} at {service} was undone twice "
                f"over, by {kind}s {earlier.get('effect_id')} and "
                f"{effect.get('effect_id')}"
            )
            found.append(
                (
                    position,
                    Violation(
                        f"double_{kind}",
                        instance,
                        subject,
                        message,
                        evidence(earlier.get("effect_id"), effect.get("effect_id")),
                    ),
                )
            )
    return found


def _undone(
    index: EffectIndex, effect: Effect, kinds: tuple[str, ...]
) -> Effect | None:
    """The effect of one of ``kinds`` that ``effect`` undoes, if applied."""
    undone = index.compensated(effect)
    if undone is None:
        service = effect.get("service", "")
        entity = effect.get("entity", "")
        for kind in kinds:
            undone = undone or index.first_of(service, entity, kind)
    if undone is None or undone.get("kind") not in kinds:
        return None
    return undone
