"""Instance operations at simulated times, drawn as data.

An operation is a dict with ``at`` (simulated ms) and ``op``, one of
``"pause"``, ``"resume"``, ``"terminate"`` (with ``rollback``), ``"crash"``
(with ``restart_after`` ms) and ``"send_event"`` (with ``type`` and
``payload``). :func:`apply_operations` runs a simulation up to each one in
turn and performs it on an instance.

Example::

    from hypothesis import given
    from sagasim import Simulation
    from sagasim.strategies import apply_operations, instance_operations

    @given(instance_operations(events=["approved"]))
    def test_approval_survives_pauses_and_crashes(operations):
        sim = Simulation(seed=1)
        inst = sim.create(Approval)
        apply_operations(sim, inst, operations)
        sim.run()
        assert inst.status()["status"] in ("complete", "errored", "terminated",
                                           "paused")
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hypothesis import strategies as st

from sagasim.strategies.shapes import EVENT_TYPES

__all__ = [
    "OPERATIONS",
    "apply_operation",
    "apply_operations",
    "instance_operations",
    "operation_source",
]

OPERATIONS = ("pause", "resume", "terminate", "crash", "send_event")


def _operation(
    op: str, at: st.SearchStrategy[int], events: Sequence[str]
) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy] = {"at": at, "op": st.just(op)}
    if op == "terminate":
        fields["rollback"] = st.booleans()
    elif op == "crash":
        fields["restart_after"] = st.integers(0, 30)
    elif op == "send_event":
        fields["type"] = st.sampled_from(tuple(events))
        fields["payload"] = st.integers(0, 9)
    return st.fixed_dictionaries(fields)


def instance_operations(
    *,
    kinds: Iterable[str] = OPERATIONS,
    events: Iterable[str] = EVENT_TYPES,
    horizon: int = 200,
    min_size: int = 0,
    max_size: int = 4,
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Lists of operations at times from 0 to ``horizon`` ms.

    Args:
        kinds: which of :data:`OPERATIONS` to draw.
        events: the event types ``send_event`` sends.
        horizon: the latest time, in simulated ms.
    """
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in OPERATIONS]
    if unknown:
        raise ValueError(f"unknown operation {unknown[0]!r}")
    events = tuple(events)
    at = st.integers(0, horizon)
    one = st.one_of([_operation(kind, at, events) for kind in kinds])
    return st.lists(one, min_size=min_size, max_size=max_size)


def apply_operation(instance: Any, operation: dict[str, Any]) -> bool:
    """Perform one operation on ``instance`` now; ``False`` if the instance
    refused it (``terminate`` or ``send_event`` once it has ended)."""
    op = operation["op"]
    try:
        if op == "pause":
            instance.pause()
        elif op == "resume":
            instance.resume()
        elif op == "terminate":
            instance.terminate(rollback=operation["rollback"])
        elif op == "crash":
            instance.crash(operation["restart_after"])
        elif op == "send_event":
            instance.send_event(operation["type"], operation["payload"])
        else:
            raise ValueError(f"unknown operation {op!r}")
    except ValueError:
        if op not in ("terminate", "send_event"):
            raise
        return False
    return True


def apply_operations(
    sim: Any, instance: Any, operations: Iterable[dict[str, Any]]
) -> list[bool]:
    """Run ``sim`` up to each operation's time (in ``at`` order, ties in
    list order) and perform it; return whether each was performed, in the
    order performed. The simulation is left at the last operation's time:
    call ``sim.run()`` to finish."""
    done = []
    for operation in sorted(operations, key=lambda o: o["at"]):
        at = operation["at"] / 1000
        if at > sim.now:
            sim.run(until=at)
        done.append(apply_operation(instance, operation))
    return done


def operation_source(operation: dict[str, Any], instance: str = "inst") -> str:
    """The call that performs ``operation``, as Python source."""
    op = operation["op"]
    if op == "terminate":
        return f"{instance}.terminate(rollback={operation['rollback']!r})"
    if op == "crash":
        return f"{instance}.crash({operation['restart_after']!r})"
    if op == "send_event":
        return f"{instance}.send_event({operation['type']!r}, {operation['payload']!r})"
    return f"{instance}.{op}()"
