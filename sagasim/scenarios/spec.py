"""The validated, immutable form of a scenario file.

:func:`sagasim.scenarios.load_scenario` turns TOML into these dataclasses;
nothing else builds them from user input, so code that receives a
:class:`Scenario` may rely on what each one documents: every name it refers
to exists, every template names only what is in scope where it stands.
Durations are integer milliseconds; points in time (arrivals, outages,
events) are integer milliseconds since the start of the simulation.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sagasim.engine.workflow import Workflow
from sagasim.faults import FaultPlan
from sagasim.scenarios.templates import Condition, Template, render_value

__all__ = [
    "ARRIVAL_PROCESSES",
    "Arrival",
    "CallSpec",
    "CompensationSpec",
    "EventSpec",
    "PayloadField",
    "Scenario",
    "ServiceSpec",
    "SimulationSpec",
    "StepSpec",
    "WorkflowSpec",
]

ARRIVAL_PROCESSES = ("fixed", "poisson")


@dataclass(frozen=True)
class Arrival:
    """When instances are created.

    ``process`` is ``"fixed"`` (instance ``i``, 0-based, at ``i *
    interval_ms``), ``"poisson"`` (gaps drawn from an exponential
    distribution of mean ``interval_ms``, the first gap before the first
    instance) or ``"times"`` (the listed ``times_ms``, one per instance,
    ascending).
    """

    process: str
    interval_ms: int = 0
    times_ms: tuple[int, ...] = ()

    def times(self, count: int, rng: random.Random) -> Iterator[int]:
        """The creation time of each of ``count`` instances, in milliseconds.

        Only a Poisson process draws from ``rng``: one ``expovariate`` per
        instance, in creation order.
        """
        if self.process == "times":
            yield from self.times_ms[:count]
            return
        now = 0
        for index in range(count):
            if self.process == "fixed":
                yield index * self.interval_ms
                continue
            if self.interval_ms:
                now += round(rng.expovariate(1 / self.interval_ms))
            yield now


@dataclass(frozen=True)
class SimulationSpec:
    """The run as a whole: seed, instances, arrivals, engine policies."""

    seed: int
    instances: int
    arrival: Arrival
    max_concurrent: int
    inflight: str
    on_rollback_failure: str


@dataclass(frozen=True)
class ServiceSpec:
    """One simulated service: its name, its kind and constructor options.

    ``options`` are the keyword arguments of the kind's class
    (:class:`~sagasim.services.Bank`, ...), already checked.
    """

    name: str
    kind: str
    options: MappingProxyType[str, Any]

    def build(self, sim: Any) -> Any:
        """A fresh service of this kind for ``sim``."""
        from sagasim.scenarios.kinds import SERVICE_KINDS

        return SERVICE_KINDS[self.kind].cls(sim, self.name, **self.options)

    def resources(self) -> tuple[str, ...]:
        """The resources this service's snapshot reports (``"money:north"``)."""
        if self.kind == "bank":
            return ("money:" + self.name,)
        if self.kind == "payments":
            return ("money:" + self.options.get("currency", "usd"),)
        if self.kind == "inventory":
            return tuple("stock:" + sku for sku in self.options["stock"])
        return ()


