"""Every generated case keeps every invariant (DESIGN rules 1-12).

A case is a generated workflow shape under a fault schedule and instance
operations at set times, run as one instance (:func:`sagasim.soak.run_case`
without the known engine bugs). Its trace must pass ``rollback_ordering``,
``check_run`` and the lifecycle checks, and the case-level invariants of
:class:`sagasim.soak.CaseRun` must hold.
"""

import json

from hypothesis import given, note
from hypothesis import strategies as st

from sagasim.checks import check_run, rollback_ordering
from sagasim.soak import case_source
from sagasim.strategies import (
    iter_items,
    shape_steps,
    workflow_cases,
    workflow_shapes,
)

from .known_bugs import AvoidingCaseRun


def play(case):
    """Run ``case`` without the operations that hit known bugs."""
    case_run = AvoidingCaseRun(case)
    case_run.play()
    return case_run


@given(case=workflow_cases())
def test_generated_cases_keep_every_invariant(case):
    """Shapes, faults and operations together break no invariant."""
    case_run = play(case)
    violations = case_run.violations()
    note(case_source(case_run.effective_case(), violations.to_string()))

    assert violations.empty
    assert check_run(
        case_run.sim.trace, on_rollback_failure=case_run.sim.on_rollback_failure
    ).empty


def catching_everything(case):
    """``case`` with every step and wait of its shape caught, so that its
    ``run()`` cannot fail whatever the faults."""
    shape = json.loads(json.dumps(case["shape"]))
    for item in iter_items(shape["items"]):
        if item["type"] == "wait":
            item["caught"] = True
    for spec in shape_steps(shape):
        spec["caught"] = True
    return dict(case, shape=shape)


@given(
    case=workflow_cases(
        failure=False, operations=("send_event", "crash", "terminate", "resume")
    ).map(catching_everything)
)
def test_events_and_terminates_keep_every_invariant_when_run_cannot_fail(case):
    """A workflow that catches every error gets its events, survives
    crashes and terminates, and breaks no invariant."""
    case_run = play(case)
    violations = case_run.violations()
    note(case_source(case_run.effective_case(), violations.to_string()))

    assert violations.empty


@given(
    case=st.fixed_dictionaries(
        {
            "shape": workflow_shapes(),
            "inflight": st.sampled_from(("cancel", "drain", "race")),
            "seed": st.integers(0, 2**16),
        }
    )
)
def test_engine_traces_pass_the_ordering_checks_without_faults(case):
    """With no faults and no operations, every handler the engine runs runs
    once, newest start first, only after run() fails."""
    case_run = play(case)
    note(case_source(case))

    trace = case_run.sim.trace
    for policy in ("halt", "continue"):
        assert rollback_ordering(trace, on_rollback_failure=policy).empty
    assert case_run.violations().empty


@given(case=workflow_cases())
def test_the_same_case_gives_a_byte_identical_trace(case):
    """Running a case twice gives the same trace, byte for byte."""
    first, second = play(case), play(case)
    note(case_source(first.effective_case()))

    assert first.digest() == second.digest()
