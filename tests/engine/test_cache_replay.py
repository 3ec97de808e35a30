"""Step cache and replay across Instance.crash() (DESIGN rules 4, 5 and 10)."""

import sagasim

from .conftest import NO_RETRIES, column, fail, ok, records, start, times

ONE_SECOND_RETRY = {"retries": {"limit": 2, "delay": 1000}}


def test_crash_replays_without_rerunning_completed_bodies():
    """A completed step returns its cached output on replay; its body runs once."""
    calls = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("a", ok("A", ms=5000, calls=calls))
            b = await step.do(
                "b", ok("B", ms=10_000, calls=calls), config=ONE_SECOND_RETRY
            )
            return [a, b]

    sim, inst = start(W)
    sim.run(until=8)
    inst.crash()
    sim.run()

    assert calls == ["a", "b", "b"]
    assert times(sim, "ENGINE_CRASH") == [8.0]
    assert times(sim, "ENGINE_REPLAY") == [8.0]
    assert times(sim, "STEP_REPLAYED", step="a") == [8.0]
    assert inst.status() == {"status": "complete", "output": ["A", "B"], "error": None}
    assert sim.now == 19.0


def test_in_flight_attempt_fails_with_internal_error_and_backs_off_from_replay():
    """The attempt cut off by a crash fails as WorkflowInternalError, retried 1 s on."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=5000))
            return await step.do("b", ok("B", ms=10_000), config=ONE_SECOND_RETRY)

    sim, inst = start(W)
    sim.run(until=8)
    inst.crash()
    sim.run()

    assert records(sim, ["time", "attempt", "error_name"], "ATTEMPT_FAILURE") == [
        (8.0, 1, "WorkflowInternalError")
    ]
    assert records(sim, ["time", "attempt"], "ATTEMPT_START", step="b") == [
        (5.0, 1),
        (9.0, 2),
    ]
    assert times(sim, "STEP_SUCCESS", step="b") == [19.0]
    assert inst.status()["output"] == "B"


def test_in_flight_attempt_counts_toward_the_retry_limit():
    """With limit 0, the attempt cut off by a crash is the last: the step fails."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("slow", ok("S", ms=10_000), config=NO_RETRIES)

    sim, inst = start(W)
    sim.run(until=4)
    inst.crash()
    sim.run()

    assert times(sim, "ATTEMPT_START", step="slow") == [0.0]
    assert records(sim, ["time", "error_name"], "STEP_FAILURE") == [
        (4.0, "WorkflowInternalError")
    ]
    assert inst.status()["status"] == "errored"
    assert inst.status()["error"]["name"] == "WorkflowInternalError"
    assert sim.now == 4.0


def test_in_flight_body_stops_at_the_crash():
    """A body running when the engine crashes never resumes past its await."""
    marks = []

    async def body(ctx):
        marks.append(("start", ctx.attempt))
        await sagasim.sleep(10_000)
        marks.append(("end", ctx.attempt))
        return "done"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("slow", body, config=ONE_SECOND_RETRY)

    sim, inst = start(W)
    sim.run(until=4)
    inst.crash()
    sim.run()

    assert marks == [("start", 1), ("start", 2), ("end", 2)]
    assert times(sim, "ATTEMPT_START", step="slow") == [0.0, 5.0]
    assert sim.now == 15.0


def test_run_is_replayed_from_the_top_after_a_crash():
    """Each lifetime calls run() again from its first line."""
    lifetimes = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            lifetimes.append(event["instance_id"])
            await step.sleep("nap", "1 minute")
            return "rested"

    sim, inst = start(W)
    sim.run(until=20)
    inst.crash()
    sim.run()

    assert lifetimes == ["inst-1", "inst-1"]
    assert inst.status()["output"] == "rested"


def test_durable_sleep_keeps_its_wake_time_across_a_crash():
    """A 60 s sleep interrupted by a crash at 20 s still wakes at 60 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "1 minute")
            return await step.do("after", ok("awake"))

    sim, inst = start(W)
    sim.run(until=20)
    inst.crash()
    sim.run()

    assert times(sim, "SLEEP_COMPLETE", step="nap") == [60.0]
    assert times(sim, "STEP_START", step="after") == [60.0]
    assert sim.now == 60.0


def test_durable_retry_wait_keeps_its_wake_time_across_a_crash():
    """A 30 s retry wait interrupted by a crash at 10 s still retries at 30 s."""

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
    inst.crash()
    sim.run()

    assert records(sim, ["time", "attempt"], "ATTEMPT_START") == [(0.0, 1), (30.0, 2)]
    assert inst.status()["output"] == "second"
    assert sim.now == 30.0


def test_durable_wait_timeout_keeps_its_deadline_across_a_crash():
    """A 1-minute event wait interrupted by a crash at 20 s times out at 60 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.wait_for_event(
                    "approval", type="approve", timeout="1 minute"
                )
            except sagasim.WorkflowTimeoutError:
                return "timed out"

    sim, inst = start(W)
    sim.run(until=20)
    inst.crash()
    sim.run()

    assert times(sim, "WAIT_TIMED_OUT", step="approval") == [60.0]
    assert inst.status()["output"] == "timed out"
    assert sim.now == 60.0


