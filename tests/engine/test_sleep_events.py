"""Sleeps, sleep_until and wait_for_event (DESIGN rules 4, 9, 10 and 13)."""

from datetime import UTC, datetime, timedelta

import pytest

import sagasim

from .conftest import column, ok, records, run, start, times

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH_MS = 1_767_225_600_000


@pytest.mark.parametrize(
    "duration",
    [60_000, "1 minute", "60 seconds", timedelta(minutes=1)],
    ids=["ms", "singular", "plural", "timedelta"],
)
def test_sleep_waits_its_duration(duration):
    """step.sleep of one minute in any duration form wakes at 60 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", duration)
            return "awake"

    sim, inst = run(W)

    assert times(sim, "SLEEP_START", step="nap") == [0.0]
    assert times(sim, "SLEEP_COMPLETE", step="nap") == [60.0]
    assert inst.status() == {"status": "complete", "output": "awake", "error": None}
    assert sim.now == 60.0


def test_repeated_sleep_names_get_counts():
    """Two sleeps of one name are counts 1 and 2, one after the other."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", 1000)
            await step.sleep("nap", 2000)

    sim, inst = run(W)

    assert records(sim, ["time", "count"], "SLEEP_COMPLETE", step="nap") == [
        (1.0, 1),
        (3.0, 2),
    ]


@pytest.mark.parametrize(
    "when",
    [datetime(2026, 1, 1, 0, 5, tzinfo=UTC), 1_767_225_900_000],
    ids=["datetime", "epoch-ms"],
)
def test_sleep_until_wakes_at_the_given_time(when):
    """sleep_until 00:05 UTC on the default 2026-01-01 start wakes at 300 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep_until("alarm", when)
            return "ring"

    sim, inst = run(W)

    assert times(sim, "SLEEP_COMPLETE", step="alarm") == [300.0]
    assert sim.now == 300.0


def test_sleep_until_respects_a_custom_start():
    """With start=2030-06-01, sleep_until one hour later wakes at 3600 s (rule 13)."""
    start_at = datetime(2030, 6, 1, tzinfo=UTC)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep_until("alarm", start_at + timedelta(hours=1))

    sim, inst = run(W, start=start_at)

    assert times(sim, "SLEEP_COMPLETE", step="alarm") == [3600.0]


def test_sleep_until_a_past_time_is_an_error_when_reached():
    """sleep_until a time already past fails run() at the instant it is reached."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "10 seconds")
            await step.sleep_until("alarm", EPOCH_MS + 5000)
            return "unreachable"

    sim, inst = run(W)

    assert inst.status()["status"] == "errored"
    assert inst.status()["output"] is None
    assert times(sim, "WORKFLOW_FAILURE") == [10.0]
    assert sim.now == 10.0


def test_sleep_until_already_passed_is_no_error_on_replay():
    """A completed sleep_until replays as a no-op though its time is past (rule 13)."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep_until("alarm", EPOCH + timedelta(minutes=1))
            await step.sleep("rest", "30 seconds")
            return "done"

    sim, inst = start(W)
    sim.run(until=75)
    inst.crash()
    sim.run()

    assert inst.status() == {"status": "complete", "output": "done", "error": None}
    assert times(sim, "SLEEP_COMPLETE", step="rest") == [90.0]
    assert sim.now == 90.0


def test_event_dict_has_payload_timestamp_and_type():
    """wait_for_event returns the payload, the send time as a datetime and the type."""
    received = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            received.append(await step.wait_for_event("approval", type="approve"))

    sim, inst = start(W)
    sim.run(until=30)
    inst.send_event("approve", {"by": "alice"})
    sim.run()

    assert received == [
        {
            "payload": {"by": "alice"},
            "timestamp": datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC),
            "type": "approve",
        }
    ]
    assert times(sim, "EVENT_SENT") == [30.0]
    assert times(sim, "WAIT_COMPLETE", step="approval") == [30.0]


def test_satisfied_wait_leaves_no_trace_of_its_timeout():
    """After an event at 30 s, the wait's 24-hour timeout does not move sim.now."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.wait_for_event("approval", type="approve")

    sim, inst = start(W)
    sim.run(until=30)
    inst.send_event("approve", None)
    sim.run()

    assert times(sim, "WAIT_TIMED_OUT") == []
    assert inst.status()["status"] == "complete"
    assert sim.now == 30.0


def test_early_events_are_buffered_fifo_per_type():
    """Events sent before the waits are delivered in send order, per type."""
    received = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "1 minute")
            for name, kind in [("a1", "a"), ("b1", "b"), ("a2", "a")]:
                got = await step.wait_for_event(name, type=kind)
                received.append(got["payload"])

    sim, inst = start(W)
    sim.run(until=10)
    inst.send_event("a", "first a")
    inst.send_event("b", "only b")
    inst.send_event("a", "second a")
    sim.run()

    assert received == ["first a", "only b", "second a"]
    assert times(sim, "WAIT_COMPLETE") == [60.0, 60.0, 60.0]
    assert column(sim, "step", "WAIT_COMPLETE") == ["a1", "b1", "a2"]
    assert sim.now == 60.0


