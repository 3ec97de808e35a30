"""The SimPy bridge: awaiting SimPy events and running plain SimPy processes."""

import pytest
import simpy

import sagasim

from .conftest import run, start, times


def test_a_body_can_await_a_simpy_resource():
    """Bodies queue on a SimPy resource through sagasim.wait, one at a time."""
    sim = sagasim.Simulation()
    desk = simpy.Resource(sim.env, capacity=1)

    async def serve(ctx):
        request = desk.request()
        await sagasim.wait(request)
        try:
            await sagasim.sleep(1000)
        finally:
            desk.release(request)
        return ctx.instance_id

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("serve", serve)

    first = sim.create(W)
    second = sim.create(W)
    third = sim.create(W)
    sim.run()

    assert times(sim, "STEP_SUCCESS") == [1.0, 2.0, 3.0]
    assert [i.status()["output"] for i in (first, second, third)] == [
        "inst-1",
        "inst-2",
        "inst-3",
    ]


def test_a_failed_simpy_event_raises_in_the_awaiting_body_and_does_not_crash():
    """A failed SimPy event is an ordinary error in the body that awaits it."""
    sim = sagasim.Simulation()

    async def body(ctx):
        event = sim.env.event()
        event.fail(KeyError("gone"))
        await sagasim.wait(event)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("x", body, config={"retries": {"limit": 0, "delay": 0}})

    inst = sim.create(W)
    sim.run()

    assert inst.status()["error"] == {"name": "KeyError", "message": "'gone'"}


def test_a_simpy_process_started_through_the_simulation_keeps_it_running():
    """sim.process runs a plain generator, and run() waits for it to end."""
    sim = sagasim.Simulation()
    seen = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return event["payload"]

    def arrivals(env):
        for n in range(3):
            yield env.timeout(5_000)
            seen.append(sim.create(W, params=n))

    sim.process(arrivals(sim.env))
    sim.run()

    assert sim.now == 15.0
    assert times(sim, "WORKFLOW_SUCCESS") == [5.0, 10.0, 15.0]
    assert [i.status()["output"] for i in seen] == [0, 1, 2]


def test_awaiting_something_that_is_not_a_sagasim_awaitable_fails_the_body():
    """A coroutine that awaits a foreign awaitable gets a clear TypeError."""

    class Foreign:
        def __await__(self):
            yield "not a future"

    async def body(ctx):
        await Foreign()

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("x", body, config={"retries": {"limit": 0, "delay": 0}})

    _, inst = run(W)

    assert inst.status()["error"]["name"] == "TypeError"
    assert "only sagasim awaitables" in inst.status()["error"]["message"]


def test_sleep_outside_the_simulation_is_a_clear_error():
    """sagasim.sleep called outside any workflow coroutine raises RuntimeError."""
    with pytest.raises(RuntimeError, match="must be awaited inside a workflow"):
        sagasim.sleep(10)


def test_run_that_is_not_async_ends_the_instance_fatally():
    """A Workflow whose run() is a plain function ends errored at once."""

    class W(sagasim.Workflow):
        def run(self, event, step):
            return 1

    _, inst = run(W)

    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {
            "name": "WorkflowFatalError",
            "message": "W.run() must be an async def method",
        },
    }


def test_restart_from_an_unknown_step_raises_at_once():
    """restart(from_step=...) names a step that must be in the history."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", lambda: 1)

    sim, inst = start(W)
    sim.run()

    with pytest.raises(ValueError, match="'b' .* not found in execution history"):
        inst.restart(from_step="b")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"inflight": "later"}, "inflight must be one of cancel, drain, race"),
        ({"step_limit": 25_001}, "step_limit must be an integer from 1 to 25000"),
        ({"max_concurrent": 0}, "max_concurrent must be a positive integer"),
        ({"on_rollback_failure": "skip"}, "on_rollback_failure must be one of"),
    ],
)
def test_bad_simulation_options_are_rejected(options, message):
    """Simulation checks its options and names the one that is wrong."""
    with pytest.raises(ValueError, match=message):
        sagasim.Simulation(**options)
