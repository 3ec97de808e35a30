"""Rollback ordering checks on traces of the real engine."""

import sagasim
from sagasim.checks import rollback_ordering

from .conftest import NO_RETRIES, found


async def undo(output, error, ctx):
    await sagasim.sleep(50)


def body(ms, *, fail=False):
    async def run(ctx):
        await sagasim.sleep(ms)
        if fail:
            raise sagasim.NonRetryableError("no")
        return ms

    return run


class ParallelThenFail(sagasim.Workflow):
    """reserve; then a (slow) and b (fast) in parallel; then fail."""

    async def run(self, event, step):
        await step.do("reserve", body(10), rollback=undo)
        await sagasim.gather(
            step.do("a", body(300), rollback=undo),
            step.do("b", body(100), rollback=undo),
        )
        await step.do("fail", body(10, fail=True), rollback=undo, config=NO_RETRIES)


def handlers_in(trace, order):
    """``trace`` with its handler rows moved so the handlers run in ``order``,
    as a wrong engine would have recorded them; seqs renumbered."""
    handler_rows = trace["event"].str.startswith("ROLLBACK_") & trace["step"].ne("")
    first = trace.loc[handler_rows, "seq"].min()
    rank = {name: i for i, name in enumerate(order)}
    position = trace["seq"].astype(float)
    position[handler_rows] = (
        first
        + trace.loc[handler_rows, "step"].map(rank) * 1e-3
        + trace.loc[handler_rows, "seq"] * 1e-6
    )
    moved = trace.iloc[position.argsort(kind="stable")].reset_index(drop=True)
    moved["seq"] = range(len(moved))
    return moved


def seq_of(trace, event, step):
    rows = trace[(trace["event"] == event) & (trace["step"] == step)]
    return int(rows["seq"].iloc[0])


def test_a_rollback_of_parallel_steps_by_the_engine_is_clean():
    """The engine undoes fail, b, a, reserve: newest start first."""
    sim = sagasim.Simulation()
    inst = sim.create(ParallelThenFail)
    sim.run()

    assert [r["step"] for r in inst.rollbacks] == ["fail", "b", "a", "reserve"]
    assert found(rollback_ordering(sim.trace, on_rollback_failure="halt")) == []


def test_the_same_trace_in_completion_order_is_reported():
    """Moving a's handler before b's (newest completion first) is caught."""
    sim = sagasim.Simulation()
    sim.create(ParallelThenFail)
    sim.run()
    wrong = handlers_in(sim.trace, ["fail", "a", "b", "reserve"])

    assert found(rollback_ordering(wrong)) == [
        (
            "rollback_order",
            "inst-1",
            "b",
            (
                seq_of(wrong, "STEP_START", "a"),
                seq_of(wrong, "STEP_START", "b"),
                seq_of(wrong, "ROLLBACK_STEP_START", "a"),
                seq_of(wrong, "ROLLBACK_STEP_START", "b"),
            ),
        )
    ]


def test_the_same_trace_front_to_back_is_reported():
    """Handlers in forward order break each of the three adjacent pairs."""
    sim = sagasim.Simulation()
    sim.create(ParallelThenFail)
    sim.run()
    wrong = handlers_in(sim.trace, ["reserve", "a", "b", "fail"])

    result = rollback_ordering(wrong)

    assert list(result["check"]) == ["rollback_order"] * 3
    assert list(result["subject"]) == ["a", "b", "fail"]


def test_a_crash_in_the_middle_of_a_rollback_is_clean():
    """A handler cut off by a crash runs again after the replay; the rest
    follow in order, each once."""
    sim = sagasim.Simulation()
    inst = sim.create(ParallelThenFail)
    sim.run(until=0.445)
    inst.crash()
    sim.run()

    assert "ENGINE_CRASH" in set(sim.trace["event"])
    assert [r["attempts"] for r in inst.rollbacks] == [1, 1, 2, 1]
    assert found(rollback_ordering(sim.trace, on_rollback_failure="halt")) == []


def test_termination_with_rollback_by_the_engine_is_clean():
    """terminate(rollback=True) in the middle of the parallel steps."""
    sim = sagasim.Simulation()
    inst = sim.create(ParallelThenFail)
    sim.run(until=0.2)
    inst.terminate(rollback=True)
    sim.run()

    assert inst.status()["status"] == "terminated"
    assert found(rollback_ordering(sim.trace)) == []


class CatchesAndFailsUndo(sagasim.Workflow):
    """A caught failure, then a failure whose rollback has a failing handler."""

    async def run(self, event, step):
        try:
            await step.do("flaky", body(5, fail=True), rollback=undo)
        except sagasim.NonRetryableError:
            pass
        await step.do("a", body(5), rollback=undo)
        await step.do("b", body(5), rollback=broken, rollback_config=NO_RETRIES)
        await step.do("fail", body(5, fail=True), config=NO_RETRIES)


async def broken(output, error, ctx):
    raise RuntimeError("undo broke")


def test_a_halted_chain_by_the_engine_is_clean_under_halt():
    """A failing handler halts the chain; the caught step is still undone
    (it started and registered a handler) and nothing else runs."""
    sim = sagasim.Simulation(on_rollback_failure="halt")
    inst = sim.create(CatchesAndFailsUndo)
    sim.run()

    assert [r["step"] for r in inst.rollbacks] == ["b"]
    assert found(rollback_ordering(sim.trace, on_rollback_failure="halt")) == []


def test_a_continued_chain_is_reported_only_when_judged_as_halt():
    """The engine's "continue" trace is clean as "continue", and the halt
    check fails it: the check can tell the two policies apart."""
    sim = sagasim.Simulation(on_rollback_failure="continue")
    inst = sim.create(CatchesAndFailsUndo)
    sim.run()

    assert [r["step"] for r in inst.rollbacks] == ["b", "a", "flaky"]
    assert found(rollback_ordering(sim.trace, on_rollback_failure="continue")) == []
    halt = rollback_ordering(sim.trace, on_rollback_failure="halt")
    assert list(halt["check"]) == ["rollback_after_halt"] * 2
    assert list(halt["subject"]) == ["a", "flaky"]
