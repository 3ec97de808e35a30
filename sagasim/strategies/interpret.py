"""Turning a drawn shape into a ``Workflow`` subclass.

The generated workflow does what its shape says (see
:mod:`sagasim.strategies.shapes`) and, when given a :class:`ShapeLog`,
records what its user code saw: each body invocation, each body that
returned, each rollback handler call and what a handler that succeeded
received. The engine's own records (``status()``, ``rollbacks``, the trace)
are for the caller to read.

Example::

    from sagasim import Simulation
    from sagasim.strategies import ShapeLog, workflow_from_shape

    shape = {"items": [{"type": "sleep", "name": "a", "ms": 5}]}
    log = ShapeLog()
    sim = Simulation(seed=1)
    inst = sim.create(workflow_from_shape(shape, log=log))
    sim.run()
    assert inst.status()["output"] == ["slept"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sagasim
from sagasim.engine.workflow import Workflow
from sagasim.errors import NonRetryableError, error_name

__all__ = [
    "INTERNAL",
    "Declined",
    "Exhausted",
    "HandlerRun",
    "ShapeLog",
    "attempt_error",
    "caught_result",
    "step_output",
    "workflow_from_shape",
]

#: The name of the error an attempt cut off by an engine crash fails with.
INTERNAL = "WorkflowInternalError"


class Declined(NonRetryableError):
    """A non-retryable subclass, so that an error's own name must survive."""


class Exhausted(Exception):
    """The retryable error a failing attempt (or handler attempt) raises."""


ERROR_CLASSES = {"NonRetryableError": NonRetryableError, "Declined": Declined}


def step_output(spec: dict[str, Any], key: tuple[str, int]) -> Any:
    """What a succeeding body returns, the same on every attempt."""
    if spec["returns_none"]:
        return None
    return {"step": key[0], "count": key[1]}


def attempt_error(
    spec: dict[str, Any], key: tuple[str, int], attempt: int
) -> tuple[str, str]:
    """The ``(name, message)`` a failing attempt fails with."""
    name, count = key
    if spec["kind"] == "timeout":
        return (
            "WorkflowTimeoutError",
            f"Execution timed out after {spec['timeout']}ms",
        )
    if spec["kind"] == "nonretryable":
        return (spec["error_class"], f"{name}#{count} declined on attempt {attempt}")
    return ("Exhausted", f"{name}#{count} failed attempt {attempt}")


def caught_result(error: tuple[str, str | None]) -> str:
    """What the workflow records for an error it caught; a message of
    ``None`` (an attempt cut off by a crash) is written ``*``."""
    name, message = error
    return f"caught {name}: {'*' if message is None else message}"


@dataclass
class HandlerRun:
    """What one rollback handler received, logged when it succeeded."""

    key: tuple[str, int]
    output: Any
    error: tuple[str, str]
    attempt: int


@dataclass
class ShapeLog:
    """What a generated workflow's user code saw, in the order it happened.

    Attributes:
        bodies: ``("call" | "return", (name, count), attempt, seconds)`` per
            body invocation and per body that returned a value.
        handler_calls: ``(name, count)`` per rollback handler attempt.
        handler_runs: one :class:`HandlerRun` per handler that succeeded.

    One log serves one instance; give each instance a class of its own.
    """

    bodies: list[tuple[str, tuple[str, int], int, float]] = field(default_factory=list)
    handler_calls: list[tuple[str, int]] = field(default_factory=list)
    handler_runs: list[HandlerRun] = field(default_factory=list)


