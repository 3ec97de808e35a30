"""A drawn case written out as a standalone, runnable Python script.

:func:`case_snippet` turns a shape, a fault schedule and instance
operations into a script that uses only the public ``sagasim`` API, runs
the same simulation (the same trace, byte for byte) and prints what the
engine did and what the checks found, so that a shrunk failure can be
pasted into a bug report as it is. Property tests ``note()`` it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sagasim.faults import Fault
from sagasim.strategies.faults import fault_source
from sagasim.strategies.operations import operation_source

__all__ = ["case_snippet"]

PRELUDE = """\
import sagasim
from sagasim import NonRetryableError
from sagasim.checks import check_run
from sagasim.faults import Fault


class Declined(NonRetryableError):
    pass


class Exhausted(Exception):
    pass


handled = []  # (step, count, output the handler saw, step attempt)


def body(ms, kind="ok", flaky=0, none=False, error=NonRetryableError):
    async def fn(ctx):
        key = (ctx.step.name, ctx.step.count)
        latency = ms{jitter}
        if latency:
            await sagasim.sleep(latency)
        where = f"{{ctx.step.name}}#{{ctx.step.count}}"
        if kind == "nonretryable":
            raise error(f"{{where}} declined on attempt {{ctx.attempt}}")
        if kind != "ok" or ctx.attempt <= flaky:
            raise Exhausted(f"{{where}} failed attempt {{ctx.attempt}}")
        return None if none else {{"step": ctx.step.name, "count": ctx.step.count}}

    return fn


def undo(ms, flaky=0):
    async def fn(output, error, ctx):
        if ms:
            await sagasim.sleep(ms)
        attempt = sagasim.current_attempt().attempt
        if attempt <= flaky:
            raise Exhausted(
                f"undo {{ctx.step.name}}#{{ctx.step.count}} failed attempt {{attempt}}"
            )
        handled.append((ctx.step.name, ctx.step.count, output, ctx.attempt))

    return fn


def text(exc):
    name = getattr(exc, "name", type(exc).__name__)
    message = "*" if name == "WorkflowInternalError" else str(exc)
    return f"caught {{name}}: {{message}}"


async def caught(future):
    try:
        return await future
    except Exception as exc:
        return text(exc)


async def payload(future, catch=False):
    if not catch:
        return (await future)["payload"]
    try:
        return (await future)["payload"]
    except Exception as exc:
        name = getattr(exc, "name", type(exc).__name__)
        return f"caught {{name}}: {{exc}}"

"""

JITTER = ' + sim.rng(f"{key}:{ctx.attempt}").randint(0, 3)'


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
        flaky = spec.get("handler_flaky", 0)
        extra = f", flaky={flaky}" if flaky else ""
        parts.append(f"rollback=undo({spec['handler_latency']}{extra})")
        if spec["handler_config"] is not None:
            parts.append(f"rollback_config={{'retries': {spec['handler_config']!r}}}")
    call = f"step.do({', '.join(parts)})"
    return f"caught({call})" if spec["caught"] else call


class _Writer:
    """Writes the body of ``run()``, defining a coroutine per branch."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.branches = 0

    def items(self, items: list[dict[str, Any]], out: str, indent: str) -> None:
        say = self.lines.append
        for item in items:
            kind = item["type"]
            if kind == "sleep":
                say(f"{indent}await step.sleep({item['name']!r}, {item['ms']})")
                say(f"{indent}{out}.append('slept')")
            elif kind == "wait":
                wait = (
                    f"step.wait_for_event({item['name']!r}, type={item['event']!r}, "
                    f"timeout={item['timeout']})"
                )
                catch = ", catch=True" if item["caught"] else ""
                say(f"{indent}{out}.append(await payload({wait}{catch}))")
            elif kind == "step":
                say(f"{indent}{out}.append(await {_call(item['step'])})")
            elif kind == "gather":
                say(f"{indent}{out}.append(await sagasim.gather(")
                self.lines.extend(f"{indent}    {_call(s)}," for s in item["steps"])
                say(f"{indent}))")
            else:
                names = []
                for branch in item["branches"]:
                    self.branches += 1
                    name = f"branch_{self.branches}"
                    names.append(f"{name}()")
                    result = f"r{self.branches}"
                    say(f"{indent}async def {name}():")
                    say(f"{indent}    {result} = []")
                    self.items(branch, result, indent + "    ")
                    say(f"{indent}    return {result}")
                    say("")
                say(f"{indent}{out}.append(await sagasim.gather({', '.join(names)}))")


def case_snippet(
    shape: dict[str, Any],
    *,
    faults: Iterable[Fault] = (),
    operations: Iterable[dict[str, Any]] = (),
    seed: int = 0,
    inflight: str = "cancel",
    on_rollback_failure: str = "halt",
    jitter: bool = False,
    crash: int | None = None,
    comment: str = "",
) -> str:
    """The script that runs ``shape`` as one instance under ``faults``,
    performs ``operations`` (see :mod:`sagasim.strategies.operations`) and
    prints the instance's status, rollback records, handler log and the
    violations :func:`sagasim.checks.check_run` finds.

    ``crash`` (ms) is a shorthand for one ``crash`` operation at that time.
    ``comment`` goes at the top, each line prefixed with ``#``.
    """
    faults = list(faults)
    operations = sorted(operations, key=lambda o: o["at"])
    if crash is not None:
        operations.append({"at": crash, "op": "crash", "restart_after": 0})
        operations.sort(key=lambda o: o["at"])

    writer = _Writer()
    writer.items(shape["items"], "out", " " * 8)
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines += [
        PRELUDE.format(jitter=JITTER if jitter else ""),
        "class Generated(sagasim.Workflow):",
        "    async def run(self, event, step):",
        "        out = []",
        *writer.lines,
        "        return out",
        "",
        "",
    ]
    options = [f"seed={seed}"]
    if inflight != "cancel":
        options.append(f"inflight={inflight!r}")
    if on_rollback_failure != "halt":
        options.append(f"on_rollback_failure={on_rollback_failure!r}")
    if faults:
        lines.append("faults = [")
        lines.extend(f"    {fault_source(fault)}," for fault in faults)
        lines.append("]")
        options.append("faults=faults")
    lines += [
        f"sim = sagasim.Simulation({', '.join(options)})",
        "inst = sim.create(Generated)",
    ]
    now = 0
    for operation in operations:
        if operation["at"] > now:
            now = operation["at"]
            lines.append(f"sim.run(until={now / 1000!r})")
        call = operation_source(operation)
        if operation["op"] in ("terminate", "send_event"):
            lines += [
                "try:",
                f"    {call}",
                "except ValueError as exc:  # the instance has ended",
                "    print('refused:', exc)",
            ]
        else:
            lines.append(call)
    lines += [
        "sim.run()",
        "print(inst.status())",
        "print(inst.rollbacks)",
        "print(handled)",
        "print(sim.now)",
        f"print(check_run(sim.trace, on_rollback_failure={on_rollback_failure!r})"
        ".to_string())",
    ]
    return "\n".join(lines) + "\n"
