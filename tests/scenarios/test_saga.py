"""The declarative saga compiled to a Workflow: steps, groups, waits, handlers."""

from __future__ import annotations

import pandas as pd
import pytest

import sagasim
from sagasim.cli import main
from sagasim.scenarios import DeclarativeSaga, build, compile_workflow, parse_scenario

SHOP = """\
[simulation]
instances = 1

[[services]]
name = "stock"
kind = "inventory"
latency = 10
stock = { widget = 5 }

[[services]]
name = "cards"
kind = "payments"
latency = 20

[payload]
customer = "cust-{instance}"
qty = 2
"""


def run(text: str):
    """Load ``text`` as a scenario, run it, return the run."""
    scenario_run = build(parse_scenario(text, "t.toml"))
    scenario_run.run()
    return scenario_run


def calls(scenario_run, service: str) -> list[tuple]:
    """``(op, outcome, rollback)`` of each call ``service`` received."""
    return [
        (c["op"], c["outcome"], c["rollback"])
        for c in scenario_run.services[service].history
    ]


def events(scenario_run, *names: str) -> list[tuple]:
    trace = scenario_run.sim.trace
    rows = trace[trace["event"].isin(names)]
    return list(zip(rows["time"], rows["event"], rows["step"], strict=True))


def test_the_saga_is_a_workflow_named_as_the_file_says():
    """compile_workflow makes a Workflow subclass whose name is the saga's."""
    scenario = parse_scenario(
        SHOP
        + """
[workflow]
name = "order"
[[workflow.steps]]
name = "hold"
call = "stock.hold"
args = { sku = "widget", qty = 1 }
""",
        "t.toml",
    )
    cls = compile_workflow(scenario.workflow)

    assert issubclass(cls, sagasim.Workflow)
    assert issubclass(cls, DeclarativeSaga)
    assert "order" == cls.workflow_name()


def test_steps_call_services_with_rendered_args_and_keys():
    """Args come from the payload and earlier outputs; the key goes as key=."""
    scenario_run = run(
        SHOP
        + """
[workflow]
[[workflow.steps]]
name = "hold"
call = "stock.hold"
args = { sku = "widget", qty = "{payload.qty}" }
key = "{instance}:hold"

[[workflow.steps]]
name = "charge"
call = "cards.charge"
args = { customer = "{payload.customer}", amount = 700 }
key = "{steps.hold}/{instance}"
"""
    )
    inst = scenario_run.sim.instances[0]

    assert {
        "status": "complete",
        "output": {"hold": "hold_1", "charge": "ch_1"},
        "error": None,
    } == inst.status()
    hold, charge = (
        scenario_run.services["stock"].history[0],
        scenario_run.services["cards"].history[0],
    )
    assert ("inst-1:hold", {"sku": "widget", "qty": 2}) == (hold["key"], hold["args"])
    assert ("hold_1/inst-1", {"customer": "cust-inst-1", "amount": 700}) == (
        charge["key"],
        charge["args"],
    )


GROUP = (
    SHOP
    + """
[workflow]
[[workflow.steps]]
name = "both"
  [[workflow.steps.parallel]]
  name = "hold"
  call = "stock.hold"
  args = { sku = "widget", qty = "{payload.qty}" }
  compensation = { call = "stock.release", args = { hold = "{output}" } }
  [[workflow.steps.parallel]]
  name = "charge"
  call = "cards.charge"
  args = { customer = "{payload.customer}", amount = 700 }
  compensation = { call = "cards.refund", args = { charge = "{output}" } }

[[workflow.steps]]
name = "again"
call = "stock.hold"
args = { sku = "widget", qty = 4 }
"""
)


def test_a_parallel_group_starts_its_steps_together_in_written_order():
    """Both steps start at 0 s, hold first; the next step waits for both."""
    scenario_run = run(GROUP)

    assert [
        (0.0, "STEP_START", "hold"),
        (0.0, "STEP_START", "charge"),
        (0.02, "STEP_START", "again"),
    ] == events(scenario_run, "STEP_START")


