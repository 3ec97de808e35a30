"""Workflow shapes: plain data that shrinks, and the workflows they become."""

import json

from hypothesis import find, given, settings

from sagasim import Simulation
from sagasim.strategies import (
    FAILING_KINDS,
    ShapeLog,
    iter_items,
    shape_steps,
    workflow_from_shape,
    workflow_shapes,
)


def spec(name="a", **fields):
    """A step spec that succeeds at once, with ``fields`` changed."""
    base = {
        "name": name,
        "latency": 0,
        "kind": "ok",
        "caught": False,
        "timeout": None,
        "flaky": 0,
        "limit": 1,
        "delay": 0,
        "backoff": "constant",
        "error_class": "NonRetryableError",
        "returns_none": False,
        "handler": False,
        "handler_latency": 0,
        "handler_config": None,
        "handler_flaky": 0,
    }
    return {**base, **fields}


def run(shape, **events):
    log = ShapeLog()
    sim = Simulation(seed=1)
    inst = sim.create(workflow_from_shape(shape, log=log))
    for event_type, payload in events.items():
        inst.send_event(event_type, payload)
    sim.run()
    return sim, inst, log


@given(workflow_shapes())
def test_shapes_are_plain_data(shape):
    """A shape survives a JSON round trip unchanged."""
    assert json.loads(json.dumps(shape)) == shape


@given(workflow_shapes(nested=False, waits=False, failing_handlers=False))
def test_model_sized_shapes_hold_only_steps_gathers_and_sleeps(shape):
    """Without nesting, waits and failing handlers, items are flat."""
    assert {item["type"] for item in shape["items"]} <= {"step", "gather", "sleep"}
    assert all(spec["handler_flaky"] == 0 for spec in shape_steps(shape))


@given(workflow_shapes(failure=False))
def test_a_shape_without_failure_catches_every_error(shape):
    """failure=False catches every failing step and every wait."""
    for step in shape_steps(shape):
        assert step["caught"] or step["kind"] == "ok"
    waits = [i for i in iter_items(shape["items"]) if i["type"] == "wait"]
    assert all(wait["caught"] for wait in waits)


@given(workflow_shapes(failure=True))
def test_a_shape_with_failure_has_one_failure_point(shape):
    """failure=True has exactly one failing step that nothing catches."""
    points = [
        s for s in shape_steps(shape) if s["kind"] in FAILING_KINDS and not s["caught"]
    ]
    assert len(points) == 1


def test_a_nested_gather_shrinks_to_two_branches_of_one_step():
    """The smallest shape with a parallel item has that item with two
    branches of one plain step each, and little else."""
    shape = find(
        workflow_shapes(),
        lambda s: any(item["type"] == "parallel" for item in s["items"]),
        settings=settings(database=None, max_examples=2_000),
    )

    # NOTE: the shrinker usually drops every other item, but now and then it
    # stops at one more (it depends on constants Hypothesis collects from
    # the modules loaded); so the rest is only bounded.
    (item,) = [item for item in shape["items"] if item["type"] == "parallel"]
    assert [[inner["type"] for inner in b] for b in item["branches"]] == [
        ["step"],
        ["step"],
    ]
    for (inner,) in item["branches"]:
        assert (inner["step"]["kind"], inner["step"]["caught"]) == ("ok", False)
    assert len(shape["items"]) <= 2


def test_a_shape_runs_as_its_items_say():
    """Each item type gives its result: outputs, lists, "slept", payloads."""
    shape = {
        "items": [
            {"type": "sleep", "name": "s", "ms": 5},
            {"type": "step", "step": spec("a")},
            {"type": "gather", "steps": [spec("a", returns_none=True), spec("b")]},
            {
                "type": "parallel",
                "branches": [
                    [{"type": "step", "step": spec("c", kind="exhaust", caught=True)}],
                    [
                        {
                            "type": "wait",
                            "name": "w",
                            "event": "go",
                            "timeout": 50,
                            "caught": False,
                        }
                    ],
                ],
            },
            {
                "type": "wait",
                "name": "w",
                "event": "stop",
                "timeout": 3,
                "caught": True,
            },
        ]
    }

    sim, inst, log = run(shape, go=7)

    assert inst.status() == {
        "status": "complete",
        "output": [
            "slept",
            {"step": "a", "count": 1},
            [None, {"step": "b", "count": 1}],
            [["caught Exhausted: c#1 failed attempt 2"], [7]],
            "caught WorkflowTimeoutError: waitForEvent 'w' timed out after 3ms",
        ],
        "error": None,
    }
    assert sim.now == 0.008


def test_the_log_records_bodies_and_the_handlers_that_succeeded():
    """Bodies log each call and return; a flaky handler logs its one success."""
    shape = {
        "items": [
            {
                "type": "step",
                "step": spec(
                    "a",
                    handler=True,
                    handler_flaky=1,
                    handler_config={"limit": 1, "delay": 0, "backoff": "constant"},
                ),
            },
            {"type": "step", "step": spec("b", kind="nonretryable", limit=0)},
        ]
    }

    _, inst, log = run(shape)

    assert log.bodies == [
        ("call", ("a", 1), 1, 0.0),
        ("return", ("a", 1), 1, 0.0),
        ("call", ("b", 1), 1, 0.0),
    ]
    assert log.handler_calls == [("a", 1), ("a", 1)]
    assert [(run.key, run.output) for run in log.handler_runs] == [
        (("a", 1), {"step": "a", "count": 1})
    ]
    assert inst.status()["error"] == {
        "name": "NonRetryableError",
        "message": "b#1 declined on attempt 1",
    }
