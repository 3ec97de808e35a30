"""Instance lifecycle: statuses, pause, terminate, restart, queueing, limits."""

import pytest

import sagasim

from .conftest import column, events, ok, records, run, start, times, undo


def test_statuses_go_queued_running_complete():
    """A new instance is queued, running while its step runs, then complete."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("work", ok("done", ms=10_000))

    sim, inst = start(W)
    assert inst.status()["status"] == "queued"

    sim.run(until=5)
    assert inst.status()["status"] == "running"

    sim.run()
    assert inst.status() == {"status": "complete", "output": "done", "error": None}
    assert times(sim, "WORKFLOW_START") == [0.0]
    assert times(sim, "WORKFLOW_SUCCESS") == [10.0]


def test_error_raised_in_run_ends_the_instance_errored():
    """An exception raised by run() itself is the instance's error."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", 1000)
            raise ValueError("bad input")

    sim, inst = run(W)

    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {"name": "ValueError", "message": "bad input"},
    }
    assert times(sim, "WORKFLOW_FAILURE") == [1.0]


def test_pause_shifts_a_sleep_by_the_paused_time():
    """A 100 s sleep paused from 30 s to 50 s wakes at 120 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "100 seconds")
            return "awake"

    sim, inst = start(W)
    sim.run(until=30)
    inst.pause()
    sim.run(until=50)

    assert inst.status()["status"] == "paused"
    assert times(sim, "SLEEP_COMPLETE") == []

    inst.resume()
    sim.run()

    assert times(sim, "WORKFLOW_PAUSED") == [30.0]
    assert times(sim, "WORKFLOW_RESUMED") == [50.0]
    assert times(sim, "SLEEP_COMPLETE", step="nap") == [120.0]
    assert inst.status()["output"] == "awake"
    assert sim.now == 120.0


def test_pause_shifts_a_retry_wait_by_the_paused_time():
    """A 30 s retry wait paused from 10 s to 20 s retries at 40 s."""

    async def body(ctx):
        if ctx.attempt == 1:
            raise RuntimeError("first")
        return "second"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            config = {"retries": {"limit": 1, "delay": 30_000}}
            return await step.do("flaky", body, config=config)

    sim, inst = start(W)
    sim.run(until=10)
    inst.pause()
    sim.run(until=20)
    inst.resume()
    sim.run()

    assert times(sim, "ATTEMPT_START", step="flaky") == [0.0, 40.0]
    assert inst.status()["output"] == "second"


def test_pause_waits_for_the_step_in_flight_and_blocks_new_steps():
    """Paused mid-step, the instance is waitingForPause until the step ends."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("a", ok("A", ms=10_000))
            b = await step.do("b", ok("B", ms=1000))
            return [a, b]

    sim, inst = start(W)
    sim.run(until=3)
    inst.pause()
    sim.run(until=5)
    assert inst.status()["status"] == "waitingForPause"

    sim.run(until=15)
    assert inst.status()["status"] == "paused"
    assert times(sim, "STEP_SUCCESS", step="a") == [10.0]

    sim.run(until=20)
    assert times(sim, "STEP_START", step="b") == []

    inst.resume()
    sim.run()

    assert times(sim, "WORKFLOW_PAUSED") == [10.0]
    assert times(sim, "STEP_START", step="b") == [20.0]
    assert inst.status()["output"] == ["A", "B"]
    assert sim.now == 21.0


def test_terminate_ends_the_instance_and_cancels_its_step():
    """terminate() at 3 s stops the running body and leaves sim.now at 3."""
    marks = []

    async def body(ctx):
        marks.append("before")
        await sagasim.sleep(10_000)
        marks.append("after")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("slow", body)

    sim, inst = start(W)
    sim.run(until=3)
    inst.terminate()
    sim.run()

    assert marks == ["before"]
    assert inst.status()["status"] == "terminated"
    assert times(sim, "WORKFLOW_TERMINATED") == [3.0]
    assert sim.now == 3.0


