"""gather, race and any with Promise.all / race / any semantics."""

import sagasim

from .conftest import NO_RETRIES, fail, ok, records, times


def clocked(workflow_factory, **options):
    """Run the workflow built by ``workflow_factory(marks, clock)``."""
    sim = sagasim.Simulation(**options)
    marks = []
    inst = sim.create(workflow_factory(marks, lambda: sim.now))
    sim.run()
    return sim, inst, marks


def test_gather_returns_results_in_argument_order_when_all_finish():
    """gather resolves at the slowest step with results in call order."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                results = await sagasim.gather(
                    step.do("a", ok("A", ms=3000)), step.do("b", ok("B", ms=1000))
                )
                marks.append(("gathered", clock()))
                return list(results)

        return W

    sim, inst, marks = clocked(factory)

    assert marks == [("gathered", 3.0)]
    assert inst.status() == {"status": "complete", "output": ["A", "B"], "error": None}


def test_gather_fails_with_the_first_failure_in_time():
    """gather rejects at 1 s with b's error though a, listed first, fails at 2 s."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                try:
                    await sagasim.gather(
                        step.do("a", fail("a broke", ms=2000), config=NO_RETRIES),
                        step.do("b", fail("b broke", ms=1000), config=NO_RETRIES),
                    )
                except RuntimeError as error:
                    marks.append((str(error), clock()))
                await step.sleep("after", 5000)
                return "survived"

        return W

    sim, inst, marks = clocked(factory)

    assert marks == [("b broke", 1.0)]
    assert inst.status() == {"status": "complete", "output": "survived", "error": None}


def test_second_failure_under_gather_is_recorded_and_never_crashes():
    """A later failure under a rejected gather is traced; the simulation runs on."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                try:
                    await sagasim.gather(
                        step.do("a", fail("a broke", ms=1000), config=NO_RETRIES),
                        step.do("b", fail("b broke", ms=2000), config=NO_RETRIES),
                    )
                except RuntimeError:
                    pass
                await step.sleep("after", 5000)
                return "survived"

        return W

    sim, inst, marks = clocked(factory)

    assert records(sim, ["time", "step", "error_message"], "STEP_FAILURE") == [
        (1.0, "a", "a broke"),
        (2.0, "b", "b broke"),
    ]
    assert times(sim, "SLEEP_COMPLETE", step="after") == [6.0]
    assert inst.status()["output"] == "survived"
    assert sim.now == 6.0


def test_uncaught_gather_failure_with_drain_survives_the_second_failure():
    """Under inflight="drain", both failures settle and the instance errors cleanly."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                await sagasim.gather(
                    step.do("a", fail("a broke", ms=1000), config=NO_RETRIES),
                    step.do("b", fail("b broke", ms=2000), config=NO_RETRIES),
                )

        return W

    sim, inst, marks = clocked(factory, inflight="drain")

    assert times(sim, "STEP_FAILURE") == [1.0, 2.0]
    assert inst.status()["error"] == {"name": "RuntimeError", "message": "a broke"}
    assert sim.now == 2.0


def test_gather_inside_a_body_waits_for_the_longest_sleep():
    """A body gathering 1 s and 3 s sleeps returns at 3 s."""

    async def body(ctx):
        await sagasim.gather(sagasim.sleep(1000), sagasim.sleep(3000))
        return "both"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("parallel", body)

    sim = sagasim.Simulation()
    inst = sim.create(W)
    sim.run()

    assert times(sim, "STEP_SUCCESS", step="parallel") == [3.0]
    assert inst.status()["output"] == "both"


