"""Loading and validating scenario TOML files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sagasim.scenarios import (
    AccountRef,
    BankSpec,
    Latency,
    Retries,
    ScenarioError,
    SimulationSpec,
    TransferSpec,
    load_scenario,
)

REPO = Path(__file__).resolve().parent.parent

VALID = """\
[simulation]
seed = 3
instances = 10
arrival_interval = 250
max_concurrent = 4

[[banks]]
name = "north"
latency = 50
accounts = { alice = 10_000 }

[[banks]]
name = "south"
latency = { min = 10, max = 30 }
accounts = { bob = 0 }
outages = [[1, 2.5]]

[transfer]
amount = 1_000
from = { bank = "north", account = "alice" }
to = { bank = "south", account = "bob" }
retries = { limit = 2, delay = "500 ms", backoff = "constant" }
timeout = "5 seconds"
"""


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def test_valid_file_loads_into_frozen_dataclasses(tmp_path):
    """Every field of a valid file lands in the dataclasses, in units."""
    scenario = load_scenario(write(tmp_path, VALID))

    assert scenario.name == "x"
    assert scenario.path == tmp_path / "x.toml"
    assert scenario.simulation == SimulationSpec(
        seed=3, instances=10, arrival_interval_ms=250, max_concurrent=4
    )
    assert scenario.banks == (
        BankSpec("north", Latency(50, 50), {"alice": 10_000}, ()),
        BankSpec("south", Latency(10, 30), {"bob": 0}, ((1.0, 2.5),)),
    )
    assert scenario.transfer == TransferSpec(
        amount_min=1_000,
        amount_max=1_000,
        source=AccountRef("north", "alice"),
        destination=AccountRef("south", "bob"),
        retries=Retries(limit=2, delay_ms=500, backoff="constant"),
        timeout_ms=5_000,
    )
    assert {
        "retries": {"limit": 2, "delay": 500, "backoff": "constant"},
        "timeout": 5_000,
    } == scenario.transfer.step_config()


def test_scenario_cannot_be_modified(tmp_path):
    """A loaded scenario is frozen, accounts included."""
    scenario = load_scenario(write(tmp_path, VALID))

    with pytest.raises(dataclasses.FrozenInstanceError):
        scenario.simulation.instances = 5
    with pytest.raises(TypeError):
        scenario.banks[0].accounts["alice"] = 0


def test_optional_fields_take_their_defaults(tmp_path):
    """Seed, arrival interval, concurrency, latency, outages, retries, timeout."""
    text = """\
[simulation]
instances = 1

[[banks]]
name = "only"
accounts = { a = 5, b = 0 }