def test_terminate_on_a_finished_instance_raises_value_error():
    """Terminating a complete instance raises ValueError at once."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return "done"

    sim, inst = run(W)

    with pytest.raises(ValueError):
        inst.terminate()
    assert inst.status() == {"status": "complete", "output": "done", "error": None}


def three_steps(calls):
    """Steps a, b, c of 1 s each, returning their outputs."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("a", ok("A", ms=1000, calls=calls))
            b = await step.do("b", ok("B", ms=1000, calls=calls))
            c = await step.do("c", ok("C", ms=1000, calls=calls))
            return a + b + c

    return W


def test_restart_from_a_step_reruns_it_and_everything_after():
    """restart(from_step="b") keeps a cached and reruns b and c."""
    calls = []
    sim, inst = start(three_steps(calls))
    sim.run(until=10)
    inst.restart(from_step="b")
    sim.run()

    assert calls == ["a", "b", "c", "b", "c"]
    assert times(sim, "WORKFLOW_RESTARTED") == [10.0]
    assert times(sim, "STEP_START", step="b") == [1.0, 10.0]
    assert inst.status() == {"status": "complete", "output": "ABC", "error": None}
    assert sim.now == 12.0


def test_restart_without_a_step_reruns_everything():
    """restart() wipes the cache, so every body runs again."""
    calls = []
    sim, inst = start(three_steps(calls))
    sim.run(until=10)
    inst.restart()
    sim.run()

    assert calls == ["a", "b", "c", "a", "b", "c"]
    assert times(sim, "STEP_START", step="a") == [0.0, 10.0]
    assert sim.now == 13.0


def test_instances_beyond_max_concurrent_wait_queued_in_creation_order():
    """With max_concurrent=2, the third instance starts when the first finishes."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("work", ok("done", ms=event["payload"]["ms"]))

    sim = sagasim.Simulation(max_concurrent=2)
    first = sim.create(W, params={"ms": 10_000})
    second = sim.create(W, params={"ms": 15_000})
    third = sim.create(W, params={"ms": 10_000})
    sim.run(until=5)

    assert [first.status()["status"], second.status()["status"]] == [
        "running",
        "running",
    ]
    assert third.status()["status"] == "queued"

    sim.run()

    assert [i.id for i in sim.instances] == ["inst-1", "inst-2", "inst-3"]
    assert records(sim, ["instance", "time"], "WORKFLOW_START") == [
        ("inst-1", 0.0),
        ("inst-2", 0.0),
        ("inst-3", 10.0),
    ]
    assert times(sim, "WORKFLOW_SUCCESS", instance="inst-3") == [20.0]
    assert sim.now == 20.0


def test_max_concurrent_one_runs_instances_back_to_back():
    """With max_concurrent=1, three 10 s instances start at 0, 10 and 20 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("work", ok(ms=10_000))

    sim = sagasim.Simulation(max_concurrent=1)
    for _ in range(3):
        sim.create(W)
    sim.run()

    assert times(sim, "WORKFLOW_START") == [0.0, 10.0, 20.0]
    assert column(sim, "instance", "WORKFLOW_QUEUED") == ["inst-1", "inst-2", "inst-3"]
    assert sim.now == 30.0


def many_steps(n, calls=None):
    """A workflow that calls n trivial steps, one after another."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            for i in range(n):
                await step.do("tick", ok(i, calls=calls))
            return "done"

    return W


def test_step_beyond_a_custom_limit_is_fatal():
    """With step_limit=3, the fourth step.do ends the instance fatally, unrun."""
    calls = []
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            for i in range(4):
                await step.do(f"s{i}", ok(i, ms=1000, calls=calls), rollback=undo(log))

    sim, inst = run(W, step_limit=3)

    assert calls == ["s0", "s1", "s2"]
    assert log == []
    assert inst.status()["error"]["name"] == "WorkflowFatalError"
    assert events(sim, prefix="ROLLBACK") == []
    assert times(sim, "WORKFLOW_FAILURE") == [3.0]


def test_step_limit_cannot_be_caught_away():
    """Catching the step-limit error in run() still ends the instance errored."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                for i in range(3):
                    await step.do("tick", ok(i))
            except Exception:
                return "caught"

    sim, inst = run(W, step_limit=2)

    assert inst.status()["status"] == "errored"
    assert inst.status()["error"]["name"] == "WorkflowFatalError"


