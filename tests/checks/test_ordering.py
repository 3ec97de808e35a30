"""Rollback ordering invariants read from hand-built traces."""

import pandas as pd
import pytest

from sagasim.checks import COLUMNS, rollback_ordering

from .conftest import BOOM, Trace, found


def sequential(*names, failing=None):
    """A trace whose steps start one after another, the last one failing;
    returns the trace and each step's STEP_START seq."""
    t = Trace()
    t.begin()
    starts = {}
    for name in names:
        starts[name] = t.step(name, ok=name != (failing or names[-1]))
    return t, starts


def test_handlers_in_reverse_start_order_are_clean():
    """Undoing the newest start first, the failing step included, is clean."""
    t, _ = sequential("a", "b", "c")
    t.rollback_start(3)
    for name in ("c", "b", "a"):
        t.handler(name)
    t.rollback_end(3, 3)

    result = rollback_ordering(t.frame())

    assert list(result.columns) == list(COLUMNS)
    assert found(result) == []


def test_front_to_back_rollback_reports_each_inverted_pair():
    """A rollback in forward order (pysaga's bug) breaks every adjacent pair."""
    t, starts = sequential("a", "b", "c")
    t.rollback_start(3)
    handlers = {name: t.handler(name) for name in ("a", "b", "c")}
    t.rollback_end(3, 3)

    result = rollback_ordering(t.frame())

    assert found(result) == [
        (
            "rollback_order",
            "inst-1",
            "b",
            (starts["a"], starts["b"], handlers["a"], handlers["b"]),
        ),
        (
            "rollback_order",
            "inst-1",
            "c",
            (starts["b"], starts["c"], handlers["b"], handlers["c"]),
        ),
    ]


def test_completion_order_rollback_of_parallel_steps_is_reported():
    """Parallel steps undone newest completion first, not newest start
    first, are reported."""
    t = Trace()
    t.begin()
    a = t.add("STEP_START", "a")
    t.add("ATTEMPT_START", "a", attempt=1)
    b = t.add("STEP_START", "b")
    t.add("ATTEMPT_START", "b", attempt=1)
    t.add("ATTEMPT_SUCCESS", "b", attempt=1)
    t.add("STEP_SUCCESS", "b")
    t.add("ATTEMPT_SUCCESS", "a", attempt=1)
    t.add("STEP_SUCCESS", "a")
    t.step("c", ok=False)
    t.rollback_start(3)
    t.handler("c")
    handler_a = t.handler("a")
    handler_b = t.handler("b")
    t.rollback_end(3, 3)

    result = rollback_ordering(t.frame())

    assert found(result) == [
        ("rollback_order", "inst-1", "b", (a, b, handler_a, handler_b))
    ]


def test_a_failing_step_that_is_not_undone_first_is_reported():
    """In a sequential flow the failing step is undone first."""
    t, starts = sequential("a", "b")
    t.rollback_start(2)
    handler_a = t.handler("a")
    handler_b = t.handler("b")
    t.rollback_end(2, 2)

    assert found(rollback_ordering(t.frame())) == [
        (
            "rollback_order",
            "inst-1",
            "b",
            (starts["a"], starts["b"], handler_a, handler_b),
        )
    ]


def test_occurrences_of_one_name_are_ordered_by_their_own_start():
    """Two occurrences of a step name are two steps: count 2 goes first."""
    t = Trace()
    t.begin()
    first = t.step("charge", 1)
    second = t.step("charge", 2)
    t.step("fail", ok=False)
    t.rollback_start(3)
    t.handler("fail")
    handler_1 = t.handler("charge", 1)
    handler_2 = t.handler("charge", 2)
    t.rollback_end(3, 3)

    result = rollback_ordering(t.frame())

    assert found(result) == [
        ("rollback_order", "inst-1", "charge", (first, second, handler_1, handler_2))
    ]
    assert "(count 2)" in result["message"][0]


