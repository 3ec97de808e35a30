"""Small helpers for the storm tests: one-call workflows and history views."""

from __future__ import annotations

import sagasim


def one_call(service, config=None, *, sleep_ms=0):
    """A workflow class that calls ``service.handle()`` in one step."""

    class OneCall(sagasim.Workflow):
        async def run(self, event, step):
            if sleep_ms:
                await step.sleep("wait", sleep_ms)

            async def call():
                return await service.handle(event["instance_id"])

            return await step.do("call", call, config=config)

    return OneCall


def no_retries(timeout=60_000):
    """A step config with one attempt and ``timeout`` milliseconds."""
    return {"retries": {"limit": 0, "delay": 0}, "timeout": timeout}


def calls(service):
    """``(op_id, started, ended, outcome, error)`` for each history row."""
    return [
        (row["op_id"], row["started"], row["ended"], row["outcome"], row["error"])
        for row in service.history
    ]
