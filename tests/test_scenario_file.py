"""Loading and validating scenario TOML files."""

from __future__ import annotations

import dataclasses
import math
import random
from pathlib import Path

import pytest

from sagasim.scenarios import (
    Arrival,
    ScenarioError,
    Transfer,
    WorkflowSpec,
    load_scenario,
)
from sagasim.scenarios.templates import Condition, Template

REPO = Path(__file__).resolve().parent.parent

VALID = """\
description = "a shop"

[simulation]
seed = 3
instances = 10
arrival = { process = "fixed", interval = 250 }
max_concurrent = 4
inflight = "drain"
on_rollback_failure = "continue"

[[services]]
name = "stock"
kind = "inventory"
latency = 50
stock = { widget = 100 }
idempotent_release = true

[[services]]
name = "cards"
kind = "payments"
latency = { min = 10, max = 30 }
response_latency = "5 ms"
capacity = 8
outages = [[1, 2.5], ["1 minute", inf]]
error_rate = 0.1
strict = true
currency = "eur"

[[services]]
name = "mail"
kind = "mailer"
latency = { median = 40, sigma = 0.5 }

[payload]
customer = "cust-{instance}"
qty = { min = 1, max = 3 }
price = { choice = [100, 200], weights = [3, 1] }
vip = { chance = 0.25 }
address = { value = { city = "Oslo" } }

[workflow]
name = "order"
config.retries = { limit = 2, delay = "500 ms", backoff = "constant" }
config.timeout = "5 seconds"
rollback_config = { retries = { limit = 9, delay = 100 } }

[[workflow.steps]]
name = "reserve"
  [[workflow.steps.parallel]]
  name = "hold"
  call = "stock.hold"
  args = { sku = "widget", qty = "{payload.qty}" }
  key = "{instance}:hold"
  compensation.call = "stock.release"
  compensation.args = { hold = "{key}" }
  compensation.when = "true"
  compensation.ignore_errors = ["UnknownHold"]

  [[workflow.steps.parallel]]
  name = "charge"
  call = "cards.charge"
  args = { customer = "{payload.customer}", amount = "{payload.price}" }
  key = "{instance}:charge"
  config = { retries = { limit = 4 } }
  compensation.call = "cards.refund"
  compensation.args = { charge = "{output}" }
  compensation.config = { timeout = 900 }

[[workflow.steps]]
name = "wait"
wait_for_event = { type = "go", timeout = "1 hour", on_timeout = "continue" }

[[workflow.steps]]
name = "nap"
when = "{steps.wait} == null and not {payload.vip}"
sleep = "2 days"

[[workflow.steps]]
name = "confirm"
call = "mail.send"
args = { to = "{payload.customer}", subject = "order {steps.charge}" }

[[events]]
instance = "inst-1?"
at = "30 minutes"
type = "go"
payload = { by = "{instance}" }

[[faults]]
kind = "lose_output"
step = "charge"
probability = 0.5

[checks]
conserved = { goods = ["stock:widget"] }
"""


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def test_a_valid_file_loads_into_its_spec(tmp_path):
    """Every section of the format lands in the frozen spec, checked."""
    path = write(tmp_path, VALID, "shop.toml")

    scenario = load_scenario(path)

    assert (path, "shop", "a shop") == (
        scenario.path,
        scenario.name,
        scenario.description,
    )
    sim = scenario.simulation
    assert (3, 10, Arrival("fixed", 250), 4, "drain", "continue") == (
        sim.seed,
        sim.instances,
        sim.arrival,
        sim.max_concurrent,
        sim.inflight,
        sim.on_rollback_failure,
    )
    assert ["stock", "cards", "mail"] == [s.name for s in scenario.services]
    assert {
        "latency": {"min": 10, "max": 30},
        "response_latency": 5,
        "capacity": 8,
        "outages": ((1.0, 2.5), (60.0, math.inf)),
        "error_rate": 0.1,
        "strict": True,
        "currency": "eur",
    } == dict(scenario.service("cards").options)
    assert ["customer", "qty", "price", "vip", "address"] == [
        f.name for f in scenario.payload
    ]
    assert {"goods": ("stock:widget",)} == dict(scenario.conserved)
    assert 1 == len(scenario.faults)


