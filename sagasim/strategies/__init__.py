"""Hypothesis strategies for workflows, faults and instance operations.

Everything is drawn as plain data (dicts, lists, small integers), so a
failing example shrinks to a small one, and turned into engine objects only
to run:

- :func:`workflow_shapes` draws what a workflow does: sequences of steps,
  gathers, nested gathers of sequences, caught and uncaught errors,
  ``NonRetryableError``, timeouts, sleeps, waits for events, repeated
  names; :func:`workflow_from_shape` turns a shape into a ``Workflow``
  subclass.
- :func:`fault_schedules` draws lists of :class:`~sagasim.faults.Fault`
  aimed at the step names you give, for ``Simulation(faults=...)``.
- :func:`instance_operations` draws pauses, resumes, terminates, crashes
  and events at simulated times; :func:`apply_operations` performs them.
- :func:`workflow_cases` draws all of it at once, and :func:`case_snippet`
  writes a case out as a runnable script.

Point them at your own workflow::

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

:func:`register_profiles` adds the ``ci`` and ``soak`` Hypothesis profiles
the project's own tests use.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from sagasim.strategies.cases import INFLIGHT_POLICIES, workflow_cases
from sagasim.strategies.faults import (
    DEFAULT_KINDS,
    fault_dicts,
    fault_schedules,
    fault_source,
)
from sagasim.strategies.interpret import (
    Declined,
    Exhausted,
    HandlerRun,
    ShapeLog,
    caught_result,
    workflow_from_shape,
)
from sagasim.strategies.operations import (
    OPERATIONS,
    apply_operation,
    apply_operations,
    instance_operations,
    operation_source,
)
from sagasim.strategies.shapes import (
    EVENT_TYPES,
    FAILING_KINDS,
    NAMES,
    can_fail,
    iter_items,
    shape_steps,
    step_specs,
    workflow_shapes,
)
from sagasim.strategies.snippet import case_snippet

__all__ = [
    "DEFAULT_KINDS",
    "EVENT_TYPES",
    "FAILING_KINDS",
    "INFLIGHT_POLICIES",
    "NAMES",
    "OPERATIONS",
    "Declined",
    "Exhausted",
    "HandlerRun",
    "ShapeLog",
    "apply_operation",
    "apply_operations",
    "can_fail",
    "case_snippet",
    "caught_result",
    "fault_dicts",
    "fault_schedules",
    "fault_source",
    "instance_operations",
    "iter_items",
    "operation_source",
    "register_profiles",
    "shape_steps",
    "step_specs",
    "workflow_cases",
    "workflow_from_shape",
    "workflow_shapes",
]

#: Examples per test in each profile that :func:`register_profiles` adds.
PROFILE_EXAMPLES = {"ci": 100, "soak": 5_000}


def register_profiles(*, load: bool = True) -> str:
    """Register the ``ci`` and ``soak`` Hypothesis profiles; with ``load``,
    load the one ``HYPOTHESIS_PROFILE`` names (``ci`` by default).

    Both turn off the deadline and the too-slow health check (a case runs a
    whole simulation); ``ci`` runs 100 examples per test, ``soak`` 5,000.
    Returns the name of the profile loaded (or that would be).
    """
    for name, examples in PROFILE_EXAMPLES.items():
        settings.register_profile(
            name,
            max_examples=examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
    chosen = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if load and chosen in PROFILE_EXAMPLES:
        settings.load_profile(chosen)
    return chosen
