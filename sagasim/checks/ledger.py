"""Reading effects ledgers: the state changes simulated services applied.

Effects are plain dicts in the format services produce (``effect_id``,
``op_id``, ``time``, ``service``, ``op``, ``kind``, ``entity``,
``resource``, ``delta``, ``amount``, ``key``, ``instance``, ``step``,
``count``, ``attempt``, ``rollback``, ``compensates``, ``irreversible``), so
the checks work on saved runs as well as live ones. Effect ids are unique
within a service only: an effect is named by ``(service, effect_id)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "Effect",
    "EffectIndex",
    "entity_name",
    "instance_of",
    "is_irreversible",
]

Effect = Mapping[str, Any]


def instance_of(effect: Effect) -> str:
    """The instance whose step made ``effect``; ``""`` outside of a step."""
    return effect.get("instance") or ""


def entity_name(service: str, entity: str) -> str:
    """How checks name an entity: qualified by its service, ``"BANK_A:alice"``."""
    return f"{service}:{entity}"


def is_irreversible(effect: Effect) -> bool:
    """Whether ``effect`` cannot be undone (a message sent)."""
    return bool(effect.get("irreversible")) or effect.get("kind") == "send"


class EffectIndex:
    """Effects in apply order, looked up by id and by what they act on.

    Apply order is ``time``, then ``effect_id`` within a service; effects of
    different services at one instant keep the order they were given in.
    """

    def __init__(self, effects: Iterable[Effect]) -> None:
        listed = list(effects)
        order = {id(effect): i for i, effect in enumerate(listed)}
        self.effects: list[Effect] = sorted(
            listed,
            key=lambda e: (
                e.get("time", 0.0),
                e.get("service", ""),
                e.get("effect_id", 0),
                order[id(e)],
            ),
        )
        self.by_id: dict[tuple[str, int], Effect] = {
            (e.get("service", ""), e.get("effect_id")): e for e in self.effects
        }
        self._position = {id(e): i for i, e in enumerate(self.effects)}
        self._first: dict[tuple[str, str, str], Effect] = {}
        for e in reversed(self.effects):
            key = (e.get("service", ""), e.get("entity", ""), e.get("kind", ""))
            self._first[key] = e

    @classmethod
    def of(cls, effects: Iterable[Effect] | EffectIndex) -> EffectIndex:
        """``effects`` indexed; an index is returned as it is."""
        return effects if isinstance(effects, EffectIndex) else cls(effects)

    def __len__(self) -> int:
        return len(self.effects)

    def __iter__(self):
        return iter(self.effects)

    def position(self, effect: Effect) -> int:
        """Where ``effect`` stands in apply order (0 for the first)."""
        return self._position[id(effect)]

    def first_of(self, service: str, entity: str, kind: str) -> Effect | None:
        """The first effect of ``kind`` on ``entity`` at ``service``."""
        return self._first.get((service, entity, kind))

    def compensated(self, effect: Effect) -> Effect | None:
        """The effect that ``effect`` says it undoes (its ``compensates``),
        when that effect is in the ledger."""
        target = effect.get("compensates")
        if target is None:
            return None
        return self.by_id.get((effect.get("service", ""), target))

    def target(self, effect: Effect) -> tuple[str, str]:
        """``(service, entity)`` that ``effect`` acts on: the entity of the
        effect it compensates when it names one, else its own."""
        undone = self.compensated(effect)
        source = undone if undone is not None else effect
        return (source.get("service", ""), source.get("entity", ""))
