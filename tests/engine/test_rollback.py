"""Rollback handlers: when, in which order, with what (DESIGN rules 5-8, 11, 12)."""

import sagasim
from sagasim import UNDEFINED, NonRetryableError

from .conftest import NO_RETRIES, events, fail, ok, records, run, start, times


def handler_log(log, *, ms=0, fails=0, message="undo broke"):
    """A handler that logs (step, output, start time) and fails its first attempts."""

    async def handler(output, error, ctx):
        log.append((ctx.step.name, output))
        if ms:
            await sagasim.sleep(ms)
        if fails < 0 or len([s for s, _ in log if s == ctx.step.name]) <= fails:
            raise RuntimeError(message)

    return handler


def rollback_steps(sim):
    """(event, step) pairs of the rollback rows and of WORKFLOW_FAILURE."""
    return [
        (event, step)
        for event, step in records(sim, ["event", "step"])
        if event.startswith("ROLLBACK") or event == "WORKFLOW_FAILURE"
    ]


def sequential_saga(log, *, handler_ms=2000, undo_b=None, rollback_config=None):
    """Steps a and b succeed in 1 s each; step c fails after 1 s; all have handlers."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "a", ok("A", ms=1000), rollback=handler_log(log, ms=handler_ms)
            )
            await step.do(
                "b",
                ok("B", ms=1000),
                rollback=undo_b or handler_log(log, ms=handler_ms),
                rollback_config=rollback_config,
            )
            await step.do(
                "c",
                fail("c broke", ms=1000),
                config=NO_RETRIES,
                rollback=handler_log(log, ms=handler_ms),
            )

    return W


def test_terminal_failure_rolls_back_in_reverse_start_order():
    """a, b, c(fails) roll back as c, b, a, one at a time, before WORKFLOW_FAILURE."""
    log = []

    sim, inst = run(sequential_saga(log))

    assert log == [("c", UNDEFINED), ("b", "B"), ("a", "A")]
    assert rollback_steps(sim) == [
        ("ROLLBACK_START", ""),
        ("ROLLBACK_STEP_START", "c"),
        ("ROLLBACK_ATTEMPT_START", "c"),
        ("ROLLBACK_ATTEMPT_SUCCESS", "c"),
        ("ROLLBACK_STEP_SUCCESS", "c"),
        ("ROLLBACK_STEP_START", "b"),
        ("ROLLBACK_ATTEMPT_START", "b"),
        ("ROLLBACK_ATTEMPT_SUCCESS", "b"),
        ("ROLLBACK_STEP_SUCCESS", "b"),
        ("ROLLBACK_STEP_START", "a"),
        ("ROLLBACK_ATTEMPT_START", "a"),
        ("ROLLBACK_ATTEMPT_SUCCESS", "a"),
        ("ROLLBACK_STEP_SUCCESS", "a"),
        ("ROLLBACK_COMPLETE", ""),
        ("WORKFLOW_FAILURE", ""),
    ]
    assert times(sim, "ROLLBACK_STEP_START") == [3.0, 5.0, 7.0]
    assert times(sim, "WORKFLOW_FAILURE") == [9.0]
    assert sim.now == 9.0


def test_rollback_records_and_status_after_a_complete_rollback():
    """inst.rollbacks has one record per handler; status keeps the original error."""
    log = []

    sim, inst = run(sequential_saga(log))

    assert inst.rollbacks == [
        {
            "step": "c",
            "count": 1,
            "status": "success",
            "attempts": 1,
            "error": None,
            "output_undefined": True,
            "start": 3.0,
            "end": 5.0,
        },
        {
            "step": "b",
            "count": 1,
            "status": "success",
            "attempts": 1,
            "error": None,
            "output_undefined": False,
            "start": 5.0,
            "end": 7.0,
        },
        {
            "step": "a",
            "count": 1,
            "status": "success",
            "attempts": 1,
            "error": None,
            "output_undefined": False,
            "start": 7.0,
            "end": 9.0,
        },
    ]
    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {"name": "RuntimeError", "message": "c broke"},
        "rollback": {"status": "complete", "total": 3, "completed": 3},
    }


def test_caught_error_starts_no_rollback():
    """A step failure caught in run() runs no handler and adds no rollback status."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=1000), rollback=handler_log(log))
            try:
                await step.do(
                    "b", fail("b broke"), config=NO_RETRIES, rollback=handler_log(log)
                )
            except RuntimeError:
                return "recovered"

    sim, inst = run(W)

    assert log == []
    assert inst.rollbacks == []
    assert events(sim, prefix="ROLLBACK") == []
    assert inst.status() == {"status": "complete", "output": "recovered", "error": None}
    assert sim.now == 1.0


