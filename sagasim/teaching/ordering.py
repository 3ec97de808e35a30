"""Notebook 02: reverse start order against completion order, in parallel.

A :class:`Trip` books a flight, a hotel and a car at three suppliers at
once (three ``step.do`` calls started in that order, then awaited together),
then pays, and the payment is declined. Every booking is rolled back. The
engine undoes them in reverse order of *start* (car, hotel, flight), which
the code fixes; the order in which they *finished* depends on the
suppliers' latencies, so it changes from run to run:
:func:`orders_across_seeds` shows both for several seeds.

:func:`policies_table` makes the hotel refuse (no rooms) while the flight
and the car are still in flight and compares the three in-flight policies:
``cancel`` (stop them; their handlers see ``UNDEFINED``), ``drain`` (wait
for them, then undo with their outputs) and ``race`` (undo while they run,
so a release can arrive before the hold it undoes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

import sagasim
from sagasim.checks import run_checks
from sagasim.plots.data import rollback_orders, step_label
from sagasim.services import Inventory, UnknownHold

__all__ = [
    "LEGS",
    "Trip",
    "TripRun",
    "orders_across_seeds",
    "orders_table",
    "policies_table",
    "trip",
    "trips",
]

LEGS = ("flight", "hotel", "car")
"""The bookings, in the order the trip starts them."""


class Trip(sagasim.Workflow):
    """Book :data:`LEGS` in parallel, then pay; the payment is declined.

    Each leg holds one unit at the supplier bound under its name, with the
    key ``"<instance>:<leg>"``; its handler releases the hold by id, or by
    key when it never got the id (``UNDEFINED``), and takes "no such hold"
    as nothing to undo. A leg refused by its supplier (``OutOfStock``)
    fails ``run()`` at once.
    """

    name = "trip"

    async def run(self, event: dict[str, Any], step: Any) -> None:
        instance = event["instance_id"]

        def leg(name: str):
            supplier: Inventory = self.env[name]
            key = f"{instance}:{name}"

            async def book(ctx: Any) -> str:
                return await supplier.hold(name, 1, key=key)

            async def release(output: Any, error: Any, ctx: Any) -> None:
                try:
                    await supplier.release(
                        key if output is sagasim.UNDEFINED else output
                    )
                except UnknownHold:
                    pass  # nothing was held: nothing to undo

            return step.do(
                name,
                book,
                config={"retries": {"limit": 0, "delay": 0}},
                rollback=release,
            )

        bookings = [leg(name) for name in LEGS]
        await sagasim.gather(*bookings)

        def pay(ctx: Any) -> None:
            raise sagasim.NonRetryableError("card declined")

        await step.do("pay", pay)


@dataclass
class TripRun:
    """A finished :class:`Trip`: the simulation, the instance, the suppliers."""

    sim: sagasim.Simulation
    instance: sagasim.Instance
    suppliers: dict[str, Inventory]


def trip(
    seed: int = 0,
    *,
    latency: dict[str, Any] | None = None,
    full: tuple[str, ...] = (),
    inflight: str = "cancel",
) -> TripRun:
    """Run one :class:`Trip`.

    ``latency`` gives each supplier's request latency (ms, or ``(min,
    max)`` for uniform); by default each is uniform from 50 to 400 ms, so
    the seed decides which finishes first. Suppliers named in ``full`` have
    nothing left, so their booking is refused.
    """
    return trips(1, seed, latency=latency, full=full, inflight=inflight)


def orders_table(run: TripRun) -> pd.DataFrame:
    """For each leg, in start order: when it started and finished (s), its
    place in start order and in completion order, and the place its handler
    ran in."""
    orders = rollback_orders(run.sim.trace, run.instance.id)
    started = list(reversed(orders.reverse_start))
    finished = list(reversed(orders.reverse_completion))
    rows = []
    for key in started:
        rows.append(
            {
                "step": step_label(*key),
                "started (s)": orders.start_time[key],
                "finished (s)": orders.settle_time[key],
                "start order": started.index(key) + 1,
                "finished order": finished.index(key) + 1,
                "undone": orders.ran.index(key) + 1,
            }
        )
    return pd.DataFrame(rows)


def orders_across_seeds(seeds: range | list[int] = range(6)) -> pd.DataFrame:
    """Per seed: the legs in start order, in completion order, in the order
    the engine undid them, and in reverse completion order."""
    rows = []
    for seed in seeds:
        run = trip(seed)
        orders = rollback_orders(run.sim.trace, run.instance.id)
        rows.append(
            {
                "seed": seed,
                "started": _names(reversed(orders.reverse_start)),
                "finished": _names(reversed(orders.reverse_completion)),
                "undone (engine)": _names(orders.ran),
                "reverse completion": _names(orders.reverse_completion),
            }
        )
    return pd.DataFrame(rows)


def _names(keys: Any) -> str:
    return " > ".join(key[0] for key in keys)


def trips(
    count: int,
    seed: int = 0,
    *,
    latency: dict[str, Any] | None = None,
    full: tuple[str, ...] = (),
    inflight: str = "cancel",
) -> TripRun:
    """Run ``count`` :class:`Trip` instances in one simulation, 100 ms
    apart; the arguments are those of :func:`trip`. ``instance`` is the
    first one."""
    latency = latency or {name: (50, 400) for name in LEGS}
    sim = sagasim.Simulation(seed=seed, inflight=inflight)
    suppliers = {
        name: Inventory(
            sim,
            name,
            stock={name: 0 if name in full else 10 * count},
            latency=latency[name],
            idempotent_release=True,
        )
        for name in LEGS
    }
    sim.bindings.update(suppliers)
    for index in range(count):
        sim.create(Trip, at=index * 0.1)
    sim.run()
    return TripRun(sim, sim.instances[0], suppliers)


def policies_table(count: int = 50, seed: int = 0) -> pd.DataFrame:
    """The hotel is full: its refusal fails ``run()`` while the flight and
    the car may still be on their way (every supplier answers in 50 to
    400 ms). ``count`` trips per in-flight policy; one row per policy: the
    handler runs that saw ``UNDEFINED``, the holds that landed, were
    released and were left in place, the mean time from the refusal to the
    end of the rollback, and the violations the checks found, by check."""
    rows = []
    for policy in ("cancel", "drain", "race"):
        run = trips(count, seed, full=("hotel",), inflight=policy)
        holds = [
            record
            for supplier in run.suppliers.values()
            for record in supplier.holds.values()
        ]
        released = sum(1 for record in holds if record["releases"])
        undefined = sum(
            record["output_undefined"]
            for instance in run.sim.instances
            for record in instance.rollbacks
        )
        trace = run.sim.trace
        began = trace[trace["event"] == "ROLLBACK_START"].groupby("instance")["time"]
        ended = trace[trace["event"] == "ROLLBACK_COMPLETE"].groupby("instance")["time"]
        violations = run_checks(run.sim)["check"].value_counts()
        rows.append(
            {
                "inflight": policy,
                "trips": count,
                "saw UNDEFINED": undefined,
                "holds landed": len(holds),
                "holds released": released,
                "holds left": len(holds) - released,
                "rollback (s, mean)": round(
                    float((ended.max() - began.min()).mean()), 3
                ),
                "violations": ", ".join(f"{k}: {v}" for k, v in violations.items())
                or "none",
            }
        )
    return pd.DataFrame(rows)