def test_rolling_back_a_step_that_never_started_is_reported():
    """A handler for a step with no STEP_START is reported, and so is one
    whose step never began an attempt."""
    t = Trace()
    t.begin()
    blocked = t.add("STEP_START", "blocked")
    t.step("fail", ok=False)
    t.rollback_start(3)
    t.handler("fail")
    ghost = t.handler("ghost")
    handler_blocked = t.handler("blocked")
    t.rollback_end(3, 3)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_unstarted", "inst-1", "blocked", (blocked, handler_blocked)),
        ("rollback_unstarted", "inst-1", "ghost", (ghost,)),
    ]


def test_a_step_rolled_back_twice_is_reported():
    """Two ROLLBACK_STEP_SUCCESS rows for one step are cited as the evidence."""
    t, _ = sequential("a", "b")
    t.rollback_start(2)
    t.handler("b")
    t.handler("a")
    first_success = len(t.rows) - 1
    t.add("ROLLBACK_ATTEMPT_START", "a", attempt=2)
    t.add("ROLLBACK_ATTEMPT_SUCCESS", "a", attempt=2)
    second_success = t.add("ROLLBACK_STEP_SUCCESS", "a")
    t.rollback_end(2, 2)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_repeated", "inst-1", "a", (first_success, second_success))
    ]


def test_a_finished_handler_that_runs_again_is_reported():
    """A handler that starts again after it succeeded is reported once, at
    the first row of its second run."""
    t, _ = sequential("a")
    t.rollback_start(1)
    t.handler("a")
    success = len(t.rows) - 1
    t.add("ENGINE_CRASH")
    t.add("ENGINE_REPLAY")
    t.rollback_start(1)
    again = t.add("ROLLBACK_ATTEMPT_START", "a", attempt=2)
    t.add("ROLLBACK_ATTEMPT_FAILURE", "a", attempt=2, error=BOOM)
    t.add("ROLLBACK_STEP_FAILURE", "a", error=BOOM)
    t.rollback_end(1, 1)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_repeated", "inst-1", "a", (success, again))
    ]


def test_a_handler_cut_off_by_a_crash_may_run_again():
    """A handler attempt cut off by a crash and retried after the replay is
    neither repeated nor overlapping."""
    t, _ = sequential("a", "b")
    t.rollback_start(2)
    t.add("ROLLBACK_STEP_START", "b")
    t.add("ROLLBACK_ATTEMPT_START", "b", attempt=1)
    t.add("ENGINE_CRASH")
    t.add("ENGINE_REPLAY")
    t.rollback_start(2)
    t.add("ROLLBACK_ATTEMPT_START", "b", attempt=2)
    t.add("ROLLBACK_ATTEMPT_SUCCESS", "b", attempt=2)
    t.add("ROLLBACK_STEP_SUCCESS", "b")
    t.handler("a")
    t.rollback_end(2, 2)

    assert found(rollback_ordering(t.frame())) == []


def test_two_handler_attempts_running_at_once_are_reported():
    """A handler attempt that starts while another one runs is reported."""
    t, _ = sequential("a", "b")
    t.rollback_start(2)
    t.add("ROLLBACK_STEP_START", "b")
    b_attempt = t.add("ROLLBACK_ATTEMPT_START", "b", attempt=1)
    t.add("ROLLBACK_STEP_START", "a")
    a_attempt = t.add("ROLLBACK_ATTEMPT_START", "a", attempt=1)
    for name in ("b", "a"):
        t.add("ROLLBACK_ATTEMPT_SUCCESS", name, attempt=1)
        t.add("ROLLBACK_STEP_SUCCESS", name)
    t.rollback_end(2, 2)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_overlap", "inst-1", "a", (b_attempt, a_attempt))
    ]


def halted_then_ran_on():
    t, _ = sequential("a", "b", "c")
    t.rollback_start(3)
    t.handler("c", ok=False)
    failure = len(t.rows) - 1
    handler_b = t.handler("b")
    t.handler("a")
    t.rollback_end(3, 2)
    return t, failure, handler_b


