"""Reading and validating scenario files.

See ``README.md`` ("Scenario files") for the format. Every problem is a
:class:`ScenarioError` whose message is one line, ``<file>: <field>:
<what is wrong>``, with the field dotted from the top of the file
(``workflow.steps[2].compensation.args.charge``); the first problem found
is the one reported.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

import sagasim
from sagasim.engine.workflow import Workflow
from sagasim.faults import FaultPlan, FaultPlanError
from sagasim.runtime.simulation import INFLIGHT_POLICIES, ROLLBACK_FAILURE_POLICIES
from sagasim.scenarios.kinds import COMMON_OPTIONS, SERVICE_KINDS, Kind
from sagasim.scenarios.spec import (
    ARRIVAL_PROCESSES,
    Arrival,
    CallSpec,
    CompensationSpec,
    EventSpec,
    PayloadField,
    Scenario,
    ServiceSpec,
    SimulationSpec,
    StepSpec,
    WorkflowSpec,
)
from sagasim.scenarios.templates import (
    Condition,
    Ref,
    TemplateError,
    parse_condition,
    parse_value,
    refs_in,
)

__all__ = ["ScenarioError", "load_scenario", "parse_scenario"]

T = TypeVar("T")

DEFAULT_MAX_CONCURRENT = 50_000
BACKOFFS = ("constant", "linear", "exponential")
STEP_KINDS = ("call", "sleep", "wait_for_event", "parallel")
ON_TIMEOUT = ("fail", "continue")
DEFAULT_WAIT_TIMEOUT = "24 hours"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_CLASS_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_TOML_LOCATION = re.compile(r"\s*\(at (line \d+, column \d+|end of document)\)$")


class ScenarioError(ValueError):
    """A scenario file cannot be used; the message is a single line.

    The message reads ``<file>: <field>: <what is wrong>``, for example
    ``scenarios/x.toml: simulation.instances: expected a positive integer,
    got "ten"``. Problems not tied to one field leave the field out.
    """


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate the scenario file at ``path``.

    ``workflow = "module:Class"`` is imported with the file's folder first
    on ``sys.path``, so a workflow module may sit next to its scenario.

    Raises:
        ScenarioError: the file is missing or unreadable, is not valid TOML,
            or does not describe a valid scenario.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: cannot read file: not UTF-8 text") from None
    return parse_scenario(text, path)


def parse_scenario(text: str, path: str | Path = "<scenario>") -> Scenario:
    """Parse and validate scenario TOML ``text``; ``path`` names it in errors.

    Raises:
        ScenarioError: ``text`` is not valid TOML or not a valid scenario.
    """
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(_toml_message(path, exc)) from None
    return _Validator(path).scenario(data)


def _toml_message(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = _TOML_LOCATION.search(message)
    if match is None:
        return f"{path}: invalid TOML: {message}"
    where = match.group(1).replace("document", "file")
    return f"{path}: {where}: invalid TOML: {message[: match.start()]}"


_ROOT_FORMS = {
    "payload": "{payload.<field>}",
    "steps": "{steps.<name>}",
    "instance": "{instance}",
    "attempt": "{attempt}",
    "key": "{key}",
    "output": "{output}",
}
_HINTS = {
    "output": " (only a compensation has an {output})",
    "key": " (only a step with a key, and its compensation, have a {key})",
    "attempt": " (only a step's args, key and compensation have an {attempt})",
}


class _Scope:
    """What the placeholders at one place in the workflow may name."""

    def __init__(
        self,
        payload: tuple[str, ...] | None,
        steps: tuple[str, ...],
        *,
        attempt: bool = False,
        key: bool = False,
        output: bool = False,
        instance: bool = True,
    ) -> None:
        self.payload = payload
        self.steps = steps
        self.roots = ["payload", "steps"]
        if instance:
            self.roots.append("instance")
        if attempt:
            self.roots.append("attempt")
        if key:
            self.roots.append("key")
        if output:
            self.roots.append("output")

    def problem(self, ref: Ref) -> str | None:
        """Why ``ref`` cannot be used here, or ``None`` if it can."""
        root = ref.root
        if root not in self.roots:
            hint = _HINTS.get(root, "")
            return f"{ref.text} names nothing here{hint}; expected one of " + ", ".join(
                _ROOT_FORMS[name] for name in self.roots
            )
        if root in ("instance", "attempt", "key") and len(ref.path) > 1:
            return f"{ref.text}: {{{root}}} is a single value, it has no fields"
        if root == "payload":
            if len(ref.path) == 1:
                return None
            if self.payload is not None and ref.path[1] not in self.payload:
                known = ", ".join(self.payload) or "none"
                return (
                    f"{ref.text}: the payload has no field {ref.path[1]!r} "
                    f"(its fields: {known})"
                )
        if root == "steps":
            if len(ref.path) == 1:
                return f"{ref.text}: name a step, as {{steps.<name>}}"
            if ref.path[1] not in self.steps:
                known = ", ".join(self.steps) or "none"
                return (
                    f"{ref.text}: no step {ref.path[1]!r} has finished before "
                    f"this point (earlier steps: {known})"
                )
        return None


class _Validator:
    """Checks one decoded TOML document, naming ``path`` in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, message: str) -> NoReturn:
        prefix = f"{self.path}: {field}: " if field else f"{self.path}: "
        raise ScenarioError(prefix + message)

    def expected(self, field: str, what: str, value: object) -> NoReturn:
        self.fail(field, f"expected {what}, got {_show(value)}")

    # -- document structure ------------------------------------------------

    def scenario(self, data: dict[str, Any]) -> Scenario:
        self.known_fields(
            "",
            data,
            (
                "description",
                "simulation",
                "services",
                "payload",
                "workflow",
                "events",
                "faults",
                "checks",
            ),
        )
        description = self.optional(data, "description", "", self.text, "")
        simulation = self.simulation(self.table(data, "simulation", ""))
        services = self.services(data.get("services", []))
        payload = self.payload(data.get("payload", {}))
        self.by_service = {spec.name: spec for spec in services}
        workflow_value = self.required(
            data, "workflow", "", 'a [workflow] table or "module:Class"'
        )
        if isinstance(workflow_value, str):
            workflow: Any = self.workflow_class(workflow_value, "workflow")
            workflow_ref = workflow_value
        else:
            workflow = self.workflow(workflow_value, payload)
            workflow_ref = ""
        faults = self.faults(data.get("faults", []), services)
        events = self.events(data.get("events", []), simulation)
        conserved = self.checks(data.get("checks", {}), services)
        return Scenario(
            path=self.path,
            name=self.path.stem,
            simulation=simulation,
            services=services,
            workflow=workflow,
            payload=payload,
            faults=faults,
            events=events,
            workflow_ref=workflow_ref,
            description=description,
            conserved=conserved,
        )

    # -- [simulation] ----------------------------------------------------------

    def simulation(self, table: dict[str, Any]) -> SimulationSpec:
        where = "simulation"
        self.known_fields(
            where,
            table,
            (
                "seed",
                "instances",
                "arrival",
                "max_concurrent",
                "inflight",
                "on_rollback_failure",
            ),
        )
        arrival = self.optional(table, "arrival", where, self.arrival, None)
        if arrival is not None and arrival.process == "times":
            instances = self.optional(
                table, "instances", where, self.positive, len(arrival.times_ms)
            )
            if instances != len(arrival.times_ms):
                self.expected(
                    f"{where}.instances",
                    f"{len(arrival.times_ms)}, one per arrival time",
                    instances,
                )
        else:
            instances = self.positive(
                self.required(table, "instances", where, "a positive integer"),
                f"{where}.instances",
            )
        return SimulationSpec(
            seed=self.optional(table, "seed", where, self.natural, 0),
            instances=instances,
            arrival=arrival or Arrival("fixed", 0),
            max_concurrent=self.optional(
                table, "max_concurrent", where, self.positive, DEFAULT_MAX_CONCURRENT
            ),
            inflight=self.optional(
                table, "inflight", where, self.choice(INFLIGHT_POLICIES), "cancel"
            ),
            on_rollback_failure=self.optional(
                table,
                "on_rollback_failure",
                where,
                self.choice(ROLLBACK_FAILURE_POLICIES),
                "halt",
            ),
        )

    def arrival(self, value: object, field: str) -> Arrival:
        what = '{ process = "fixed" or "poisson", interval } or a list of times'
        if isinstance(value, list):
            if not value:
                self.expected(field, "at least one arrival time", value)
            times = tuple(
                self.time(item, f"{field}[{index}]") for index, item in enumerate(value)
            )
            for index in range(1, len(times)):
                if times[index] < times[index - 1]:
                    self.expected(
                        f"{field}[{index}]",
                        f"a time no earlier than the one before ({value[index - 1]!r})",
                        value[index],
                    )
            return Arrival("times", times_ms=times)
        if not isinstance(value, dict):
            self.expected(field, what, value)
        self.known_fields(field, value, ("process", "interval"))
        process = self.required(value, "process", field, '"fixed" or "poisson"')
        self.choice(ARRIVAL_PROCESSES)(process, f"{field}.process")
        interval = self.duration(
            self.required(value, "interval", field, "a duration"), f"{field}.interval"
        )
        if process == "poisson" and interval == 0:
            self.expected(
                f"{field}.interval", "a positive mean gap for a poisson process", 0
            )
        return Arrival(process, interval)

    # -- [[services]] ----------------------------------------------------------

    def services(self, value: object) -> tuple[ServiceSpec, ...]:
        if not isinstance(value, list):
            self.expected("services", "an array of [[services]] tables", value)
        specs: list[ServiceSpec] = []
        for index, item in enumerate(value):
            where = f"services[{index}]"
            if not isinstance(item, dict):
                self.expected(where, "a table", item)
            spec = self.service(item, where)
            for earlier_index, earlier in enumerate(specs):
                if earlier.name == spec.name:
                    self.expected(
                        f"{where}.name",
                        f"a name not used by services[{earlier_index}]",
                        spec.name,
                    )
            specs.append(spec)
        return tuple(specs)

    def service(self, table: dict[str, Any], where: str) -> ServiceSpec:
        kind_name = self.required(
            table, "kind", where, "a service kind (" + ", ".join(SERVICE_KINDS) + ")"
        )
        if kind_name not in SERVICE_KINDS:
            self.expected(
                f"{where}.kind", "one of " + ", ".join(SERVICE_KINDS), kind_name
            )
        kind = SERVICE_KINDS[kind_name]
        self.known_fields(
            where, table, ("name", "kind", *COMMON_OPTIONS, *kind.options)
        )
        name = self.identifier(
            self.required(table, "name", where, "a service name"), f"{where}.name"
        )

        options: dict[str, Any] = {}
        for key in ("latency", "response_latency"):
            if key in table:
                options[key] = self.latency(table[key], f"{where}.{key}")
        if "capacity" in table:
            options["capacity"] = self.positive(table["capacity"], f"{where}.capacity")
        if "outages" in table:
            options["outages"] = self.outages(table["outages"], f"{where}.outages")
        if "error_rate" in table:
            options["error_rate"] = self.probability(
                table["error_rate"], f"{where}.error_rate"
            )
        for key, (check, required) in kind.options.items():
            if key not in table:
                if required:
                    self.fail(f"{where}.{key}", f"missing, a {kind_name} needs {key}")
                continue
            options[key] = getattr(self, check)(table[key], f"{where}.{key}")
        return ServiceSpec(name=name, kind=kind_name, options=MappingProxyType(options))

    def latency(self, value: object, field: str) -> Any:
        what = "milliseconds, a duration, { min, max } or { median, sigma }"
        if _is_int(value) and value < 0:
            self.expected(field, what, value)
        if isinstance(value, str) or _is_int(value):
            return self.duration(value, field)
        if not isinstance(value, dict):
            self.expected(field, what, value)
        if set(value) == {"min", "max"}:
            low = self.natural(value["min"], f"{field}.min")
            high = self.natural(value["max"], f"{field}.max")
            if high < low:
                self.expected(f"{field}.max", f"at least min ({low})", high)
            return {"min": low, "max": high}
        if set(value) == {"median", "sigma"}:
            median, sigma = value["median"], value["sigma"]
            if not _is_number(median) or median <= 0:
                self.expected(f"{field}.median", "a positive number of ms", median)
            if not _is_number(sigma) or sigma < 0:
                self.expected(f"{field}.sigma", "a non-negative number", sigma)
            return {"median": median, "sigma": sigma}
        self.expected(field, what, value)

    def outages(self, value: object, field: str) -> tuple[tuple[float, float], ...]:
        if not isinstance(value, list):
            self.expected(field, "an array of [start, end] windows", value)
        windows = []
        for index, window in enumerate(value):
            where = f"{field}[{index}]"
            if not isinstance(window, list) or len(window) != 2:
                self.expected(where, "[start, end] in seconds", window)
            start = self.time(window[0], f"{where}[0]")
            if isinstance(window[1], float) and window[1] == math.inf:
                end: float = math.inf
            else:
                end = self.time(window[1], f"{where}[1]") / 1000
            if not start / 1000 < end:
                self.expected(where, "start < end", window)
            windows.append((start / 1000, end))
        return tuple(windows)

    def balances(self, value: object, field: str) -> MappingProxyType[str, int]:
        if not isinstance(value, dict) or not value:
            self.expected(field, "a table of names and whole amounts", value)
        return MappingProxyType(
            {
                name: self.natural(amount, f"{field}.{name}")
                for name, amount in value.items()
            }
        )

    def flag(self, value: object, field: str) -> bool:
        if not isinstance(value, bool):
            self.expected(field, "true or false", value)
        return value

    # -- [payload] -------------------------------------------------------------

    def payload(self, value: object) -> tuple[PayloadField, ...]:
        if not isinstance(value, dict):
            self.expected("payload", "a [payload] table", value)
        fields: list[PayloadField] = []
        for name, item in value.items():
            where = f"payload.{name}"
            scope = _Scope(tuple(f.name for f in fields), ())
            fields.append(self.payload_field(name, item, where, scope))
        return tuple(fields)

    def payload_field(
        self, name: str, value: object, where: str, scope: _Scope
    ) -> PayloadField:
        what = "a value, { min, max }, { choice, weights }, { chance } or { value }"
        if not isinstance(value, dict):
            return PayloadField(
                name, "value", value=self.template_value(value, where, scope)
            )
        keys = set(value)
        if keys == {"value"}:
            parsed = self.template_value(value["value"], f"{where}.value", scope)
            return PayloadField(name, "value", value=parsed)
        if keys == {"min", "max"}:
            low = self.integer(value["min"], f"{where}.min", "an integer", None)
            high = self.integer(value["max"], f"{where}.max", "an integer", None)
            if high < low:
                self.expected(f"{where}.max", f"at least min ({low})", high)
            return PayloadField(name, "range", low=low, high=high)
        if "choice" in keys and keys <= {"choice", "weights"}:
            choices = value["choice"]
            if not isinstance(choices, list) or not choices:
                self.expected(f"{where}.choice", "a non-empty array of values", choices)
            weights = None
            if "weights" in value:
                weights = value["weights"]
                if (
                    not isinstance(weights, list)
                    or len(weights) != len(choices)
                    or not all(_is_number(w) and w >= 0 for w in weights)
                    or not any(w > 0 for w in weights)
                ):
                    self.expected(
                        f"{where}.weights",
                        f"{len(choices)} non-negative numbers, not all 0",
                        weights,
                    )
                weights = tuple(float(w) for w in weights)
            return PayloadField(name, "choice", choices=tuple(choices), weights=weights)
        if keys == {"chance"}:
            probability = self.probability(value["chance"], f"{where}.chance")
            return PayloadField(name, "chance", probability=probability)
        self.expected(where, what, value)

    # -- [workflow] ------------------------------------------------------------

    def workflow_class(self, ref: str, field: str) -> type[Workflow]:
        if not _CLASS_REF.match(ref):
            self.expected(
                field, 'a [workflow] table or "package.module:ClassName"', ref
            )
        module_name, class_name = ref.split(":")
        folder = str(self.path.resolve().parent)
        sys.path.insert(0, folder)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - any import failure is reported
            self.fail(
                field,
                f"cannot import module {_show(module_name)}: "
                f"{type(exc).__name__}: {_one_line(exc)}",
            )
        finally:
            try:
                sys.path.remove(folder)
            except ValueError:
                pass
        cls = getattr(module, class_name, None)
        if cls is None:
            self.fail(field, f"module {_show(module_name)} has no {class_name!r}")
        if not (isinstance(cls, type) and issubclass(cls, Workflow)):
            self.fail(
                field, f"{ref} is not a subclass of sagasim.Workflow, got {cls!r}"
            )
        return cls

    def workflow(
        self, table: object, payload: tuple[PayloadField, ...]
    ) -> WorkflowSpec:
        where = "workflow"
        if not isinstance(table, dict):
            self.expected(where, 'a [workflow] table or "module:Class"', table)
        self.known_fields(where, table, ("name", "config", "rollback_config", "steps"))
        name = self.optional(table, "name", where, self.identifier, self.path.stem)
        self.defaults = self.optional(table, "config", where, self.step_config, {})
        self.rollback_defaults = self.optional(
            table, "rollback_config", where, self.step_config, {}
        )
        self.payload_names = tuple(f.name for f in payload)
        self.step_names: dict[str, str] = {}

        steps_value = self.required(
            table, "steps", where, "an array of [[workflow.steps]]"
        )
        if not isinstance(steps_value, list) or not steps_value:
            self.expected(
                f"{where}.steps", "one or more [[workflow.steps]] tables", steps_value
            )
        done: list[str] = []
        steps = []
        for index, item in enumerate(steps_value):
            step = self.step(item, f"{where}.steps[{index}]", tuple(done), top=True)
            steps.append(step)
            done.extend(_names(step))
        return WorkflowSpec(name=name, steps=tuple(steps))

    def step(
        self, item: object, where: str, done: tuple[str, ...], *, top: bool
    ) -> StepSpec:
        if not isinstance(item, dict):
            self.expected(where, "a step table", item)
        kinds = [kind for kind in STEP_KINDS if kind in item]
        allowed = STEP_KINDS if top else STEP_KINDS[:-1]
        if len(kinds) != 1 or kinds[0] not in allowed:
            self.fail(
                where,
                "expected exactly one of "
                + ", ".join(allowed)
                + ", got "
                + (", ".join(kinds) if kinds else "none"),
            )
        kind = kinds[0]
        common = ("name", "when", kind)
        extra = {
            "call": ("args", "key", "config", "compensation"),
            "sleep": (),
            "wait_for_event": (),
            "parallel": (),
        }[kind]
        self.known_fields(where, item, common + extra)

        if kind == "parallel":
            name = self.optional(item, "name", where, self.identifier, "")
        else:
            name = self.identifier(
                self.required(item, "name", where, "a step name"), f"{where}.name"
            )
        if name:
            if name in self.step_names:
                self.expected(
                    f"{where}.name",
                    f"a step name not used by {self.step_names[name]}",
                    name,
                )
            self.step_names[name] = where

        scope = _Scope(self.payload_names, done, instance=True)
        when = self.optional(
            item, "when", where, lambda v, f: self.condition(v, f, scope), None
        )
        if kind == "parallel":
            return self.parallel(
                item["parallel"], f"{where}.parallel", name, when, done
            )
        if kind == "sleep":
            sleep_ms = self.duration(item["sleep"], f"{where}.sleep")
            return StepSpec(name=name, kind="sleep", when=when, sleep_ms=sleep_ms)
        if kind == "wait_for_event":
            return self.wait(
                item["wait_for_event"], f"{where}.wait_for_event", name, when
            )
        return self.call_step(item, where, name, when, done)

    def parallel(
        self,
        value: object,
        where: str,
        name: str,
        when: Condition | None,
        done: tuple[str, ...],
    ) -> StepSpec:
        if not isinstance(value, list) or not value:
            self.expected(where, "an array of two or more steps", value)
        branches = tuple(
            self.step(item, f"{where}[{index}]", done, top=False)
            for index, item in enumerate(value)
        )
        return StepSpec(name=name, kind="parallel", when=when, branches=branches)

    def wait(
        self, value: object, where: str, name: str, when: Condition | None
    ) -> StepSpec:
        if not isinstance(value, dict):
            self.expected(where, "a table { type, timeout, on_timeout }", value)
        self.known_fields(where, value, ("type", "timeout", "on_timeout"))
        event_type = self.text(
            self.required(value, "type", where, "an event type"), f"{where}.type"
        )
        timeout = self.optional(
            value,
            "timeout",
            where,
            self.positive_duration,
            sagasim.parse_duration(DEFAULT_WAIT_TIMEOUT),
        )
        on_timeout = self.optional(
            value, "on_timeout", where, self.choice(ON_TIMEOUT), "fail"
        )
        return StepSpec(
            name=name,
            kind="wait",
            when=when,
            event_type=event_type,
            timeout_ms=timeout,
            on_timeout=on_timeout,
        )

    def call_step(
        self,
        item: dict[str, Any],
        where: str,
        name: str,
        when: Condition | None,
        done: tuple[str, ...],
    ) -> StepSpec:
        has_key = "key" in item
        scope = _Scope(self.payload_names, done, attempt=True, key=has_key)
        call = self.call(
            item, where, scope, key_scope=_Scope(self.payload_names, done, attempt=True)
        )
        config = self.optional(item, "config", where, self.step_config, {})
        merged = self.merged(self.defaults, config, f"{where}.config")

        compensation = None
        if "compensation" in item:
            compensation = self.compensation(
                item["compensation"],
                f"{where}.compensation",
                _Scope(
                    self.payload_names, done, attempt=True, key=has_key, output=True
                ),
            )
        kind = SERVICE_KINDS[self.by_service[call.service].kind]
        return StepSpec(
            name=name,
            kind="call",
            when=when,
            call=call,
            config=MappingProxyType(merged) if merged else None,
            compensation=compensation,
            find=has_key and kind.can_find(),
        )

    def call(
        self,
        item: dict[str, Any],
        where: str,
        scope: _Scope,
        *,
        key_scope: _Scope,
    ) -> CallSpec:
        target = self.required(item, "call", where, '"<service>.<operation>"')
        service_name, op, kind = self.target(target, f"{where}.call")
        operation = kind.operations[op]

        args_value = self.optional(item, "args", where, self.args_table, {})
        for arg in args_value:
            if arg == "key":
                self.fail(
                    f"{where}.args.key",
                    "the idempotency key goes in the step's own key field",
                )
            if arg not in operation.params:
                self.fail(
                    f"{where}.args.{arg}",
                    f"unknown argument of {service_name}.{kind.describe(op)}",
                )
        for arg in operation.required:
            if arg not in args_value:
                self.fail(
                    f"{where}.args.{arg}",
                    f"missing, {service_name}.{kind.describe(op)} needs it",
                )
        args = self.template_value(args_value, f"{where}.args", scope)

        key = None
        if "key" in item:
            if not operation.takes_key:
                self.fail(
                    f"{where}.key",
                    f"{service_name}.{op} takes no idempotency key "
                    f"({service_name}.{kind.describe(op)})",
                )
            raw_key = item["key"]
            if not isinstance(raw_key, str) or not raw_key:
                self.expected(f"{where}.key", "a key template string", raw_key)
            key = self.template_value(raw_key, f"{where}.key", key_scope)
        return CallSpec(
            service=service_name, op=op, args=MappingProxyType(args), key=key
        )

    def target(self, value: object, field: str) -> tuple[str, str, Kind]:
        if not isinstance(value, str) or value.count(".") != 1:
            self.expected(field, '"<service>.<operation>"', value)
        service_name, op = value.split(".")
        spec = self.by_service.get(service_name)
        if spec is None:
            names = ", ".join(_show(name) for name in self.by_service) or "none"
            self.fail(
                field,
                f"expected a declared service (services: {names}), "
                f"got {_show(service_name)}",
            )
        kind = SERVICE_KINDS[spec.kind]
        if op not in kind.operations:
            self.expected(
                field,
                f"an operation of {spec.kind} {service_name!r} ("
                + ", ".join(sorted(kind.operations))
                + ")",
                op,
            )
        return service_name, op, kind

    def compensation(
        self, value: object, where: str, scope: _Scope
    ) -> CompensationSpec:
        if not isinstance(value, dict):
            self.expected(where, "a table { call, args, key, when, config }", value)
        self.known_fields(
            where, value, ("call", "args", "key", "when", "config", "ignore_errors")
        )
        call = self.call(value, where, scope, key_scope=scope)
        when = self.optional(
            value, "when", where, lambda v, f: self.condition(v, f, scope), None
        )
        config = self.merged(
            self.rollback_defaults,
            self.optional(value, "config", where, self.step_config, {}),
            f"{where}.config",
        )
        ignore = self.optional(value, "ignore_errors", where, self.error_names, ())
        return CompensationSpec(
            call=call,
            when=when,
            config=MappingProxyType(config) if config else None,
            ignore_errors=ignore,
        )

    def error_names(self, value: object, field: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(
            isinstance(name, str) and _NAME.match(name) for name in value
        ):
            self.expected(field, 'a list of error names, as ["UnknownHold"]', value)
        return tuple(value)

    def step_config(self, value: object, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.expected(field, "a table { retries, timeout }", value)
        self.known_fields(field, value, ("retries", "timeout"))
        config: dict[str, Any] = {}
        if "retries" in value:
            config["retries"] = self.retries(value["retries"], f"{field}.retries")
        if "timeout" in value:
            config["timeout"] = self.positive_duration(
                value["timeout"], f"{field}.timeout"
            )
        return config

    def merged(
        self, defaults: dict[str, Any], config: dict[str, Any], field: str
    ) -> dict[str, Any]:
        """``config`` over the workflow's ``defaults``; the retries that result
        must say both ``limit`` and ``delay``, as the engine requires."""
        merged = _merge(defaults, config)
        retries = merged.get("retries")
        if retries is not None:
            for key in ("limit", "delay"):
                if key not in retries:
                    self.fail(
                        f"{field}.retries.{key}",
                        "missing, expected "
                        + ("a non-negative integer" if key == "limit" else "a duration")
                        + " (retries need both limit and delay)",
                    )
        return merged

    def retries(self, value: object, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.expected(field, "a table { limit, delay, backoff }", value)
        self.known_fields(field, value, ("limit", "delay", "backoff"))
        retries: dict[str, Any] = {}
        if "limit" in value:
            retries["limit"] = self.natural(value["limit"], f"{field}.limit")
        if "delay" in value:
            retries["delay"] = self.duration(value["delay"], f"{field}.delay")
        if "backoff" in value:
            retries["backoff"] = self.choice(BACKOFFS)(
                value["backoff"], f"{field}.backoff"
            )
        return retries

    def args_table(self, value: object, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.expected(field, "a table of arguments", value)
        return value

    # -- templates -------------------------------------------------------------

    def template_value(self, value: object, field: str, scope: _Scope) -> Any:
        try:
            parsed = parse_value(value)
        except TemplateError as exc:
            self.fail(_join_path(field, exc.where), exc.message)
        for inner, ref in refs_in(parsed):
            problem = scope.problem(ref)
            if problem is not None:
                self.fail(_join_path(field, inner), problem)
        return parsed

    def condition(self, value: object, field: str, scope: _Scope) -> Condition:
        if not isinstance(value, str):
            self.expected(field, "a condition string", value)
        try:
            condition = parse_condition(value)
        except TemplateError as exc:
            self.fail(field, str(exc))
        for ref in condition.refs:
            problem = scope.problem(ref)
            if problem is not None:
                self.fail(field, problem)
        return condition

    # -- [[faults]] and [[events]] ---------------------------------------------

    def faults(self, value: object, services: tuple[ServiceSpec, ...]) -> FaultPlan:
        if not isinstance(value, list):
            self.expected("faults", "an array of [[faults]] tables", value)
        try:
            plan = FaultPlan.from_dicts(value, where="faults")
        except FaultPlanError as exc:
            self.fail(exc.field, exc.message)
        names = [spec.name for spec in services]
        for index, fault in enumerate(plan):
            if fault.kind == "outage" and fault.service not in names:
                shown = ", ".join(_show(name) for name in names) or "none"
                self.expected(
                    f"faults[{index}].service",
                    f"a declared service ({shown})",
                    fault.service,
                )
        return plan

    def events(
        self, value: object, simulation: SimulationSpec
    ) -> tuple[EventSpec, ...]:
        if not isinstance(value, list):
            self.expected("events", "an array of [[events]] tables", value)
        ids = [f"inst-{n}" for n in range(1, simulation.instances + 1)]
        events = []
        for index, item in enumerate(value):
            where = f"events[{index}]"
            if not isinstance(item, dict):
                self.expected(where, "a table { instance, at, type, payload }", item)
            self.known_fields(where, item, ("instance", "at", "type", "payload"))
            pattern = self.text(
                self.required(item, "instance", where, "an instance id or pattern"),
                f"{where}.instance",
            )
            event = EventSpec(
                instance=pattern,
                at_ms=self.time(
                    self.required(item, "at", where, "a time"), f"{where}.at"
                ),
                type=self.text(
                    self.required(item, "type", where, "an event type"),
                    f"{where}.type",
                ),
                payload=self.template_value(
                    item.get("payload"),
                    f"{where}.payload",
                    _Scope((), (), instance=True),
                ),
            )
            if not any(event.matches(id_) for id_ in ids):
                self.expected(
                    f"{where}.instance",
                    f"an id from inst-1 to inst-{simulation.instances} "
                    "or a pattern matching one",
                    pattern,
                )
            events.append(event)
        return tuple(events)

    # -- [checks] ----------------------------------------------------------------

    def checks(
        self, value: object, services: tuple[ServiceSpec, ...]
    ) -> MappingProxyType[str, tuple[str, ...]]:
        if not isinstance(value, dict):
            self.expected("checks", "a [checks] table", value)
        self.known_fields("checks", value, ("conserved",))
        pools = value.get("conserved", {})
        where = "checks.conserved"
        if not isinstance(pools, dict):
            self.expected(where, "a table of pool names and resource lists", pools)
        known = [resource for spec in services for resource in spec.resources()]
        owner: dict[str, str] = {}
        conserved = {}
        for pool, resources in pools.items():
            field = f"{where}.{pool}"
            if not isinstance(resources, list) or not resources:
                self.expected(field, "a non-empty list of resources", resources)
            for index, resource in enumerate(resources):
                if resource not in known:
                    shown = ", ".join(known) or "none"
                    self.expected(
                        f"{field}[{index}]",
                        f"a resource of the services ({shown})",
                        resource,
                    )
                if resource in owner:
                    self.expected(
                        f"{field}[{index}]",
                        f"a resource not already in pool {owner[resource]!r}",
                        resource,
                    )
                owner[resource] = pool
            conserved[pool] = tuple(resources)
        return MappingProxyType(conserved)

    # -- field access ----------------------------------------------------------

    def known_fields(
        self, where: str, table: Mapping[str, Any], allowed: tuple[str, ...]
    ) -> None:
        for key in table:
            if key not in allowed:
                self.fail(
                    _join(where, key),
                    "unknown field, expected one of " + ", ".join(allowed),
                )

    def required(
        self, table: Mapping[str, Any], key: str, where: str, what: str
    ) -> Any:
        if key not in table:
            self.fail(_join(where, key), f"missing, expected {what}")
        return table[key]

    def optional(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        check: Callable[[Any, str], T],
        default: T,
    ) -> T:
        if key not in table:
            return default
        return check(table[key], _join(where, key))

    def table(self, data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        value = self.required(data, key, where, f"a [{_join(where, key)}] table")
        if not isinstance(value, dict):
            self.expected(_join(where, key), "a table", value)
        return value

    # -- value checks ----------------------------------------------------------

    def integer(self, value: object, field: str, what: str, low: int | None) -> int:
        if not _is_int(value) or (low is not None and value < low):
            self.expected(field, what, value)
        return value

    def natural(self, value: object, field: str) -> int:
        return self.integer(value, field, "a non-negative integer", 0)

    def positive(self, value: object, field: str) -> int:
        return self.integer(value, field, "a positive integer", 1)

    def probability(self, value: object, field: str) -> float:
        if not _is_number(value) or not 0 <= value <= 1:
            self.expected(field, "a number from 0 to 1", value)
        return float(value)

    def text(self, value: object, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.expected(field, "a non-empty string", value)
        return value

    def identifier(self, value: object, field: str) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            self.expected(
                field, "a name of letters, digits, '_' and '-' (no dots)", value
            )
        return value

    def choice(self, options: tuple[str, ...]) -> Callable[[Any, str], str]:
        def check(value: object, field: str) -> str:
            if value not in options:
                self.expected(field, "one of " + ", ".join(options), value)
            return value

        return check

    def duration(self, value: object, field: str, *, allow_zero: bool = True) -> int:
        what = (
            'a duration (milliseconds or "<n> <unit>")'
            if allow_zero
            else 'a positive duration (milliseconds or "<n> <unit>")'
        )
        if _is_int(value):
            ms = value
        elif isinstance(value, str):
            try:
                ms = sagasim.parse_duration(value)
            except ValueError:
                self.expected(field, what, value)
        else:
            self.expected(field, what, value)
        if ms < 0 or (ms == 0 and not allow_zero):
            self.expected(field, what, value)
        return ms

    def positive_duration(self, value: object, field: str) -> int:
        return self.duration(value, field, allow_zero=False)

    def time(self, value: object, field: str) -> int:
        """A point in simulated time: seconds, or a duration string since the
        start; returned in milliseconds."""
        what = 'a time (seconds, or "<n> <unit>" since the start)'
        if _is_number(value):
            if value < 0:
                self.expected(field, what, value)
            return round(value * 1000)
        if isinstance(value, str):
            try:
                return sagasim.parse_duration(value)
            except ValueError:
                pass
        self.expected(field, what, value)


def _names(step: StepSpec) -> list[str]:
    """The names a finished step makes visible to the steps after it."""
    if step.kind == "parallel":
        return [branch.name for branch in step.branches]
    return [step.name]


def _merge(defaults: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in config.items():
        if key == "retries" and "retries" in merged:
            merged["retries"] = {**merged["retries"], **value}
        else:
            merged[key] = value
    return merged


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _join_path(field: str, inner: str) -> str:
    if not inner:
        return field
    return field + inner if inner.startswith("[") else f"{field}.{inner}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_int(value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or "(no message)"


def _show(value: object) -> str:
    """Render a decoded TOML value the way it would be written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        shown = "[" + ", ".join(_show(item) for item in value) + "]"
    elif isinstance(value, dict):
        items = ", ".join(f"{key} = {_show(item)}" for key, item in value.items())
        shown = "{ " + items + " }" if items else "{}"
    elif value is None:
        shown = "nothing"
    else:
        shown = str(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
