"""Each fault kind fires where its target says and has its documented effect.

The bodies here record their effects in a plain list (a stand-in for a
service's ledger) so that effect counts can be asserted exactly.
"""

import pytest

import sagasim
from sagasim.faults import Fault, FaultPlan

NO_RETRIES = {"retries": {"limit": 0, "delay": 0}}
TWO_RETRIES = {"retries": {"limit": 2, "delay": 1000, "backoff": "constant"}}


def effecting(effects, name, ms=100, value=None):
    """A body that lands an effect after ``ms`` and returns ``value``."""

    async def body(ctx):
        await sagasim.sleep(ms)
        effects.append((name, ctx.attempt, round(sagasim_now(ctx) * 1000)))
        return value if value is not None else f"{name}-out"

    return body


_SIMS = {}


def sagasim_now(ctx):
    return _SIMS[ctx.instance_id].now


def simulate(workflow, faults, **options):
    sim = sagasim.Simulation(seed=3, faults=faults, **options)
    inst = sim.create(workflow)
    _SIMS[inst.id] = sim
    sim.run()
    return sim, inst


def trace_of(sim, *events):
    t = sim.trace
    t = t[t.event.isin(events)]
    return [(r.time, r.event, r.step, r.attempt) for r in t.itertuples()]


def test_fail_before_fails_the_attempt_before_any_effect():
    """fail_before fails attempt 1 with no effect; the retry lands the effect."""
    effects = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("pay", effecting(effects, "pay"), config=TWO_RETRIES)

    sim, inst = simulate(W, [Fault("fail_before", step="pay", attempt=1)])

    assert effects == [("pay", 2, 1100)]
    assert trace_of(sim, "FAULT_INJECTED", "ATTEMPT_FAILURE", "STEP_SUCCESS") == [
        (0.0, "FAULT_INJECTED", "pay", 1),
        (0.0, "ATTEMPT_FAILURE", "pay", 1),
        (1.1, "STEP_SUCCESS", "pay", 0),
    ]
    assert inst.status()["output"] == "pay-out"
    assert sim.faults.report()["fired"].tolist() == [1]


def test_lose_output_lands_the_effect_then_fails_so_the_retry_doubles_it():
    """lose_output lets the effect land, fails the attempt, and the retry repeats it."""
    effects = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("pay", effecting(effects, "pay"), config=TWO_RETRIES)

    sim, inst = simulate(W, [Fault("lose_output", step="pay", attempt=1)])

    assert effects == [("pay", 1, 100), ("pay", 2, 1200)]
    assert trace_of(sim, "ATTEMPT_FAILURE") == [(0.1, "ATTEMPT_FAILURE", "pay", 1)]
    failure = sim.trace.query("event == 'ATTEMPT_FAILURE'").iloc[0]
    assert (failure.error_name, failure.error_message) == (
        "InjectedError",
        "the response was lost after the effect",
    )


def test_lost_output_of_the_last_attempt_gives_the_handler_undefined():
    """When the output of the final attempt is lost, the handler sees UNDEFINED."""
    effects, seen = [], []

    async def undo(output, error, ctx):
        seen.append(output)

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "pay", effecting(effects, "pay"), config=NO_RETRIES, rollback=undo
            )

    sim, inst = simulate(W, [Fault("lose_output", step="pay")])

    assert effects == [("pay", 1, 100)]
    assert seen == [sagasim.UNDEFINED]
    assert inst.status()["status"] == "errored"


def test_hang_times_out_while_the_effect_lands_after_the_timeout():
    """hang makes the attempt time out while its body's effect lands later."""
    effects = []
    config = {"retries": {"limit": 0, "delay": 0}, "timeout": "5 seconds"}

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("pay", effecting(effects, "pay"), config=config)

    sim, inst = simulate(W, [Fault("hang", step="pay")])

    # The timeout fires at 5 s; the body starts 1 s after that and lands 100 ms on.
    assert trace_of(sim, "ATTEMPT_FAILURE") == [(5.0, "ATTEMPT_FAILURE", "pay", 1)]
    assert effects == [("pay", 1, 6100)]
    assert inst.status()["error"] == {
        "name": "WorkflowTimeoutError",
        "message": "Execution timed out after 5000ms",
    }


def test_hang_with_race_lets_a_compensation_run_before_the_action_lands():
    """A late-landing action is compensated before it lands (the lab's point)."""
    effects = []
    config = {"retries": {"limit": 0, "delay": 0}, "timeout": "2 seconds"}

    async def undo(output, error, ctx):
        effects.append(("undo-pay", output))

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do(
                "pay", effecting(effects, "pay"), config=config, rollback=undo
            )

    simulate(W, [Fault("hang", step="pay", lands_after="10 seconds")])

    assert effects == [("undo-pay", sagasim.UNDEFINED), ("pay", 1, 10100)]