[transfer]
amount = { min = 1, max = 5 }
from = { bank = "only", account = "a" }
to = { bank = "only", account = "b" }
"""
    scenario = load_scenario(write(tmp_path, text))

    assert SimulationSpec(0, 1, 0, 50_000) == scenario.simulation
    assert BankSpec("only", Latency(0, 0), {"a": 5, "b": 0}, ()) == scenario.banks[0]
    assert (1, 5) == (scenario.transfer.amount_min, scenario.transfer.amount_max)
    assert scenario.transfer.retries is None
    assert scenario.transfer.timeout_ms is None
    assert scenario.transfer.step_config() is None


def test_durations_accept_milliseconds_and_unit_strings(tmp_path):
    """Durations are a number of milliseconds or "<n> <unit>"."""
    text = edited("arrival_interval = 250", 'arrival_interval = "2 seconds"')
    text = text.replace('delay = "500 ms"', "delay = 0")

    scenario = load_scenario(write(tmp_path, text))

    assert 2_000 == scenario.simulation.arrival_interval_ms
    assert 0 == scenario.transfer.retries.delay_ms


def test_retries_backoff_defaults_to_exponential(tmp_path):
    """A retries table without backoff gets exponential, as the engine does."""
    text = edited(', backoff = "constant"', "")

    scenario = load_scenario(write(tmp_path, text))

    assert Retries(limit=2, delay_ms=500, backoff="exponential") == (
        scenario.transfer.retries
    )


def test_bundled_demo_scenario_is_valid():
    """scenarios/bank_transfer.toml loads and has an outage at the second bank."""
    scenario = load_scenario(REPO / "scenarios" / "bank_transfer.toml")

    assert "bank_transfer" == scenario.name
    assert ("north", "south") == tuple(bank.name for bank in scenario.banks)
    assert () == scenario.bank("north").outages
    assert ((15.0, 25.0),) == scenario.bank("south").outages
    assert 400 == scenario.simulation.instances


DURATION = 'a duration (milliseconds or "<n> <unit>")'

ERRORS = [
    pytest.param(
        edited("instances = 10", 'instances = "ten"'),
        'simulation.instances: expected a positive integer, got "ten"',
        id="instances-string",
    ),
    pytest.param(
        edited("instances = 10", "instances = 0"),
        "simulation.instances: expected a positive integer, got 0",
        id="instances-zero",
    ),
    pytest.param(
        edited("instances = 10", "instances = true"),
        "simulation.instances: expected a positive integer, got true",
        id="instances-bool",
    ),
    pytest.param(
        edited("instances = 10\n", ""),
        "simulation.instances: missing, expected a positive integer",
        id="instances-missing",
    ),
    pytest.param(
        edited("seed = 3", "seed = -1"),
        "simulation.seed: expected a non-negative integer, got -1",
        id="seed-negative",
    ),
    pytest.param(
        edited("max_concurrent = 4", "max_concurrent = 2.5"),
        "simulation.max_concurrent: expected a positive integer, got 2.5",
        id="max-concurrent-float",
    ),
    pytest.param(
        edited("arrival_interval = 250", 'arrival_interval = "10 parsecs"'),
        f'simulation.arrival_interval: expected {DURATION}, got "10 parsecs"',
        id="duration-unknown-unit",
    ),
    pytest.param(
        edited("arrival_interval = 250", "arrival_interval = -250"),
        f"simulation.arrival_interval: expected {DURATION}, got -250",
        id="duration-negative",
    ),
    pytest.param(
        edited("seed = 3", "sede = 3"),
        "simulation.sede: unknown field, expected one of "
        "seed, instances, arrival_interval, max_concurrent",
        id="unknown-simulation-field",
    ),
    pytest.param(
        VALID + "\n[extra]\nx = 1\n",
        "extra: unknown field, expected one of simulation, banks, transfer",
        id="unknown-table",
    ),
    pytest.param(
        VALID[: VALID.index("[transfer]")],
        "transfer: missing, expected a [transfer] table",
        id="transfer-missing",
    ),
    pytest.param(
        "simulation = 5\n" + VALID[VALID.index("[[banks]]") :],
        "simulation: expected a table, got 5",
        id="simulation-not-table",
    ),
    pytest.param(
        VALID[: VALID.index("[[banks]]")] + VALID[VALID.index("[transfer]") :],
        "banks: missing, expected an array of [[banks]]",
        id="banks-missing",
    ),
    pytest.param(
        edited('name = "south"', 'name = "north"'),
        'banks[1].name: expected a name not used by banks[0], got "north"',
        id="bank-name-duplicate",
    ),
    pytest.param(
        edited('name = "north"\n', ""),
        "banks[0].name: missing, expected a bank name",
        id="bank-name-missing",
    ),
    pytest.param(
        edited("latency = 50", "latency = -5"),
        "banks[0].latency: expected milliseconds (a non-negative integer) "
        "or { min, max }, got -5",
        id="latency-negative",
    ),
    pytest.param(
        edited("latency = { min = 10, max = 30 }", "latency = { min = 50, max = 10 }"),
        "banks[1].latency.max: expected at least min (50), got 10",
        id="latency-range-inverted",
    ),
    pytest.param(
        edited("latency = { min = 10, max = 30 }", "latency = { min = 10, mean = 20 }"),
        "banks[1].latency.mean: unknown field, expected one of min, max",
        id="latency-unknown-key",
    ),
    pytest.param(
        edited("alice = 10_000", "alice = 1.5"),
        "banks[0].accounts.alice: expected a non-negative integer of cents, got 1.5",
        id="balance-float",
    ),
    pytest.param(
        edited("accounts = { bob = 0 }", 'accounts = "bob"'),
        'banks[1].accounts: expected a table of account balances, got "bob"',
        id="accounts-not-table",
    ),
    pytest.param(
        edited("outages = [[1, 2.5]]", "outages = [[25, 15]]"),
        "banks[1].outages[0]: expected 0 <= start < end, got [25, 15]",
        id="outage-inverted",
    ),
    pytest.param(
        edited("outages = [[1, 2.5]]", "outages = [[1, 2], [5]]"),
        "banks[1].outages[1]: expected [start, end] in seconds, got [5]",
        id="outage-short",
    ),
    pytest.param(
        edited("outages = [[1, 2.5]]", 'outages = [["noon", 2]]'),
        'banks[1].outages[0]: expected [start, end] in seconds, got ["noon", 2]',
        id="outage-not-number",
    ),
    pytest.param(
        edited("amount = 1_000", 'amount = "lots"'),
        "transfer.amount: expected a positive integer of cents or { min, max }, "
        'got "lots"',
        id="amount-string",
    ),
    pytest.param(
        edited("amount = 1_000", "amount = { min = 0, max = 5 }"),
        "transfer.amount.min: expected a positive integer of cents, got 0",
        id="amount-range-zero",
    ),
    pytest.param(
        edited('from = { bank = "north"', 'from = { bank = "east"'),
        'transfer.from.bank: expected one of the banks "north", "south", got "east"',
        id="from-bank-unknown",
    ),
    pytest.param(
        edited('account = "bob"', 'account = "carol"'),
        'transfer.to.account: expected an account of bank "south" ("bob"), got "carol"',
        id="to-account-unknown",
    ),
    pytest.param(
        edited('to = { bank = "south", account = "bob" }', 'to = "bob"'),
        'transfer.to: expected a table { bank, account }, got "bob"',
        id="to-not-table",
    ),
    pytest.param(
        edited('backoff = "constant"', 'backoff = "quadratic"'),
        "transfer.retries.backoff: expected one of constant, linear, exponential, "
        'got "quadratic"',
        id="backoff-unknown",
    ),
    pytest.param(
        edited('delay = "500 ms", ', ""),
        "transfer.retries.delay: missing, expected a duration",
        id="retries-delay-missing",
    ),
    pytest.param(
        edited("limit = 2", "limit = -1"),
        "transfer.retries.limit: expected a non-negative integer, got -1",
        id="retries-limit-negative",
    ),
    pytest.param(
        edited('timeout = "5 seconds"', "timeout = 0"),
        'transfer.timeout: expected a positive duration (milliseconds or "<n> '
        '<unit>"), got 0',
        id="timeout-zero",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_invalid_field_names_file_field_and_expectation(tmp_path, text, expected):
    """Each problem is one line: the file, the dotted field, what was expected."""
    path = write(tmp_path, text)

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert f"{path}: {expected}" == str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_is_reported(tmp_path):
    """A file that does not exist names itself and the reason."""
    path = tmp_path / "nope.toml"

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert f"{path}: cannot read file: No such file or directory" == str(caught.value)


def test_invalid_toml_reports_line_and_column(tmp_path):
    """A TOML syntax error names the line and column it was found at."""
    path = write(tmp_path, edited("instances = 10", "instances = = 10"))

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert f"{path}: line 3, column 13: invalid TOML: Invalid value" == str(
        caught.value
    )


def test_unterminated_toml_reports_end_of_file(tmp_path):
    """A syntax error at the very end says so."""
    path = write(tmp_path, VALID + 'note = "unfinished')

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert f"{path}: end of file: invalid TOML: Unterminated string" == str(
        caught.value
    )


def test_file_that_is_not_utf8_is_reported(tmp_path):
    """Bytes that are not UTF-8 are a scenario error, not a crash."""
    path = tmp_path / "x.toml"
    path.write_bytes(b"[simulation]\ninstances = 1 # \xff\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert f"{path}: cannot read file: not UTF-8 text" == str(caught.value)
