"""Conservation of totals across a run."""

import sagasim
from sagasim.checks import conservation, snapshot

from .conftest import NO_RETRIES, Ledger, effect, found


def test_equal_totals_are_clean():
    """Totals unchanged over the run: no violation."""
    assert found(conservation({"money:USD": 900}, {"money:USD": 900})) == []


def test_a_drift_is_reported_per_resource():
    """Each resource whose total changed is one row, with no evidence."""
    result = conservation(
        {"money:USD": 900, "money:EUR": 50}, {"money:USD": 400, "money:EUR": 50}
    )

    assert found(result) == [("conservation", "", "money:USD", ())]
    assert "-500" in result["message"][0]


def test_a_resource_missing_after_the_run_counts_as_zero():
    """A resource absent from the closing totals has drifted to zero."""
    assert found(conservation({"money:USD": 10}, {})) == [
        ("conservation", "", "money:USD", ())
    ]


def test_only_the_resources_opened_are_checked():
    """Stock left out of the opening totals is not judged."""
    assert found(conservation({"money:USD": 5}, {"money:USD": 5, "stock:x": -3})) == []


def test_a_pool_sums_resources_named_per_bank():
    """Money moved between two banks balances once pooled, not per bank."""
    opening = {"money:A": 100, "money:B": 0}
    closing = {"money:A": 60, "money:B": 40}

    pooled = conservation(opening, closing, pool=lambda r: r.split(":")[0])
    separate = conservation(opening, closing)

    assert found(pooled) == []
    assert found(separate) == [
        ("conservation", "", "money:A", ()),
        ("conservation", "", "money:B", ()),
    ]


def test_a_ledger_that_does_not_explain_the_totals_is_reported():
    """Effects adding up to another change than the totals' is a mismatch."""
    effects = [effect(1, "debit", "alice", -500)]

    result = conservation({"money:USD": 900}, {"money:USD": 900}, effects=effects)

    assert found(result) == [("ledger_mismatch", "", "money:USD", ())]


def test_a_ledger_that_explains_the_drift_reports_the_drift_only():
    """A debit that explains the drift: conservation only."""
    effects = [effect(1, "debit", "alice", -500)]

    result = conservation({"money:USD": 900}, {"money:USD": 400}, effects=effects)

    assert found(result) == [("conservation", "", "money:USD", ())]


def test_snapshot_sums_the_services_of_a_simulation():
    """snapshot(sim) adds up every binding's snapshot() and skips the rest."""
    sim = sagasim.Simulation()
    a, b = Ledger(sim, "A"), Ledger(sim, "B")
    a.balances = {"alice": 700}
    b.balances = {"bob": 200}
    sim.bindings.update(A=a, B=b, CONFIG={"not": "a service"})

    assert snapshot(sim) == {"money:USD": 900}
    assert snapshot([a]) == {"money:USD": 700}


async def nothing(ctx):
    return None


class Transfer(sagasim.Workflow):
    """Debit alice at A, credit bob at B, then fail; undo with the opposite."""

    undo_debit = True

    async def run(self, event, step):
        a, b = self.env["A"], self.env["B"]

        async def credit_back(output, error, ctx):
            await a.credit("alice", 500)

        async def debit_back(output, error, ctx):
            await b.debit("bob", 500)

        await step.do(
            "debit",
            lambda: a.debit("alice", 500),
            rollback=credit_back if self.undo_debit else None,
        )
        await step.do("credit", lambda: b.credit("bob", 500), rollback=debit_back)

        async def fail():
            raise sagasim.NonRetryableError("limit exceeded")

        await step.do("fail", fail, config=NO_RETRIES)


class TransferWithoutUndoDebit(Transfer):
    undo_debit = False


def transfer(workflow):
    sim = sagasim.Simulation()
    a, b = Ledger(sim, "A", latency=20), Ledger(sim, "B", latency=30)
    a.balances = {"alice": 800}
    b.balances = {"bob": 100}
    sim.bindings.update(A=a, B=b)
    opening = snapshot(sim)
    sim.create(workflow)
    sim.run()
    return sim, opening, a.effects + b.effects


def test_a_compensated_transfer_between_banks_conserves_money():
    """Both legs undone: the total over both banks is what it was."""
    sim, opening, effects = transfer(Transfer)

    assert len(effects) == 4
    assert found(conservation(opening, snapshot(sim), effects=effects)) == []


def test_a_transfer_whose_debit_is_not_undone_loses_money():
    """A debit without a handler destroys 500 across the banks."""
    sim, opening, effects = transfer(TransferWithoutUndoDebit)

    result = conservation(opening, snapshot(sim), effects=effects)

    assert found(result) == [("conservation", "", "money:USD", ())]
    assert "-500" in result["message"][0]
