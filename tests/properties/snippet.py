"""A drawn shape written out as a standalone, runnable Python script.

Property tests ``note()`` it, so a shrunk failure can be pasted into a bug
report as it is: it uses only the public ``sagasim`` API and prints what the
engine did.
"""

from __future__ import annotations

from typing import Any

PRELUDE = """\
import sagasim
from sagasim import NonRetryableError


class Declined(NonRetryableError):
    pass


class Exhausted(Exception):
    pass


handled = []  # (step, count, output the handler saw, step attempt)


def body(ms, kind="ok", flaky=0, none=False, error=NonRetryableError):
    async def fn(ctx):
        if ms:
            await sagasim.sleep(ms)
        where = f"{ctx.step.name}#{ctx.step.count}"
        if kind == "nonretryable":
            raise error(f"{where} declined on attempt {ctx.attempt}")
        if kind != "ok" or ctx.attempt <= flaky:
            raise Exhausted(f"{where} failed attempt {ctx.attempt}")
        return None if none else {"step": ctx.step.name, "count": ctx.step.count}

    return fn


def undo(ms):
    async def fn(output, error, ctx):
        if ms:
            await sagasim.sleep(ms)
        handled.append((ctx.step.name, ctx.step.count, output, ctx.attempt))

    return fn


async def caught(future):
    try:
        return await future
    except Exception as exc:
        return f"caught {getattr(exc, 'name', type(exc).__name__)}: {exc}"

"""


def _call(spec: dict[str, Any]) -> str:
    args = [str(spec["latency"])]
    if spec["kind"] != "ok":
        args.append(f"kind={spec['kind']!r}")
    if spec["flaky"]:
        args.append(f"flaky={spec['flaky']}")
    if spec["returns_none"]:
        args.append("none=True")
    if spec["kind"] == "nonretryable" and spec["error_class"] == "Declined":
        args.append("error=Declined")
    config = {"retries": {k: spec[k] for k in ("limit", "delay", "backoff")}}
    if spec["timeout"] is not None:
        config["timeout"] = spec["timeout"]
    parts = [repr(spec["name"]), f"body({', '.join(args)})", f"config={config!r}"]
    if spec["handler"]:
        parts.append(f"rollback=undo({spec['handler_latency']})")
        if spec["handler_config"] is not None:
            parts.append(f"rollback_config={{'retries': {spec['handler_config']!r}}}")
    call = f"step.do({', '.join(parts)})"
    return f"caught({call})" if spec["caught"] else call


def snippet(
    shape: dict[str, Any],
    crash: int | None = None,
    seed: int = 0,
    inflight: str = "cancel",
) -> str:
    """The script that runs ``shape`` (crashing at ``crash`` ms) and prints
    the instance's status, rollback records and handler log."""
    lines = [
        PRELUDE,
        "class W(sagasim.Workflow):",
        "    async def run(self, event, step):",
        "        out = []",
    ]
    for item in shape["items"]:
        if item["type"] == "sleep":
            lines.append(f"        await step.sleep({item['name']!r}, {item['ms']})")
            lines.append("        out.append('slept')")
        elif item["type"] == "step":
            lines.append(f"        out.append(await {_call(item['step'])})")
        else:
            lines.append("        out.append(await sagasim.gather(")
            lines.extend(f"            {_call(spec)}," for spec in item["steps"])
            lines.append("        ))")
    lines += [
        "        return out",
        "",
        "",
        f"sim = sagasim.Simulation(seed={seed}, inflight={inflight!r})",
        "inst = sim.create(W)",
    ]
    if crash is not None:
        lines += [f"sim.run(until={crash / 1000!r})", "inst.crash()"]
    lines += [
        "sim.run()",
        "print(inst.status())",
        "print(inst.rollbacks)",
        "print(handled)",
        "print(sim.now)",
    ]
    return "\n".join(lines) + "\n"
