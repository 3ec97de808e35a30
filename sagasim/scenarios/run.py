"""Turning a validated scenario into a simulation, running it, reading it.

:func:`build` makes a :class:`ScenarioRun`: a fresh
:class:`sagasim.Simulation` with the scenario's policies and fault plan, its
services bound under their names, and the workflow (the compiled
declarative saga, or the named class). :meth:`ScenarioRun.run` creates the
instances at their arrival times and sends the scenario's events at
theirs; afterwards the run's tables (trace, effects, history, violations,
fault report) come from the methods below.

Randomness, all derived from the seed: arrival gaps from
``sim.rng("scenario:arrivals")``, each instance's payload from
``sim.rng("scenario:payload:<instance id>")``, so one more instance leaves
the others' payloads as they were.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

import sagasim
from sagasim.checks import run_checks
from sagasim.engine.workflow import Workflow
from sagasim.scenarios.saga import compile_workflow
from sagasim.scenarios.spec import Scenario, WorkflowSpec
from sagasim.scenarios.templates import render_value

__all__ = ["EFFECT_COLUMNS", "HISTORY_COLUMNS", "ScenarioRun", "build"]

EFFECT_COLUMNS = [
    "service",
    "effect_id",
    "op_id",
    "time",
    "op",
    "kind",
    "entity",
    "resource",
    "delta",
    "amount",
    "key",
    "instance",
    "step",
    "count",
    "attempt",
    "rollback",
    "compensates",
    "irreversible",
]
HISTORY_COLUMNS = [
    "service",
    "op_id",
    "op",
    "instance",
    "step",
    "count",
    "attempt",
    "rollback",
    "key",
    "args",
    "invoked",
    "started",
    "ended",
    "outcome",
    "error",
    "result",
]

# At one instant, instances are created before events are sent to them.
_CREATE, _SEND = 0, 1


@dataclass
class ScenarioRun:
    """One simulation of a scenario.

    ``seed`` is the seed the simulation uses; ``services`` the services by
    name, bound in ``sim.bindings``; ``opening`` each service's
    :meth:`~sagasim.services.Service.snapshot` before anything ran.
    ``deliveries`` lists, after the run, one dict per event and instance it
    was meant for: ``time``, ``instance``, ``type``, ``delivered`` and, when
    it was not, ``reason``: ``"finished"`` or ``"not created yet"``.
    """

    scenario: Scenario
    seed: int
    sim: sagasim.Simulation
    services: dict[str, Any]
    workflow: type[Workflow]
    opening: dict[str, dict[str, int]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def arrivals(self) -> list[int]:
        """The creation time of each instance, in integer milliseconds."""
        spec = self.scenario.simulation
        rng = self.sim.rng("scenario:arrivals")
        return list(spec.arrival.times(spec.instances, rng))

    def payload(self, instance_id: str) -> dict[str, Any]:
        """The payload of the instance ``instance_id``, drawn from its own
        stream, field by field in the order the file gives them."""
        rng = self.sim.rng("scenario:payload:" + instance_id)
        values: dict[str, Any] = {}
        scope = {"instance": instance_id, "payload": values, "steps": {}}
        for spec in self.scenario.payload:
            values[spec.name] = spec.draw(rng, scope)
        return values

    def run(self, progress: Callable[[int], None] | None = None) -> None:
        """Create every instance at its arrival time, send every event at its
        time, then run until no work is left.

        Each action happens between ``sim.run(until=...)`` calls, at exactly
        its instant. ``progress`` is called with 1 after each creation.
        """
        sim = self.sim
        for time_ms, what, subject in self._timeline():
            if time_ms > sim.env.now:
                sim.run(until=time_ms / 1000)
            if what == _CREATE:
                instance_id = f"inst-{subject + 1}"
                sim.create(self.workflow, self.payload(instance_id), id=instance_id)
                if progress is not None:
                    progress(1)
            else:
                self._send(self.scenario.events[subject])
        sim.run()

    def _timeline(self) -> Iterator[tuple[int, int, int]]:
        actions = [(t, _CREATE, index) for index, t in enumerate(self.arrivals())]
        actions += [
            (event.at_ms, _SEND, index)
            for index, event in enumerate(self.scenario.events)
        ]
        return iter(sorted(actions))

    def _send(self, event: Any) -> None:
        for number in range(1, self.scenario.simulation.instances + 1):
            instance_id = f"inst-{number}"
            if not event.matches(instance_id):
                continue
            try:
                instance = self.sim.get(instance_id)
            except KeyError:
                reason = "not created yet"
            else:
                status = instance.status()["status"]
                finished = status in ("complete", "errored", "terminated")
                reason = "finished" if finished else ""
            if not reason:
                payload = render_value(event.payload, {"instance": instance_id})
                instance.send_event(event.type, payload)
            self.deliveries.append(
                {
                    "time": self.sim.now,
                    "instance": instance_id,
                    "type": event.type,
                    "delivered": not reason,
                    "reason": reason,
                }
            )

    # -- what a finished run says ------------------------------------------

    def closing(self) -> dict[str, dict[str, int]]:
        """Each service's snapshot now."""
        return {name: service.snapshot() for name, service in self.services.items()}

    def conserved(self) -> dict[str, tuple[str, ...]]:
        """The conserved pools of the scenario: pool name to resources."""
        return {
            pool: tuple(resources)
            for pool, resources in self.scenario.conserved.items()
        }

    def violations(self) -> pd.DataFrame:
        """Every check of :func:`sagasim.checks.run_checks` over the run.

        Conservation is checked for the scenario's ``[checks] conserved``
        pools only.
        """
        pools = self.conserved()
        owner = {
            resource: pool for pool, members in pools.items() for resource in members
        }
        opening = {
            resource: total
            for totals in self.opening.values()
            for resource, total in totals.items()
            if resource in owner
        }
        if not opening:
            return run_checks(self.sim)
        return run_checks(
            self.sim,
            opening=opening,
            pool=lambda resource: owner.get(resource, resource),
        )

    def effects(self) -> pd.DataFrame:
        """Every service's effects ledger, in the order applied; effects of
        one instant in the order the services are declared."""
        rows = [
            effect for service in self.services.values() for effect in service.effects
        ]
        frame = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
        return frame.sort_values("time", kind="stable", ignore_index=True)

    def history(self) -> pd.DataFrame:
        """Every service's calls, in the order invoked (calls of one instant
        in the order the services are declared); ``args`` and ``result`` as
        compact JSON."""
        rows = []
        for service in self.services.values():
            for call in service.history:
                row = dict(call)
                row["args"] = _json(call["args"])
                row["result"] = _json(call["result"])
                rows.append(row)
        frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
        return frame.sort_values("invoked", kind="stable", ignore_index=True)

    def fault_report(self) -> pd.DataFrame:
        """The fault plan's report: each fault and how often it fired."""
        if self.sim.faults is None:
            return pd.DataFrame(columns=["fault", "kind", "target", "label", "fired"])
        return self.sim.faults.report()


def build(scenario: Scenario, *, seed: int | None = None) -> ScenarioRun:
    """A fresh simulation of ``scenario``, nothing run yet.

    ``seed`` overrides the scenario's seed.
    """
    spec = scenario.simulation
    seed = spec.seed if seed is None else seed
    sim = sagasim.Simulation(
        seed=seed,
        max_concurrent=spec.max_concurrent,
        inflight=spec.inflight,
        on_rollback_failure=spec.on_rollback_failure,
        faults=scenario.faults if len(scenario.faults) else None,
    )
    services = {service.name: service.build(sim) for service in scenario.services}
    sim.bindings.update(services)
    workflow = scenario.workflow
    if isinstance(workflow, WorkflowSpec):
        workflow = compile_workflow(workflow)
    return ScenarioRun(
        scenario=scenario,
        seed=seed,
        sim=sim,
        services=services,
        workflow=workflow,
        opening={name: service.snapshot() for name, service in services.items()},
    )


def _json(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
