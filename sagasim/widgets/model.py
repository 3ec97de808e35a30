"""What the explorer runs: a scenario with its knobs set, and a summary.

A *source* is a scenario file (a path to TOML) or the name of a built-in
saga (:data:`BUILTINS`). Either way it becomes a decoded scenario document,
a plain dict with the layout of a scenario file, and the explorer's knobs
(:data:`KNOBS`) are applied to that document before the scenario loader
validates it, so a knob can only ever produce a scenario a file could have
said. :func:`explore` builds, runs and checks it and returns an
:class:`Exploration`; the same settings and seed give the same numbers.

The knobs and the fields they set:

``seed``, ``instances``, ``max_concurrent``, ``inflight``
    ``simulation.*``.
``retry_limit``, ``delay_ms``, ``backoff``, ``timeout_ms``
    the workflow's step config (``workflow.config``), and the same keys
    wherever a step sets its own, so the knob governs every step. Rollback
    handlers keep their ``rollback_config``.
``error_rate``
    every service's rate of retryable failures at arrival.
``lost_reply``
    a ``lose_output`` fault on every forward step attempt with this
    probability: the effect lands, the answer is lost, the step retries,
    and a handler may later see ``UNDEFINED``.
``failure``
    a non-retryable ``mock_error`` fault on the saga's last call step with
    this probability: the instance fails there and rolls back.
``idempotent``
    when off, the steps' idempotency keys are dropped (except where a
    compensation names ``{key}``, which needs it to find what to undo) and
    inventories release a hold every time they are asked. When on, the
    document is left as written.
``width``
    the parallel width of the built-in ``"fan-out"`` saga; ``None`` for
    every other source.

The added faults are labelled ``"explorer: ..."`` in the fault report.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sagasim.durations import parse_duration
from sagasim.scenarios import ScenarioRun, build, parse_scenario
from sagasim.sweeps.overrides import dump_toml

__all__ = [
    "BACKOFFS",
    "BUILTINS",
    "INFLIGHT",
    "KNOBS",
    "Exploration",
    "Source",
    "apply_knobs",
    "explore",
    "knob_defaults",
    "load_source",
]

KNOBS = (
    "seed",
    "instances",
    "max_concurrent",
    "width",
    "failure",
    "lost_reply",
    "error_rate",
    "retry_limit",
    "delay_ms",
    "backoff",
    "timeout_ms",
    "idempotent",
    "inflight",
)
"""Every knob :func:`apply_knobs` understands, in the order they are shown."""

BACKOFFS = ("constant", "linear", "exponential")
INFLIGHT = ("cancel", "drain", "race")

# The engine's defaults (DESIGN.md, engine semantics 1), for documents that
# leave the step config out.
_DEFAULT_LIMIT = 5
_DEFAULT_DELAY_MS = 10_000
_DEFAULT_BACKOFF = "exponential"
_DEFAULT_TIMEOUT_MS = 600_000
_STATUSES = ("complete", "errored", "terminated", "running", "waiting", "paused")


# -- the built-in sagas ------------------------------------------------------------


def transfer_document(width: int | None = None) -> dict[str, Any]:
    """Money transfers between two banks while the receiving bank is down.

    The built-in ``"transfer"``: 120 transfers, one every 100 ms; the south
    bank is down from 4 s to 9 s. A credit that fails through its retries
    fails the transfer, and the debit is refunded.
    """
    return {
        "description": "transfers from north to south while south is down 4-9 s",
        "simulation": {
            "seed": 7,
            "instances": 120,
            "arrival": {"process": "fixed", "interval": 100},
            "max_concurrent": 100,
        },
        "services": [
            {
                "name": "north",
                "kind": "bank",
                "latency": {"min": 20, "max": 80},
                "accounts": {"alice": 5_000_000},
            },
            {
                "name": "south",
                "kind": "bank",
                "latency": {"min": 30, "max": 120},
                "accounts": {"bob": 0},
                "outages": [[4, 9]],
            },
        ],
        "payload": {"amount": {"min": 100, "max": 5_000}},
        "workflow": {
            "name": "transfer",
            "config": {
                "retries": {"limit": 2, "delay": 1000, "backoff": "exponential"},
                "timeout": 5000,
            },
            "steps": [
                {
                    "name": "debit",
                    "call": "north.debit",
                    "args": {"account": "alice", "amount": "{payload.amount}"},
                    "key": "{instance}:debit",
                    "compensation": {
                        "call": "north.credit",
                        "args": {"account": "alice", "amount": "{payload.amount}"},
                        "key": "{instance}:debit:refund",
                    },
                },
                {
                    "name": "credit",
                    "call": "south.credit",
                    "args": {"account": "bob", "amount": "{payload.amount}"},
                    "key": "{instance}:credit",
                    "compensation": {
                        "call": "south.debit",
                        "args": {"account": "bob", "amount": "{payload.amount}"},
                        "key": "{instance}:credit:reverse",
                    },
                },
            ],
        },
        "checks": {"conserved": {"money": ["money:north", "money:south"]}},
    }


def fan_out_document(width: int | None = 3) -> dict[str, Any]:
    """A trip booked in parallel legs, paid, then confirmed by mail.

    The built-in ``"fan-out"``: ``width`` holds (``leg-1``, ...) on a
    supplier inventory, started together and awaited together; then
    ``pay`` charges the card; then ``confirm`` mails the customer. The
    explorer's ``failure`` knob makes ``confirm`` fail, which rolls back
    the payment and every leg in reverse start order. Holds and charges
    carry keys, and a refund whose charge answer was lost finds the charge
    by its key.
    """
    width = 3 if width is None else int(width)
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width!r}")
    legs = [
        {
            "name": f"leg-{index}",
            "call": "suppliers.hold",
            "args": {"sku": f"leg-{index}", "qty": 1},
            "key": "{instance}:" + f"leg-{index}",
            "compensation": {
                "call": "suppliers.release",
                "args": {"hold": "{key}"},
                "when": "true",
                "ignore_errors": ["UnknownHold"],
            },
        }
        for index in range(1, width + 1)
    ]
    return {
        "description": f"trips of {width} legs booked in parallel, paid, confirmed",
        "simulation": {
            "seed": 1,
            "instances": 200,
            "arrival": {"process": "poisson", "interval": 50},
            "max_concurrent": 100,
        },
        "services": [
            {
                "name": "suppliers",
                "kind": "inventory",
                "latency": {"median": 120, "sigma": 0.6},
                "response_latency": 20,
                "stock": {f"leg-{index}": 1_000_000 for index in range(1, width + 1)},
                "idempotent_release": True,
            },
            {
                "name": "payments",
                "kind": "payments",
                "latency": {"min": 30, "max": 90},
                "response_latency": 20,
                "strict": True,
            },
            {"name": "mailer", "kind": "mailer", "latency": 40},
        ],
        "payload": {
            "customer": "cust-{instance}",
            "email": "{instance}@example.com",
            "price": {"min": 5_000, "max": 50_000},
        },
        "workflow": {
            "name": "trip",
            "config": {
                "retries": {"limit": 3, "delay": 500, "backoff": "exponential"},
                "timeout": 3000,
            },
            "rollback_config": {"retries": {"limit": 5, "delay": 500}},
            "steps": [
                {"name": "book", "parallel": legs},
                {
                    "name": "pay",
                    "call": "payments.charge",
                    "args": {
                        "customer": "{payload.customer}",
                        "amount": "{payload.price}",
                    },
                    "key": "{instance}:pay",
                    "compensation": {
                        "call": "payments.refund",
                        "args": {"charge": "{output}"},
                    },
                },
                {
                    "name": "confirm",
                    "call": "mailer.send",
                    "args": {
                        "to": "{payload.email}",
                        "subject": "Your trip {instance} is booked",
                    },
                    "key": "{instance}:confirm",
                },
            ],
        },
    }


BUILTINS: dict[str, Callable[[int | None], dict[str, Any]]] = {
    "transfer": transfer_document,
    "fan-out": fan_out_document,
}
"""The built-in sagas by name: a function of the parallel width (ignored by
sagas without one) that returns a scenario document."""


# -- sources ------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a scenario comes from: a file's decoded document, or a built-in.

    ``name`` is the built-in's name or the file's stem; ``path`` names the
    file in the loader's messages (a workflow module beside the file is
    found through it); ``builtin`` is the built-in's document function.
    """

    name: str
    path: str
    document: Mapping[str, Any] = field(repr=False)
    builtin: Callable[[int | None], dict[str, Any]] | None = field(
        default=None, repr=False
    )

    @property
    def has_width(self) -> bool:
        """Whether the ``width`` knob means something for this source."""
        return self.builtin is fan_out_document

    def document_for(self, width: int | None) -> dict[str, Any]:
        """A fresh copy of the document, at ``width`` for a built-in."""
        if self.builtin is not None:
            return self.builtin(width if self.has_width else None)
        return copy.deepcopy(dict(self.document))