def test_crash_during_counts_the_attempt_as_failed_and_retries_it():
    """crash_during crashes mid-attempt; the replay retries after the backoff."""
    effects = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("pay", effecting(effects, "pay"), config=TWO_RETRIES)

    sim, inst = simulate(W, [Fault("crash_during", step="pay", attempt=1, after=50)])

    assert effects == [("pay", 2, 1150)]
    assert trace_of(sim, "ENGINE_CRASH", "ENGINE_REPLAY", "ATTEMPT_FAILURE") == [
        (0.05, "ENGINE_CRASH", "", 0),
        (0.05, "ENGINE_REPLAY", "", 0),
        (0.05, "ATTEMPT_FAILURE", "pay", 1),
    ]
    assert inst.status()["status"] == "complete"


def test_crash_before_persist_runs_the_body_again_on_replay():
    """crash_before_persist: the effect landed, the output did not, the body reruns."""
    effects = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("pay", effecting(effects, "pay"), config=TWO_RETRIES)

    sim, inst = simulate(W, [Fault("crash_before_persist", step="pay", attempt=1)])

    assert effects == [("pay", 1, 100), ("pay", 2, 1200)]
    assert inst.status() == {"status": "complete", "output": "pay-out", "error": None}


def test_crash_after_persist_never_runs_the_body_again():
    """crash_after_persist: the replay returns the stored output, no second effect."""
    effects = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("pay", effecting(effects, "pay"), config=TWO_RETRIES)
            b = await step.do("ship", effecting(effects, "ship"), config=TWO_RETRIES)
            return [a, b]

    sim, inst = simulate(W, [Fault("crash_after_persist", step="pay")])

    # pay lands once. The crash comes at the end of the instant in which pay's
    # output was stored, after ship's first attempt has started, so that
    # attempt is cut off and ship retries one second later.
    assert effects == [("pay", 1, 100), ("ship", 2, 1200)]
    assert trace_of(sim, "ENGINE_CRASH", "STEP_REPLAYED", "ATTEMPT_FAILURE") == [
        (0.1, "ENGINE_CRASH", "", 0),
        (0.1, "STEP_REPLAYED", "pay", 0),
        (0.1, "ATTEMPT_FAILURE", "ship", 1),
    ]
    assert inst.status()["output"] == ["pay-out", "ship-out"]


def test_latency_delays_the_body_by_its_extra_time():
    """latency adds its extra time before the body starts."""
    effects = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("pay", effecting(effects, "pay"))

    simulate(W, [Fault("latency", step="pay", extra="2 seconds")])

    assert effects == [("pay", 1, 2100)]


def test_mock_result_error_and_force_timeout_skip_the_body():
    """The test modifiers settle the attempt at once without running the body."""
    effects = []

    class W(sagasim.Workflow):
        async def run(self, event, step):
            a = await step.do("a", effecting(effects, "a"))
            try:
                await step.do("b", effecting(effects, "b"), config=NO_RETRIES)
            except Exception as exc:  # noqa: BLE001
                b = type(exc).__name__ + ":" + str(exc)
            try:
                await step.do("c", effecting(effects, "c"), config=NO_RETRIES)
            except sagasim.WorkflowTimeoutError as exc:
                c = str(exc)
            return [a, b, c]

    sim, inst = simulate(
        W,
        [
            Fault("mock_result", step="a", value={"id": 7}),
            Fault("mock_error", step="b", error="card declined"),
            Fault("force_timeout", step="c"),
        ],
    )

    assert effects == []
    assert inst.status()["output"] == [
        {"id": 7},
        "InjectedError:card declined",
        "Execution timed out after 600000ms",
    ]
    assert sim.now == 0.0


def test_disable_sleeps_and_retry_delays_collapse_waiting_time():
    """disable_sleeps and disable_retry_delays let a run finish in no time."""
    attempts = []

    async def flaky(ctx):
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError("not yet")
        return "ok"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.sleep("trial", "14 days")
            return await step.do("charge", flaky)

    sim, inst = simulate(W, [Fault("disable_sleeps"), Fault("disable_retry_delays")])

    assert sim.now == 0.0
    assert attempts == [1, 2, 3]
    assert inst.status()["output"] == "ok"
    assert sim.faults.report()["fired"].tolist() == [1, 2]