def test_sleeps_and_waits_do_not_count_toward_the_step_limit():
    """Two steps, three sleeps and a timed-out wait fit under step_limit=2."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A"))
            for _ in range(3):
                await step.sleep("nap", 1000)
            try:
                await step.wait_for_event("hello", type="hello", timeout=1000)
            except sagasim.WorkflowTimeoutError:
                pass
            return await step.do("b", ok("B"))

    sim, inst = run(W, step_limit=2)

    assert inst.status() == {"status": "complete", "output": "B", "error": None}
    assert sim.now == 4.0


@pytest.mark.slow
def test_default_step_limit_is_ten_thousand():
    """The 10,001st step.do of an instance is fatal by default."""
    calls = []

    sim, inst = run(many_steps(10_001, calls))

    assert len(calls) == 10_000
    assert inst.status()["error"]["name"] == "WorkflowFatalError"


@pytest.mark.slow
def test_step_limit_is_configurable_to_twenty_five_thousand():
    """With step_limit=25_000, an instance of 10,001 steps completes."""
    sim, inst = run(many_steps(10_001), step_limit=25_000)

    assert inst.status() == {"status": "complete", "output": "done", "error": None}
    assert len(records(sim, ["time"], "STEP_SUCCESS")) == 10_001


def test_output_of_exactly_one_mib_of_json_is_accepted():
    """A step output whose JSON is 1,048,576 bytes is within the limit."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            value = await step.do("big", ok("x" * (1024 * 1024 - 2)))
            return len(value)

    sim, inst = run(W)

    assert inst.status() == {"status": "complete", "output": 1_048_574, "error": None}


def test_output_over_one_mib_of_json_is_fatal():
    """A step output whose JSON is one byte over 1 MiB ends the instance fatally."""
    calls = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("big", ok("x" * (1024 * 1024 - 1), ms=1000, calls=calls))

    sim, inst = run(W)

    assert calls == ["big"]
    assert inst.status()["error"]["name"] == "WorkflowFatalError"
    assert times(sim, "ATTEMPT_START", step="big") == [0.0]
    assert times(sim, "WORKFLOW_FAILURE") == [1.0]


class Opaque:
    """A value the JSON encoder cannot serialise."""


@pytest.mark.parametrize(
    "value", [Opaque(), {1, 2}, {"when": object()}], ids=["object", "set", "nested"]
)
def test_output_that_is_not_json_is_fatal_without_retry(value):
    """A non-JSON step output ends the instance fatally on the first attempt."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "odd", ok(value, ms=1000), config={"retries": {"limit": 3, "delay": 0}}
            )

    sim, inst = run(W)

    assert inst.status()["error"]["name"] == "WorkflowFatalError"
    assert times(sim, "ATTEMPT_START", step="odd") == [0.0]
    assert sim.now == 1.0


def test_terminate_on_errored_or_terminated_instances_raises_value_error():
    """Terminating an errored, or an already terminated, instance raises ValueError."""

    class Fails(sagasim.Workflow):
        async def run(self, event, step):
            raise RuntimeError("broken")

    class Sleeps(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "1 hour")

    sim = sagasim.Simulation()
    errored = sim.create(Fails)
    terminated = sim.create(Sleeps)
    sim.run(until=1)
    terminated.terminate()
    sim.run()

    with pytest.raises(ValueError):
        errored.terminate()
    with pytest.raises(ValueError):
        terminated.terminate()
    assert [errored.status()["status"], terminated.status()["status"]] == [
        "errored",
        "terminated",
    ]


def test_paused_instance_keeps_no_live_work():
    """sim.run() returns at the pause instant when the only instance is paused."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "100 seconds")

    sim, inst = start(W)
    sim.run(until=30)
    inst.pause()
    sim.run()

    assert inst.status()["status"] == "paused"
    assert sim.now == 30.0