class _Runner:
    """Runs one shape's items for one ``run()`` call."""

    def __init__(self, step: Any, sim: Any, log: ShapeLog, jitter: bool) -> None:
        self.step = step
        self.sim = sim
        self.log = log
        self.jitter = jitter

    async def items(self, items: list[dict[str, Any]]) -> list[Any]:
        results = []
        for item in items:
            kind = item["type"]
            if kind == "sleep":
                await self.step.sleep(item["name"], item["ms"])
                results.append("slept")
            elif kind == "wait":
                results.append(await self.wait(item))
            elif kind == "step":
                results.append(await self.call(item["step"]))
            elif kind == "gather":
                calls = [self.call(spec) for spec in item["steps"]]
                results.append(await sagasim.gather(*calls))
            elif kind == "parallel":
                branches = [self.items(branch) for branch in item["branches"]]
                results.append(await sagasim.gather(*branches))
            else:
                raise ValueError(f"unknown shape item type {kind!r}")
        return results

    async def wait(self, item: dict[str, Any]) -> Any:
        future = self.step.wait_for_event(
            item["name"], type=item["event"], timeout=item["timeout"]
        )
        if not item["caught"]:
            return (await future)["payload"]
        try:
            return (await future)["payload"]
        except Exception as exc:  # noqa: BLE001 - the shape says to catch it
            return caught_result((error_name(exc), str(exc)))

    def call(self, spec: dict[str, Any]) -> Any:
        """Call ``step.do`` now (so call order is start order); return what
        to await."""
        config: dict[str, Any] = {
            "retries": {k: spec[k] for k in ("limit", "delay", "backoff")}
        }
        if spec["timeout"] is not None:
            config["timeout"] = spec["timeout"]
        handler_config = spec["handler_config"]
        future = self.step.do(
            spec["name"],
            self.body(spec),
            config=config,
            rollback=self.handler(spec) if spec["handler"] else None,
            rollback_config=None
            if handler_config is None
            else {"retries": handler_config},
        )
        if not spec["caught"]:
            return future

        async def catching() -> Any:
            try:
                return await future
            except Exception as exc:  # noqa: BLE001 - the shape says to catch it
                name = error_name(exc)
                return caught_result((name, None if name == INTERNAL else str(exc)))

        return catching()

    def body(self, spec: dict[str, Any]):
        log, sim, jitter = self.log, self.sim, self.jitter

        async def body(ctx):
            key = (ctx.step.name, ctx.step.count)
            log.bodies.append(("call", key, ctx.attempt, sim.now))
            latency = spec["latency"]
            if jitter:
                latency += sim.rng(f"{key}:{ctx.attempt}").randint(0, 3)
            if latency:
                await sagasim.sleep(latency)
            if spec["kind"] == "nonretryable":
                _, message = attempt_error(spec, key, ctx.attempt)
                raise ERROR_CLASSES[spec["error_class"]](message)
            if spec["kind"] != "ok" or ctx.attempt <= spec["flaky"]:
                _, message = attempt_error(spec, key, ctx.attempt)
                raise Exhausted(message)
            log.bodies.append(("return", key, ctx.attempt, sim.now))
            return step_output(spec, key)

        return body

    def handler(self, spec: dict[str, Any]):
        log = self.log

        async def handler(output, error, ctx):
            key = (ctx.step.name, ctx.step.count)
            log.handler_calls.append(key)
            if spec["handler_latency"]:
                await sagasim.sleep(spec["handler_latency"])
            attempt = sagasim.current_attempt()
            if attempt is not None and attempt.attempt <= spec["handler_flaky"]:
                raise Exhausted(
                    f"undo {key[0]}#{key[1]} failed attempt {attempt.attempt}"
                )
            log.handler_runs.append(
                HandlerRun(key, output, (error_name(error), str(error)), ctx.attempt)
            )

        return handler


def workflow_from_shape(
    shape: dict[str, Any],
    *,
    log: ShapeLog | None = None,
    jitter: bool = False,
    name: str = "Generated",
) -> type[Workflow]:
    """A ``Workflow`` subclass that runs ``shape``.

    Its ``run()`` returns one result per top-level item: a step's output
    (or ``"caught <name>: <message>"`` for an error it caught), a list for a
    gather or a parallel item, ``"slept"`` for a sleep and the event's
    payload for a wait.

    Args:
        shape: a shape as :func:`~sagasim.strategies.workflow_shapes` draws.
        log: where user code records what it saw; a fresh one if ``None``
            (the class keeps it as ``log``).
        jitter: bodies add 0-3 ms drawn from the simulation's seeded random
            streams, so the seed matters.
        name: the workflow's name in traces.
    """
    chosen = ShapeLog() if log is None else log

    class Generated(Workflow):
        log = chosen

        async def run(self, event, step):
            return await _Runner(step, self.sim, chosen, jitter).items(shape["items"])

    Generated.name = name
    Generated.__qualname__ = Generated.__name__ = name
    return Generated