def test_parallel_steps_roll_back_in_reverse_start_not_completion_order():
    """Steps started a, b, c together and done b, c, a are undone d, c, b, a."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await sagasim.gather(
                step.do("a", ok("A", ms=3000), rollback=handler_log(log)),
                step.do("b", ok("B", ms=1000), rollback=handler_log(log)),
                step.do("c", ok("C", ms=2000), rollback=handler_log(log)),
            )
            await step.do(
                "d", fail("d broke"), config=NO_RETRIES, rollback=handler_log(log)
            )

    sim, inst = run(W)

    assert times(sim, "STEP_SUCCESS") == [1.0, 2.0, 3.0]
    assert log == [("d", UNDEFINED), ("c", "C"), ("b", "B"), ("a", "A")]
    assert times(sim, "ROLLBACK_STEP_START") == [3.0, 3.0, 3.0, 3.0]


def test_only_steps_that_registered_a_handler_are_rolled_back():
    """Steps without a handler, and steps never started, are not rolled back."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A"), rollback=handler_log(log))
            await step.do("b", ok("B"))
            await step.do("c", fail("c broke"), config=NO_RETRIES)
            await step.do("d", ok("D"), rollback=handler_log(log))

    sim, inst = run(W)

    assert log == [("a", "A")]
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 1,
        "completed": 1,
    }


def test_earlier_caught_failure_is_rolled_back_with_undefined_output():
    """A step that failed and was caught is still undone, with UNDEFINED (rule 6)."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.do(
                    "a", fail("a broke"), config=NO_RETRIES, rollback=handler_log(log)
                )
            except RuntimeError:
                pass
            await step.do("b", ok("B", ms=1000), rollback=handler_log(log))
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert log == [("b", "B"), ("a", UNDEFINED)]
    assert inst.status()["error"] == {"name": "RuntimeError", "message": "run broke"}
    assert times(sim, "ROLLBACK_START") == [1.0]


def test_step_that_returned_none_hands_none_not_undefined_to_its_handler():
    """UNDEFINED is falsy and distinct from a None output."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok(None), rollback=handler_log(log))
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert log == [("a", None)]
    assert log[0][1] is not UNDEFINED
    assert not UNDEFINED
    assert UNDEFINED is not None
    assert inst.rollbacks[0]["output_undefined"] is False


def test_handler_receives_output_terminal_error_and_forward_ctx():
    """A handler gets the cached output, run()'s error and the step's last ctx."""
    seen = []

    async def flaky(ctx):
        if ctx.attempt < 3:
            raise RuntimeError("not yet")
        return {"id": 7}

    async def handler(output, error, ctx):
        seen.append(
            {
                "output": output,
                "error": (type(error).__name__, str(error)),
                "step": (ctx.step.name, ctx.step.count),
                "attempt": ctx.attempt,
                "instance_id": ctx.instance_id,
            }
        )

    class W(sagasim.Workflow):
        async def run(self, event, step):
            config = {"retries": {"limit": 4, "delay": 1000, "backoff": "constant"}}
            await step.do("reserve", flaky, config=config, rollback=handler)
            await step.do("pay", fail("card declined"), config=NO_RETRIES)

    sim, inst = run(W)

    assert seen == [
        {
            "output": {"id": 7},
            "error": ("RuntimeError", "card declined"),
            "step": ("reserve", 1),
            "attempt": 3,
            "instance_id": "inst-1",
        }
    ]
    assert times(sim, "ROLLBACK_STEP_START", step="reserve") == [2.0]


