"""Instance operations in any order, checked after every one (DESIGN rules 4-8, 12).

A Hypothesis state machine drives one generated instance: pause, resume,
terminate (with or without rollback), crash, send an event, let simulated
time pass, or run to the end. After each step every invariant of
:class:`sagasim.soak.CaseRun` must hold: statuses move only along allowed
transitions and a terminal one is final, no completed body runs again,
handlers run only after a terminal failure or ``terminate(rollback=True)``,
in reverse start order, and ``rollback_ordering`` and ``check_run`` find
nothing. A failure is noted as a runnable script.
"""

from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sagasim.checks import check_run, concat
from sagasim.soak import case_source
from sagasim.strategies import EVENT_TYPES, fault_dicts, workflow_shapes

from .known_bugs import AvoidingCaseRun

CASES = st.fixed_dictionaries(
    {
        "shape": workflow_shapes(),
        "faults": st.lists(fault_dicts(), max_size=2),
        "seed": st.integers(0, 2**16),
        "inflight": st.sampled_from(("cancel", "drain", "race")),
        "on_rollback_failure": st.sampled_from(("halt", "continue")),
        "jitter": st.booleans(),
    }
)


class InstanceMachine(RuleBasedStateMachine):
    """One instance of a generated workflow under instance operations."""

    @initialize(case=CASES)
    def create(self, case):
        self.run = AvoidingCaseRun(dict(case, operations=[]))

    def perform(self, operation):
        self.run.apply(operation)

    def explain(self, violations):
        script = case_source(self.run.effective_case(), violations.to_string())
        note("the case as a script:\n" + script)

    @rule()
    def pause(self):
        self.perform({"op": "pause"})

    @rule()
    def resume(self):
        self.perform({"op": "resume"})

    @rule(rollback=st.booleans())
    def terminate(self, rollback):
        self.perform({"op": "terminate", "rollback": rollback})

    @rule(restart_after=st.integers(0, 20))
    def crash(self, restart_after):
        self.perform({"op": "crash", "restart_after": restart_after})

    @rule(type=st.sampled_from(EVENT_TYPES), payload=st.integers(0, 9))
    def send_event(self, type, payload):
        self.perform({"op": "send_event", "type": type, "payload": payload})

    @rule(ms=st.integers(0, 60))
    def run_for(self, ms):
        self.run.advance(ms)

    @precondition(lambda self: not self.run.finished)
    @rule()
    def run_to_the_end(self):
        self.run.finish()

    @invariant()
    def every_invariant_holds(self):
        violations = self.run.violations()
        if not violations.empty:
            self.explain(violations)
        assert violations.empty

    def teardown(self):
        self.run.finish()
        violations = self.run.violations()
        everything = check_run(
            self.run.sim.trace, on_rollback_failure=self.run.sim.on_rollback_failure
        )
        if not (violations.empty and everything.empty):
            self.explain(concat([violations, everything]))
        assert violations.empty
        assert everything.empty


InstanceMachine.TestCase.settings = settings(
    settings(),
    max_examples=max(1, settings().max_examples // 2),
    stateful_step_count=12,
)
test_instance_operations_keep_every_invariant = InstanceMachine.TestCase
