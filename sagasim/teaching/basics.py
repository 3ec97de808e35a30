"""Notebook 01, saga basics: a bank transfer, and what rolls back and why.

:func:`transfer` runs one transfer from ``north`` (alice) to ``south``
(bob) in one of three :data:`CASES`; :func:`cases_table` runs all three and
says, for each, how the instance ended, which rollback handlers ran (in the
order they ran) and where the money is. The rules it shows:

- handlers run only because ``run()`` failed terminally;
- only steps that *started* are rolled back, newest start first;
- the failing step is rolled back too, first, with ``output`` ``UNDEFINED``,
  so its handler must decide whether there is anything to undo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

import sagasim
from sagasim.scenarios.transfer import Transfer, transfer_params
from sagasim.services import Bank

__all__ = ["CASES", "TransferStory", "cases_table", "transfer"]

OPENING = {"alice": 10_000, "bob": 0}
"""Opening balances, in cents."""

CASES = {
    "succeeds": "both banks up: debit, then credit",
    "credit fails": "south is down for a minute: the credit runs out of retries",
    "debit refused": "alice is asked for more than she has: the debit is refused",
}
"""The three transfers, by name, with what happens in each."""

_RETRIES = {"retries": {"limit": 2, "delay": "5 seconds", "backoff": "exponential"}}


@dataclass
class TransferStory:
    """One finished transfer: the simulation, the instance and both banks."""

    case: str
    sim: sagasim.Simulation
    instance: sagasim.Instance
    north: Bank
    south: Bank

    def balances(self) -> dict[str, int]:
        """alice's and bob's balances now, in cents."""
        return {"alice": self.north.balance("alice"), "bob": self.south.balance("bob")}

    def handlers(self) -> list[str]:
        """The handlers that ran, in order, as ``"step (UNDEFINED)"`` when
        the handler received no output."""
        return [
            record["step"] + (" (UNDEFINED)" if record["output_undefined"] else "")
            for record in self.instance.rollbacks
        ]


def transfer(case: str = "credit fails", *, seed: int = 7, amount: int = 1_000):
    """Run one :class:`~sagasim.scenarios.Transfer` of ``amount`` cents in
    ``case`` (a key of :data:`CASES`) and return its :class:`TransferStory`.

    Both steps retry twice, 5 s then 10 s apart. In ``"credit fails"`` the
    south bank is down for the first 60 s; in ``"debit refused"`` the
    amount is more than alice's balance (``InsufficientFunds`` is not
    retried).
    """
    if case not in CASES:
        raise ValueError(f"case must be one of {list(CASES)}, got {case!r}")
    sim = sagasim.Simulation(seed=seed)
    north = Bank(sim, "north", {"alice": OPENING["alice"]}, latency=(20, 80))
    outages = [(0, 60)] if case == "credit fails" else []
    south = Bank(sim, "south", {"bob": OPENING["bob"]}, latency=50, outages=outages)
    sim.bindings.update(north=north, south=south)
    if case == "debit refused":
        amount = OPENING["alice"] + 1
    params = transfer_params(amount, ("north", "alice"), ("south", "bob"), _RETRIES)
    instance = sim.create(Transfer, params=params)
    sim.run()
    return TransferStory(case, sim, instance, north, south)


def cases_table(seed: int = 7) -> pd.DataFrame:
    """One row per case: ``status``, ``error``, ``steps started``,
    ``handlers run`` (in order), alice's and bob's closing balances, and
    the simulated seconds it took."""
    rows = []
    for case in CASES:
        story = transfer(case, seed=seed)
        status = story.instance.status()
        trace = story.sim.trace
        started = trace.loc[trace["event"] == "STEP_START", "step"].tolist()
        rows.append(
            {
                "case": case,
                "status": status["status"],
                "error": (status["error"] or {}).get("name", ""),
                "steps started": ", ".join(started),
                "handlers run": ", ".join(story.handlers()) or "none",
                "alice": story.balances()["alice"],
                "bob": story.balances()["bob"],
                "seconds": story.sim.now,
            }
        )
    return pd.DataFrame(rows)


def books(run: Any) -> pd.DataFrame:
    """Each conserved resource of a scenario run, opening and closing."""
    opening = {k: v for totals in run.opening.values() for k, v in totals.items()}
    closing = {k: v for totals in run.closing().values() for k, v in totals.items()}
    frame = pd.DataFrame({"opening": pd.Series(opening), "closing": pd.Series(closing)})
    frame.loc["total"] = frame.sum()
    return frame