def test_rollback_config_sets_the_handlers_retries():
    """A handler failing twice under limit 2, constant 1 s, succeeds on attempt 3."""
    log = []
    undo_b = handler_log(log, fails=2)
    config = {"retries": {"limit": 2, "delay": 1000, "backoff": "constant"}}

    sim, inst = run(
        sequential_saga(log, handler_ms=0, undo_b=undo_b, rollback_config=config)
    )

    assert records(sim, ["time", "attempt"], "ROLLBACK_ATTEMPT_START", step="b") == [
        (3.0, 1),
        (4.0, 2),
        (5.0, 3),
    ]
    assert inst.rollbacks[1] == {
        "step": "b",
        "count": 1,
        "status": "success",
        "attempts": 3,
        "error": None,
        "output_undefined": False,
        "start": 3.0,
        "end": 5.0,
    }
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 3,
        "completed": 3,
    }


def test_handler_without_rollback_config_uses_engine_defaults_not_the_step_config():
    """An always-failing handler gets 6 attempts from 10 s exponential (rule 6)."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "a", ok("A"), config=NO_RETRIES, rollback=handler_log(log, fails=-1)
            )
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert times(sim, "ROLLBACK_ATTEMPT_START", step="a") == [
        0.0,
        10.0,
        30.0,
        70.0,
        150.0,
        310.0,
    ]
    assert inst.rollbacks == [
        {
            "step": "a",
            "count": 1,
            "status": "failure",
            "attempts": 6,
            "error": {"name": "RuntimeError", "message": "undo broke"},
            "output_undefined": False,
            "start": 0.0,
            "end": 310.0,
        }
    ]
    assert sim.now == 310.0


def test_rollback_config_timeout_cuts_off_a_slow_handler():
    """A 5 s handler under a 1 s rollback timeout fails with WorkflowTimeoutError."""

    async def slow_undo(output, error, ctx):
        await sagasim.sleep(5000)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "a",
                ok("A"),
                rollback=slow_undo,
                rollback_config={"retries": {"limit": 0, "delay": 0}, "timeout": 1000},
            )
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert records(
        sim, ["time", "error_name", "error_message"], "ROLLBACK_ATTEMPT_FAILURE"
    ) == [(1.0, "WorkflowTimeoutError", "Execution timed out after 1000ms")]
    assert inst.rollbacks[0]["error"] == {
        "name": "WorkflowTimeoutError",
        "message": "Execution timed out after 1000ms",
    }
    assert sim.now == 1.0


def failing_b_saga(log):
    """sequential_saga whose handler for b fails once and may not retry."""
    return sequential_saga(
        log, handler_ms=0, undo_b=handler_log(log, fails=1), rollback_config=NO_RETRIES
    )


def test_failed_handler_halts_the_chain_by_default():
    """After b's handler fails, a's handler never runs; status says failed 1 of 3."""
    log = []

    sim, inst = run(failing_b_saga(log))

    assert log == [("c", UNDEFINED), ("b", "B")]
    assert [(r["step"], r["status"]) for r in inst.rollbacks] == [
        ("c", "success"),
        ("b", "failure"),
    ]
    assert events(sim, prefix="ROLLBACK_")[-1] == "ROLLBACK_FAILED"
    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {"name": "RuntimeError", "message": "c broke"},
        "rollback": {"status": "failed", "total": 3, "completed": 1},
    }
    assert times(sim, "WORKFLOW_FAILURE") == [3.0]


def test_continue_runs_the_remaining_handlers_after_a_failure():
    """With on_rollback_failure="continue", a is undone after b's handler fails."""
    log = []

    sim, inst = run(failing_b_saga(log), on_rollback_failure="continue")

    assert log == [("c", UNDEFINED), ("b", "B"), ("a", "A")]
    assert [(r["step"], r["status"]) for r in inst.rollbacks] == [
        ("c", "success"),
        ("b", "failure"),
        ("a", "success"),
    ]
    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {"name": "RuntimeError", "message": "c broke"},
        "rollback": {"status": "failed", "total": 3, "completed": 2},
    }


