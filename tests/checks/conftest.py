"""Builders shared by the checks tests: hand-made traces and effects, and a
fake ledgered service for runs on the real engine."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

import sagasim
from sagasim.runtime.trace import COLUMNS

NO_RETRIES = {"retries": {"limit": 0, "delay": 0}}


class Trace:
    """A trace written row by row; each method returns the seq(s) it added."""

    def __init__(self, instance: str = "inst-1") -> None:
        self.instance = instance
        self.rows: list[tuple] = []

    def add(
        self,
        event: str,
        step: str = "",
        count: int | None = None,
        attempt: int = 0,
        *,
        instance: str | None = None,
        time: float | None = None,
        error: tuple[str, str] = ("", ""),
        detail: dict[str, Any] | None = None,
    ) -> int:
        seq = len(self.rows)
        if count is None:
            count = 1 if step else 0
        self.rows.append(
            (
                seq,
                float(seq) if time is None else time,
                instance or self.instance,
                event,
                step,
                count,
                attempt,
                error[0],
                error[1],
                "" if detail is None else json.dumps(detail, separators=(",", ":")),
            )
        )
        return seq

    def begin(self, **kw) -> None:
        self.add("WORKFLOW_QUEUED", **kw)
        self.add("WORKFLOW_START", **kw)

    def step(self, name: str, count: int = 1, *, ok: bool = True, **kw) -> int:
        """A step that starts, runs one attempt and settles; its STEP_START."""
        start = self.add("STEP_START", name, count, **kw)
        self.add("ATTEMPT_START", name, count, 1, **kw)
        if ok:
            self.add("ATTEMPT_SUCCESS", name, count, 1, **kw)
            self.add("STEP_SUCCESS", name, count, **kw)
        else:
            self.add("ATTEMPT_FAILURE", name, count, 1, error=BOOM, **kw)
            self.add("STEP_FAILURE", name, count, error=BOOM, **kw)
        return start

    def rollback_start(self, total: int, error: tuple[str, str] = None, **kw) -> int:
        name, message = error or BOOM
        return self.add(
            "ROLLBACK_START",
            detail={
                "triggerError": {"name": name, "message": message},
                "totalSteps": total,
            },
            **kw,
        )

    def handler(self, name: str, count: int = 1, *, ok: bool = True, **kw) -> int:
        """A handler that runs one attempt; its ROLLBACK_STEP_START."""
        start = self.add("ROLLBACK_STEP_START", name, count, **kw)
        self.add("ROLLBACK_ATTEMPT_START", name, count, 1, **kw)
        if ok:
            self.add("ROLLBACK_ATTEMPT_SUCCESS", name, count, 1, **kw)
            self.add("ROLLBACK_STEP_SUCCESS", name, count, **kw)
        else:
            self.add("ROLLBACK_ATTEMPT_FAILURE", name, count, 1, error=BOOM, **kw)
            self.add("ROLLBACK_STEP_FAILURE", name, count, error=BOOM, **kw)
        return start

    def rollback_end(self, total: int, completed: int, *, error=None, **kw) -> int:
        event = "ROLLBACK_COMPLETE" if completed == total else "ROLLBACK_FAILED"
        self.add(event, detail={"totalSteps": total, "completedSteps": completed}, **kw)
        return self.add("WORKFLOW_FAILURE", error=error or BOOM, **kw)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(COLUMNS))


BOOM = ("Error", "boom")


def effect(
    effect_id: int,
    kind: str,
    entity: str,
    delta: int = 0,
    *,
    service: str = "BANK",
    instance: str = "inst-1",
    step: str = "debit",
    count: int = 1,
    attempt: int = 1,
    rollback: bool = False,
    compensates: int | None = None,
    time: float | None = None,
    op_id: int | None = None,
    resource: str = "money:USD",
    key: str | None = None,
) -> dict[str, Any]:
    """One ledger entry in the services' format; op_id defaults to its id."""
    return {
        "effect_id": effect_id,
        "op_id": effect_id if op_id is None else op_id,
        "time": float(effect_id) if time is None else time,
        "service": service,
        "op": kind,
        "kind": kind,
        "entity": entity,
        "resource": resource if kind not in ("send", "correction") else "",
        "delta": delta,
        "amount": abs(delta),
        "key": key,
        "instance": instance,
        "step": step,
        "count": count,
        "attempt": attempt,
        "rollback": rollback,
        "compensates": compensates,
        "irreversible": kind == "send",
    }


def found(result: pd.DataFrame) -> list[tuple]:
    """(check, instance, subject, evidence) of each violation, in order."""
    return [
        (row.check, row.instance, row.subject, row.evidence)
        for row in result.itertuples(index=False)
    ]


