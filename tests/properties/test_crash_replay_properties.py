"""Engine crashes at random instants against the model (DESIGN rules 4-6, 10)."""

from hypothesis import given, note
from hypothesis import strategies as st

from .checks import assert_bodies, assert_handlers, assert_status
from .interpreter import run_shape
from .model import predict
from .shapes import shapes
from .snippet import snippet


def crash_instants(baseline):
    """Any instant of the run, or one while its handlers run."""
    anywhere = st.integers(0, baseline.end + 5)
    if baseline.failed_at is None:
        return anywhere
    return anywhere | st.integers(baseline.failed_at, baseline.end)


def assert_no_attempt_after_success_across_the_crash(trace):
    """No step whose success the trace shows before the crash starts an
    attempt after it."""
    (crash_seq,) = trace.query("event == 'ENGINE_CRASH'")["seq"].tolist()
    before = trace[trace["seq"] < crash_seq]
    after = trace[trace["seq"] > crash_seq]
    succeeded = set(
        before.query("event == 'STEP_SUCCESS'")[["step", "count"]].itertuples(
            index=False, name=None
        )
    )
    restarted = set(
        after.query("event == 'ATTEMPT_START'")[["step", "count"]].itertuples(
            index=False, name=None
        )
    )
    assert succeeded.isdisjoint(restarted)


@given(shape=shapes(), data=st.data())
def test_crash_replays_cached_steps_and_retries_only_the_attempt_in_flight(shape, data):
    """After a crash, completed bodies never run again, and outcome and rollback
    match the uncrashed run but for the retried attempt in flight."""
    baseline = predict(shape)
    crash = data.draw(crash_instants(baseline), label="crash_ms")
    expected = predict(shape, crash)
    note(snippet(shape, crash))

    _, calm, _ = run_shape(shape)
    sim, inst, log = run_shape(shape, crash=crash)

    trace = sim.trace
    assert trace.query("event == 'ENGINE_CRASH'")["time"].tolist() == [crash / 1000]
    replays = trace.query("event == 'ENGINE_REPLAY'")["time"].tolist()
    assert replays == ([crash / 1000] if crash < baseline.end else [])
    assert_no_attempt_after_success_across_the_crash(trace)
    assert_bodies(expected, log)
    assert_handlers(expected, inst, log)
    assert_status(expected, inst, sim, crash=crash)
    rolled_back = {(r["step"], r["count"]) for r in inst.rollbacks}
    assert rolled_back == {(r["step"], r["count"]) for r in calm.rollbacks}
    if (expected.output, expected.error) == (baseline.output, baseline.error):
        assert inst.status() == calm.status()