def inflight_saga(effects, sim_clock):
    """fast fails at 1 s while slow, started after it, runs until 5 s."""

    async def fast(ctx):
        await sagasim.sleep(1000)
        raise RuntimeError("fast broke")

    async def slow(ctx):
        effects.append(("slow-start", sim_clock()))
        await sagasim.sleep(5000)
        effects.append(("slow-end", sim_clock()))
        return "S"

    def handler(label):
        async def undo_it(output, error, ctx):
            effects.append((label, sim_clock(), output))
            await sagasim.sleep(1000)

        return undo_it

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await sagasim.gather(
                step.do("fast", fast, config=NO_RETRIES, rollback=handler("undo-fast")),
                step.do("slow", slow, config=NO_RETRIES, rollback=handler("undo-slow")),
            )

    return W


def run_inflight(mode):
    effects = []
    sim = sagasim.Simulation(inflight=mode)
    inst = sim.create(inflight_saga(effects, lambda: sim.now))
    sim.run()
    return sim, inst, effects


def test_inflight_cancel_stops_running_steps_at_the_failure():
    """By default a step in flight at the failure is cancelled, undone as UNDEFINED."""
    sim, inst, effects = run_inflight("cancel")

    assert effects == [
        ("slow-start", 0.0),
        ("undo-slow", 1.0, UNDEFINED),
        ("undo-fast", 2.0, UNDEFINED),
    ]
    assert times(sim, "STEP_CANCELLED", step="slow") == [1.0]
    assert times(sim, "WORKFLOW_FAILURE") == [3.0]
    assert sim.now == 3.0


def test_inflight_cancel_is_the_default():
    """A simulation without inflight behaves as inflight="cancel"."""
    effects = []
    sim = sagasim.Simulation()
    sim.create(inflight_saga(effects, lambda: sim.now))
    sim.run()

    assert [e[0] for e in effects] == ["slow-start", "undo-slow", "undo-fast"]
    assert sim.now == 3.0


def test_inflight_drain_waits_for_running_steps_to_settle():
    """With inflight="drain", rollback starts at 5 s and sees slow's output."""
    sim, inst, effects = run_inflight("drain")

    assert effects == [
        ("slow-start", 0.0),
        ("slow-end", 5.0),
        ("undo-slow", 5.0, "S"),
        ("undo-fast", 6.0, UNDEFINED),
    ]
    assert times(sim, "ROLLBACK_START") == [5.0]
    assert times(sim, "WORKFLOW_FAILURE") == [7.0]
    assert sim.now == 7.0


def test_inflight_race_lets_a_compensation_overtake_its_action():
    """With inflight="race", slow is undone at 1 s and its effect still lands at 5 s."""
    sim, inst, effects = run_inflight("race")

    assert effects == [
        ("slow-start", 0.0),
        ("undo-slow", 1.0, UNDEFINED),
        ("undo-fast", 2.0, UNDEFINED),
        ("slow-end", 5.0),
    ]
    assert times(sim, "ROLLBACK_START") == [1.0]
    assert times(sim, "STEP_SUCCESS", step="slow") == [5.0]
    assert inst.status()["status"] == "errored"
    assert inst.status()["error"] == {"name": "RuntimeError", "message": "fast broke"}


def test_non_retryable_error_also_triggers_rollback():
    """An uncaught NonRetryableError rolls back like any terminal failure."""
    log = []

    async def declined(ctx):
        raise NonRetryableError("declined")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=1000), rollback=handler_log(log))
            await step.do("b", declined, rollback=handler_log(log))

    sim, inst = run(W)

    assert log == [("b", UNDEFINED), ("a", "A")]
    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {"name": "NonRetryableError", "message": "declined"},
        "rollback": {"status": "complete", "total": 2, "completed": 2},
    }
    assert times(sim, "ROLLBACK_START") == [1.0]


