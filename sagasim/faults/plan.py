"""Fault plans: where to break a run, what to do there, and how often.

A :class:`Fault` names a kind and a target. Step faults fire at the start of
a matching step attempt; the target narrows by workflow, instance and step
name (glob patterns), occurrence (the step's count), attempt number, phase
(the forward step or its rollback handler) and a probability, drawn
deterministically from the simulation's seed. ``limit`` caps how many times
a fault fires in a run.

Kinds:

``fail_before``
    the attempt fails before its body runs: no effect lands.
``lose_output``
    the body runs and its effects land, then its output is lost on the way
    back and the attempt fails; a rollback handler later sees ``UNDEFINED``.
``hang``
    the attempt never answers and times out, while its body runs detached
    ``lands_after`` ms later (by default one second after the timeout), so
    its effects land after the engine gave up on it.
``crash_during``
    the engine crashes ``after`` ms into the attempt; the replay counts the
    attempt as failed and retries it.
``crash_before_persist``
    the body's effects land, then the engine crashes before its output is
    stored: the replay runs the body again.
``crash_after_persist``
    the engine crashes just after the output is stored: the replay must not
    run the body again.
``latency``
    the attempt spends ``extra`` ms before its body starts.
``mock_result`` / ``mock_error`` / ``force_timeout``
    the attempt succeeds with ``value``, fails with ``error``, or times out,
    at once and without running the body (Cloudflare's test modifiers).
``disable_sleeps`` / ``disable_retry_delays``
    sleeps end at once; retries follow their failure at once.
``mock_event`` / ``force_event_timeout``
    an event wait whose name matches ``step`` (and ``type``, if given) gets
    ``payload`` at once, or times out at once.
``outage``
    the service bound as ``service`` rejects every request from ``start`` to
    ``end`` (simulated seconds, or durations since the start such as
    ``"14 days"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sagasim.durations import DurationError, format_ms, parse_duration

__all__ = [
    "KINDS",
    "STEP_KINDS",
    "Fault",
    "FaultPlan",
    "FaultPlanError",
    "InjectedError",
]

STEP_KINDS = (
    "fail_before",
    "lose_output",
    "hang",
    "crash_during",
    "crash_before_persist",
    "crash_after_persist",
    "latency",
    "mock_result",
    "mock_error",
    "force_timeout",
)
INSTANCE_KINDS = ("disable_sleeps", "disable_retry_delays")
WAIT_KINDS = ("mock_event", "force_event_timeout")
SERVICE_KINDS = ("outage",)
KINDS = STEP_KINDS + INSTANCE_KINDS + WAIT_KINDS + SERVICE_KINDS

_PHASES = ("forward", "rollback", "any")
_DURATIONS = ("lands_after", "after", "restart_after", "extra")


class FaultPlanError(ValueError):
    """A fault that cannot be armed; ``field`` names what is wrong.

    ``field`` is dotted from the plan, as ``faults[2].probability``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InjectedError(Exception):
    """The error an injected failure raises inside an attempt."""

    name = "InjectedError"


