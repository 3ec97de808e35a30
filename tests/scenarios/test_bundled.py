"""The scenarios in scenarios/: each runs, with its results pinned for its seed."""

from __future__ import annotations

import difflib
from collections import Counter
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from sagasim.cli import main
from sagasim.scenarios import ScenarioRun, build, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@cache
def finished(stem: str) -> ScenarioRun:
    """The bundled scenario ``stem``, run to the end (once per test session)."""
    scenario_run = build(load_scenario(SCENARIOS / f"{stem}.toml"))
    scenario_run.run()
    return scenario_run


def statuses(scenario_run: ScenarioRun) -> dict[str, int]:
    return dict(Counter(inst.status()["status"] for inst in scenario_run.sim.instances))


def violations(scenario_run: ScenarioRun) -> dict[str, int]:
    return dict(Counter(scenario_run.violations()["check"]))


def fired(scenario_run: ScenarioRun) -> list[int]:
    return [int(n) for n in scenario_run.fault_report()["fired"]]


# stem: (statuses, faults fired by index, violations per check, closing totals)
EXPECTED = {
    "bank_transfer": (
        {"complete": 372, "errored": 28},
        [],
        {},
        {"money:north": 4_067_223, "money:south": 932_777},
    ),
    "order_fulfilment": (
        {"complete": 197, "errored": 53},
        [23],
        {},
        {"stock:widget": 0, "money:usd": 786_803},
    ),
    "lost_refund": (
        {"complete": 16, "errored": 4},
        [12, 10],
        {},
        {"money:usd": 127_587},
    ),
    "provisioning": (
        {"complete": 53, "errored": 7},
        [7, 19],
        {},
        {"stock:vm": 47, "stock:ip": 47, "stock:disk": 0, "money:usd": 132_500},
    ),
    "trial_signup": (
        {"complete": 11, "errored": 1},
        [1],
        {"irreversible": 1},
        {"stock:seat": 94, "money:usd": 7_400},
    ),
    "idempotency_contrast_on": (
        {"complete": 70, "errored": 30},
        [35, 28, 30, 30],
        {},
        {"stock:widget": 867, "money:usd": 359_514},
    ),
    "idempotency_contrast_off": (
        {"complete": 70, "errored": 30},
        [35, 28, 30, 30],
        {"double_effect": 63, "hold_leak": 43, "double_release": 30, "charge_leak": 9},
        {"stock:widget": 865, "money:usd": 490_147},
    ),
}


def test_every_scenario_file_is_pinned():
    """Each file in scenarios/ has its expected results below."""
    assert sorted(EXPECTED) == sorted(p.stem for p in SCENARIOS.glob("*.toml"))


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_scenario_results_are_pinned_for_its_seed(stem):
    """Statuses, fired faults, violations and closing totals, exactly."""
    scenario_run = finished(stem)
    expected_statuses, expected_fired, expected_violations, totals = EXPECTED[stem]

    closing = {
        resource: total
        for snapshot in scenario_run.closing().values()
        for resource, total in snapshot.items()
    }
    assert expected_statuses == statuses(scenario_run)
    assert expected_fired == fired(scenario_run)
    assert expected_violations == violations(scenario_run)
    assert totals == closing


def test_bank_transfer_refunds_every_failed_debit_and_balances():
    """28 credits fail for good; each debit is given back; money is kept."""
    scenario_run = finished("bank_transfer")
    effects = scenario_run.effects()

    refunds = effects[effects["rollback"] & (effects["kind"] == "credit")]
    assert 28 == len(refunds)
    assert refunds["key"].str.endswith(":debit:refund").all()
    assert 400 + 28 == (effects["service"] == "north").sum()
    assert 5_000_000 == sum(
        total for s in scenario_run.closing().values() for total in s.values()
    )


def test_order_fulfilment_refunds_every_charge_of_a_failed_order():
    """Each charge that landed for an order that failed is refunded, some
    through find(key) because the charge was cancelled before it answered."""
    scenario_run = finished("order_fulfilment")
    history = scenario_run.history()
    effects = scenario_run.effects()

    charges = (effects["kind"] == "charge").sum()
    refunds = (effects["kind"] == "refund").sum()
    assert (246, 49, 197) == (charges, refunds, charges - refunds)
    finds = history[history["op"] == "find"]
    assert (19, True) == (len(finds), bool(finds["rollback"].all()))
    assert 197 == (effects["kind"] == "send").sum()


def test_lost_refund_finds_each_lost_charge_by_key_and_refunds_it():
    """The four instances that never heard back are refunded via find(key)."""
    scenario_run = finished("lost_refund")
    history = scenario_run.history()
    errored = [
        inst.id
        for inst in scenario_run.sim.instances
        if inst.status()["status"] == "errored"
    ]

    assert ["inst-2", "inst-4", "inst-6", "inst-8"] == errored
    finds = history[history["op"] == "find"]
    assert errored == list(finds["instance"])
    assert finds["result"].str.contains('"id":"ch_').all()
    refunds = history[history["op"] == "refund"]
    assert (errored, ["ok"] * 4) == (
        list(refunds["instance"]),
        list(refunds["outcome"]),
    )
    charges = history[(history["op"] == "charge") & (history["outcome"] == "ok")]
    assert 20 == charges["key"].nunique()


