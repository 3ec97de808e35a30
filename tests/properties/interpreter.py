"""Turn a drawn shape into a ``Workflow`` subclass and run it.

The generated workflow does what the shape says and records what its user
code saw: each body invocation, each body that returned, each rollback
handler call and what the handler received. The engine's own records
(``status()``, ``rollbacks``, the trace) are read by the tests, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sagasim
from sagasim import NonRetryableError, Simulation, Workflow

from .model import INTERNAL, attempt_error, caught_result, step_output


class Declined(NonRetryableError):
    """A non-retryable subclass, so that the error's own name must survive."""


class Exhausted(Exception):
    """The retryable error a failing attempt raises."""


ERROR_CLASSES = {"NonRetryableError": NonRetryableError, "Declined": Declined}


def error_name(error: BaseException) -> str:
    name = getattr(error, "name", None)
    return name if isinstance(name, str) else type(error).__name__


@dataclass
class HandlerRun:
    """What one rollback handler received, logged when it finished."""

    key: tuple[str, int]
    output: Any
    error: tuple[str, str]
    attempt: int


@dataclass
class Log:
    """What the generated workflow's user code saw, in the order it happened."""

    sim: Simulation | None = None
    # ("call" or "return", (name, count), attempt, simulated seconds)
    bodies: list[tuple[str, tuple[str, int], int, float]] = field(default_factory=list)
    handler_calls: list[tuple[str, int]] = field(default_factory=list)
    handler_runs: list[HandlerRun] = field(default_factory=list)


def _body(spec: dict[str, Any], log: Log, jitter: bool):
    async def body(ctx):
        key = (ctx.step.name, ctx.step.count)
        log.bodies.append(("call", key, ctx.attempt, log.sim.now))
        latency = spec["latency"]
        if jitter:
            latency += log.sim.rng(f"{key}:{ctx.attempt}").randint(0, 3)
        if latency:
            await sagasim.sleep(latency)
        if spec["kind"] == "nonretryable":
            _, message = attempt_error(spec, key, ctx.attempt)
            raise ERROR_CLASSES[spec["error_class"]](message)
        if spec["kind"] != "ok" or ctx.attempt <= spec["flaky"]:
            _, message = attempt_error(spec, key, ctx.attempt)
            raise Exhausted(message)
        log.bodies.append(("return", key, ctx.attempt, log.sim.now))
        return step_output(spec, key)

    return body


def _handler(spec: dict[str, Any], log: Log):
    async def handler(output, error, ctx):
        key = (ctx.step.name, ctx.step.count)
        log.handler_calls.append(key)
        if spec["handler_latency"]:
            await sagasim.sleep(spec["handler_latency"])
        log.handler_runs.append(
            HandlerRun(key, output, (error_name(error), str(error)), ctx.attempt)
        )

    return handler


def _call(step, spec: dict[str, Any], log: Log, jitter: bool):
    """Call ``step.do`` now (so call order is start order); return what to await."""
    config = {"retries": {k: spec[k] for k in ("limit", "delay", "backoff")}}
    if spec["timeout"] is not None:
        config["timeout"] = spec["timeout"]
    handler_config = spec["handler_config"]
    future = step.do(
        spec["name"],
        _body(spec, log, jitter),
        config=config,
        rollback=_handler(spec, log) if spec["handler"] else None,
        rollback_config=None if handler_config is None else {"retries": handler_config},
    )
    if not spec["caught"]:
        return future

    async def catching():
        try:
            return await future
        except Exception as exc:  # noqa: BLE001 - the shape says to catch it
            name = error_name(exc)
            return caught_result((name, None if name == INTERNAL else str(exc)))

    return catching()


def build_workflow(shape: dict[str, Any], log: Log, *, jitter: bool = False):
    """A ``Workflow`` subclass that runs ``shape``; with ``jitter``, bodies add
    a few ms drawn from the simulation's seeded random streams."""

    class Generated(Workflow):
        async def run(self, event, step):
            results = []
            for item in shape["items"]:
                if item["type"] == "sleep":
                    await step.sleep(item["name"], item["ms"])
                    results.append("slept")
                elif item["type"] == "step":
                    results.append(await _call(step, item["step"], log, jitter))
                else:
                    calls = [_call(step, spec, log, jitter) for spec in item["steps"]]
                    results.append(await sagasim.gather(*calls))
            return results

    return Generated


def run_shape(
    shape: dict[str, Any],
    *,
    seed: int = 0,
    crash: int | None = None,
    jitter: bool = False,
    inflight: str = "cancel",
):
    """Run one instance of ``shape`` under the ``inflight`` policy; with
    ``crash`` (ms), crash the engine under it at that simulated instant.
    Returns ``(sim, inst, log)``."""
    log = Log()
    sim = Simulation(seed=seed, inflight=inflight)
    log.sim = sim
    inst = sim.create(build_workflow(shape, log, jitter=jitter))
    if crash is not None:
        sim.run(until=crash / 1000)
        inst.crash()
    sim.run()
    return sim, inst, log
