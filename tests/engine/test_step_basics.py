"""step.do basics: body forms, start order, ctx, the run event and the trace."""

from datetime import UTC, datetime

import pytest

import sagasim

from .conftest import column, events, ok, records, run, start, times

TRACE_COLUMNS = [
    "seq",
    "time",
    "instance",
    "event",
    "step",
    "count",
    "attempt",
    "error_name",
    "error_message",
    "detail",
]


async def async_with_ctx(ctx):
    return f"async {ctx.step.name}"


def plain_with_ctx(ctx):
    return f"plain {ctx.step.name}"


async def async_without_ctx():
    return "async no ctx"


def plain_without_ctx():
    return "plain no ctx"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (async_with_ctx, "async form"),
        (plain_with_ctx, "plain form"),
        (async_without_ctx, "async no ctx"),
        (plain_without_ctx, "plain no ctx"),
    ],
    ids=["async-ctx", "plain-ctx", "async-no-arg", "plain-no-arg"],
)
def test_body_may_be_async_or_plain_with_or_without_ctx(body, expected):
    """Every body form returns its value as the step output."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("form", body)

    sim, inst = run(W)

    assert inst.status() == {"status": "complete", "output": expected, "error": None}
    assert sim.now == 0.0


def test_step_do_has_started_before_it_is_awaited():
    """Two steps called then awaited in reverse order both start at 0 in call order."""
    calls = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = step.do("a", ok("A", ms=2000, calls=calls))
            b = step.do("b", ok("B", ms=1000, calls=calls))
            return [await b, await a]

    sim, inst = run(W)

    assert calls == ["a", "b"]
    assert records(sim, ["step", "time"], "STEP_START") == [("a", 0.0), ("b", 0.0)]
    assert inst.status()["output"] == ["B", "A"]
    assert sim.now == 2.0


def test_ctx_carries_step_name_count_attempt_and_instance_id():
    """ctx.step.name, ctx.step.count, ctx.attempt and ctx.instance_id are set."""
    seen = []

    async def body(ctx):
        seen.append((ctx.step.name, ctx.step.count, ctx.attempt, ctx.instance_id))

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("look", body)
            await step.do("look", body)

    sim, inst = run(W, id="order-42")

    assert seen == [("look", 1, 1, "order-42"), ("look", 2, 1, "order-42")]
    assert column(sim, "instance", "STEP_SUCCESS") == ["order-42", "order-42"]


def test_run_event_has_payload_timestamp_and_instance_id():
    """run() gets the params as payload, the start datetime and the instance id."""
    seen = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            seen.append(dict(event))

    sim, inst = run(W, params={"amount": 100})

    assert seen == [
        {
            "payload": {"amount": 100},
            "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
            "instance_id": "inst-1",
        }
    ]


def test_instance_created_later_gets_a_later_timestamp():
    """An instance created at 90 s has a run event timestamp 90 s after the epoch."""
    seen = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            seen.append(event["timestamp"])

    sim = sagasim.Simulation()
    sim.run(until=90)
    sim.create(W)
    sim.run()

    assert seen == [datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)]
    assert times(sim, "WORKFLOW_START") == [90.0]


def test_trace_has_the_agreed_columns_in_order():
    """sim.trace columns are seq, time, instance, event, step, count, attempt, ..."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("a", ok("A"))

    sim, inst = run(W)

    assert list(sim.trace.columns) == TRACE_COLUMNS
    seqs = sim.trace["seq"].tolist()
    assert seqs == sorted(set(seqs))


def test_successful_step_traces_start_attempt_and_success():
    """A successful step logs STEP_START, ATTEMPT_START/SUCCESS, STEP_SUCCESS."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("a", ok("A", ms=1500))

    sim, inst = run(W)

    assert records(sim, ["event", "time", "count"], step="a") == [
        ("STEP_START", 0.0, 1),
        ("ATTEMPT_START", 0.0, 1),
        ("ATTEMPT_SUCCESS", 1.5, 1),
        ("STEP_SUCCESS", 1.5, 1),
    ]
    assert column(sim, "attempt", ["ATTEMPT_START", "ATTEMPT_SUCCESS"]) == [1, 1]
    workflow_events = [
        e for e in events(sim, prefix="WORKFLOW_") if e != "WORKFLOW_QUEUED"
    ]
    assert workflow_events == ["WORKFLOW_START", "WORKFLOW_SUCCESS"]
    assert times(sim, "WORKFLOW_SUCCESS") == [1.5]


def test_workflow_output_is_what_run_returns():
    """The value run() returns is the instance's output."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("a", ok(2, ms=1000))
            b = await step.do("b", ok(3, ms=1000))
            return {"sum": a + b}

    sim, inst = start(W)
    sim.run()

    assert inst.status() == {"status": "complete", "output": {"sum": 5}, "error": None}
    assert sim.now == 2.0
