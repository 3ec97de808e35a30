"""Engine bugs the generated cases found, pinned at their smallest.

Each test states the behaviour DESIGN.md asks for; together they keep the
fixed bugs fixed.
"""

import sagasim
from sagasim import NonRetryableError

NO_RETRIES = {"retries": {"limit": 0, "delay": 0}}


async def ok(ctx):
    return "ok"


async def declined(ctx):
    raise NonRetryableError("declined")


def test_a_handler_that_failed_for_good_does_not_run_again_after_a_crash():
    """With on_rollback_failure="continue", a handler that failed with a
    NonRetryableError stays failed when a crash cuts off the next handler:
    only the cut-off handler runs again, and the rollback is not complete."""
    log = []

    async def cannot_undo(output, error, ctx):
        log.append("b")
        raise NonRetryableError("b cannot be undone")

    async def slow_undo(output, error, ctx):
        log.append("a")
        await sagasim.sleep(10)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok, rollback=slow_undo)
            await step.do("b", ok, rollback=cannot_undo)
            await step.do("c", declined, config=NO_RETRIES)

    sim = sagasim.Simulation(on_rollback_failure="continue")
    inst = sim.create(W)
    sim.run(until=0.005)
    inst.crash()
    sim.run()

    assert log == ["b", "a", "a"]
    assert inst.status()["rollback"]["status"] == "failed"


def test_an_event_sent_during_a_rollback_is_not_delivered():
    """An event sent after run() failed with a wait pending, while handlers
    run, is recorded and not delivered; the simulation goes on."""

    async def undo(output, error, ctx):
        await sagasim.sleep(10)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok, rollback=undo)
            await sagasim.gather(
                step.wait_for_event("w", type="go", timeout="1 minute"),
                step.do("b", declined, config=NO_RETRIES),
            )

    sim = sagasim.Simulation()
    inst = sim.create(W)
    sim.run(until=0.005)
    inst.send_event("go", 7)
    sim.run()

    assert inst.status()["status"] == "errored"
    assert sim.trace["event"].tolist().count("WAIT_COMPLETE") == 0


def test_terminating_during_a_rollback_ends_its_summary():
    """terminate() while the handlers of a failed run() run ends the instance
    terminated with a rollback summary that is no longer running."""

    async def undo(output, error, ctx):
        await sagasim.sleep(10)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok, rollback=undo)
            await step.do("b", declined, config=NO_RETRIES)

    sim = sagasim.Simulation()
    inst = sim.create(W)
    sim.run(until=0.005)
    inst.terminate()
    sim.run()

    status = inst.status()
    assert status["status"] == "terminated"
    assert status["rollback"]["status"] != "running"


def test_a_second_terminate_does_not_run_a_handler_again():
    """terminate(rollback=True) while the handlers of an earlier one run
    leaves them be: each handler runs once, one ROLLBACK_START."""
    log = []

    async def undo(output, error, ctx):
        log.append(sagasim.current_attempt().attempt)
        await sagasim.sleep(10)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok, rollback=undo)
            await step.sleep("s", 100)

    sim = sagasim.Simulation()
    inst = sim.create(W)
    sim.run(until=0.005)
    inst.terminate(rollback=True)
    sim.run(until=0.008)
    inst.terminate(rollback=True)
    sim.run()

    assert (log, sim.trace["event"].tolist().count("ROLLBACK_START")) == ([1], 1)


def test_a_pause_coming_when_run_fails_does_not_pause_the_rollback():
    """pause() while a step is in flight, then that step failing run():
    pause does nothing once the rollback began, so the handlers run on and
    the instance ends errored without being paused."""

    async def declined_later(ctx):
        await sagasim.sleep(40)
        raise NonRetryableError("no")

    async def undo(output, error, ctx):
        await sagasim.sleep(10)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok, rollback=undo)
            await step.do("b", declined_later, config=NO_RETRIES)

    sim = sagasim.Simulation()
    inst = sim.create(W)
    sim.run(until=0.01)
    inst.pause()
    sim.run(until=1)

    assert inst.status()["status"] == "errored"
    assert "WORKFLOW_PAUSED" not in sim.trace["event"].tolist()