def test_provisioning_releases_run_again_after_a_crash_without_effect():
    """Seven VM releases are cut off by a crash and rerun; stock is exact."""
    scenario_run = finished("provisioning")
    history = scenario_run.history()
    releases = history[(history["op"] == "release") & (history["step"] == "vm")]

    assert {"unknown": 7, "ok": 7} == releases["outcome"].value_counts().to_dict()
    effects = scenario_run.effects()
    assert 14 == (effects["kind"] == "release").sum()
    assert 7 == (scenario_run.sim.trace["event"] == "ENGINE_CRASH").sum()


def test_trial_signup_follows_events_and_trial_ends():
    """Early upgrades charge at once; a quiet trial charges or cancels on day
    14; the event for a finished trial is not delivered."""
    scenario_run = finished("trial_signup")
    outputs = {
        inst.id: inst.status()["output"] or {} for inst in scenario_run.sim.instances
    }

    upgraded = sorted(i for i, out in outputs.items() if out.get("trial"))
    assert ["inst-2", "inst-5", "inst-7"] == upgraded
    assert {"plan": "team", "by": "inst-5"} == outputs["inst-5"]["trial"]["payload"]
    charged = sorted(i for i, out in outputs.items() if out.get("charge"))
    assert ["inst-1", "inst-12", "inst-2", "inst-5", "inst-7", "inst-9"] == charged
    assert [
        ("inst-2", True),
        ("inst-5", True),
        ("inst-7", True),
        ("inst-1", False),
    ] == [(d["instance"], d["delivered"]) for d in scenario_run.deliveries]
    assert 20 * 86_400 == scenario_run.sim.now


def test_the_contrast_files_differ_only_in_keys_and_release():
    """Same seed, faults and saga; only keys and idempotent release change."""
    on = (SCENARIOS / "idempotency_contrast_on.toml").read_text().splitlines()
    off = (SCENARIOS / "idempotency_contrast_off.toml").read_text().splitlines()

    def settings(lines):
        return [line for line in lines if line and not line.startswith("#")]

    changed = [
        line
        for line in difflib.unified_diff(settings(on), settings(off), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert [
        '-description = "keys and idempotent release ON: retries, replays and '
        'rollbacks stay exact"',
        '+description = "keys and idempotent release OFF: the same faults now '
        'double effects and leak"',
        "-idempotent_release = true       # SAFE: a second release changes nothing",
        "+idempotent_release = false      # UNSAFE: every release puts stock back",
        '-key = "{instance}:hold"         # SAFE: a retried hold returns the first '
        "hold",
        '-key = "{instance}:charge"       # SAFE: a retried charge returns the first '
        "charge",
    ] == changed


def test_the_contrast_pair_sees_the_same_faults_and_counts_their_harm():
    """Both sides fire the same faults at the same attempts; the safe side has
    no violations, the unsafe side one per repeated effect and per leak."""
    safe, unsafe = (
        finished("idempotency_contrast_on"),
        finished("idempotency_contrast_off"),
    )
    faults = safe.sim.trace[safe.sim.trace["event"] == "FAULT_INJECTED"]
    unsafe_faults = unsafe.sim.trace[unsafe.sim.trace["event"] == "FAULT_INJECTED"]

    columns = ["time", "instance", "step", "attempt", "detail"]
    assert (
        faults[columns]
        .reset_index(drop=True)
        .equals(unsafe_faults[columns].reset_index(drop=True))
    )
    assert 0 == len(safe.violations())

    found = unsafe.violations()
    lost = fired(unsafe)[0] + fired(unsafe)[1]
    assert (63, 63) == (lost, (found["check"] == "double_effect").sum())
    rolled_back = statuses(unsafe)["errored"]
    assert (30, 30) == (rolled_back, (found["check"] == "double_release").sum())
    effects = unsafe.effects()
    assert (2 * 100 + 63 + 70, 30 * 2 + 30) == (
        (~effects["rollback"]).sum(),
        effects["rollback"].sum(),
    )


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_each_scenario_runs_from_the_command_line(stem, tmp_path, capsys):
    """`sagasim run` prints every section and writes the five files."""
    status = main(
        ["run", str(SCENARIOS / f"{stem}.toml"), "-o", str(tmp_path), "--no-charts"]
    )

    out, err = capsys.readouterr()
    assert (0, "") == (status, err)
    for heading in ("instances\n", "steps ", "attempts ", "rollbacks ", "faults: "):
        assert heading in out
    assert "violations: " in out
    assert "totals " in out
    expected_violations = sum(EXPECTED[stem][2].values())
    if expected_violations:
        assert f"violations: {expected_violations:,}\n" in out
    else:
        assert "violations: none\n" in out
    written = pd.read_csv(tmp_path / "violations.csv")
    assert expected_violations == len(written)
    assert ["effects.csv", "faults.csv", "history.csv", "trace.csv"] + [
        "violations.csv"
    ] == sorted(p.name for p in tmp_path.iterdir())