class Ledger:
    """A fake service that keeps history and effects as services do.

    Requests spend ``latency`` ms, then apply at one instant. Keys
    deduplicate when ``dedupe`` is set: a repeated key returns the first
    result and applies nothing.
    """

    def __init__(
        self, sim, name: str = "BANK", *, latency: int = 0, dedupe: bool = False
    ) -> None:
        self.sim = sim
        self.name = name
        self.latency = latency
        self.dedupe = dedupe
        self.balances: dict[str, int] = {}
        self.history: list[dict[str, Any]] = []
        self.effects: list[dict[str, Any]] = []
        self._keys: dict[str, Any] = {}
        self._charges: dict[str, int] = {}
        self._holds: dict[str, int] = {}
        self._charged = 0
        self._stock = 0

    def snapshot(self) -> dict[str, int]:
        """Account balances plus what every effect's delta changed since."""
        totals = {"money:USD": sum(self.balances.values()) + self._charged}
        if self._stock:
            totals["stock:x"] = self._stock
        return totals

    async def debit(self, account: str, amount: int, key: str | None = None):
        return await self._call("debit", {"account": account, "amount": amount}, key)

    async def credit(self, account: str, amount: int, key: str | None = None):
        return await self._call("credit", {"account": account, "amount": amount}, key)

    async def charge(self, amount: int, key: str | None = None):
        return await self._call("charge", {"amount": amount}, key)

    async def refund(self, charge: str, key: str | None = None):
        return await self._call("refund", {"charge": charge}, key)

    async def hold(self, qty: int, key: str | None = None):
        return await self._call("hold", {"qty": qty}, key)

    async def release(self, hold: str, key: str | None = None):
        return await self._call("release", {"hold": hold}, key)

    async def send(self, to: str, key: str | None = None):
        return await self._call("send", {"to": to}, key)

    async def correct(self, message: str, key: str | None = None):
        return await self._call("correction", {"message": message}, key)

    async def _call(self, op: str, args: dict[str, Any], key: str | None):
        who = sagasim.current_attempt()
        call = {
            "op_id": len(self.history) + 1,
            "service": self.name,
            "op": op,
            "instance": who.instance if who else None,
            "step": who.step if who else "",
            "count": who.count if who else 0,
            "attempt": who.attempt if who else 0,
            "rollback": who.rollback if who else False,
            "key": key,
            "args": args,
            "invoked": self.sim.now,
            "ended": None,
            "outcome": "pending",
            "error": "",
            "result": None,
        }
        self.history.append(call)
        try:
            if self.latency:
                await sagasim.sleep(self.latency)
        except BaseException:
            call["outcome"] = "unknown"
            raise
        if self.dedupe and key is not None and key in self._keys:
            result = self._keys[key]
        else:
            result = self._apply(call)
            if key is not None:
                self._keys[key] = result
        call.update(ended=self.sim.now, outcome="ok", result=result)
        return result

    def _apply(self, call: dict[str, Any]) -> Any:
        op, args = call["op"], call["args"]
        compensates = None
        if op in ("debit", "credit"):
            entity = args["account"]
            amount = args["amount"]
            delta = -amount if op == "debit" else amount
            self.balances[entity] = self.balances.get(entity, 0) + delta
            result = entity
        elif op == "charge":
            entity = result = f"ch_{call['op_id']}"
            amount = delta = args["amount"]
            self._charges[entity] = len(self.effects) + 1
        elif op == "refund":
            entity = result = args["charge"]
            compensates = self._charges.get(entity)
            amount = self.effects[compensates - 1]["amount"] if compensates else 0
            delta = -amount
        elif op == "hold":
            entity = result = f"hold_{call['op_id']}"
            amount, delta = args["qty"], -args["qty"]
            self._holds[entity] = len(self.effects) + 1
        elif op == "release":
            entity = result = args["hold"]
            compensates = self._holds.get(entity)
            amount = self.effects[compensates - 1]["amount"] if compensates else 0
            delta = amount
        else:
            entity = result = f"msg_{call['op_id']}"
            amount = delta = 0
            if op == "correction":
                entity = args["message"]
        resource = {"hold": "stock:x", "release": "stock:x"}.get(op, "money:USD")
        if op in ("charge", "refund"):
            self._charged += delta
        elif op in ("hold", "release"):
            self._stock += delta
        self.effects.append(
            {
                "effect_id": len(self.effects) + 1,
                "op_id": call["op_id"],
                "time": self.sim.now,
                "service": self.name,
                "op": op,
                "kind": op,
                "entity": entity,
                "resource": "" if op in ("send", "correction") else resource,
                "delta": delta,
                "amount": amount,
                "key": call["key"],
                "instance": call["instance"],
                "step": call["step"],
                "count": call["count"],
                "attempt": call["attempt"],
                "rollback": call["rollback"],
                "compensates": compensates,
                "irreversible": op == "send",
            }
        )
        self.sim.recorder.record(
            self.sim.env.now,
            call["instance"] or "",
            "EFFECT_APPLIED",
            call["step"],
            call["count"],
            call["attempt"],
            None,
            {
                "service": self.name,
                "op": op,
                "kind": op,
                "entity": entity,
                "amount": amount,
                "effect_id": len(self.effects),
            },
        )
        return result
