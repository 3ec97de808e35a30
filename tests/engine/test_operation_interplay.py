"""Instance operations that meet each other: pause, terminate, crash, events."""

import sagasim
from sagasim import NonRetryableError
from sagasim.faults import Fault

from .conftest import NO_RETRIES, ok, start


def test_terminate_with_rollback_of_a_paused_instance_survives_a_crash():
    """A paused instance's terminate(rollback=True) ends terminated across a crash."""
    undone = []

    async def undo(output, error, ctx):
        undone.append((ctx.step.name, str(error)))

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A"), rollback=undo)
            await step.sleep("s", 10)

    sim, inst = start(W, faults=[Fault(kind="fail_before", phase="rollback", limit=1)])
    sim.run(until=0.001)
    inst.pause()
    inst.terminate(rollback=True)
    inst.crash()
    sim.run()

    assert inst.status()["status"] == "terminated"
    assert undone == [("a", "Instance terminated during rollback")]


def test_resume_during_a_terminate_rollback_does_not_start_it_again():
    """resume() while a terminate's handlers run leaves one rollback."""
    undone = []

    async def undo(output, error, ctx):
        undone.append(ctx.step.name)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A"), rollback=undo)
            await step.sleep("s", 10)

    sim, inst = start(W, faults=[Fault(kind="fail_before", phase="rollback", limit=1)])
    sim.run(until=0.001)
    inst.pause()
    inst.terminate(rollback=True)
    sim.run(until=0.02)
    inst.resume()
    sim.run()

    assert sim.trace["event"].tolist().count("ROLLBACK_START") == 1
    assert undone == ["a"]
    assert inst.status()["status"] == "terminated"


def test_terminate_while_draining_ends_the_instance_once():
    """terminate() during a drain ends the instance once, terminated, no error."""

    async def declined(ctx):
        raise NonRetryableError("declined")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await sagasim.gather(
                step.do("a", declined, config=NO_RETRIES),
                step.do("b", ok("B", ms=10)),
            )

    sim, inst = start(W, inflight="drain")
    sim.run(until=0.005)
    inst.terminate()
    sim.run()

    ends = [e for e in sim.trace["event"] if e.startswith("WORKFLOW_")]
    assert ends == ["WORKFLOW_QUEUED", "WORKFLOW_START", "WORKFLOW_TERMINATED"]
    assert inst.status() == {"status": "terminated", "output": None, "error": None}


def test_an_event_sent_while_waiting_to_pause_is_delivered_after_resume():
    """An event sent during waitingForPause is buffered and taken on resume."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            got, _ = await sagasim.gather(
                step.wait_for_event("w", type="go", timeout="1 minute"),
                step.do("a", ok("A", ms=10)),
            )
            return got["payload"]

    sim, inst = start(W)
    sim.run(until=0.001)
    inst.pause()
    inst.send_event("go", 7)
    sim.run(until=1)
    assert inst.status()["status"] == "paused"
    inst.resume()
    sim.run()

    assert inst.status()["output"] == 7
    assert sim.now == 1.0


def test_a_pause_coming_when_run_fails_lets_a_drained_retry_go_on():
    """Under drain, a retry wait held by a coming pause resumes when run() fails."""

    async def flaky(ctx):
        await sagasim.sleep(20)
        if ctx.attempt == 1:
            raise RuntimeError("flaky")
        return "S"

    async def declined(ctx):
        await sagasim.sleep(30)
        raise NonRetryableError("declined")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await sagasim.gather(
                step.do("slow", flaky, config={"retries": {"limit": 2, "delay": 50}}),
                step.do("fail", declined, config=NO_RETRIES),
            )

    sim, inst = start(W, inflight="drain")
    sim.run(until=0.025)
    inst.pause()
    sim.run()

    assert inst.status()["status"] == "errored"
    assert sim.now == 0.09
