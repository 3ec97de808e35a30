"""The lifecycle checks, on engine traces and on traces an engine got wrong."""

import pandas as pd

import sagasim
from sagasim.checks.episodes import rows_by_instance
from sagasim.soak import lifecycle
from sagasim.soak.invariants import lifecycle_of


def trace_of(*rows):
    """A trace of ``(event, step, count, attempt)`` rows for one instance."""
    return pd.DataFrame(
        [
            {
                "seq": seq,
                "time": 0.0,
                "instance": "inst-1",
                "event": event,
                "step": step,
                "count": count,
                "attempt": attempt,
                "error_name": "",
                "error_message": "",
                "detail": detail,
            }
            for seq, (event, step, count, attempt, detail) in enumerate(rows)
        ]
    )


def row(event, step="", count=0, attempt=0, detail=""):
    return (event, step, count, attempt, detail)


START = [row("WORKFLOW_QUEUED"), row("WORKFLOW_START")]
STEP = [
    row("STEP_START", "a", 1),
    row("ATTEMPT_START", "a", 1, 1),
    row("ATTEMPT_SUCCESS", "a", 1, 1),
    row("STEP_SUCCESS", "a", 1),
]


def found(trace):
    return [(v.check, v.evidence) for v in lifecycle(trace).itertuples()]


def test_an_engine_run_with_a_pause_and_a_crash_is_clean():
    """A paused, resumed and crashed instance's trace breaks no lifecycle rule."""

    async def body(ctx):
        await sagasim.sleep(10)
        return 1

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", body)
            await step.sleep("s", 10)
            return await step.do("b", body)

    sim = sagasim.Simulation()
    inst = sim.create(W)
    sim.run(until=0.005)
    inst.pause()
    sim.run(until=1)
    inst.resume()
    sim.run(until=1.025)
    inst.crash()
    sim.run()

    assert inst.status()["status"] == "complete"
    assert found(sim.trace) == []


def test_a_row_after_the_end_is_reported():
    """A step starting after WORKFLOW_SUCCESS breaks terminal finality."""
    trace = trace_of(*START, row("WORKFLOW_SUCCESS"), row("STEP_START", "b", 1))

    assert found(trace) == [("lifecycle_after_end", (2, 3))]


def test_a_crash_that_found_nothing_and_a_late_event_are_not_reported():
    """After the end, a crash with nothing live and an event sent are fine."""
    trace = trace_of(
        *START,
        row("WORKFLOW_SUCCESS"),
        row("ENGINE_CRASH", detail='{"live":false}'),
        row("EVENT_SENT", detail='{"type":"go"}'),
    )

    assert found(trace) == []


def test_an_attempt_after_success_is_a_body_run_twice():
    """ATTEMPT_START of a step that succeeded is reported."""
    trace = trace_of(*START, *STEP, row("ATTEMPT_START", "a", 1, 2))

    assert found(trace) == [("attempt_after_success", (5, 6))]


def test_pausing_an_instance_that_is_not_running_is_a_bad_transition():
    """WORKFLOW_PAUSED of a queued instance is reported."""
    trace = trace_of(row("WORKFLOW_QUEUED"), row("WORKFLOW_PAUSED"))

    assert found(trace) == [("lifecycle_transition", (1,))]


def test_work_while_paused_is_reported():
    """An attempt starting while paused is idle work."""
    trace = trace_of(*START, row("WORKFLOW_PAUSED"), row("ATTEMPT_START", "a", 1, 1))

    assert found(trace) == [("lifecycle_idle_work", (3,))]


def test_a_second_rollback_for_the_same_error_is_reported():
    """Two ROLLBACK_STARTs for one trigger with no crash between are reported;
    with a crash between, the second is the replay's and fine."""
    start = row("ROLLBACK_START", detail='{"triggerError":{"name":"E"}}')
    twice = trace_of(*START, start, start)
    replayed = trace_of(*START, start, row("ENGINE_CRASH"), start)

    assert found(twice) == [("rollback_started_twice", (2, 3))]
    assert found(replayed) == []


def test_lifecycle_of_reads_one_instances_rows():
    """lifecycle_of takes the rows of one instance."""
    trace = trace_of(*START, row("WORKFLOW_SUCCESS"), row("WORKFLOW_START"))
    rows = rows_by_instance(trace)["inst-1"]

    assert [v.check for v in lifecycle_of("inst-1", rows)] == ["lifecycle_after_end"]


def test_a_step_run_again_on_replay_may_settle_after_the_end():
    """Under race, a step that failed non-retryably runs again on replay
    (an ATTEMPT_START, no STEP_START) and may settle after the end."""
    trace = trace_of(
        *START,
        row("STEP_START", "a", 1),
        row("ATTEMPT_START", "a", 1, 1),
        row("STEP_FAILURE", "a", 1),
        row("ENGINE_CRASH"),
        row("ENGINE_REPLAY"),
        row("ATTEMPT_START", "a", 1, 2),
        row("WORKFLOW_FAILURE"),
        row("ATTEMPT_FAILURE", "a", 1, 2),
        row("STEP_FAILURE", "a", 1),
    )

    assert found(trace) == []


def test_a_fault_after_a_late_step_is_stored_is_not_reported():
    """A crash_after_persist fault of a step that settled after the end, and
    the crash that finds nothing live, are part of that step settling."""
    trace = trace_of(
        *START,
        row("STEP_START", "c", 1),
        row("ATTEMPT_START", "c", 1, 1),
        row("WORKFLOW_FAILURE"),
        row("ATTEMPT_SUCCESS", "c", 1, 1),
        row("STEP_SUCCESS", "c", 1),
        row("FAULT_INJECTED", "c", 1, 1, '{"fault":0,"kind":"crash_after_persist"}'),
        row("ENGINE_CRASH", detail='{"live":false}'),
    )

    assert found(trace) == []