def test_race_settles_with_the_first_result_and_leaves_the_loser_running():
    """race gives b's result at 1 s; a still completes at 3 s."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                a = step.do("a", ok("A", ms=3000))
                b = step.do("b", ok("B", ms=1000))
                first = await sagasim.race(a, b)
                marks.append((first, clock()))
                return [first, await a]

        return W

    sim, inst, marks = clocked(factory)

    assert marks == [("B", 1.0)]
    assert times(sim, "STEP_SUCCESS", step="a") == [3.0]
    assert inst.status()["output"] == ["B", "A"]
    assert sim.now == 3.0


def test_race_rejects_when_the_first_to_settle_fails():
    """race raises b's error at 1 s when b fails before a succeeds."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                a = step.do("a", ok("A", ms=3000))
                b = step.do("b", fail("b broke", ms=1000), config=NO_RETRIES)
                try:
                    await sagasim.race(a, b)
                except RuntimeError as error:
                    marks.append((str(error), clock()))
                return await a

        return W

    sim, inst, marks = clocked(factory)

    assert marks == [("b broke", 1.0)]
    assert inst.status()["output"] == "A"


def test_any_gives_the_first_success_ignoring_failures():
    """any skips a's failure at 1 s and resolves with b at 2 s."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                a = step.do("a", fail("a broke", ms=1000), config=NO_RETRIES)
                b = step.do("b", ok("B", ms=2000))
                c = step.do("c", ok("C", ms=3000))
                first = await sagasim.any(a, b, c)
                marks.append((first, clock()))
                await c
                return first

        return W

    sim, inst, marks = clocked(factory)

    assert marks == [("B", 2.0)]
    assert inst.status()["output"] == "B"
    assert sim.now == 3.0


def test_any_with_every_awaitable_failing_rejects_after_the_last_failure():
    """any rejects at 3 s, when the last of three failing steps fails."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                try:
                    await sagasim.any(
                        step.do("a", fail("a broke", ms=2000), config=NO_RETRIES),
                        step.do("b", fail("b broke", ms=3000), config=NO_RETRIES),
                        step.do("c", fail("c broke", ms=1000), config=NO_RETRIES),
                    )
                except Exception as error:
                    marks.append((type(error).__name__, clock()))
                    errors = getattr(error, "errors", None)
                    return [str(e) for e in errors] if errors is not None else None

        return W

    sim, inst, marks = clocked(factory)

    assert marks == [("AggregateError", 3.0)]
    assert inst.status()["output"] == ["a broke", "b broke", "c broke"]


def test_gather_of_nothing_resolves_to_an_empty_list_at_once():
    """gather() with no awaitables gives an empty result immediately."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                marks.append((list(await sagasim.gather()), clock()))
                return "done"

        return W

    sim, inst, marks = clocked(factory)

    assert marks == [([], 0.0)]
    assert inst.status()["output"] == "done"


def test_race_inside_a_body_settles_with_the_shorter_sleep():
    """A body racing a 1 s sleep against a 3 s sleep returns at 1 s."""

    async def body(ctx):
        await sagasim.race(sagasim.sleep(1000), sagasim.sleep(3000))
        return "raced"

    class W(sagasim.Workflow):
        async def run(self, event, step):
            return await step.do("racer", body)

    sim = sagasim.Simulation()
    inst = sim.create(W)
    sim.run()

    assert times(sim, "STEP_SUCCESS", step="racer") == [1.0]
    assert inst.status()["output"] == "raced"


def test_gather_accepts_sleeps_and_waits_started_at_call_time():
    """step.sleep and wait_for_event start when called and combine under gather."""

    def factory(marks, clock):
        class W(sagasim.Workflow):
            async def run(self, event, step):
                nap = step.sleep("nap", 3000)
                try:
                    await sagasim.gather(
                        step.do("quick", ok("Q", ms=1000)),
                        step.wait_for_event("hello", type="hello", timeout=2000),
                    )
                except sagasim.WorkflowTimeoutError:
                    marks.append(("wait timed out", clock()))
                await nap
                marks.append(("nap over", clock()))
                return "done"

        return W

    sim, inst, marks = clocked(factory)

    assert marks == [("wait timed out", 2.0), ("nap over", 3.0)]
    assert times(sim, "SLEEP_START", step="nap") == [0.0]
    assert times(sim, "SLEEP_COMPLETE", step="nap") == [3.0]
