"""Rollback plans of random workflow shapes match the model (DESIGN rules 3-8)."""

from hypothesis import given, note
from hypothesis import strategies as st

from sagasim.strategies import case_snippet

from .checks import assert_bodies, assert_handlers, assert_status
from .model import predict
from .support import model_shapes, run_shape

POLICIES = st.sampled_from(("cancel", "drain"))


@given(shape=model_shapes(), inflight=POLICIES)
def test_handlers_of_started_steps_run_once_in_reverse_start_order(shape, inflight):
    """The handlers of the started steps run once each, newest start first,
    each seeing its step's output or UNDEFINED."""
    note(case_snippet(shape, inflight=inflight))
    sim, inst, log = run_shape(shape, inflight=inflight)

    expected = predict(shape, inflight=inflight)

    assert_handlers(expected, inst, log)
    assert_bodies(expected, log)


@given(shape=model_shapes(failure=True), inflight=POLICIES)
def test_uncaught_failure_ends_errored_with_its_error_and_rollback_totals(
    shape, inflight
):
    """An uncaught failure ends the instance errored with its own error and
    rollback totals that count every handler."""
    note(case_snippet(shape, inflight=inflight))
    sim, inst, log = run_shape(shape, inflight=inflight)

    expected = predict(shape, inflight=inflight)

    assert expected.status == "errored"
    assert_status(expected, inst, sim)


@given(shape=model_shapes(failure=False))
def test_caught_errors_alone_complete_without_rollback(shape):
    """A workflow whose errors are all caught completes and runs no handler."""
    note(case_snippet(shape))
    sim, inst, log = run_shape(shape)

    expected = predict(shape)

    assert expected.status == "complete"
    assert_status(expected, inst, sim)
    assert log.handler_calls == []
    assert inst.rollbacks == []