def test_a_failure_after_a_group_rolls_back_in_reverse_start_order():
    """Out of stock on "again": the refund runs before the release."""
    scenario_run = run(GROUP)
    inst = scenario_run.sim.instances[0]

    assert "OutOfStock" == inst.status()["error"]["name"]
    assert [("charge", False), ("hold", False)] == [
        (r["step"], r["output_undefined"]) for r in inst.rollbacks
    ]
    assert [("hold", "ok", False), ("hold", "failed", False)] + [
        ("release", "ok", True)
    ] == calls(scenario_run, "stock")
    assert [("charge", "ok", False), ("refund", "ok", True)] == calls(
        scenario_run, "cards"
    )


def test_a_step_whose_when_is_false_is_skipped_with_a_null_output():
    """The skipped step never starts; a later when can test its null output."""
    scenario_run = run(
        SHOP
        + """
[workflow]
[[workflow.steps]]
name = "charge"
when = "{payload.qty} > 5"
call = "cards.charge"
args = { customer = "{payload.customer}", amount = 700 }

[[workflow.steps]]
name = "hold"
when = "{steps.charge} == null"
call = "stock.hold"
args = { sku = "widget", qty = 1 }
"""
    )

    assert {"charge": None, "hold": "hold_1"} == scenario_run.sim.instances[0].status()[
        "output"
    ]
    assert [(0.0, "STEP_START", "hold")] == events(scenario_run, "STEP_START")


WAIT = (
    SHOP
    + """
[workflow]
[[workflow.steps]]
name = "cool-off"
sleep = "1 minute"

[[workflow.steps]]
name = "upgrade"
wait_for_event = { type = "upgrade", timeout = "1 hour", on_timeout = "@ON_TIMEOUT@" }

[[workflow.steps]]
name = "charge"
when = "{steps.upgrade} != null"
call = "cards.charge"
args = { customer = "{payload.customer}", amount = "{steps.upgrade.payload.price}" }
"""
)


def test_a_wait_ends_with_the_event_sent_at_its_scheduled_time():
    """The [[events]] entry arrives at 30 min; its payload feeds the charge."""
    scenario_run = run(
        WAIT.replace("@ON_TIMEOUT@", "fail")
        + """
[[events]]
instance = "inst-1"
at = "30 minutes"
type = "upgrade"
payload = { price = 1_500, who = "{instance}" }
"""
    )
    status = scenario_run.sim.instances[0].status()

    assert "complete" == status["status"]
    assert {
        "type": "upgrade",
        "payload": {"price": 1_500, "who": "inst-1"},
        "timestamp": "2026-01-01T00:30:00+00:00",
    } == status["output"]["upgrade"]
    assert 1_500 == scenario_run.services["cards"].history[0]["args"]["amount"]
    assert [
        (0.0, "SLEEP_START", "cool-off"),
        (60.0, "SLEEP_COMPLETE", "cool-off"),
    ] == events(scenario_run, "SLEEP_START", "SLEEP_COMPLETE")
    assert [
        {
            "time": 1800.0,
            "instance": "inst-1",
            "type": "upgrade",
            "delivered": True,
            "reason": "",
        }
    ] == scenario_run.deliveries


def test_a_wait_that_times_out_continues_with_null_when_told_to():
    """on_timeout = "continue": no event, the output is null, the charge skipped."""
    scenario_run = run(WAIT.replace("@ON_TIMEOUT@", "continue"))
    status = scenario_run.sim.instances[0].status()

    assert ("complete", None, None) == (
        status["status"],
        status["output"]["upgrade"],
        status["output"]["charge"],
    )
    assert 3660.0 == scenario_run.sim.now


def test_a_wait_that_times_out_fails_the_instance_by_default():
    """on_timeout = "fail": the WorkflowTimeoutError reaches run()."""
    scenario_run = run(WAIT.replace("@ON_TIMEOUT@", "fail"))

    assert (
        "WorkflowTimeoutError"
        == scenario_run.sim.instances[0].status()["error"]["name"]
    )


