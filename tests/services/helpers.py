"""Small helpers for the service tests: scripted workflows and row views."""

from __future__ import annotations

import json

import sagasim

NO_RETRIES = {"retries": {"limit": 0, "delay": 0}}


class Script(sagasim.Workflow):
    """Runs ``script(event, step)``, a class attribute set per test."""

    script = None

    async def run(self, event, step):
        return await type(self).script(event, step)


def scripted(script):
    """A workflow class whose ``run`` is ``script``."""
    return type("Script", (Script,), {"script": staticmethod(script)})


def run_script(sim, script, *, id=None):
    """Create one instance running ``script``, run the simulation, return it."""
    inst = sim.create(scripted(script), id=id)
    sim.run()
    return inst


def body(make):
    """An async step body that returns ``await make(ctx)``."""

    async def run(ctx):
        return await make(ctx)

    return run


def in_step(name, make, config=None, rollback=None):
    """A script that runs one step whose body returns ``await make(ctx)``."""

    async def script(event, step):
        return await step.do(name, body(make), config=config, rollback=rollback)

    return script


def no_retries(timeout=60_000):
    """A step config with one attempt and ``timeout`` milliseconds."""
    return {"retries": {"limit": 0, "delay": 0}, "timeout": timeout}


def outcomes(service):
    """``(op, outcome, error, invoked, ended)`` for each history row."""
    return [
        (row["op"], row["outcome"], row["error"], row["invoked"], row["ended"])
        for row in service.history
    ]


def effect_rows(sim):
    """The EFFECT_APPLIED trace rows as tuples, detail decoded."""
    trace = sim.trace
    rows = trace[trace["event"] == "EFFECT_APPLIED"]
    return [
        (time, instance, step, count, attempt, json.loads(detail))
        for time, instance, step, count, attempt, detail in zip(
            rows["time"],
            rows["instance"],
            rows["step"],
            rows["count"],
            rows["attempt"],
            rows["detail"],
            strict=True,
        )
    ]


def attempt_failures(sim):
    """``(time, error_name, error_message)`` of each ATTEMPT_FAILURE row."""
    trace = sim.trace
    rows = trace[trace["event"] == "ATTEMPT_FAILURE"]
    return list(
        zip(rows["time"], rows["error_name"], rows["error_message"], strict=True)
    )