def test_completed_sleep_is_a_no_op_on_replay_whatever_its_new_duration():
    """A finished sleep is keyed by name and count, so a new duration is ignored."""
    lifetimes = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            lifetimes.append(1)
            await step.sleep("nap", 10_000 if len(lifetimes) == 1 else 100_000)
            await step.sleep("rest", "30 seconds")
            return "rested"

    sim, inst = start(W)
    sim.run(until=15)
    inst.crash()
    sim.run()

    assert len(lifetimes) == 2
    assert times(sim, "SLEEP_COMPLETE", step="nap") == [10.0]
    assert times(sim, "SLEEP_COMPLETE", step="rest") == [40.0]
    assert sim.now == 40.0


def test_repeated_names_get_counts_one_two_three_and_replay_by_count():
    """Three calls of one name are counts 1, 2, 3 and replay keys them apart."""
    calls = []

    async def body(ctx):
        calls.append(ctx.step.count)
        await sagasim.sleep(1000)
        return ctx.step.count

    class W(sagasim.Workflow):
        async def run(self, event, step):
            config = {"retries": {"limit": 1, "delay": 1000}}
            return [await step.do("charge", body, config=config) for _ in range(3)]

    sim, inst = start(W)
    sim.run(until=1.5)
    inst.crash()
    sim.run()

    assert calls == [1, 2, 2, 3]
    assert column(sim, "count", "STEP_SUCCESS", step="charge") == [1, 2, 3]
    assert times(sim, "STEP_SUCCESS", step="charge") == [1.0, 3.5, 4.5]
    assert inst.status()["output"] == [1, 2, 3]
    assert sim.now == 4.5


def test_counts_are_taken_at_call_time_not_completion_time():
    """Under gather, the first call of a name is count 1 even if it finishes last."""

    async def body(ctx):
        await sagasim.sleep(3000 if ctx.step.count == 1 else 1000)
        return ctx.step.count

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return list(await sagasim.gather(step.do("x", body), step.do("x", body)))

    sim, inst = start(W)
    sim.run()

    assert records(sim, ["time", "count"], "STEP_SUCCESS", step="x") == [
        (1.0, 2),
        (3.0, 1),
    ]
    assert inst.status()["output"] == [1, 2]


def test_cached_failure_re_raises_on_replay_without_running_the_body():
    """A step whose retries ran out raises its cached error again on replay."""
    calls = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.do("a", fail("down", calls=calls), config=NO_RETRIES)
            except RuntimeError as error:
                result = f"caught: {error}"
            await step.sleep("nap", "1 minute")
            return result

    sim, inst = start(W)
    sim.run(until=30)
    inst.crash()
    sim.run()

    assert calls == ["a"]
    assert times(sim, "ATTEMPT_START", step="a") == [0.0]
    assert inst.status() == {
        "status": "complete",
        "output": "caught: down",
        "error": None,
    }
    assert sim.now == 60.0


def test_completion_at_the_crash_instant_is_recorded_before_the_crash():
    """A body returning at the instant of a crash completes first (rule 10)."""
    calls = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("a", ok("A", ms=5000, calls=calls))
            await step.sleep("rest", 1000)
            return a

    sim, inst = start(W)
    sim.run(until=5)
    inst.crash()
    sim.run()

    assert calls == ["a"]
    assert times(sim, "STEP_SUCCESS", step="a") == [5.0]
    assert times(sim, "ATTEMPT_FAILURE") == []
    assert times(sim, "SLEEP_COMPLETE", step="rest") == [6.0]
    assert inst.status()["output"] == "A"
    assert sim.now == 6.0


