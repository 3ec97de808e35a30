"""Running every check over a simulation or a saved run."""

import pandas as pd

import sagasim
from sagasim.checks import (
    COLUMNS,
    Violation,
    check_run,
    concat,
    empty,
    ledgers,
    run_checks,
    services,
    snapshot,
)

from .conftest import NO_RETRIES, Ledger, found


class Order(sagasim.Workflow):
    """Debit, charge and notify, then maybe fail; the notify cannot be undone,
    and the debit's handler may be missing."""

    async def run(self, event, step):
        bank, mail = self.env["BANK"], self.env["MAIL"]
        payload = event["payload"]

        async def credit_back(output, error, ctx):
            await bank.credit("alice", 300)

        async def refund(output, error, ctx):
            await bank.refund(output)

        await step.do(
            "debit",
            lambda: bank.debit("alice", 300),
            rollback=credit_back if payload["undo_debit"] else None,
        )
        await step.do("charge", lambda: bank.charge(50), rollback=refund)
        if payload["notify"]:
            await step.do("notify", lambda: mail.send("alice"))
        if payload["fail"]:

            async def fail():
                raise sagasim.NonRetryableError("declined")

            await step.do("fail", fail, config=NO_RETRIES)


def order(**payload):
    params = {"undo_debit": True, "notify": False, "fail": True} | payload
    sim = sagasim.Simulation()
    bank, mail = Ledger(sim, latency=10), Ledger(sim, "MAIL", latency=5)
    bank.balances = {"alice": 1000}
    sim.bindings.update(BANK=bank, MAIL=mail, ALSO_BANK=bank, SETTINGS={"x": 1})
    opening = {"money:USD": snapshot(sim)["money:USD"]}
    sim.create(Order, params=params)
    sim.run()
    return sim, opening


def test_a_clean_run_gives_an_empty_frame_with_the_columns():
    """A compensated run: no rows, the five columns."""
    sim, opening = order()

    result = run_checks(sim, opening=opening)

    assert list(result.columns) == list(COLUMNS)
    assert found(result) == []


def test_services_are_the_ledgered_bindings_each_once():
    """A service bound under two names counts once; plain bindings are not
    services."""
    sim, _ = order()

    assert [s.name for s in services(sim)] == ["BANK", "MAIL"]
    history, effects = ledgers(sim)
    assert len(history) == len(effects) == 4


def test_violations_of_several_checks_come_in_one_frame():
    """A missing handler and an irreversible send: the leak, the drift and the
    send, checks in order."""
    sim, opening = order(undo_debit=False, notify=True)

    assert found(run_checks(sim, opening=opening)) == [
        ("money_leak", "inst-1", "BANK:alice", (1,)),
        ("irreversible", "inst-1", "MAIL:msg_1", (1,)),
        ("conservation", "", "money:USD", ()),
    ]


def test_conservation_is_checked_only_with_opening_totals():
    """Without opening totals there is nothing to compare the closing with."""
    sim, _ = order(undo_debit=False)

    assert list(run_checks(sim)["check"]) == ["money_leak"]


def test_a_saved_run_gives_the_same_violations(tmp_path):
    """The trace through CSV and the ledgers as lists: same rows."""
    sim, opening = order(undo_debit=False, notify=True)
    history, effects = ledgers(sim)
    path = tmp_path / "trace.csv"
    sim.trace.to_csv(path, index=False)

    saved = check_run(
        pd.read_csv(path),
        effects,
        history,
        opening=opening,
        closing=snapshot(sim),
        on_rollback_failure="halt",
    )

    pd.testing.assert_frame_equal(saved, run_checks(sim, opening=opening))


def test_concat_keeps_the_columns_when_every_part_is_empty():
    """Concatenating clean results is a clean result."""
    one = pd.DataFrame([Violation("x", "i", "s", "m", (1,))], columns=list(COLUMNS))

    assert list(concat([empty(), empty()]).columns) == list(COLUMNS)
    assert len(concat([empty(), one, one])) == 2
    assert list(concat([empty(), one]).index) == [0]