def test_fatal_error_runs_no_rollback():
    """A WorkflowFatalError (non-JSON output) ends the instance without handlers."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=1000), rollback=handler_log(log))
            await step.do("b", ok({1, 2}, ms=1000), rollback=handler_log(log))

    sim, inst = run(W)

    assert log == []
    assert inst.rollbacks == []
    assert events(sim, prefix="ROLLBACK") == []
    assert "rollback" not in inst.status()
    assert inst.status()["error"]["name"] == "WorkflowFatalError"
    assert times(sim, "WORKFLOW_FAILURE") == [2.0]


def test_handlers_are_re_registered_on_replay():
    """A step completed before a crash is undone when run() later fails (rule 5)."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=1000), rollback=handler_log(log))
            await step.sleep("nap", "1 minute")
            raise RuntimeError("run broke")

    sim, inst = start(W)
    sim.run(until=30)
    inst.crash()
    sim.run()

    assert log == [("a", "A")]
    assert times(sim, "ROLLBACK_STEP_START", step="a") == [61.0]
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 1,
        "completed": 1,
    }


def test_handler_cut_off_by_a_crash_runs_again():
    """A handler in flight at a crash fails as internal and retries after 1 s."""
    sim = sagasim.Simulation()
    starts = []

    async def slow_undo(output, error, ctx):
        starts.append(sim.now)
        await sagasim.sleep(10_000)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "a",
                ok("A"),
                rollback=slow_undo,
                rollback_config={"retries": {"limit": 3, "delay": 1000}},
            )
            await step.do("b", fail("b broke"), config=NO_RETRIES)

    inst = sim.create(W)
    sim.run(until=5)
    inst.crash()
    sim.run()

    assert starts == [0.0, 6.0]
    assert records(
        sim, ["time", "attempt", "error_name"], "ROLLBACK_ATTEMPT_FAILURE"
    ) == [(5.0, 1, "WorkflowInternalError")]
    assert times(sim, "ROLLBACK_STEP_SUCCESS", step="a") == [16.0]
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 1,
        "completed": 1,
    }
    assert sim.now == 16.0


def test_terminate_with_rollback_runs_handlers_with_terminated_error():
    """terminate(rollback=True) undoes started steps with an error named Terminated."""
    seen = []

    async def undo_a(output, error, ctx):
        seen.append((output, getattr(error, "name", type(error).__name__)))
        await sagasim.sleep(2000)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=1000), rollback=undo_a)
            await step.sleep("nap", "1 hour")

    sim, inst = start(W)
    sim.run(until=10)
    inst.terminate(rollback=True)
    sim.run()

    assert seen == [("A", "Terminated")]
    assert times(sim, "ROLLBACK_STEP_START", step="a") == [10.0]
    assert times(sim, "WORKFLOW_FAILURE") == []
    assert times(sim, "WORKFLOW_TERMINATED") == [12.0]
    assert inst.status()["status"] == "terminated"
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 1,
        "completed": 1,
    }
    assert sim.now == 12.0


