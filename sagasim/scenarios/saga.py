"""The declarative saga of a scenario file, as a real :class:`sagasim.Workflow`.

:func:`compile_workflow` turns a :class:`~sagasim.scenarios.spec.WorkflowSpec`
into a ``Workflow`` subclass whose ``run()`` walks the steps in order:

- a call step is a ``step.do`` whose body calls ``self.env[service].op`` with
  the rendered ``args`` (and ``key=``, when the step has a key); its
  compensation becomes the step's rollback handler, its ``config`` and the
  compensation's ``config`` the step's ``config`` and ``rollback_config``;
- a parallel group starts its steps in the order written and awaits them
  with :func:`sagasim.gather`, so the first failure fails ``run()`` and the
  engine rolls back every step that started, in reverse start order;
- a sleep is ``step.sleep``; a wait is ``step.wait_for_event``;
- a step whose ``when`` does not hold is skipped and its output is ``null``.

Templates are rendered when the step's attempt runs (``{attempt}`` is that
attempt), conditions when ``run()`` reaches the step; both read only the
payload, the instance id and outputs of finished steps, which the engine
caches, so a replay after a crash takes the same path.

A rollback handler renders its compensation with ``{output}`` the step's
output, or ``null`` when the handler sees ``UNDEFINED``. A step with a key
whose service can look records up by key (Payments) then asks
``find(key)`` first, and the id of the record found stands in for the lost
output: that is how a charge whose answer was lost is still refunded.
Without a ``when`` the compensation runs only if there is an output; with
one, only if it holds. Errors named in its ``ignore_errors`` end the
handler as a success.

A template that cannot be rendered (a path into a missing field) fails the
attempt with a non-retryable :class:`TemplateFailure`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sagasim
from sagasim.engine.futures import Future
from sagasim.engine.workflow import Workflow
from sagasim.errors import NonRetryableError, WorkflowTimeoutError, error_name
from sagasim.scenarios.spec import CompensationSpec, StepSpec, WorkflowSpec
from sagasim.scenarios.templates import Condition, TemplateError

__all__ = ["DeclarativeSaga", "TemplateFailure", "compile_workflow"]


class TemplateFailure(NonRetryableError):
    """A template or condition of the scenario could not be filled in."""


class DeclarativeSaga(Workflow):
    """The base of every compiled saga; ``spec`` holds its steps.

    ``run()`` returns a dict of the outputs of its call and wait steps, by
    step name (``null`` for skipped ones).
    """

    spec: ClassVar[WorkflowSpec]
    outputs: ClassVar[tuple[str, ...]] = ()

    async def run(self, event: dict[str, Any], step: Any) -> dict[str, Any]:
        scope: dict[str, Any] = {
            "payload": event["payload"],
            "instance": event["instance_id"],
            "steps": {},
        }
        for item in self.spec.steps:
            if item.kind == "parallel":
                await self._parallel(item, step, scope)
            else:
                scope["steps"][item.name] = await self._start(item, step, scope)
        return {name: scope["steps"].get(name) for name in self.outputs}

    async def _parallel(self, group: StepSpec, step: Any, scope: dict) -> None:
        if group.when is not None and not _holds(group.when, scope):
            for branch in group.branches:
                scope["steps"][branch.name] = None
            return
        started = [self._start(branch, step, scope) for branch in group.branches]
        outputs = await sagasim.gather(*started)
        for branch, output in zip(group.branches, outputs, strict=True):
            scope["steps"][branch.name] = output

    def _start(self, item: StepSpec, step: Any, scope: dict) -> Any:
        """Start one step now (its count and start order are taken here) and
        return the awaitable of its output."""
        if item.when is not None and not _holds(item.when, scope):
            return _settled(None)
        if item.kind == "sleep":
            return _sleeping(step.sleep(item.name, item.sleep_ms))
        if item.kind == "wait":
            waiting = step.wait_for_event(
                item.name, type=item.event_type, timeout=item.timeout_ms
            )
            return _waiting(waiting, item.on_timeout == "continue")
        return step.do(
            item.name,
            self._body(item, scope),
            config=_plain(item.config),
            rollback=None
            if item.compensation is None
            else self._handler(item, item.compensation, scope),
            rollback_config=None
            if item.compensation is None
            else _plain(item.compensation.config),
        )

    def _body(self, item: StepSpec, scope: dict) -> Any:
        call = item.call
        env = self.env

        async def body(ctx: Any) -> Any:
            local = {**scope, "attempt": ctx.attempt}
            key = _render_key(item, local)
            local["key"] = key
            args, _ = _render(call, local)
            return await _invoke(env, call.service, call.op, args, key)

        return body

    def _handler(
        self, item: StepSpec, compensation: CompensationSpec, scope: dict
    ) -> Any:
        env = self.env

        async def undo(output: Any, error: Any, ctx: Any) -> Any:
            local = {
                **scope,
                "attempt": ctx.attempt,
                "output": None if output is sagasim.UNDEFINED else output,
            }
            key = _render_key(item, local)
            local["key"] = key
            if output is sagasim.UNDEFINED and item.find and key is not None:
                found = await env[item.call.service].find(key)
                if isinstance(found, dict) and "id" in found:
                    found = found["id"]
                local["output"] = found
            if compensation.when is not None:
                if not _holds(compensation.when, local):
                    return None
            elif local["output"] is None:
                return None
            args, comp_key = _render(compensation.call, local)
            call = compensation.call
            try:
                return await _invoke(env, call.service, call.op, args, comp_key)
            except Exception as exc:
                if error_name(exc) in compensation.ignore_errors:
                    return None
                raise

        return undo


def compile_workflow(spec: WorkflowSpec) -> type[DeclarativeSaga]:
    """A new :class:`DeclarativeSaga` subclass running ``spec``, named
    ``spec.name`` in traces and fault targets."""
    class_name = "Saga_" + "".join(ch if ch.isalnum() else "_" for ch in spec.name)
    outputs = tuple(
        leaf.name
        for item in spec.steps
        for leaf in (item.branches or (item,))
        if leaf.kind in ("call", "wait")
    )
    return type(
        class_name,
        (DeclarativeSaga,),
        {
            "name": spec.name,
            "spec": spec,
            "outputs": outputs,
            "__doc__": f"The {spec.name} saga.",
        },
    )


async def _invoke(
    env: dict[str, Any], service: str, op: str, args: dict[str, Any], key: str | None
) -> Any:
    method = getattr(env[service], op)
    if key is None:
        return await method(**args)
    return await method(**args, key=key)


def _render_key(item: StepSpec, local: dict[str, Any]) -> str | None:
    template = item.call.key
    if template is None:
        return None
    try:
        key = template if isinstance(template, str) else template.render(local)
    except TemplateError as exc:
        raise TemplateFailure(f"step {item.name!r}: key: {exc.message}") from None
    return None if key is None else str(key)


def _render(call: Any, local: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    try:
        return call.render(local)
    except TemplateError as exc:
        raise TemplateFailure(f"{call.target}: {exc.message}") from None


def _holds(condition: Condition, scope: dict[str, Any]) -> bool:
    try:
        return condition.evaluate(scope)
    except TemplateError as exc:
        raise TemplateFailure(f"when {condition.source!r}: {exc.message}") from None


def _settled(value: Any) -> Future:
    future = Future()
    future.set_result(value)
    return future


async def _sleeping(sleep: Any) -> None:
    await sleep
    return None


async def _waiting(waiting: Any, continue_on_timeout: bool) -> Any:
    try:
        event = await waiting
    except WorkflowTimeoutError:
        if continue_on_timeout:
            return None
        raise
    timestamp = event.get("timestamp")
    return {
        "type": event.get("type"),
        "payload": event.get("payload"),
        "timestamp": timestamp.isoformat() if timestamp is not None else None,
    }


def _plain(config: Any) -> dict[str, Any] | None:
    if config is None:
        return None
    return {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in config.items()
    }
