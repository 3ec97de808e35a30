"""Engine crashes at random instants against the model (DESIGN rules 4-6, 10)."""

from hypothesis import given, note
from hypothesis import strategies as st

from sagasim.strategies import case_snippet

from .checks import assert_bodies, assert_handlers, assert_status
from .model import predict
from .support import model_shapes, run_shape

POLICIES = st.sampled_from(("cancel", "drain"))


def crash_instants(baseline, inflight):
    """Any instant of the run, or one while its handlers run."""
    anywhere = st.integers(0, baseline.end + 5)
    if baseline.failed_at is None:
        return anywhere
    handlers = st.integers(baseline.drain_ends, baseline.end)
    return anywhere | handlers


def trace_rows(sim):
    """(time, event, step, count) of every trace row, in ``seq`` order."""
    trace = sim.trace.sort_values("seq")
    columns = [trace[name].tolist() for name in ("time", "event", "step", "count")]
    return list(zip(*columns, strict=True))


def assert_no_attempt_after_success_across_the_crash(rows):
    """No step whose success the trace shows before the crash starts an
    attempt after it."""
    events = [event for _, event, _, _ in rows]
    crash_at = events.index("ENGINE_CRASH")
    succeeded = {
        (step, count)
        for _, event, step, count in rows[:crash_at]
        if event == "STEP_SUCCESS"
    }
    restarted = {
        (step, count)
        for _, event, step, count in rows[crash_at:]
        if event == "ATTEMPT_START"
    }
    assert succeeded.isdisjoint(restarted)


@given(shape=model_shapes(), inflight=POLICIES, data=st.data())
def test_crash_replays_cached_steps_and_retries_only_the_attempt_in_flight(
    shape, inflight, data
):
    """After a crash, completed bodies never run again, and outcome and rollback
    match the uncrashed run but for the retried attempt in flight."""
    baseline = predict(shape, inflight=inflight)
    crash = data.draw(crash_instants(baseline, inflight), label="crash_ms")
    expected = predict(shape, crash, inflight)
    note(case_snippet(shape, crash=crash, inflight=inflight))

    _, calm, _ = run_shape(shape, inflight=inflight)
    sim, inst, log = run_shape(shape, crash=crash, inflight=inflight)

    rows = trace_rows(sim)
    crashes = [time for time, event, _, _ in rows if event == "ENGINE_CRASH"]
    replays = [time for time, event, _, _ in rows if event == "ENGINE_REPLAY"]
    assert crashes == [crash / 1000]
    assert replays == ([crash / 1000] if crash < baseline.end else [])
    assert_no_attempt_after_success_across_the_crash(rows)
    assert_bodies(expected, log)
    assert_handlers(expected, inst, log)
    assert_status(expected, inst, sim, crash=crash)
    rolled_back = {(r["step"], r["count"]) for r in inst.rollbacks}
    assert rolled_back == {(r["step"], r["count"]) for r in calm.rollbacks}
    if (expected.output, expected.error) == (baseline.output, baseline.error):
        assert inst.status() == calm.status()
