"""Whole cases: a shape, a fault schedule, instance operations and a seed.

A case is plain data::

    {
        "shape": {...},              # workflow_shapes()
        "faults": [{...}, ...],      # fault_dicts(), built into Faults to run
        "operations": [{...}, ...],  # instance_operations()
        "seed": 3,
        "inflight": "cancel",        # or "drain", "race"
        "on_rollback_failure": "halt",  # or "continue"
        "jitter": False,
    }

``sagasim check`` runs one instance per case (:func:`sagasim.soak.run_case`);
:func:`sagasim.strategies.case_snippet` prints one as a script.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st

from sagasim.strategies.faults import fault_dicts
from sagasim.strategies.operations import OPERATIONS, instance_operations
from sagasim.strategies.shapes import NAMES, workflow_shapes

__all__ = ["INFLIGHT_POLICIES", "workflow_cases"]

INFLIGHT_POLICIES = ("cancel", "drain", "race")


@functools.cache
def _fault_lists(max_size: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    if max_size == 0:
        return st.just([])
    return st.lists(fault_dicts(steps=NAMES), max_size=max_size)


@functools.cache
def _operation_lists(
    kinds: tuple[str, ...], max_size: int
) -> st.SearchStrategy[list[dict[str, Any]]]:
    if max_size == 0:
        return st.just([])
    return instance_operations(kinds=kinds, max_size=max_size)


@st.composite
def workflow_cases(
    draw: st.DrawFn,
    *,
    faults: bool = True,
    operations: Iterable[str] = OPERATIONS,
    inflight: Iterable[str] = INFLIGHT_POLICIES,
    max_faults: int = 3,
    max_operations: int = 4,
    failure: bool | None = None,
) -> dict[str, Any]:
    """A case (see the module docstring).

    Args:
        failure: passed to :func:`~sagasim.strategies.workflow_shapes`:
            ``False`` for shapes whose ``run()`` cannot fail.
        faults: whether fault schedules are drawn (up to ``max_faults``).
        operations: the instance operations to draw (up to
            ``max_operations``); empty for none.
        inflight: the ``Simulation(inflight=...)`` policies to draw from.
    """
    operations = tuple(operations)
    case = {
        "shape": draw(workflow_shapes(failure=failure), label="shape"),
        "faults": draw(_fault_lists(max_faults if faults else 0), label="faults"),
        "operations": draw(
            _operation_lists(operations, max_operations if operations else 0),
            label="operations",
        ),
        "seed": draw(st.integers(0, 2**16), label="seed"),
        "inflight": draw(st.sampled_from(tuple(inflight)), label="inflight"),
        "on_rollback_failure": draw(
            st.sampled_from(("halt", "continue")), label="on_rollback_failure"
        ),
        "jitter": draw(st.booleans(), label="jitter"),
    }
    return case