def test_wait_for_event_times_out_after_24_hours_by_default():
    """An unanswered wait fails with WorkflowTimeoutError at 86400 s."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.wait_for_event("approval", type="approve")

    sim, inst = run(W)

    assert records(sim, ["time", "error_name"], "WAIT_TIMED_OUT") == [
        (86400.0, "WorkflowTimeoutError")
    ]
    assert inst.status()["status"] == "errored"
    assert inst.status()["error"]["name"] == "WorkflowTimeoutError"
    assert sim.now == 86400.0


def test_wait_timeout_is_catchable():
    """A caught WAIT_TIMED_OUT lets run() go on; the timeout given is honoured."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.wait_for_event("approval", type="approve", timeout="1 hour")
            except sagasim.WorkflowTimeoutError:
                return await step.do("escalate", ok("escalated"))

    sim, inst = run(W)

    assert times(sim, "WAIT_TIMED_OUT", step="approval") == [3600.0]
    assert times(sim, "STEP_START", step="escalate") == [3600.0]
    assert inst.status() == {"status": "complete", "output": "escalated", "error": None}


def test_event_sent_at_the_timeout_instant_wins():
    """An event delivered at the wait's deadline instant is received (rule 10)."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            got = await step.wait_for_event("approval", type="approve", timeout=60_000)
            return got["payload"]

    sim, inst = start(W)
    sim.run(until=60)
    inst.send_event("approve", "just in time")
    sim.run()

    assert times(sim, "WAIT_TIMED_OUT") == []
    assert times(sim, "WAIT_COMPLETE", step="approval") == [60.0]
    assert inst.status()["output"] == "just in time"


def test_event_of_another_type_does_not_satisfy_a_wait():
    """A wait for "approve" ignores a "reject" event and times out."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            try:
                await step.wait_for_event("approval", type="approve", timeout=60_000)
            except sagasim.WorkflowTimeoutError:
                return "no approval"

    sim, inst = start(W)
    sim.run(until=10)
    inst.send_event("reject", "nope")
    sim.run()

    assert times(sim, "WAIT_TIMED_OUT", step="approval") == [60.0]
    assert inst.status()["output"] == "no approval"


def test_finished_step_leaves_no_trace_of_its_timeout():
    """A step done in 1 s under a 10-minute timeout leaves sim.now at 1.0 (rule 9)."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("quick", ok("done", ms=1000))

    sim, inst = run(W)

    assert sim.now == 1.0
    assert times(sim, "WORKFLOW_SUCCESS") == [1.0]


def test_run_until_stops_at_the_given_time():
    """sim.run(until=40) processes what is due before 40 s and leaves sim.now at 40."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", 30_000)
            await step.sleep("nap", 30_000)

    sim, inst = start(W)
    sim.run(until=40)

    assert sim.now == 40.0
    assert times(sim, "SLEEP_COMPLETE") == [30.0]

    sim.run()

    assert times(sim, "SLEEP_COMPLETE") == [30.0, 60.0]
    assert sim.now == 60.0


def test_run_until_with_nothing_due_advances_the_clock():
    """sim.run(until=X) leaves sim.now at X even when nothing is scheduled."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return "instant"

    sim, inst = start(W)
    sim.run(until=25)

    assert sim.now == 25.0
    assert times(sim, "WORKFLOW_SUCCESS") == [0.0]


def test_event_sent_to_a_queued_instance_waits_for_its_wait():
    """An event sent while an instance is queued is buffered until it waits."""

    class Blocker(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", "1 minute")

    class Waiter(sagasim.Workflow):
        async def run(self, event, step):
            got = await step.wait_for_event("go", type="go")
            return got["payload"]

    sim = sagasim.Simulation(max_concurrent=1)
    sim.create(Blocker)
    waiter = sim.create(Waiter)
    sim.run(until=10)
    waiter.send_event("go", "queued early")
    sim.run()

    assert times(sim, "WAIT_COMPLETE", step="go") == [60.0]
    assert waiter.status()["output"] == "queued early"


@pytest.mark.parametrize("timeout", [None, 0], ids=["none", "zero"])
def test_wait_with_a_falsy_timeout_uses_24_hours(timeout):
    """A falsy wait timeout falls back to 24 hours, as in the reference."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.wait_for_event("approval", type="approve", timeout=timeout)

    sim, inst = run(W)

    assert times(sim, "WAIT_TIMED_OUT", step="approval") == [86400.0]


def test_zero_sleep_completes_at_once():
    """A sleep of 0 ms completes at the instant it starts."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("blink", 0)
            return "done"

    sim, inst = run(W)

    assert times(sim, "SLEEP_COMPLETE", step="blink") == [0.0]
    assert inst.status()["output"] == "done"


def test_sleep_until_the_current_instant_is_not_past():
    """sleep_until the very instant it is reached completes at once (rule 13)."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("nap", 10_000)
            await step.sleep_until("now", EPOCH + timedelta(seconds=10))
            return "on time"

    sim, inst = run(W)

    assert times(sim, "SLEEP_COMPLETE", step="now") == [10.0]
    assert inst.status() == {"status": "complete", "output": "on time", "error": None}
