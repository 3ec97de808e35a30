"""Fault schedules drawn as data.

Each fault is drawn as a small dict of the fields that differ from
:class:`~sagasim.faults.Fault`'s defaults and only then built into a
``Fault``, so a failing example shrinks field by field to the smallest
schedule: fewer faults, simpler kinds, no probability or limit, the first
attempt. Probabilities are drawn from the simulation's seed when the run
happens, so a schedule and a seed give one run.

Example, against your own workflow::

    from hypothesis import given
    from sagasim import Simulation
    from sagasim.checks import run_checks
    from sagasim.strategies import fault_schedules

    @given(fault_schedules(steps=["debit", "credit"]))
    def test_transfers_survive_faults(faults):
        sim = Simulation(seed=1, faults=faults)
        sim.create(Transfer, params={"amount": 100})
        sim.run()
        assert run_checks(sim).empty
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, fields
from typing import Any

from hypothesis import strategies as st

from sagasim.faults import KINDS, STEP_KINDS, Fault
from sagasim.strategies.shapes import EVENT_TYPES, NAMES

__all__ = [
    "DEFAULT_KINDS",
    "fault_dicts",
    "fault_schedules",
    "fault_source",
]

#: Every kind that needs no bound service: ``outage`` is drawn only when
#: ``services`` are named.
DEFAULT_KINDS = tuple(kind for kind in KINDS if kind != "outage")


Fields = dict[str, st.SearchStrategy]


def _target(steps: Sequence[str], phases: bool) -> tuple[Fields, Fields]:
    """The required and optional target fields of a step fault."""
    optional = {
        "occurrence": st.integers(1, 2),
        "attempt": st.integers(1, 3),
        "probability": st.sampled_from((0.5, 0.25)),
        "limit": st.integers(1, 3),
    }
    if phases:
        optional["phase"] = st.sampled_from(("rollback", "any"))
    return {"step": st.sampled_from([*steps, "*"])}, optional


def _kind_fields(
    kind: str,
    steps: Sequence[str],
    waits: Sequence[str],
    events: Sequence[str],
    services: Sequence[str],
    phases: bool,
) -> tuple[Fields, Fields]:
    """The fields of a ``kind`` fault: those always drawn, and those drawn
    or left at their defaults."""
    # Left out, these are 0; drawn, they differ from it, so a shrunk fault
    # names only the fields that matter.
    ms = st.integers(1, 30)
    if kind in STEP_KINDS:
        required, optional = _target(steps, phases)
        if kind == "hang":
            optional["lands_after"] = st.integers(0, 50)
        elif kind == "crash_during":
            optional["after"] = ms
            optional["restart_after"] = ms
        elif kind in ("crash_before_persist", "crash_after_persist"):
            optional["restart_after"] = ms
        elif kind == "latency":
            required["extra"] = st.integers(1, 50)
        elif kind == "mock_result":
            optional["value"] = st.integers(0, 9)
        elif kind in ("mock_error", "fail_before"):
            optional["retryable"] = st.just(False)
        return required, optional
    if kind in ("disable_sleeps", "disable_retry_delays"):
        return {"step": st.sampled_from([*steps, "*"])}, {}
    if kind in ("mock_event", "force_event_timeout"):
        required = {"step": st.sampled_from([*waits, "*"])}
        if kind == "mock_event":
            required["payload"] = st.integers(0, 9)
        optional = {
            "type": st.sampled_from(tuple(events)),
            "occurrence": st.integers(1, 2),
        }
        return required, optional
    if kind == "outage":
        required = {
            "service": st.sampled_from(tuple(services)),
            "start": st.integers(0, 200).map(lambda ms: ms / 1000),
            "length": st.integers(1, 500),
        }
        return required, {}
    raise ValueError(f"unknown fault kind {kind!r}")


def _entry(kind: str, drawn: dict[str, Any]) -> dict[str, Any]:
    """The plain dict of one fault: its kind, then the drawn fields; an
    outage's drawn length becomes its end."""
    entry = {"kind": kind, **drawn}
    if kind == "outage":
        length = entry.pop("length")
        entry["end"] = entry["start"] + length / 1000
    return entry


