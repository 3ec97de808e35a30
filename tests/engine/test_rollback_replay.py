"""Crashes during a rollback: the chain picks up where it was."""

import sagasim

from .conftest import NO_RETRIES, ok, records, start


def logging_handler(log, ms=1000):
    async def undo(output, error, ctx):
        log.append((ctx.step.name, output, str(error)))
        await sagasim.sleep(ms)

    return undo


async def boom(ctx):
    raise sagasim.NonRetryableError("card declined")


def test_crash_mid_chain_reruns_only_the_handler_it_cut_off():
    """After a crash, finished handlers are skipped and the cut-off one runs again."""
    log = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", ok("A", ms=100), rollback=logging_handler(log))
            await step.do("b", ok("B", ms=100), rollback=logging_handler(log))
            await step.do("c", boom, config=NO_RETRIES, rollback=logging_handler(log))

    sim, inst = start(W)
    # c fails at 0.2; its handler runs 0.2-1.2, b's from 1.2; crash at 1.5.
    sim.run(until=1.5)
    inst.crash()
    sim.run()

    assert log == [
        ("c", sagasim.UNDEFINED, "card declined"),
        ("b", "B", "card declined"),
        ("b", "B", "card declined"),
        ("a", "A", "card declined"),
    ]
    assert records(
        sim, ["time", "event", "step", "attempt"], ["ROLLBACK_ATTEMPT_START"]
    ) == [
        (0.2, "ROLLBACK_ATTEMPT_START", "c", 1),
        (1.2, "ROLLBACK_ATTEMPT_START", "b", 1),
        (11.5, "ROLLBACK_ATTEMPT_START", "b", 2),
        (12.5, "ROLLBACK_ATTEMPT_START", "a", 1),
    ]
    assert inst.status() == {
        "status": "errored",
        "output": None,
        "error": {"name": "NonRetryableError", "message": "card declined"},
        "rollback": {"status": "complete", "total": 3, "completed": 3},
    }
    assert [(r["step"], r["status"], r["attempts"]) for r in inst.rollbacks] == [
        ("c", "success", 1),
        ("b", "success", 2),
        ("a", "success", 1),
    ]


def test_rebuilding_handlers_after_a_crash_runs_no_forward_body():
    """Rebuilding the handler registry replays run() without running any body."""
    calls = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "a", ok("A", ms=100, calls=calls), rollback=logging_handler([])
            )
            await step.do("b", boom, config=NO_RETRIES, rollback=logging_handler([]))

    sim, inst = start(W)
    sim.run(until=0.5)
    inst.crash()
    sim.run()

    assert calls == ["a"]
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 2,
        "completed": 2,
    }


def test_crash_while_draining_keeps_draining_the_step_in_flight():
    """Under drain, a crash before the in-flight step settles retries it first."""
    seen = []

    async def slow(ctx):
        await sagasim.sleep(20)
        return "S"

    async def fail_soon(ctx):
        await sagasim.sleep(5)
        raise sagasim.NonRetryableError("boom")

    def undo(output, error, ctx):
        seen.append((ctx.step.name, output))

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await sagasim.gather(
                step.do(
                    "slow",
                    slow,
                    config={"retries": {"limit": 2, "delay": 1}},
                    rollback=undo,
                ),
                step.do("fail", fail_soon, config=NO_RETRIES, rollback=undo),
            )

    sim, inst = start(W, inflight="drain")
    sim.run(until=0.010)
    inst.crash()
    sim.run()

    assert seen == [("fail", sagasim.UNDEFINED), ("slow", "S")]
    assert records(sim, ["time", "event", "attempt"], step="slow") == [
        (0.0, "STEP_START", 0),
        (0.0, "ATTEMPT_START", 1),
        (0.01, "ATTEMPT_FAILURE", 1),
        (0.011, "ATTEMPT_START", 2),
        (0.031, "ATTEMPT_SUCCESS", 2),
        (0.031, "STEP_SUCCESS", 0),
        (0.031, "ROLLBACK_STEP_START", 0),
        (0.031, "ROLLBACK_ATTEMPT_START", 1),
        (0.031, "ROLLBACK_ATTEMPT_SUCCESS", 1),
        (0.031, "ROLLBACK_STEP_SUCCESS", 0),
    ]
    assert sim.now == 0.031