@dataclass(frozen=True)
class CallSpec:
    """``service.op(**args, key=key)``, with templates still to fill in.

    ``args`` is a parsed value (see :func:`~sagasim.scenarios.templates.
    parse_value`); ``key`` a template, a plain string, or ``None`` for a
    call without an idempotency key.
    """

    service: str
    op: str
    args: MappingProxyType[str, Any]
    key: Template | str | None

    @property
    def target(self) -> str:
        return f"{self.service}.{self.op}"

    def render(self, scope: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The call's arguments and key for ``scope``."""
        args = render_value(dict(self.args), scope)
        key = self.key.render(scope) if isinstance(self.key, Template) else self.key
        return args, None if key is None else str(key)


@dataclass(frozen=True)
class CompensationSpec:
    """The rollback handler of a call step.

    The handler runs only when ``when`` holds; without a ``when`` it runs
    only when the step has an output (its own, or one found by key, see
    :class:`StepSpec`). ``config`` is the handler's ``rollback_config``.
    An error whose name is in ``ignore_errors`` ends the handler as a
    success: the service said there was nothing to undo (``UnknownHold``
    for a release by key of a hold that never landed).
    """

    call: CallSpec
    when: Condition | None
    config: MappingProxyType[str, Any] | None
    ignore_errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepSpec:
    """One entry of ``[[workflow.steps]]``.

    ``kind`` is ``"call"``, ``"sleep"``, ``"wait"`` or ``"parallel"``; only
    the fields of that kind are set. A step with a ``when`` that does not
    hold is skipped: nothing runs, its output is ``null``.

    For a call step whose output is lost (``UNDEFINED`` in its handler), a
    ``key`` and a service that can ``find`` by key let the compensation
    recover the output: the id of the record found stands in for it. A
    wait step's output is the event ``{"type", "payload", "timestamp"}``
    (an ISO 8601 string), or ``null`` after a timeout with
    ``on_timeout = "continue"``.
    """

    name: str
    kind: str
    when: Condition | None = None
    call: CallSpec | None = None
    config: MappingProxyType[str, Any] | None = None
    compensation: CompensationSpec | None = None
    find: bool = False
    sleep_ms: int = 0
    event_type: str = ""
    timeout_ms: int = 0
    on_timeout: str = "fail"
    branches: tuple[StepSpec, ...] = ()


@dataclass(frozen=True)
class WorkflowSpec:
    """A declarative saga: a name and its steps, in order."""

    name: str
    steps: tuple[StepSpec, ...]


@dataclass(frozen=True)
class PayloadField:
    """How one field of each instance's payload is made.

    ``kind`` is ``"value"`` (``value`` as written, templates filled in),
    ``"range"`` (a whole number drawn uniformly from ``low`` to ``high``,
    both included), ``"choice"`` (one of ``choices``, by ``weights``) or
    ``"chance"`` (``true`` with probability ``probability``).
    """

    name: str
    kind: str
    value: Any = None
    low: int = 0
    high: int = 0
    choices: tuple[Any, ...] = ()
    weights: tuple[float, ...] | None = None
    probability: float = 0.0

    def draw(self, rng: random.Random, scope: dict[str, Any]) -> Any:
        """This field for one instance; ``scope`` holds the instance id and
        the fields drawn before it. A value draws nothing from ``rng``; a
        range, choice or chance draws once."""
        if self.kind == "range":
            return rng.randint(self.low, self.high)
        if self.kind == "choice":
            return rng.choices(self.choices, weights=self.weights)[0]
        if self.kind == "chance":
            return rng.random() < self.probability
        return render_value(self.value, scope)


@dataclass(frozen=True)
class EventSpec:
    """An event sent at ``at_ms`` to every instance whose id matches
    ``instance`` (a glob pattern) and that exists and has not finished then;
    the others are recorded as not delivered. ``payload`` may use
    ``{instance}``."""

    instance: str
    at_ms: int
    type: str
    payload: Any

    def matches(self, instance_id: str) -> bool:
        return fnmatch.fnmatchcase(instance_id, self.instance)


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file, validated.

    ``path`` is the file it was read from and ``name`` its stem.
    ``workflow`` is a :class:`WorkflowSpec` for a declarative saga, or the
    :class:`~sagasim.Workflow` subclass that ``workflow = "module:Class"``
    names; ``workflow_ref`` is that reference, or ``""``. ``conserved``
    maps the name of each conserved pool (``[checks] conserved``) to the
    resources whose totals it sums.
    """

    path: Path
    name: str
    simulation: SimulationSpec
    services: tuple[ServiceSpec, ...]
    workflow: WorkflowSpec | type[Workflow]
    payload: tuple[PayloadField, ...]
    faults: FaultPlan
    events: tuple[EventSpec, ...]
    workflow_ref: str = ""
    description: str = ""
    conserved: MappingProxyType[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def service(self, name: str) -> ServiceSpec:
        """The service called ``name``."""
        for spec in self.services:
            if spec.name == name:
                return spec
        raise KeyError(name)