def test_a_handler_after_a_failed_one_is_reported_under_halt():
    """Under on_rollback_failure="halt" the chain stops at a failed handler;
    the first handler to run after it is reported, and each later one."""
    t, failure, handler_b = halted_then_ran_on()

    result = rollback_ordering(t.frame(), on_rollback_failure="halt")

    assert found(result)[0] == (
        "rollback_after_halt",
        "inst-1",
        "b",
        (failure, handler_b),
    )
    assert list(result["check"]) == ["rollback_after_halt"] * 2


@pytest.mark.parametrize("policy", ["continue", None])
def test_handlers_after_a_failed_one_are_clean_under_continue(policy):
    """Under "continue", or with the policy unknown, the chain may go on."""
    t, _, _ = halted_then_ran_on()

    assert found(rollback_ordering(t.frame(), on_rollback_failure=policy)) == []


def test_an_unknown_policy_is_refused():
    """A policy other than halt, continue or None is a ValueError."""
    with pytest.raises(ValueError, match="on_rollback_failure"):
        rollback_ordering(Trace().frame(), on_rollback_failure="skip")


def test_a_complete_rollback_that_skipped_a_handler_is_reported():
    """ROLLBACK_COMPLETE with fewer handlers succeeded than planned."""
    t, _ = sequential("a", "b")
    start = t.rollback_start(2)
    t.handler("b")
    t.rollback_end(2, 2)
    complete = len(t.rows) - 2

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_incomplete", "inst-1", "", (start, complete))
    ]


def test_a_complete_rollback_with_a_failed_handler_is_reported():
    """ROLLBACK_COMPLETE although a handler failed cites the failure."""
    t, _ = sequential("a")
    t.rollback_start(1)
    t.handler("a", ok=False)
    failure = len(t.rows) - 1
    complete = t.add("ROLLBACK_COMPLETE", detail={"totalSteps": 1})
    t.add("WORKFLOW_FAILURE", error=BOOM)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_incomplete", "inst-1", "a", (failure, complete))
    ]


def test_a_rollback_in_a_run_that_succeeded_is_reported():
    """A rollback in an epoch that ended WORKFLOW_SUCCESS was unprompted (a
    caught error starts none)."""
    t, _ = sequential("a", "b", failing="b")
    start = t.rollback_start(1)
    t.handler("b")
    t.add("ROLLBACK_COMPLETE", detail={"totalSteps": 1})
    success = t.add("WORKFLOW_SUCCESS")

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_unprompted", "inst-1", "", (start, success))
    ]


def test_rollback_rows_before_a_rollback_start_are_reported():
    """A handler that runs before any ROLLBACK_START is reported once."""
    t, _ = sequential("a", "b")
    first = t.handler("b")
    t.rollback_start(2)
    t.handler("a")
    t.rollback_end(2, 2)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_unprompted", "inst-1", "b", (first,))
    ]


def test_a_rollback_after_the_instance_ended_is_reported():
    """Rollback rows after WORKFLOW_FAILURE are reported at the first one."""
    t, _ = sequential("a")
    end = t.add("WORKFLOW_FAILURE", error=BOOM)
    start = t.rollback_start(1)
    t.handler("a")
    t.add("ROLLBACK_COMPLETE", detail={"totalSteps": 1})

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_unprompted", "inst-1", "", (end, start))
    ]


def test_steps_started_after_the_rollback_began_are_reported():
    """run() starting a step after its rollback began did not fail terminally."""
    t, _ = sequential("a")
    start = t.rollback_start(1)
    t.handler("a")
    t.add("ROLLBACK_COMPLETE", detail={"totalSteps": 1, "completedSteps": 1})
    later = t.step("b")
    t.add("WORKFLOW_FAILURE", error=BOOM)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_unprompted", "inst-1", "b", (start, later))
    ]