def test_the_declarative_saga_is_checked_into_step_specs(tmp_path):
    """Groups, waits, sleeps, conditions, configs and compensations are kept."""
    workflow = load_scenario(write(tmp_path, VALID)).workflow

    assert isinstance(workflow, WorkflowSpec)
    assert "order" == workflow.name
    assert [("reserve", "parallel"), ("wait", "wait"), ("nap", "sleep")] + [
        ("confirm", "call")
    ] == [(step.name, step.kind) for step in workflow.steps]

    hold, charge = workflow.steps[0].branches
    # An inventory cannot look holds up by key; payments can find charges.
    assert ("stock", "hold", False) == (hold.call.service, hold.call.op, hold.find)
    assert isinstance(hold.call.key, Template)
    assert ("UnknownHold",) == hold.compensation.ignore_errors
    assert True is charge.find
    assert {
        "retries": {"limit": 4, "delay": 500, "backoff": "constant"},
        "timeout": 5000,
    } == dict(charge.config)
    assert {"retries": {"limit": 9, "delay": 100}, "timeout": 900} == dict(
        charge.compensation.config
    )

    wait, nap = workflow.steps[1], workflow.steps[2]
    assert ("go", 3_600_000, "continue") == (
        wait.event_type,
        wait.timeout_ms,
        wait.on_timeout,
    )
    assert isinstance(nap.when, Condition)
    assert 2 * 86_400_000 == nap.sleep_ms


def test_defaults_fill_in_what_a_file_leaves_out(tmp_path):
    """Seed 0, all at once, 50,000 at a time, cancel and halt, no faults."""
    path = write(
        tmp_path,
        """
[simulation]
instances = 1
[[services]]
name = "m"
kind = "mailer"
[workflow]
[[workflow.steps]]
name = "send"
call = "m.send"
args = { to = "a", subject = "b" }
""",
        "tiny.toml",
    )

    scenario = load_scenario(path)

    sim = scenario.simulation
    assert (0, Arrival("fixed", 0), 50_000, "cancel", "halt") == (
        sim.seed,
        sim.arrival,
        sim.max_concurrent,
        sim.inflight,
        sim.on_rollback_failure,
    )
    assert ("tiny", None, None, False) == (
        scenario.workflow.name,
        scenario.workflow.steps[0].config,
        scenario.workflow.steps[0].compensation,
        scenario.workflow.steps[0].find,
    )
    assert (0, (), ()) == (len(scenario.faults), scenario.events, scenario.payload)


def test_arrivals_fixed_poisson_and_listed():
    """Fixed steps from 0; Poisson draws exponential gaps; a list is kept."""
    assert [0, 250, 500] == list(Arrival("fixed", 250).times(3, random.Random(0)))
    rng = random.Random(1)
    gaps = [round(rng.expovariate(1 / 100)) for _ in range(3)]
    poisson = list(Arrival("poisson", 100).times(3, random.Random(1)))
    assert [gaps[0], gaps[0] + gaps[1], sum(gaps)] == poisson
    assert [0, 1500] == list(Arrival("times", times_ms=(0, 1500)).times(2, None))


def test_a_list_of_arrival_times_sets_the_instance_count(tmp_path):
    """arrival = [0, 1.5, "1 minute"]: three instances at those seconds."""
    text = edited(
        'instances = 10\narrival = { process = "fixed", interval = 250 }',
        'arrival = [0, 1.5, "1 minute"]',
    ).replace('instance = "inst-1?"', 'instance = "inst-*"')

    simulation = load_scenario(write(tmp_path, text)).simulation

    assert (3, Arrival("times", times_ms=(0, 1500, 60_000))) == (
        simulation.instances,
        simulation.arrival,
    )


def test_a_python_workflow_class_is_imported(tmp_path):
    """workflow = "module:Class" names a Workflow subclass, kept as it is."""
    path = write(
        tmp_path,
        'workflow = "sagasim.scenarios.transfer:Transfer"\n'
        "[simulation]\ninstances = 1\n",
    )

    scenario = load_scenario(path)

    assert (Transfer, "sagasim.scenarios.transfer:Transfer") == (
        scenario.workflow,
        scenario.workflow_ref,
    )


def test_a_workflow_module_next_to_the_file_is_found(tmp_path):
    """The scenario's folder is searched first, and only during the import."""
    (tmp_path / "my_saga_module.py").write_text(
        "import sagasim\n"
        "class Hello(sagasim.Workflow):\n"
        "    async def run(self, event, step):\n"
        "        return 'hi'\n"
    )
    path = write(
        tmp_path, 'workflow = "my_saga_module:Hello"\n[simulation]\ninstances = 1\n'
    )

    scenario = load_scenario(path)

    assert "Hello" == scenario.workflow.__name__
    import sys

    assert str(tmp_path) not in sys.path