def load_source(source: str | Path | Source) -> Source:
    """The :class:`Source` for a built-in name or a scenario file path.

    Raises:
        ScenarioError: the file cannot be read, or is not valid TOML or not
            a valid scenario.
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, str) and source in BUILTINS:
        function = BUILTINS[source]
        return Source(source, f"<{source}>", function(None), function)
    path = Path(source)
    from sagasim.scenarios import load_scenario

    load_scenario(path)
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    return Source(path.stem, str(path), document)


# -- knobs ------------------------------------------------------------------------


def knob_defaults(source: str | Path | Source) -> dict[str, Any]:
    """Every knob's value as the source is written: no added faults, the
    step config of ``workflow.config`` (engine defaults where it is
    silent), the mean service error rate, idempotency on."""
    source = load_source(source)
    document = source.document_for(3 if source.has_width else None)
    simulation = document.get("simulation", {})
    workflow = document.get("workflow")
    config = workflow.get("config", {}) if isinstance(workflow, dict) else {}
    retries = config.get("retries", {})
    rates = [service.get("error_rate", 0.0) for service in document["services"]]
    return {
        "seed": int(simulation.get("seed", 0)),
        "instances": int(simulation.get("instances", len(simulation["arrival"]))),
        "max_concurrent": int(simulation.get("max_concurrent", 50_000)),
        "width": 3 if source.has_width else None,
        "failure": 0.0,
        "lost_reply": 0.0,
        "error_rate": float(sum(rates) / len(rates)) if rates else 0.0,
        "retry_limit": int(retries.get("limit", _DEFAULT_LIMIT)),
        "delay_ms": parse_duration(retries.get("delay", _DEFAULT_DELAY_MS)),
        "backoff": retries.get("backoff", _DEFAULT_BACKOFF),
        "timeout_ms": parse_duration(config.get("timeout", _DEFAULT_TIMEOUT_MS)),
        "idempotent": True,
        "inflight": simulation.get("inflight", "cancel"),
    }


def apply_knobs(document: Mapping[str, Any], knobs: Mapping[str, Any]) -> dict:
    """A copy of the scenario ``document`` with ``knobs`` set (see the
    module docstring); knobs left out, or ``None``, leave their fields as
    they are.

    Raises:
        ValueError: an unknown knob, or a ``retry_limit`` etc. on a saga
            written as a Python class (it has no step config to set).
    """
    unknown = sorted(set(knobs) - set(KNOBS))
    if unknown:
        raise ValueError(f"unknown knob {unknown[0]!r}; expected one of {KNOBS}")
    doc = copy.deepcopy(dict(document))
    given = {name: value for name, value in knobs.items() if value is not None}
    simulation = doc.setdefault("simulation", {})
    for name in ("seed", "instances", "max_concurrent", "inflight"):
        if name in given:
            simulation[name] = given[name]

    workflow = doc.get("workflow")
    step_knobs = {"retry_limit", "delay_ms", "backoff", "timeout_ms"} & set(given)
    if step_knobs and not isinstance(workflow, dict):
        raise ValueError(
            f"{', '.join(sorted(step_knobs))}: the workflow is a Python class, "
            "whose step config is its own code"
        )
    if isinstance(workflow, dict):
        _set_step_config(workflow, given)
        if given.get("idempotent") is False:
            _drop_keys(workflow)

    for service in doc.get("services", []):
        if "error_rate" in given:
            service["error_rate"] = float(given["error_rate"])
        if given.get("idempotent") is False and service.get("kind") == "inventory":
            service["idempotent_release"] = False

    faults = doc.setdefault("faults", [])
    if given.get("lost_reply"):
        faults.append(
            {
                "kind": "lose_output",
                "step": "*",
                "probability": float(given["lost_reply"]),
                "label": "explorer: reply lost",
            }
        )
    if given.get("failure") and isinstance(workflow, dict):
        last = _last_call_step(workflow)
        if last is not None:
            faults.append(
                {
                    "kind": "mock_error",
                    "step": last,
                    "probability": float(given["failure"]),
                    "retryable": False,
                    "error": f"{last} refused",
                    "error_name": "Refused",
                    "label": f"explorer: {last} fails",
                }
            )
    if not faults:
        del doc["faults"]
    return doc


def _config_of(step: dict[str, Any]) -> list[dict[str, Any]]:
    configs = [step["config"]] if isinstance(step.get("config"), dict) else []
    for inner in step.get("parallel", []) or []:
        configs += _config_of(inner)
    return configs


def _set_step_config(workflow: dict[str, Any], knobs: Mapping[str, Any]) -> None:
    retries = {
        "limit": knobs.get("retry_limit"),
        "delay": knobs.get("delay_ms"),
        "backoff": knobs.get("backoff"),
    }
    retries = {key: value for key, value in retries.items() if value is not None}
    timeout = knobs.get("timeout_ms")
    if not retries and timeout is None:
        return
    top = workflow.setdefault("config", {})
    configs = [top]
    for step in workflow.get("steps", []):
        configs += _config_of(step)
    for index, config in enumerate(configs):
        if retries and (index == 0 or "retries" in config):
            config["retries"] = {**config.get("retries", {}), **retries}
        if timeout is not None and (index == 0 or "timeout" in config):
            config["timeout"] = int(timeout)


def _drop_keys(workflow: dict[str, Any]) -> None:
    def drop(step: dict[str, Any]) -> None:
        compensation = step.get("compensation")
        needs_key = compensation is not None and "{key}" in json.dumps(compensation)
        if not needs_key:
            step.pop("key", None)
        if isinstance(compensation, dict):
            compensation.pop("key", None)
        for inner in step.get("parallel", []) or []:
            drop(inner)

    for step in workflow.get("steps", []):
        drop(step)


def _last_call_step(workflow: dict[str, Any]) -> str | None:
    for step in reversed(workflow.get("steps", [])):
        if "call" in step:
            return step["name"]
        calls = [inner for inner in step.get("parallel", []) or [] if "call" in inner]
        if calls:
            return calls[-1]["name"]
    return None


# -- running ------------------------------------------------------------------------


@dataclass
class Exploration:
    """One run of a source under some knobs, and what it came to.

    Attributes:
        source: the source's name.
        knobs: every knob's value for this run.
        run: the finished :class:`~sagasim.scenarios.ScenarioRun`.
        statuses: instances by final status (only the statuses that occur).
        rolled_back: instances that ran at least one rollback handler.
        handler_runs: handler runs by outcome (``success``, ``failure``,
            ``missing``).
        undefined: handler runs that received ``UNDEFINED``.
        violations: every violation the checks found (see
            :func:`sagasim.checks.run_checks`).
        by_check: violations by check name, largest first.
        faults_fired: injected faults by label (or kind).
        sim_time: simulated seconds when the run ended.
    """

    source: str
    knobs: dict[str, Any]
    run: ScenarioRun = field(repr=False)
    statuses: dict[str, int]
    rolled_back: int
    handler_runs: dict[str, int]
    undefined: int
    violations: pd.DataFrame = field(repr=False)
    by_check: dict[str, int]
    faults_fired: dict[str, int]
    sim_time: float

    @property
    def sim(self) -> Any:
        """The finished :class:`~sagasim.Simulation`."""
        return self.run.sim

    def summary(self) -> pd.DataFrame:
        """The numbers as a two-column table (``what``, ``value``), grouped
        as the dashboard shows them: statuses, rollbacks, faults,
        violations by check."""
        rows: list[tuple[str, Any]] = [("instances", sum(self.statuses.values()))]
        rows += [(f"status: {name}", n) for name, n in self.statuses.items()]
        rows.append(("instances rolled back", self.rolled_back))
        rows += [(f"handler runs: {name}", n) for name, n in self.handler_runs.items()]
        rows.append(("handlers that saw UNDEFINED", self.undefined))
        rows += [(f"fault: {name}", n) for name, n in self.faults_fired.items()]
        rows.append(("violations", int(len(self.violations))))
        rows += [(f"violations: {name}", n) for name, n in self.by_check.items()]
        rows.append(("simulated seconds", round(self.sim_time, 3)))
        return pd.DataFrame(rows, columns=["what", "value"], dtype=object)


def explore(source: str | Path | Source = "fan-out", **knobs: Any) -> Exploration:
    """Run ``source`` once with ``knobs`` set and summarise the run.

    Knobs left out keep the source's own values (:func:`knob_defaults`).

    Raises:
        ValueError: an unknown knob.
        ScenarioError: the knobs make a scenario the loader refuses.
    """
    source = load_source(source)
    values = {**knob_defaults(source), **knobs}
    if not source.has_width:
        values["width"] = None
    document = apply_knobs(source.document_for(values["width"]), values)
    scenario = parse_scenario(dump_toml(document), source.path)
    run = build(scenario)
    run.run()
    return _summarise(source.name, values, run)


def _summarise(name: str, knobs: dict[str, Any], run: ScenarioRun) -> Exploration:
    sim = run.sim
    statuses = Counter(instance.status()["status"] for instance in sim.instances)
    ordered = {s: statuses[s] for s in _STATUSES if statuses[s]}
    ordered.update({s: n for s, n in sorted(statuses.items()) if s not in ordered})
    handlers: Counter[str] = Counter()
    undefined = rolled_back = 0
    for instance in sim.instances:
        records = instance.rollbacks
        rolled_back += bool(records)
        for record in records:
            handlers[record["status"]] += 1
            undefined += bool(record["output_undefined"])
    violations = run.violations()
    by_check = violations["check"].value_counts()
    fired: dict[str, int] = {}
    report = run.fault_report()
    for row in report.itertuples(index=False):
        label = row.label or row.kind
        fired[label] = fired.get(label, 0) + int(row.fired)
    return Exploration(
        source=name,
        knobs=dict(knobs),
        run=run,
        statuses=ordered,
        rolled_back=rolled_back,
        handler_runs=dict(sorted(handlers.items())),
        undefined=undefined,
        violations=violations,
        by_check={str(k): int(v) for k, v in by_check.items()},
        faults_fired=fired,
        sim_time=sim.now,
    )