def test_mock_event_and_force_event_timeout_settle_waits_at_once():
    """A mocked wait gets its payload at once; a forced one times out at once."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            got = await step.wait_for_event("approval", type="approved")
            try:
                await step.wait_for_event("upgrade", type="upgraded")
            except sagasim.WorkflowTimeoutError:
                return [got["payload"], "timed out"]

    sim, inst = simulate(
        W,
        [
            Fault("mock_event", step="approval", payload={"by": "ops"}),
            Fault("force_event_timeout", step="upgrade"),
        ],
    )

    assert inst.status()["output"] == [{"by": "ops"}, "timed out"]
    assert sim.now == 0.0


def test_probability_fires_deterministically_under_the_seed():
    """A probabilistic fault fires on the same attempts for the same seed."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            for _ in range(20):
                await step.do("s", lambda: "real", config=NO_RETRIES)

    def fired_steps():
        sim = sagasim.Simulation(
            seed=11,
            faults=[Fault("mock_result", step="s", probability=0.3, value="x")],
        )
        sim.create(W)
        sim.run()
        assert sim.instances[0].status()["status"] == "complete"
        t = sim.trace
        return t[t.event == "FAULT_INJECTED"]["count"].tolist()

    first = fired_steps()
    assert first == fired_steps()
    # Pinned for seed 11: a change here means the draws are no longer stable.
    assert first == [1, 3, 9, 10, 12, 14, 16, 17, 18]


def test_limit_caps_how_often_a_fault_fires():
    """limit=1 fires once however many attempts match."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("pay", lambda: 1, config=TWO_RETRIES)

    sim, inst = simulate(W, [Fault("fail_before", step="pay", limit=1)])

    assert sim.faults.report()["fired"].tolist() == [1]
    assert inst.status()["status"] == "complete"


def test_rollback_phase_targets_the_handler_and_halts_the_chain():
    """phase='rollback' fails a handler; the chain halts there by default."""
    undone = []

    def undo(name):
        async def handler(output, error, ctx):
            undone.append(name)

        return handler

    async def boom(ctx):
        raise sagasim.NonRetryableError("no")

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("a", lambda: 1, rollback=undo("a"))
            await step.do("b", lambda: 2, rollback=undo("b"))
            await step.do("c", boom, rollback=undo("c"))

    sim, inst = simulate(
        W,
        [Fault("fail_before", step="b", phase="rollback", retryable=False)],
        on_rollback_failure="halt",
    )

    assert undone == ["c"]
    assert inst.status()["rollback"] == {"status": "failed", "total": 3, "completed": 1}
    assert inst.rollbacks[1]["error"] == {
        "name": "InjectedError",
        "message": "injected failure",
    }


def test_a_fault_that_never_matches_shows_as_not_fired():
    """The report lists every armed fault, and one that never fired has 0."""

    class W(sagasim.Workflow):
        async def run(self, event, step):
            await step.do("pay", lambda: 1)

    sim, _ = simulate(
        W, [Fault("fail_before", step="refund*"), Fault("latency", extra=5)]
    )

    report = sim.faults.report()
    assert report.to_dict("list") == {
        "fault": [0, 1],
        "kind": ["fail_before", "latency"],
        "target": ["step=refund*", "step=*"],
        "label": ["", ""],
        "fired": [0, 1],
    }


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"kind": "explode"}, "faults[0].kind: expected one of fail_before"),
        ({"kind": "fail_before", "probability": 2}, "faults[0].probability: expected"),
        (
            {"kind": "fail_before", "attempt": 0},
            "faults[0].attempt: expected a positive",
        ),
        ({"kind": "latency"}, "faults[0].extra: expected a positive duration"),
        ({"kind": "hang", "lands_after": "3 fortnights"}, "faults[0].lands_after:"),
        ({"kind": "fail_before", "stepp": "x"}, "faults[0].stepp: unknown field"),
        ({"kind": "outage", "service": "bank"}, "faults[0].start: expected seconds"),
        (
            {"kind": "outage", "service": "bank", "start": 5, "end": 1},
            "faults[0].end: expected a time after start",
        ),
    ],
)
def test_bad_fault_entries_name_the_field(entry, message):
    """A bad plan entry raises FaultPlanError naming the entry and field."""
    from sagasim.faults import FaultPlanError

    with pytest.raises(FaultPlanError) as caught:
        FaultPlan.from_dicts([entry])
    assert str(caught.value).startswith(message)


def test_outage_times_may_be_durations_since_the_start():
    """An outage window accepts '14 days' as well as seconds, and reports it."""
    plan = FaultPlan.from_dicts(
        [{"kind": "outage", "service": "pay", "start": "14 days", "end": 1_210_000}]
    )

    fault = plan.faults[0]
    assert (fault.ms("start"), fault.ms("end")) == (1_209_600_000, 1_210_000_000)
    assert fault.describe() == "pay from 14d to 14d6m40s"