def test_the_scenario_is_frozen(tmp_path):
    """Specs are immutable once validated."""
    scenario = load_scenario(write(tmp_path, VALID))

    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.simulation.seed = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        scenario.service("cards").options["strict"] = False  # type: ignore[index]


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "[simulation]",
            "colour = 1\n[simulation]",
            "colour",
            "unknown field, expected one of description, simulation, services, "
            "payload, workflow, events, faults, checks",
        ),
        (
            "instances = 10",
            'instances = "ten"',
            "simulation.instances",
            'expected a positive integer, got "ten"',
        ),
        ("instances = 10", "instances = 0", "simulation.instances", None),
        ("seed = 3", "seed = -1", "simulation.seed", None),
        (
            'inflight = "drain"',
            'inflight = "wait"',
            "simulation.inflight",
            'expected one of cancel, drain, race, got "wait"',
        ),
        (
            'on_rollback_failure = "continue"',
            'on_rollback_failure = "skip"',
            "simulation.on_rollback_failure",
            None,
        ),
        (
            'arrival = { process = "fixed", interval = 250 }',
            'arrival = { process = "burst", interval = 250 }',
            "simulation.arrival.process",
            'expected one of fixed, poisson, got "burst"',
        ),
        (
            'arrival = { process = "fixed", interval = 250 }',
            'arrival = { process = "poisson", interval = 0 }',
            "simulation.arrival.interval",
            "expected a positive mean gap for a poisson process, got 0",
        ),
        (
            'arrival = { process = "fixed", interval = 250 }',
            'arrival = { process = "fixed", interval = "soon" }',
            "simulation.arrival.interval",
            'expected a duration (milliseconds or "<n> <unit>"), got "soon"',
        ),
        (
            'arrival = { process = "fixed", interval = 250 }',
            "arrival = [0, 5, 1]",
            "simulation.arrival[2]",
            "expected a time no earlier than the one before (5), got 1",
        ),
        (
            'arrival = { process = "fixed", interval = 250 }',
            "arrival = [0, 5]",
            "simulation.instances",
            "expected 2, one per arrival time, got 10",
        ),
        (
            'kind = "mailer"',
            'kind = "fax"',
            "services[2].kind",
            'expected one of bank, payments, inventory, mailer, got "fax"',
        ),
        (
            'name = "mail"',
            'name = "stock"',
            "services[2].name",
            'expected a name not used by services[0], got "stock"',
        ),
        (
            "stock = { widget = 100 }",
            "",
            "services[0].stock",
            "missing, a inventory needs stock",
        ),
        (
            "stock = { widget = 100 }",
            "stock = { widget = -1 }",
            "services[0].stock.widget",
            "expected a non-negative integer, got -1",
        ),
        (
            "idempotent_release = true",
            'idempotent_release = "yes"',
            "services[0].idempotent_release",
            'expected true or false, got "yes"',
        ),
        (
            "idempotent_release = true",
            "strict = true",
            "services[0].strict",
            "unknown field, expected one of name, kind, latency, response_latency, "
            "capacity, outages, error_rate, stock, idempotent_release",
        ),
        (
            "latency = 50",
            "latency = -5",
            "services[0].latency",
            "expected milliseconds, a duration, { min, max } or { median, sigma }, "
            "got -5",
        ),
        (
            "latency = { min = 10, max = 30 }",
            "latency = { min = 30, max = 10 }",
            "services[1].latency.max",
            "expected at least min (30), got 10",
        ),
        (
            "latency = { min = 10, max = 30 }",
            "latency = { min = 10 }",
            "services[1].latency",
            "expected milliseconds, a duration, { min, max } or { median, sigma }, "
            "got { min = 10 }",
        ),
        (
            "capacity = 8",
            "capacity = 0",
            "services[1].capacity",
            "expected a positive integer, got 0",
        ),
        (
            "outages = [[1, 2.5]",
            "outages = [[3, 2.5]",
            "services[1].outages[0]",
            "expected start < end, got [3, 2.5]",
        ),
        (
            "error_rate = 0.1",
            "error_rate = 1.5",
            "services[1].error_rate",
            "expected a number from 0 to 1, got 1.5",
        ),
        (
            "qty = { min = 1, max = 3 }",
            "qty = { min = 3, max = 1 }",
            "payload.qty.max",
            "expected at least min (3), got 1",
        ),
        (
            "weights = [3, 1]",
            "weights = [3]",
            "payload.price.weights",
            "expected 2 non-negative numbers, not all 0, got [3]",
        ),
        (
            "vip = { chance = 0.25 }",
            "vip = { chance = 2 }",
            "payload.vip.chance",
            "expected a number from 0 to 1, got 2",
        ),
        (
            'address = { value = { city = "Oslo" } }',
            'address = { city = "Oslo" }',
            "payload.address",
            "expected a value, { min, max }, { choice, weights }, { chance } or "
            '{ value }, got { city = "Oslo" }',
        ),
        (
            'customer = "cust-{instance}"',
            'customer = "cust-{payload.qty}"',
            "payload.customer",
            "{payload.qty}: the payload has no field 'qty' (its fields: none)",
        ),
    ],
)
def test_a_bad_field_is_one_line_naming_file_and_field(
    tmp_path, old, new, field, message
):
    """Each mistake gives `<file>: <dotted field>: <what was expected>`."""
    path = write(tmp_path, edited(old, new))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: {field}: "), text
    if message is not None:
        assert f"{path}: {field}: {message}" == text


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            'call = "stock.hold"',
            'call = "store.hold"',
            "workflow.steps[0].parallel[0].call",
            'expected a declared service (services: "stock", "cards", "mail"), '
            'got "store"',
        ),
        (
            'call = "stock.hold"',
            'call = "stock.reserve"',
            "workflow.steps[0].parallel[0].call",
            "expected an operation of inventory 'stock' (hold, release), "
            'got "reserve"',
        ),
        (
            'call = "stock.hold"',
            'call = "stock"',
            "workflow.steps[0].parallel[0].call",
            'expected "<service>.<operation>", got "stock"',
        ),
        (
            'args = { sku = "widget", qty = "{payload.qty}" }',
            'args = { sku = "widget", quantity = 1 }',
            "workflow.steps[0].parallel[0].args.quantity",
            "unknown argument of stock.hold(sku, qty, key)",
        ),
        (
            'args = { sku = "widget", qty = "{payload.qty}" }',
            'args = { sku = "widget" }',
            "workflow.steps[0].parallel[0].args.qty",
            "missing, stock.hold(sku, qty, key) needs it",
        ),
        (
            'args = { sku = "widget", qty = "{payload.qty}" }',
            'args = { sku = "widget", qty = 1, key = "k" }',
            "workflow.steps[0].parallel[0].args.key",
            "the idempotency key goes in the step's own key field",
        ),
        (
            "config = { retries = { limit = 4 } }",
            "config = { retries = { limit = 4, jitter = 1 } }",
            "workflow.steps[0].parallel[1].config.retries.jitter",
            "unknown field, expected one of limit, delay, backoff",
        ),
        (
            "rollback_config = { retries = { limit = 9, delay = 100 } }",
            "rollback_config = { retries = { limit = 9 } }",
            "workflow.steps[0].parallel[0].compensation.config.retries.delay",
            "missing, expected a duration (retries need both limit and delay)",
        ),
        (
            'config.timeout = "5 seconds"',
            "config.timeout = 0",
            "workflow.config.timeout",
            'expected a positive duration (milliseconds or "<n> <unit>"), got 0',
        ),
        (
            'name = "nap"',
            'name = "hold"',
            "workflow.steps[2].name",
            "expected a step name not used by workflow.steps[0].parallel[0], "
            'got "hold"',
        ),
        (
            'name = "nap"',
            'name = "n.a.p"',
            "workflow.steps[2].name",
            "expected a name of letters, digits, '_' and '-' (no dots), got \"n.a.p\"",
        ),
        (
            'sleep = "2 days"',
            'sleep = "2 days"\ncall = "mail.send"',
            "workflow.steps[2]",
            "expected exactly one of call, sleep, wait_for_event, parallel, "
            "got call, sleep",
        ),
        (
            'sleep = "2 days"',
            'sleep = "2 fortnights"',
            "workflow.steps[2].sleep",
            'expected a duration (milliseconds or "<n> <unit>"), got "2 fortnights"',
        ),
        (
            'on_timeout = "continue"',
            'on_timeout = "ignore"',
            "workflow.steps[1].wait_for_event.on_timeout",
            'expected one of fail, continue, got "ignore"',
        ),
        (
            'ignore_errors = ["UnknownHold"]',
            'ignore_errors = "UnknownHold"',
            "workflow.steps[0].parallel[0].compensation.ignore_errors",
            'expected a list of error names, as ["UnknownHold"], got "UnknownHold"',
        ),
        (
            '[[events]]\ninstance = "inst-1?"',
            '[[events]]\ninstance = "inst-99"',
            "events[0].instance",
            "expected an id from inst-1 to inst-10 or a pattern matching one, "
            'got "inst-99"',
        ),
        (
            'at = "30 minutes"',
            "at = -1",
            "events[0].at",
            'expected a time (seconds, or "<n> <unit>" since the start), got -1',
        ),
        (
            'goods = ["stock:widget"]',
            'goods = ["stock:gadget"]',
            "checks.conserved.goods[0]",
            "expected a resource of the services (stock:widget, money:eur), "
            'got "stock:gadget"',
        ),
    ],
)
def test_a_bad_workflow_field_is_one_line_naming_file_and_field(
    tmp_path, old, new, field, message
):
    """Calls, arguments, configs, steps and events are checked against the
    services and the saga."""
    path = write(tmp_path, edited(old, new))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert f"{path}: {field}: {message}" == str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            'qty = "{payload.qty}"',
            'qty = "{payload.quantity}"',
            "workflow.steps[0].parallel[0].args.qty",
            "{payload.quantity}: the payload has no field 'quantity' (its fields: "
            "customer, qty, price, vip, address)",
        ),
        (
            'qty = "{payload.qty}"',
            'qty = "{steps.charge}"',
            "workflow.steps[0].parallel[0].args.qty",
            "{steps.charge}: no step 'charge' has finished before this point "
            "(earlier steps: none)",
        ),
        (
            'subject = "order {steps.charge}"',
            'subject = "order {steps.confirm}"',
            "workflow.steps[3].args.subject",
            "{steps.confirm}: no step 'confirm' has finished before this point "
            "(earlier steps: hold, charge, wait, nap)",
        ),
        (
            'qty = "{payload.qty}"',
            'qty = "{output}"',
            "workflow.steps[0].parallel[0].args.qty",
            "{output} names nothing here (only a compensation has an {output}); "
            "expected one of {payload.<field>}, {steps.<name>}, {instance}, "
            "{attempt}, {key}",
        ),
        (
            'subject = "order {steps.charge}"',
            'subject = "order {key}"',
            "workflow.steps[3].args.subject",
            "{key} names nothing here (only a step with a key, and its "
            "compensation, have a {key}); expected one of {payload.<field>}, "
            "{steps.<name>}, {instance}, {attempt}",
        ),
        (
            'when = "{steps.wait} == null and not {payload.vip}"',
            'when = "{attempt} > 1"',
            "workflow.steps[2].when",
            "{attempt} names nothing here (only a step's args, key and "
            "compensation have an {attempt}); expected one of {payload.<field>}, "
            "{steps.<name>}, {instance}",
        ),
        (
            'qty = "{payload.qty}"',
            'qty = "{payload.qty"',
            "workflow.steps[0].parallel[0].args.qty",
            "a '{' without its '}' at character 1 of '{payload.qty' "
            "(write '{{' for a literal brace)",
        ),
        (
            'subject = "order {steps.charge}"',
            'subject = "order {}"',
            "workflow.steps[3].args.subject",
            "an empty placeholder '{}' in 'order {}'",
        ),
        (
            'when = "{steps.wait} == null and not {payload.vip}"',
            'when = "{steps.wait} =="',
            "workflow.steps[2].when",
            "condition '{steps.wait} ==' ends too early",
        ),
        (
            'key = "{instance}:hold"',
            'key = "{instance.id}"',
            "workflow.steps[0].parallel[0].key",
            "{instance.id}: {instance} is a single value, it has no fields",
        ),
        (
            'payload = { by = "{instance}" }',
            'payload = { by = ["{payload.qty}"] }',
            "events[0].payload.by[0]",
            "{payload.qty}: the payload has no field 'qty' (its fields: none)",
        ),
    ],
)
def test_a_bad_template_is_one_line_naming_file_and_field(
    tmp_path, old, new, field, message
):
    """Templates may name only what exists where they stand."""
    path = write(tmp_path, edited(old, new))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert f"{path}: {field}: {message}" == str(caught.value)


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        ('kind = "explode"', "faults[1].kind", "expected one of fail_before, "),
        (
            'kind = "lose_output"\nprobability = 2',
            "faults[1].probability",
            "expected a number from 0 to 1, got 2",
        ),
        (
            'kind = "lose_output"\nsteps = "x"',
            "faults[1].steps",
            "unknown field; expected one of kind, step, ",
        ),
        ('step = "x"', "faults[1].kind", "missing; expected a fault kind"),
        (
            'kind = "outage"\nservice = "bank"\nstart = 1\nend = 2',
            "faults[1].service",
            'expected a declared service ("stock", "cards", "mail"), got "bank"',
        ),
        (
            'kind = "outage"\nservice = "cards"\nstart = 3\nend = 2',
            "faults[1].end",
            "expected a time after start (3), got 2",
        ),
    ],
)
def test_a_bad_fault_entry_is_one_line_naming_its_index(
    tmp_path, entry, field, message
):
    """[[faults]] go to FaultPlan.from_dicts; its field names the error."""
    path = write(tmp_path, VALID + "\n[[faults]]\n" + entry + "\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value).startswith(f"{path}: {field}: {message}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (
            "no_such_module_xyz:Saga",
            'cannot import module "no_such_module_xyz": ModuleNotFoundError: '
            "No module named 'no_such_module_xyz'",
        ),
        (
            "sagasim.scenarios.transfer:Nope",
            "module \"sagasim.scenarios.transfer\" has no 'Nope'",
        ),
        (
            "sagasim.scenarios.transfer:transfer_params",
            "sagasim.scenarios.transfer:transfer_params is not a subclass of "
            "sagasim.Workflow, got <function transfer_params",
        ),
        (
            "Transfer",
            'expected a [workflow] table or "package.module:ClassName", got "Transfer"',
        ),
    ],
)
def test_a_bad_workflow_reference_is_one_line(tmp_path, ref, message):
    """Import failures, missing names and non-workflows are reported plainly."""
    path = write(tmp_path, f'workflow = "{ref}"\n[simulation]\ninstances = 1\n')

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value).startswith(f"{path}: workflow: {message}")
    assert "\n" not in str(caught.value)