def test_deadline_at_the_crash_instant_is_recorded_before_the_crash():
    """A timeout due at the crash instant fails the attempt as a timeout (rule 10)."""

    async def body(ctx):
        await sagasim.sleep(10_000 if ctx.attempt == 1 else 1000)
        return ctx.attempt

    class W(sagasim.Workflow):
        async def run(self, event, step):
            config = {"retries": {"limit": 1, "delay": 1000}, "timeout": 5000}
            return await step.do("slow", body, config=config)

    sim, inst = start(W)
    sim.run(until=5)
    inst.crash()
    sim.run()

    assert records(sim, ["time", "error_name"], "ATTEMPT_FAILURE") == [
        (5.0, "WorkflowTimeoutError")
    ]
    assert times(sim, "ATTEMPT_START", step="slow") == [0.0, 6.0]
    assert inst.status()["output"] == 2
    assert sim.now == 7.0


def test_completed_wait_replays_its_cached_event():
    """A wait satisfied before a crash returns the same event on replay at once."""
    received = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            got = await step.wait_for_event("approval", type="approve")
            received.append(got)
            await step.sleep("nap", "1 minute")
            return got["payload"]

    sim, inst = start(W)
    sim.run(until=30)
    inst.send_event("approve", "yes")
    sim.run(until=50)
    inst.crash()
    sim.run()

    assert len(received) == 2
    assert received[0] == received[1]
    assert times(sim, "WAIT_COMPLETE", step="approval") == [30.0]
    assert times(sim, "SLEEP_COMPLETE", step="nap") == [90.0]
    assert inst.status()["output"] == "yes"


def test_buffered_event_survives_a_crash():
    """An event sent before its wait began is still delivered after a crash."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "1 minute")
            got = await step.wait_for_event("approval", type="approve")
            return got["payload"]

    sim, inst = start(W)
    sim.run(until=10)
    inst.send_event("approve", "early")
    sim.run(until=20)
    inst.crash()
    sim.run()

    assert times(sim, "WAIT_COMPLETE", step="approval") == [60.0]
    assert inst.status()["output"] == "early"
    assert sim.now == 60.0


def test_cached_wait_timeout_re_raises_on_replay_without_waiting_again():
    """A wait that timed out raises its cached timeout at once on replay."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.wait_for_event("approval", type="approve", timeout=10_000)
                outcome = "approved"
            except sagasim.WorkflowTimeoutError:
                outcome = "timed out"
            await step.sleep("nap", "1 minute")
            return outcome

    sim, inst = start(W)
    sim.run(until=30)
    inst.crash()
    sim.run()

    assert times(sim, "WAIT_TIMED_OUT", step="approval") == [10.0]
    assert times(sim, "SLEEP_COMPLETE", step="nap") == [70.0]
    assert inst.status()["output"] == "timed out"
    assert sim.now == 70.0


def test_two_crashes_during_one_step_use_two_attempts():
    """Each crash fails the attempt in flight; backoff grows as for any failure."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("slow", ok("S", ms=10_000), config=ONE_SECOND_RETRY)

    sim, inst = start(W)
    sim.run(until=2)
    inst.crash()
    sim.run(until=4)
    inst.crash()
    sim.run()

    assert records(sim, ["time", "attempt"], "ATTEMPT_START") == [
        (0.0, 1),
        (3.0, 2),
        (6.0, 3),
    ]
    assert times(sim, "ATTEMPT_FAILURE") == [2.0, 4.0]
    assert times(sim, "STEP_SUCCESS") == [16.0]


def test_crash_after_completion_reruns_nothing():
    """Crashing a complete instance changes neither its status nor its bodies."""
    calls = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("a", ok("A", ms=1000, calls=calls))

    sim, inst = start(W)
    sim.run(until=5)
    inst.crash()
    sim.run()

    assert calls == ["a"]
    assert inst.status() == {"status": "complete", "output": "A", "error": None}
    assert times(sim, "WORKFLOW_SUCCESS") == [1.0]
    assert sim.now == 5.0


def test_crash_of_one_instance_leaves_the_others_running():
    """Crashing inst-1 mid-step does not touch inst-2's attempt in flight."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("work", ok("done", ms=10_000), config=ONE_SECOND_RETRY)

    sim = sagasim.Simulation()
    first = sim.create(W)
    sim.create(W)
    sim.run(until=4)
    first.crash()
    sim.run()

    assert records(sim, ["instance", "time"], "ATTEMPT_START") == [
        ("inst-1", 0.0),
        ("inst-2", 0.0),
        ("inst-1", 5.0),
    ]
    assert records(sim, ["instance", "time"], "WORKFLOW_SUCCESS") == [
        ("inst-2", 10.0),
        ("inst-1", 15.0),
    ]