def test_an_event_for_a_finished_instance_is_not_delivered():
    """The instance ended at 1 h 1 min; the 2 h event is noted, not sent."""
    scenario_run = run(
        WAIT.replace("@ON_TIMEOUT@", "continue")
        + """
[[events]]
instance = "inst-*"
at = "2 hours"
type = "upgrade"
"""
    )

    assert [
        {
            "time": 7200.0,
            "instance": "inst-1",
            "type": "upgrade",
            "delivered": False,
            "reason": "finished",
        }
    ] == scenario_run.deliveries


def test_an_event_before_its_instance_exists_is_not_delivered(tmp_path, capsys):
    """inst-2 is created at 1 h; an event for it at 30 min is noted, not sent,
    and the summary says why."""
    text = (
        WAIT.replace("@ON_TIMEOUT@", "continue").replace(
            "instances = 1",
            'instances = 2\narrival = { process = "fixed", interval = "1 hour" }',
        )
        + """
[[events]]
instance = "inst-*"
at = "30 minutes"
type = "upgrade"
payload = { price = 100 }
"""
    )
    scenario_run = run(text)

    assert [("inst-1", True, ""), ("inst-2", False, "not created yet")] == [
        (d["instance"], d["delivered"], d["reason"]) for d in scenario_run.deliveries
    ]
    path = tmp_path / "early.toml"
    path.write_text(text)
    assert 0 == main(["run", str(path), "-o", str(tmp_path / "out")])
    assert (
        "events     1 scheduled for 2 instances: 1 delivered, "
        "1 not (1 not created yet)\n"
    ) in capsys.readouterr().out


LOST = (
    SHOP
    + """
[workflow]
config = { retries = { limit = 1, delay = 100 } }
[[workflow.steps]]
name = "charge"
call = "cards.charge"
args = { customer = "{payload.customer}", amount = 700 }
@KEY@
compensation = { call = "cards.refund", args = { charge = "{output}" } }

[[faults]]
kind = "lose_output"
step = "charge"
"""
)


def test_a_compensation_finds_a_lost_output_by_the_steps_key():
    """Every answer lost: the handler asks find(key) and refunds what it found."""
    scenario_run = run(LOST.replace("@KEY@", 'key = "{instance}:charge"'))
    inst = scenario_run.sim.instances[0]

    assert [("charge", True, "success")] == [
        (r["step"], r["output_undefined"], r["status"]) for r in inst.rollbacks
    ]
    assert [
        ("charge", "ok", False),
        ("charge", "ok", False),
        ("find", "ok", True),
        ("refund", "ok", True),
    ] == calls(scenario_run, "cards")
    assert {"charge": "ch_1", "amount": None} == scenario_run.services["cards"].history[
        -1
    ]["args"]
    assert 0 == scenario_run.services["cards"].snapshot()["money:usd"]


def test_without_a_key_a_lost_output_leaves_nothing_to_compensate():
    """No key, no find: the handler skips, and both charges stay."""
    scenario_run = run(LOST.replace("@KEY@", ""))

    assert [("charge", "ok", False), ("charge", "ok", False)] == calls(
        scenario_run, "cards"
    )
    assert 1_400 == scenario_run.services["cards"].snapshot()["money:usd"]


def test_a_compensation_can_treat_a_named_error_as_nothing_to_undo():
    """Release by key of a hold that never landed: UnknownHold is ignored."""
    scenario_run = run(
        SHOP
        + """
[workflow]
[[workflow.steps]]
name = "hold"
call = "stock.hold"
args = { sku = "widget", qty = 9 }
key = "{instance}:hold"

[workflow.steps.compensation]
call = "stock.release"
args = { hold = "{key}" }
when = "true"
ignore_errors = ["UnknownHold"]
"""
    )
    inst = scenario_run.sim.instances[0]

    assert ("OutOfStock", "success") == (
        inst.status()["error"]["name"],
        inst.rollbacks[0]["status"],
    )
    assert [("hold", "failed", False), ("release", "failed", True)] == calls(
        scenario_run, "stock"
    )
    release = scenario_run.services["stock"].history[1]
    assert ({"hold": "inst-1:hold"}, "UnknownHold") == (
        release["args"],
        release["error"],
    )