def test_terminate_without_rollback_runs_no_handler():
    """terminate() without rollback ends the instance at once and undoes nothing."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=1000), rollback=handler_log(log))
            await step.sleep("nap", "1 hour")

    sim, inst = start(W)
    sim.run(until=10)
    inst.terminate()
    sim.run()

    assert log == []
    assert events(sim, prefix="ROLLBACK") == []
    assert times(sim, "WORKFLOW_FAILURE") == []
    assert times(sim, "WORKFLOW_TERMINATED") == [10.0]
    assert inst.status() == {"status": "terminated", "output": None, "error": None}
    assert sim.now == 10.0


def test_handler_that_cannot_be_rebuilt_is_recorded_as_missing():
    """A handler whose step run() no longer calls after a crash is missing (rule 12)."""
    log = []
    lifetime = [1]

    class W(sagasim.Workflow):
        async def run(self, event, step):
            if lifetime[0] == 1:
                await step.do("a", ok("A"), rollback=handler_log(log))
            await step.sleep("nap", "1 hour")

    sim, inst = start(W)
    sim.run(until=30)
    lifetime[0] = 2
    inst.crash()
    sim.run(until=40)
    inst.terminate(rollback=True)
    sim.run()

    assert log == []
    assert [(r["step"], r["count"], r["status"]) for r in inst.rollbacks] == [
        ("a", 1, "missing")
    ]
    assert inst.status()["status"] == "terminated"
    assert sim.now == 40.0


def test_repeated_step_names_roll_back_by_count_newest_first():
    """Three starts of one name are undone as counts 3, 2, 1 with their outputs."""
    seen = []

    async def body(ctx):
        return f"charge {ctx.step.count}"

    async def refund(output, error, ctx):
        seen.append((ctx.step.count, output))

    class W(sagasim.Workflow):
        async def run(self, event, step):
            for _ in range(3):
                await step.do("charge", body, rollback=refund)
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert seen == [(3, "charge 3"), (2, "charge 2"), (1, "charge 1")]
    assert [(r["step"], r["count"]) for r in inst.rollbacks] == [
        ("charge", 3),
        ("charge", 2),
        ("charge", 1),
    ]
    assert times(sim, "ROLLBACK_COMPLETE") == [0.0]


def test_non_retryable_error_in_a_handler_ends_its_retries():
    """A handler raising NonRetryableError gets no retry despite limit 3."""

    async def refuse(output, error, ctx):
        raise NonRetryableError("cannot undo")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "a",
                ok("A"),
                rollback=refuse,
                rollback_config={"retries": {"limit": 3, "delay": 1000}},
            )
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert times(sim, "ROLLBACK_ATTEMPT_START", step="a") == [0.0]
    assert inst.rollbacks[0]["status"] == "failure"
    assert inst.rollbacks[0]["attempts"] == 1
    assert inst.rollbacks[0]["error"] == {
        "name": "NonRetryableError",
        "message": "cannot undo",
    }


def test_handler_ctx_config_is_the_forward_steps_config():
    """The ctx a handler gets shows the forward step's resolved config."""
    seen = []

    async def handler(output, error, ctx):
        seen.append(ctx.config)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "a",
                ok("A"),
                config={"retries": {"limit": 1, "delay": "1 second"}},
                rollback=handler,
                rollback_config={"retries": {"limit": 7, "delay": 0}},
            )
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert seen == [
        {
            "retries": {"limit": 1, "delay": "1 second", "backoff": "exponential"},
            "timeout": "10 minutes",
        }
    ]