def test_pause_shifts_a_wait_timeout_by_the_paused_time():
    """A 100 s event wait paused from 30 s to 50 s times out at 120 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.wait_for_event("go", type="go", timeout=100_000)
            except sagasim.WorkflowTimeoutError:
                return "timed out"

    sim, inst = start(W)
    sim.run(until=30)
    inst.pause()
    sim.run(until=50)
    inst.resume()
    sim.run()

    assert times(sim, "WAIT_TIMED_OUT", step="go") == [120.0]
    assert inst.status()["output"] == "timed out"


def test_finished_instance_frees_its_slot_at_once():
    """With max_concurrent=1, an instance errored at 5 s lets the next start at 5 s."""

    class Fails(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", 5000)
            raise RuntimeError("broken")

    class Works(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("work", ok("done", ms=1000))

    sim = sagasim.Simulation(max_concurrent=1)
    sim.create(Fails)
    sim.create(Works)
    sim.run()

    assert records(sim, ["instance", "time"], "WORKFLOW_START") == [
        ("inst-1", 0.0),
        ("inst-2", 5.0),
    ]
    assert sim.now == 6.0


def test_terminated_instance_frees_its_slot_at_once():
    """With max_concurrent=1, terminating the first at 3 s starts the second at 3 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "1 hour")

    sim = sagasim.Simulation(max_concurrent=1)
    first = sim.create(W)
    sim.create(W)
    sim.run(until=3)
    first.terminate()
    sim.run(until=10)

    assert times(sim, "WORKFLOW_START") == [0.0, 3.0]


def test_restart_from_a_failed_step_reruns_it_with_fresh_attempts():
    """restart(from_step="b") on an errored instance runs b again from attempt 1."""
    calls = []

    async def b_body(ctx):
        calls.append(("b", ctx.attempt))
        if calls.count(("b", 1)) == 1:
            raise RuntimeError("b broke")
        return "B"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("a", ok("A", ms=1000, calls=calls))
            b = await step.do("b", b_body, config={"retries": {"limit": 0, "delay": 0}})
            return a + b

    sim, inst = start(W)
    sim.run(until=10)
    assert inst.status()["status"] == "errored"

    inst.restart(from_step="b")
    sim.run()

    assert calls == ["a", ("b", 1), ("b", 1)]
    assert inst.status() == {"status": "complete", "output": "AB", "error": None}
    assert times(sim, "STEP_SUCCESS", step="b") == [10.0]


def test_resume_before_the_step_ends_cancels_the_pending_pause():
    """Resumed while waitingForPause, the instance runs on without a pause."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("a", ok("A", ms=10_000))
            b = await step.do("b", ok("B", ms=1000))
            return [a, b]

    sim, inst = start(W)
    sim.run(until=3)
    inst.pause()
    sim.run(until=5)
    inst.resume()
    sim.run(until=6)

    assert inst.status()["status"] == "running"

    sim.run()

    assert times(sim, "WORKFLOW_PAUSED") == []
    assert times(sim, "STEP_START", step="b") == [10.0]
    assert inst.status()["output"] == ["A", "B"]
    assert sim.now == 11.0


def test_pause_of_a_finished_instance_does_nothing():
    """pause() on a complete instance leaves it complete."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return "done"

    sim, inst = run(W)
    inst.pause()
    sim.run(until=5)

    assert inst.status() == {"status": "complete", "output": "done", "error": None}
    assert times(sim, "WORKFLOW_PAUSED") == []


