"""The records a service keeps by id and by idempotency key."""

from __future__ import annotations

from typing import Any

__all__ = ["Records"]


class Records:
    """Records (dicts with an ``"id"`` and a ``"key"``) in creation order.

    Ids are ``<prefix>_1``, ``<prefix>_2``, ... in the order records are
    made, so they are deterministic per service. A record made with a key
    can be found by that key; the first record made with a key keeps it.
    """

    __slots__ = ("prefix", "by_id", "by_key")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}

    def add(self, key: str | None, **fields: Any) -> dict[str, Any]:
        """Make, store and return a record with the next id and ``fields``."""
        record = {"id": f"{self.prefix}_{len(self.by_id) + 1}", "key": key, **fields}
        self.by_id[record["id"]] = record
        if key is not None:
            self.by_key.setdefault(key, record)
        return record

    def resolve(self, ref: str) -> dict[str, Any] | None:
        """The record whose id is ``ref``, else whose key is ``ref``, else None."""
        record = self.by_id.get(ref)
        if record is None:
            record = self.by_key.get(ref)
        return record

    def public(self, drop: tuple[str, ...] = ("effect_id",)) -> dict[str, dict]:
        """Copies of every record by id, without the internal fields ``drop``."""
        return {
            id_: {k: v for k, v in record.items() if k not in drop}
            for id_, record in self.by_id.items()
        }