def test_rollback_config_with_only_a_timeout_uses_default_retries():
    """A rollback_config without retries gives the handler the default 6 attempts."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "a",
                ok("A"),
                rollback=handler_log(log, fails=-1),
                rollback_config={"timeout": "1 minute"},
            )
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert times(sim, "ROLLBACK_ATTEMPT_START", step="a") == [
        0.0,
        10.0,
        30.0,
        70.0,
        150.0,
        310.0,
    ]


def test_handler_default_timeout_is_ten_minutes():
    """A handler without rollback_config is cut off after 600 s per attempt."""

    async def stuck(output, error, ctx):
        await sagasim.sleep("11 minutes")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A"), rollback=stuck)
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert times(sim, "ROLLBACK_ATTEMPT_START", step="a") == [
        0.0,
        610.0,
        1230.0,
        1870.0,
        2550.0,
        3310.0,
    ]
    assert column_of_failures(sim)[0] == (600.0, "Execution timed out after 600000ms")
    assert sim.now == 3910.0


def column_of_failures(sim):
    return records(sim, ["time", "error_message"], "ROLLBACK_ATTEMPT_FAILURE")


def test_crash_mid_rollback_does_not_rerun_finished_handlers():
    """After a crash during a's handler, b's finished handler is not run again."""
    sim = sagasim.Simulation()
    starts = []

    def handler(label):
        async def undo_it(output, error, ctx):
            starts.append((label, sim.now))
            await sagasim.sleep(5000)

        return undo_it

    class W(sagasim.Workflow):
        async def run(self, event, step):
            quick = {"retries": {"limit": 2, "delay": 1000}}
            await step.do("a", ok("A"), rollback=handler("a"), rollback_config=quick)
            await step.do("b", ok("B"), rollback=handler("b"), rollback_config=quick)
            await step.do("c", fail("c broke"), config=NO_RETRIES)

    inst = sim.create(W)
    sim.run(until=7)
    inst.crash()
    sim.run()

    assert starts == [("b", 0.0), ("a", 5.0), ("a", 8.0)]
    assert times(sim, "ROLLBACK_STEP_SUCCESS") == [5.0, 13.0]
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 2,
        "completed": 2,
    }
    assert times(sim, "WORKFLOW_FAILURE") == [13.0]


def test_inflight_cancel_stops_a_step_waiting_to_retry():
    """A step in its retry wait when run() fails gets no further attempt (rule 8)."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            retry_later = {"retries": {"limit": 3, "delay": 10_000}}
            await sagasim.gather(
                step.do("doomed", fail("doomed", ms=5000), config=NO_RETRIES),
                step.do("flaky", fail("flaky", ms=1000), config=retry_later),
            )

    sim, inst = run(W)

    assert times(sim, "ATTEMPT_START", step="flaky") == [0.0]
    assert times(sim, "WORKFLOW_FAILURE") == [5.0]
    assert inst.status()["error"] == {"name": "RuntimeError", "message": "doomed"}
    assert sim.now == 5.0


def test_inflight_drain_waits_through_retries():
    """Under drain, rollback waits until the in-flight step's retries are used up."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            retry = {"retries": {"limit": 1, "delay": 2000, "backoff": "constant"}}
            await sagasim.gather(
                step.do("doomed", fail("doomed", ms=1000), config=NO_RETRIES),
                step.do(
                    "flaky",
                    fail("flaky", ms=2000),
                    config=retry,
                    rollback=handler_log(log),
                ),
            )

    sim, inst = run(W, inflight="drain")

    assert times(sim, "ATTEMPT_START", step="flaky") == [0.0, 4.0]
    assert times(sim, "ROLLBACK_START") == [6.0]
    assert log == [("flaky", UNDEFINED)]


def test_terminate_with_rollback_after_a_crash_uses_cached_outputs():
    """Handlers rebuilt after a crash see the cached outputs of their steps."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=1000), rollback=handler_log(log))
            await step.do("b", ok("B", ms=1000), rollback=handler_log(log))
            await step.sleep("nap", "1 hour")

    sim, inst = start(W)
    sim.run(until=30)
    inst.crash()
    sim.run(until=40)
    inst.terminate(rollback=True)
    sim.run()

    assert log == [("b", "B"), ("a", "A")]
    assert times(sim, "ROLLBACK_STEP_START") == [40.0, 40.0]
    assert inst.status()["status"] == "terminated"
    assert sim.now == 40.0


def test_handler_sees_the_cached_output_not_later_mutations():
    """Mutating a step's returned list in run() does not change the handler's output."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            items = await step.do("reserve", ok(["x"]), rollback=handler_log(log))
            items.append("y")
            raise RuntimeError("run broke")

    sim, inst = run(W)

    assert log == [("reserve", ["x"])]


def test_crash_and_terminate_with_rollback_at_one_instant_undo_each_step_once():
    """Crash plus terminate(rollback=True) at one instant undoes each step once."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=1000), rollback=handler_log(log))
            await step.do("b", ok("B", ms=1000), rollback=handler_log(log))
            await step.sleep("nap", "1 hour")

    sim, inst = start(W)
    sim.run(until=30)
    inst.crash()
    inst.terminate(rollback=True)
    sim.run()

    assert log == [("b", "B"), ("a", "A")]
    assert times(sim, "ROLLBACK_STEP_START") == [30.0, 30.0]
    assert inst.status()["status"] == "terminated"
    assert sim.now == 30.0