# NOTE: built once per set of arguments, since Hypothesis validates each new
# strategy object on its first draw. A one_of over the kinds, each with its
# optional fields as fixed_dictionaries(optional=...), lets the shrinker
# delete a whole fault from a schedule; drawing the kind first and each
# optional field as none() | ... left it stuck at longer schedules.
@functools.cache
def _fault_strategy(
    kinds: tuple[str, ...],
    steps: tuple[str, ...],
    waits: tuple[str, ...],
    events: tuple[str, ...],
    services: tuple[str, ...],
    phases: bool,
) -> st.SearchStrategy[dict[str, Any]]:
    branches = []
    for kind in kinds:
        required, optional = _kind_fields(kind, steps, waits, events, services, phases)
        fields = st.fixed_dictionaries(required, optional=optional)
        branches.append(fields.map(functools.partial(_entry, kind)))
    return st.one_of(branches)


def fault_dicts(
    *,
    steps: Iterable[str] = NAMES,
    kinds: Iterable[str] | None = None,
    waits: Iterable[str] | None = None,
    events: Iterable[str] = EVENT_TYPES,
    services: Iterable[str] = (),
    phases: bool = True,
) -> st.SearchStrategy[dict[str, Any]]:
    """One fault as a plain dict that ``Fault(**d)`` (or
    ``FaultPlan.from_dicts``) accepts: its ``kind``, its target ``step``
    and the other fields that differ from the defaults.

    Args:
        steps: the step names step faults target (``"*"`` is added).
        kinds: the kinds to draw; by default :data:`DEFAULT_KINDS`, plus
            ``outage`` when ``services`` are given.
        waits: the names of event waits that ``mock_event`` and
            ``force_event_timeout`` target; ``steps`` by default.
        events: the event types those may narrow to.
        services: names of bound services that ``outage`` faults take down.
        phases: whether step faults may hit rollback handlers too
            (``phase="rollback"`` or ``"any"``); forward steps only if not.
    """
    steps = tuple(steps)
    waits = steps if waits is None else tuple(waits)
    services = tuple(services)
    if kinds is None:
        kinds = DEFAULT_KINDS + (("outage",) if services else ())
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind {unknown[0]!r}")
    if "outage" in kinds and not services:
        raise ValueError("outage faults need services=[...] to take down")
    return _fault_strategy(kinds, steps, waits, tuple(events), services, phases)


def fault_schedules(
    *,
    steps: Iterable[str] = NAMES,
    kinds: Iterable[str] | None = None,
    waits: Iterable[str] | None = None,
    events: Iterable[str] = EVENT_TYPES,
    services: Iterable[str] = (),
    phases: bool = True,
    min_size: int = 0,
    max_size: int = 3,
) -> st.SearchStrategy[list[Fault]]:
    """Lists of :class:`~sagasim.faults.Fault` for ``Simulation(faults=...)``.

    Each fault comes from :func:`fault_dicts` (see it for the arguments),
    so schedules shrink to fewer and simpler faults. Pass the names of your
    own workflow's steps as ``steps``::

        @given(fault_schedules(steps=["debit", "credit"], kinds=["lose_output"]))
        def test_mine(faults): ...
    """
    one = fault_dicts(
        steps=steps,
        kinds=kinds,
        waits=waits,
        events=events,
        services=services,
        phases=phases,
    )
    return st.lists(one, min_size=min_size, max_size=max_size).map(
        lambda entries: [Fault(**entry) for entry in entries]
    )


_DEFAULTS = {
    f.name: f.default
    for f in fields(Fault)
    if not f.name.startswith("_") and f.default is not MISSING
}


def fault_source(fault: Fault) -> str:
    """``fault`` as Python source naming only its non-default fields, as in
    ``Fault(kind='lose_output', step='debit', attempt=1)``."""
    parts = [f"kind={fault.kind!r}"]
    for name, default in _DEFAULTS.items():
        value = getattr(fault, name)
        if value != default or type(value) is not type(default):
            parts.append(f"{name}={value!r}")
    return f"Fault({', '.join(parts)})"
