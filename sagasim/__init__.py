"""sagasim: a simulation and fault-injection lab for saga-style workflows.

A faithful Python version of the Cloudflare Workflows step engine (retries,
timeouts, caching, replay, sleeps, events and per-step rollback handlers),
run in simulated time on SimPy.
"""

from __future__ import annotations

from typing import Any

from sagasim.durations import parse_duration
from sagasim.engine import Instance, Step, StepContext, Workflow
from sagasim.engine.attempts import AttemptInfo
from sagasim.engine.futures import Future, any_, current_owner, gather, race, sleep_ms
from sagasim.errors import (
    UNDEFINED,
    AggregateError,
    NonRetryableError,
    WorkflowFatalError,
    WorkflowTimeoutError,
)
from sagasim.runtime import Simulation, wait

__all__ = [
    "UNDEFINED",
    "AggregateError",
    "Future",
    "Instance",
    "NonRetryableError",
    "Simulation",
    "Step",
    "StepContext",
    "Workflow",
    "WorkflowFatalError",
    "WorkflowTimeoutError",
    "AttemptInfo",
    "any",
    "current_attempt",
    "gather",
    "parse_duration",
    "race",
    "sleep",
    "wait",
]

any = any_  # noqa: A001 - the name mirrors Promise.any


def _simulation_html(sim: Simulation) -> str:
    from sagasim.report.html import simulation_html

    return simulation_html(sim)


def _instance_html(instance: Instance) -> str:
    from sagasim.report.html import instance_html

    return instance_html(instance)


# Jupyter shows a run and an instance as compact HTML summaries; the report
# layer, which draws them, is imported only when one is first shown.
Simulation.html_renderer = staticmethod(_simulation_html)
Instance.html_renderer = staticmethod(_instance_html)


def current_attempt() -> AttemptInfo | None:
    """The step attempt (or rollback handler attempt) whose code is running,
    or ``None`` outside of one. Simulated services use it to say who called."""
    owner = current_owner()
    return owner if isinstance(owner, AttemptInfo) else None


def sleep(duration: Any) -> Future:
    """Spend ``duration`` of simulated time (ms, ``"<n> <unit>"`` or a
    timedelta) inside a workflow, a step body or a rollback handler:
    ``await sagasim.sleep(250)``."""
    return sleep_ms(parse_duration(duration))