def test_a_template_that_cannot_be_filled_in_fails_the_step_without_retries():
    """A path into a string output is a TemplateFailure, not retried."""
    scenario_run = run(
        SHOP
        + """
[workflow]
[[workflow.steps]]
name = "hold"
call = "stock.hold"
args = { sku = "widget", qty = 1 }

[[workflow.steps]]
name = "charge"
call = "cards.charge"
args = { customer = "{steps.hold.owner}", amount = 700 }
"""
    )
    trace = scenario_run.sim.trace

    assert {
        "name": "TemplateFailure",
        "message": "cards.charge: {steps.hold.owner}: steps.hold is the string "
        "\"hold_1\", it has no field 'owner'",
    } == scenario_run.sim.instances[0].status()["error"]
    assert (
        1 == ((trace["event"] == "ATTEMPT_START") & (trace["step"] == "charge")).sum()
    )


def test_an_attempt_number_in_a_key_defeats_the_key():
    """key = "{instance}:{attempt}" differs per retry: two charges, and the
    handler finds only the last attempt's, so the first one stays."""
    scenario_run = run(LOST.replace("@KEY@", 'key = "{instance}:{attempt}"'))

    history = scenario_run.services["cards"].history
    assert [
        ("charge", "inst-1:1"),
        ("charge", "inst-1:2"),
        ("find", None),
        ("refund", None),
    ] == [(c["op"], c["key"]) for c in history]
    assert {"key": "inst-1:2"} == history[2]["args"]
    assert 700 == scenario_run.services["cards"].snapshot()["money:usd"]


def test_a_python_workflow_class_runs_with_the_file_payload():
    """workflow = "module:Class" runs that class over the file's services."""
    scenario_run = run(
        """
workflow = "sagasim.scenarios.transfer:Transfer"

[simulation]
instances = 2

[[services]]
name = "north"
kind = "bank"
accounts = { alice = 1_000 }

[[services]]
name = "south"
kind = "bank"
accounts = { bob = 0 }

[payload]
amount = 300
from = { value = { bank = "north", account = "alice" } }
to = { value = { bank = "south", account = "bob" } }
"""
    )

    assert ["complete", "complete"] == [
        inst.status()["status"] for inst in scenario_run.sim.instances
    ]
    assert {"north": {"money:north": 400}, "south": {"money:south": 600}} == (
        scenario_run.closing()
    )


def test_effects_and_history_tables_cover_every_service():
    """The run's tables have one row per effect and per call, all services."""
    scenario_run = run(GROUP)

    effects = scenario_run.effects()
    history = scenario_run.history()
    assert isinstance(effects, pd.DataFrame)
    assert [("stock", "hold"), ("cards", "charge"), ("cards", "refund")] + [
        ("stock", "release")
    ] == list(zip(effects["service"], effects["kind"], strict=True))
    assert 5 == len(history)
    assert ["stock", "cards", "stock", "cards", "stock"] == list(history["service"])
    assert '{"qty":2,"sku":"widget"}' == history.loc[0, "args"]


@pytest.mark.parametrize("seed", [1, 2])
def test_payloads_come_from_each_instances_own_stream(seed):
    """Adding instances leaves the payloads of the earlier ones unchanged."""
    text = """
[simulation]
seed = {seed}
instances = {n}
[payload]
amount = {{ min = 1, max = 1_000_000 }}
tier = {{ choice = ["a", "b", "c"], weights = [1, 1, 1] }}
vip = {{ chance = 0.5 }}
email = "{{instance}}@x.example"
[[services]]
name = "mail"
kind = "mailer"
[workflow]
[[workflow.steps]]
name = "send"
call = "mail.send"
args = {{ to = "{{payload.email}}", subject = "{{payload.tier}}" }}
"""
    few = build(parse_scenario(text.format(seed=seed, n=3), "t.toml"))
    many = build(parse_scenario(text.format(seed=seed, n=30), "t.toml"))

    for n in (1, 2, 3):
        assert few.payload(f"inst-{n}") == many.payload(f"inst-{n}")
    assert "inst-2@x.example" == few.payload("inst-2")["email"]
