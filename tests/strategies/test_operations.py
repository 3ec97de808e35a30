"""Instance operations drawn as data and performed at their times."""

import pytest
from hypothesis import given

import sagasim
from sagasim import Simulation
from sagasim.strategies import (
    OPERATIONS,
    apply_operations,
    instance_operations,
    operation_source,
)


class Waits(sagasim.Workflow):
    """Sleeps 10 ms, then waits for a "go" event and returns its payload."""

    async def run(self, event, step):
        await step.sleep("nap", 10)
        got = await step.wait_for_event("go", type="go", timeout="1 minute")
        return got["payload"]


@given(instance_operations(horizon=50))
def test_operations_are_timed_dicts_of_the_known_kinds(operations):
    """Each operation has a time within the horizon and one of the kinds."""
    for operation in operations:
        assert 0 <= operation["at"] <= 50
        assert operation["op"] in OPERATIONS


@given(instance_operations(kinds=["pause", "resume"]))
def test_kinds_narrow_the_operations_drawn(operations):
    """kinds= draws only those operations."""
    assert {operation["op"] for operation in operations} <= {"pause", "resume"}


def test_an_unknown_kind_is_refused():
    """An operation name outside OPERATIONS is a ValueError."""
    with pytest.raises(ValueError, match="unknown operation 'restart'"):
        instance_operations(kinds=["restart"])


def test_operations_run_in_time_order_and_refusals_are_reported():
    """Operations apply in order of time; a terminate after the end is refused."""
    sim = Simulation()
    inst = sim.create(Waits)
    done = apply_operations(
        sim,
        inst,
        [
            {"at": 30, "op": "terminate", "rollback": False},
            {"at": 5, "op": "send_event", "type": "go", "payload": 3},
            {"at": 20, "op": "crash", "restart_after": 0},
        ],
    )
    sim.run()

    assert done == [True, True, False]
    assert inst.status()["output"] == 3
    assert sim.trace["event"].tolist().count("ENGINE_CRASH") == 1


def test_operation_source_is_the_call_that_performs_it():
    """operation_source writes the Instance method call."""
    assert [
        operation_source({"at": 0, "op": "pause"}),
        operation_source({"at": 0, "op": "terminate", "rollback": True}),
        operation_source({"at": 0, "op": "crash", "restart_after": 5}),
        operation_source({"at": 0, "op": "send_event", "type": "go", "payload": 1}),
    ] == [
        "inst.pause()",
        "inst.terminate(rollback=True)",
        "inst.crash(5)",
        "inst.send_event('go', 1)",
    ]