def test_a_rollback_triggered_by_a_fatal_error_is_reported():
    """A WorkflowFatalError never rolls back."""
    t, _ = sequential("a")
    fatal = ("WorkflowFatalError", "step limit")
    start = t.rollback_start(1, fatal)
    t.handler("a")
    t.rollback_end(1, 1, error=fatal)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_unprompted", "inst-1", "", (start,))
    ]


def test_termination_with_rollback_is_clean():
    """terminate(rollback=True) rolls back with Terminated and ends
    WORKFLOW_TERMINATED."""
    t = Trace()
    t.begin()
    t.step("a")
    t.add("STEP_START", "b")
    t.add("ATTEMPT_START", "b", attempt=1)
    t.add("STEP_CANCELLED", "b")
    t.rollback_start(2, ("Terminated", "Instance terminated during rollback"))
    t.handler("b")
    t.handler("a")
    t.add("ROLLBACK_COMPLETE", detail={"totalSteps": 2, "completedSteps": 2})
    t.add("WORKFLOW_TERMINATED")

    assert found(rollback_ordering(t.frame())) == []


def test_an_instance_that_ends_with_another_error_is_reported():
    """The instance's error stays the one that triggered the rollback."""
    t, _ = sequential("a")
    start = t.rollback_start(1)
    t.handler("a", ok=False)
    end = t.rollback_end(1, 0, error=("RuntimeError", "undo broke"))

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_trigger", "inst-1", "", (start, end))
    ]


def test_each_epoch_after_a_restart_rolls_back_on_its_own():
    """A restarted instance may roll the same step back again; order is
    judged against the step's latest start."""
    t, _ = sequential("a", "b")
    t.rollback_start(2)
    t.handler("b")
    t.handler("a")
    t.rollback_end(2, 2)
    t.add("WORKFLOW_RESTARTED")
    t.add("WORKFLOW_START")
    a = t.step("a")
    b = t.step("b", ok=False)
    t.rollback_start(2)
    handler_a = t.handler("a")
    handler_b = t.handler("b")
    t.rollback_end(2, 2)

    assert found(rollback_ordering(t.frame())) == [
        ("rollback_order", "inst-1", "b", (a, b, handler_a, handler_b))
    ]


def test_instances_are_judged_separately():
    """Interleaved instances: only the one at fault is reported, and an
    instance without rollback rows is skipped."""
    good, bad = Trace("good"), Trace("bad")
    mixed = Trace()
    for name in ("a", "b"):
        for t in (good, bad):
            t.step(name, ok=name == "a")
    good.rollback_start(2)
    bad.rollback_start(2)
    for name in ("b", "a"):
        good.handler(name)
    for name in ("a", "b"):
        bad.handler(name)
    mixed.step("x")
    frame = pd.concat([good.frame(), bad.frame(), mixed.frame()])
    frame["seq"] = range(len(frame))
    frame = frame.sample(frac=1, random_state=3)

    result = rollback_ordering(frame)

    assert list(result["check"]) == ["rollback_order"]
    assert list(result["instance"]) == ["bad"]


def test_a_trace_saved_to_csv_reads_the_same(tmp_path):
    """Empty strings read back as missing values are tolerated."""
    t, _ = sequential("a", "b")
    t.rollback_start(2)
    for name in ("a", "b"):
        t.handler(name)
    t.rollback_end(2, 2)
    path = tmp_path / "trace.csv"
    t.frame().to_csv(path, index=False)

    saved = pd.read_csv(path)

    assert found(rollback_ordering(saved)) == found(rollback_ordering(t.frame()))
    assert len(found(rollback_ordering(saved))) == 1


def test_a_trace_without_required_columns_is_refused():
    """A frame without seq, instance and event is a ValueError."""
    with pytest.raises(ValueError, match="seq"):
        rollback_ordering(pd.DataFrame({"instance": [], "event": []}))