def test_a_workflow_module_that_raises_on_import_is_one_line(tmp_path):
    """Whatever the module raises becomes the error's tail, on one line."""
    (tmp_path / "broken_saga_mod.py").write_text("raise RuntimeError('no\\nway')\n")
    path = write(
        tmp_path, 'workflow = "broken_saga_mod:X"\n[simulation]\ninstances = 1\n'
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert (
        f'{path}: workflow: cannot import module "broken_saga_mod": '
        "RuntimeError: no way"
    ) == str(caught.value)


def test_missing_sections_are_named(tmp_path):
    """A file without [simulation] or a workflow says which is missing."""
    no_simulation = write(tmp_path, "[payload]\na = 1\n", "a.toml")
    no_workflow = write(tmp_path, "[simulation]\ninstances = 1\n", "b.toml")

    with pytest.raises(ScenarioError) as first:
        load_scenario(no_simulation)
    with pytest.raises(ScenarioError) as second:
        load_scenario(no_workflow)

    assert f"{no_simulation}: simulation: missing, expected a [simulation] table" == (
        str(first.value)
    )
    assert (
        f"{no_workflow}: workflow: missing, expected a [workflow] table or "
        '"module:Class"'
    ) == str(second.value)


def test_invalid_toml_names_the_line(tmp_path):
    """A TOML syntax error is one line with the position."""
    path = write(tmp_path, "[simulation\ninstances = 1\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert str(caught.value).startswith(f"{path}: line 1, column 12: invalid TOML: ")


def test_unreadable_files_are_one_line(tmp_path):
    """A missing file and a non-UTF-8 file are reported, not raised raw."""
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")

    with pytest.raises(ScenarioError) as missing:
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError) as undecodable:
        load_scenario(binary)

    assert str(missing.value).endswith(
        "nope.toml: cannot read file: No such file or directory"
    )
    assert f"{binary}: cannot read file: not UTF-8 text" == str(undecodable.value)


@pytest.mark.parametrize("path", sorted((REPO / "scenarios").glob("*.toml")))
def test_every_bundled_scenario_loads(path):
    """The files in scenarios/ are valid."""
    assert path.stem == load_scenario(path).name


def test_the_readme_example_is_a_valid_scenario(tmp_path):
    """The format reference in README.md loads, runs and finishes."""
    import re

    from sagasim.scenarios import build

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Scenario files") :]
    example = re.search(r"```toml\n(.*?)```", section, re.DOTALL).group(1)

    scenario_run = build(load_scenario(write(tmp_path, example, "readme.toml")))
    scenario_run.run()

    assert 400 == len(scenario_run.sim.instances)
    assert {"complete", "errored"} >= {
        inst.status()["status"] for inst in scenario_run.sim.instances
    }