@dataclass(frozen=True)
class Fault:
    """One fault site. See the module docstring for the kinds."""

    kind: str
    step: str = "*"
    workflow: str = "*"
    instance: str = "*"
    occurrence: int | None = None
    attempt: int | None = None
    phase: str = "forward"
    probability: float = 1.0
    limit: int | None = None
    lands_after: Any = None
    after: Any = 0
    restart_after: Any = 0
    extra: Any = 0
    value: Any = None
    error: str = "injected failure"
    error_name: str = "InjectedError"
    retryable: bool = True
    type: str | None = None
    payload: Any = None
    service: str | None = None
    start: float | None = None
    end: float | None = None
    label: str = ""
    _ms: dict[str, int | None] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate("fault")

    def validate(self, where: str) -> None:
        """Check every field; raise :class:`FaultPlanError` naming the first
        bad one as ``<where>.<field>``."""

        def bad(name: str, expected: str, got: Any) -> FaultPlanError:
            return FaultPlanError(
                f"{where}.{name}", f"expected {expected}, got {got!r}"
            )

        if self.kind not in KINDS:
            raise bad("kind", "one of " + ", ".join(KINDS), self.kind)
        for name in ("step", "workflow", "instance", "label", "error", "error_name"):
            if not isinstance(getattr(self, name), str):
                raise bad(name, "a string", getattr(self, name))
        for name in ("occurrence", "attempt", "limit"):
            value = getattr(self, name)
            if value is not None and not _positive_int(value):
                raise bad(name, "a positive integer", value)
        if self.phase not in _PHASES:
            raise bad("phase", "one of " + ", ".join(_PHASES), self.phase)
        p = self.probability
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise bad("probability", "a number from 0 to 1", p)
        if not isinstance(self.retryable, bool):
            raise bad("retryable", "true or false", self.retryable)
        for name in _DURATIONS:
            value = getattr(self, name)
            if value is None:
                self._ms[name] = None
                continue
            try:
                self._ms[name] = parse_duration(value)
            except DurationError as exc:
                raise FaultPlanError(f"{where}.{name}", str(exc)) from None
        if self.kind == "latency" and self._ms["extra"] == 0:
            raise bad("extra", "a positive duration for a latency fault", self.extra)
        if self.kind in WAIT_KINDS and self.type is not None:
            if not isinstance(self.type, str):
                raise bad("type", "a string", self.type)
        if self.kind == "outage":
            if not isinstance(self.service, str) or not self.service:
                raise bad("service", "the name of a bound service", self.service)
            for name in ("start", "end"):
                self._ms[name] = _time_ms(getattr(self, name), f"{where}.{name}")
            if self._ms["end"] <= self._ms["start"]:
                raise bad("end", f"a time after start ({self.start!r})", self.end)

    def ms(self, name: str) -> int | None:
        """A duration field (or an outage's ``start`` or ``end``) in ms."""
        return self._ms[name]

    def describe(self) -> str:
        """A short description of the target, for reports."""
        if self.kind == "outage":
            return (
                f"{self.service} from {format_ms(self._ms['start'])} "
                f"to {format_ms(self._ms['end'])}"
            )
        parts = []
        if self.workflow != "*":
            parts.append(f"workflow={self.workflow}")
        if self.instance != "*":
            parts.append(f"instance={self.instance}")
        parts.append(f"step={self.step}")
        if self.occurrence is not None:
            parts.append(f"occurrence={self.occurrence}")
        if self.attempt is not None:
            parts.append(f"attempt={self.attempt}")
        if self.phase != "forward":
            parts.append(f"phase={self.phase}")
        if self.type is not None:
            parts.append(f"type={self.type}")
        if self.probability != 1:
            parts.append(f"p={self.probability:g}")
        if self.limit is not None:
            parts.append(f"limit={self.limit}")
        return " ".join(parts)


_FIELD_NAMES = tuple(f.name for f in fields(Fault) if not f.name.startswith("_"))


class FaultPlan:
    """An ordered list of faults; a fault's index names it in the trace."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self.faults: tuple[Fault, ...] = tuple(faults)
        for index, fault in enumerate(self.faults):
            if not isinstance(fault, Fault):
                raise FaultPlanError(
                    f"faults[{index}]", f"expected a Fault, got {fault!r}"
                )

    def __len__(self) -> int:
        return len(self.faults)

    def __iter__(self):
        return iter(self.faults)

    @classmethod
    def from_dicts(
        cls, entries: Iterable[Mapping[str, Any]], where: str = "faults"
    ) -> FaultPlan:
        """Build a plan from plain data (a scenario file's ``[[faults]]``).

        Raises:
            FaultPlanError: naming ``<where>[i].<field>`` for an unknown or
                bad field.
        """
        faults = []
        for index, entry in enumerate(entries):
            here = f"{where}[{index}]"
            if not isinstance(entry, Mapping):
                raise FaultPlanError(here, f"expected a table, got {entry!r}")
            unknown = sorted(str(k) for k in entry if k not in _FIELD_NAMES)
            if unknown:
                raise FaultPlanError(
                    f"{here}.{unknown[0]}",
                    "unknown field; expected one of " + ", ".join(_FIELD_NAMES),
                )
            if "kind" not in entry:
                raise FaultPlanError(f"{here}.kind", "missing; expected a fault kind")
            try:
                fault = Fault(**entry)
            except FaultPlanError as exc:
                raise FaultPlanError(
                    here + exc.field.removeprefix("fault"), exc.message
                ) from None
            faults.append(fault)
        return cls(faults)


def _time_ms(value: Any, field: str) -> int:
    """A time since the start: seconds as a number, or a duration string."""
    if isinstance(value, bool) or value is None:
        raise FaultPlanError(
            field, f"expected seconds or a duration such as '14 days', got {value!r}"
        )
    if isinstance(value, (int, float)):
        if value < 0 or value != value:
            raise FaultPlanError(field, f"expected a time >= 0, got {value!r}")
        return round(value * 1000)
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise FaultPlanError(field, str(exc)) from None


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
