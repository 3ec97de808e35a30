"""Fault schedules drawn as data: valid faults that shrink to the fewest."""

from dataclasses import fields

from hypothesis import find, given, settings

import sagasim
from sagasim import Simulation
from sagasim.checks import run_checks, snapshot
from sagasim.faults import Fault, FaultPlan
from sagasim.services import Bank
from sagasim.strategies import fault_dicts, fault_schedules, fault_source

QUICK = settings(database=None, max_examples=2_000)


@given(fault_dicts())
def test_a_drawn_fault_is_a_plan_entry_with_only_fields_that_differ(entry):
    """A drawn dict builds a plan, and every field in it but its kind and
    step differs from the default."""
    (fault,) = FaultPlan.from_dicts([entry])

    defaults = {field.name: field.default for field in fields(Fault)}
    for name, value in entry.items():
        if name not in ("kind", "step"):
            assert defaults[name] != value, name
    assert fault.kind == entry["kind"]


@given(fault_schedules(steps=["debit", "credit"]))
def test_schedules_are_faults_aimed_at_the_given_steps(faults):
    """Every step fault targets one of the named steps or all of them."""
    for fault in faults:
        assert isinstance(fault, Fault)
        assert fault.step in ("debit", "credit", "*")


@given(fault_schedules(phases=False))
def test_schedules_without_phases_leave_rollback_handlers_alone(faults):
    """phases=False draws only forward faults."""
    assert all(fault.phase == "forward" for fault in faults)


def test_a_failing_schedule_shrinks_to_its_one_fault():
    """The smallest schedule with a lost output is that fault alone, aimed at
    the first step, with no probability, limit or attempt."""
    faults = find(
        fault_schedules(steps=["debit", "credit"]),
        lambda fs: any(f.kind == "lose_output" for f in fs),
        settings=QUICK,
    )

    assert faults == [Fault(kind="lose_output", step="debit")]


def test_outages_need_services_and_end_after_they_start():
    """outage faults are drawn only for named services, with start < end."""
    faults = find(
        fault_schedules(services=["BANK"], kinds=["outage"]),
        lambda fs: len(fs) > 0,
        settings=QUICK,
    )

    assert faults == [Fault(kind="outage", service="BANK", start=0.0, end=0.001)]


@given(fault_schedules(services=["BANK"]))
def test_fault_source_is_python_that_builds_the_same_fault(faults):
    """eval(fault_source(f)) == f, naming only the fields that differ."""
    for fault in faults:
        assert eval(fault_source(fault), {"Fault": Fault}) == fault


class Transfer(sagasim.Workflow):
    """The README's transfer: debit north, credit south, refund on failure."""

    async def run(self, event, step):
        amount = event["payload"]["amount"]

        async def debit(ctx):
            return await self.env["NORTH"].debit("alice", amount)

        async def refund(output, error, ctx):
            if output:
                await self.env["NORTH"].credit("alice", amount)

        async def credit(ctx):
            return await self.env["SOUTH"].credit("bob", amount)

        retries = {"retries": {"limit": 2, "delay": "1 second"}}
        await step.do("debit", debit, config=retries, rollback=refund)
        await step.do("credit", credit, config=retries)
        return "moved"


@settings(max_examples=max(1, settings().max_examples // 4))
@given(
    fault_schedules(
        steps=["debit", "credit"],
        kinds=["fail_before", "mock_error", "crash_after_persist", "latency"],
        phases=False,
    )
)
def test_a_transfer_keeps_the_books_under_faults_before_the_effect(faults):
    """Faults that strike before a bank acts, or after its answer is stored,
    leave no violation and the money where it was or moved, never lost."""
    sim = Simulation(seed=1, faults=faults)
    north = Bank(sim, "north", {"alice": 10_000}, latency=20)
    south = Bank(sim, "south", {"bob": 0}, latency=20)
    sim.bindings.update(NORTH=north, SOUTH=south)
    opening = snapshot(sim)
    sim.create(Transfer, params={"amount": 1_000})
    sim.run()

    assert run_checks(sim, opening=opening, pool=lambda resource: "money").empty