def test_sleep_due_during_a_pause_wakes_shifted_by_the_whole_pause():
    """A sleep due at 100 s, paused from 30 s to 200 s, wakes at 270 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "100 seconds")

    sim, inst = start(W)
    sim.run(until=30)
    inst.pause()
    sim.run(until=200)
    inst.resume()
    sim.run()

    assert times(sim, "SLEEP_COMPLETE", step="nap") == [270.0]
    assert sim.now == 270.0


def test_event_sent_while_paused_is_delivered_on_resume():
    """An event sent during a pause completes the wait at the resume instant."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            got = await step.wait_for_event("go", type="go", timeout="1 hour")
            return got["payload"]

    sim, inst = start(W)
    sim.run(until=10)
    inst.pause()
    sim.run(until=20)
    inst.send_event("go", "while paused")
    sim.run(until=30)

    assert times(sim, "WAIT_COMPLETE") == []

    inst.resume()
    sim.run()

    assert times(sim, "WAIT_COMPLETE", step="go") == [30.0]
    assert inst.status()["output"] == "while paused"


def test_terminate_with_rollback_skips_a_step_held_back_by_a_pause():
    """A step called while pausing never started, so it has no handler (rule 5)."""
    sim = sagasim.Simulation()
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=10_000), rollback=undo(log))
            await step.do("b", ok("B", ms=1000), rollback=undo(log))

    inst = sim.create(W)
    sim.run(until=3)
    inst.pause()
    sim.run(until=15)
    inst.terminate(rollback=True)
    sim.run()

    assert log == [("a", "A")]
    assert times(sim, "ATTEMPT_START", step="b") == []
    assert inst.status()["status"] == "terminated"
    assert sim.now == 15.0


def test_operations_from_inside_the_simulation_take_effect_at_that_instant():
    """A body of one instance sends an event to another at 5 s and crashes it at 7 s."""
    sim = sagasim.Simulation()
    calls = []

    class Waiter(sagasim.Workflow):
        async def run(self, event, step):
            got = await step.wait_for_event("go", type="go")
            retry = {"retries": {"limit": 1, "delay": 1000}}
            done = await step.do(
                "after", ok("after", ms=5000, calls=calls), config=retry
            )
            return [got["payload"], done]

    waiter = sim.create(Waiter)

    async def poke(ctx):
        await sagasim.sleep(5000)
        waiter.send_event("go", "poked")
        await sagasim.sleep(2000)
        waiter.crash()

    class Poker(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("poke", poke)

    sim.create(Poker)
    sim.run()

    assert times(sim, "WAIT_COMPLETE", step="go") == [5.0]
    assert times(sim, "ENGINE_CRASH") == [7.0]
    assert calls == ["after", "after"]
    assert times(sim, "ATTEMPT_START", step="after") == [5.0, 8.0]
    assert waiter.status()["output"] == ["poked", "after"]
    assert sim.now == 13.0


def test_restart_from_a_step_in_flight_abandons_its_attempt():
    """restart(from_step="b") while b runs drops that attempt and reruns b at once."""
    calls = []
    sim, inst = start(three_steps(calls))
    sim.run(until=1.5)
    inst.restart(from_step="b")
    sim.run()

    assert calls == ["a", "b", "b", "c"]
    assert times(sim, "STEP_SUCCESS", step="b") == [2.5]
    assert inst.status() == {"status": "complete", "output": "ABC", "error": None}
    assert sim.now == 3.5


def test_rollback_handlers_do_not_count_toward_the_step_limit():
    """Two steps under step_limit=2 can still both be rolled back."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A"), rollback=undo(log))
            await step.do("b", ok("B"), rollback=undo(log))
            raise RuntimeError("run broke")

    sim, inst = run(W, step_limit=2)

    assert log == [("b", "B"), ("a", "A")]
    assert inst.status()["error"] == {"name": "RuntimeError", "message": "run broke"}
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 2,
        "completed": 2,
    }


def test_replayed_steps_do_not_count_twice_toward_the_step_limit():
    """Three steps under step_limit=3 still complete after a crash mid-way."""
    calls = []
    sim, inst = start(three_steps(calls), step_limit=3)
    sim.run(until=1.5)
    inst.crash()
    sim.run()

    assert calls == ["a", "b", "b", "c"]
    assert inst.status() == {"status": "complete", "output": "ABC", "error": None}
    assert sim.now == 13.5
