"""Turning a validated scenario into a simulation and running it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sagasim
from sagasim.scenarios.spec import Scenario
from sagasim.scenarios.transfer import Transfer, transfer_params
from sagasim.services.bank import Bank

__all__ = ["ScenarioRun", "build"]


@dataclass
class ScenarioRun:
    """One simulation of a scenario: the simulation, its banks, its workflow.

    The banks are bound in the simulation under their names, where the
    workflow finds them.

    ``seed`` is the seed the simulation uses; ``opening`` holds each bank's
    total in cents before anything ran.
    """

    scenario: Scenario
    seed: int
    sim: sagasim.Simulation
    banks: dict[str, Bank]
    workflow: type[Transfer]
    opening: dict[str, int] = field(default_factory=dict)

    def arrivals(self) -> Iterator[int]:
        """The creation time of each instance, in integer milliseconds."""
        spec = self.scenario.simulation
        for index in range(spec.instances):
            yield index * spec.arrival_interval_ms

    def run(self, progress: Callable[[int], None] | None = None) -> None:
        """Create every instance at its arrival time, then run to the end.

        Instances are created between ``sim.run(until=...)`` calls, so each
        one starts at exactly its arrival instant. Amounts come from the
        scenario's own random stream, in creation order, so adding instances
        leaves the earlier amounts unchanged. ``progress`` is called with 1
        after each creation.
        """
        transfer = self.scenario.transfer
        rng = self.sim.rng("scenario:amount")
        source = (transfer.source.bank, transfer.source.account)
        destination = (transfer.destination.bank, transfer.destination.account)
        config = transfer.step_config()

        for arrival_ms in self.arrivals():
            if arrival_ms > self.sim.env.now:
                self.sim.run(until=arrival_ms / 1000)
            amount = rng.randint(transfer.amount_min, transfer.amount_max)
            self.sim.create(
                self.workflow,
                params=transfer_params(amount, source, destination, config),
            )
            if progress is not None:
                progress(1)
        self.sim.run()

    def closing(self) -> dict[str, int]:
        """Each bank's total in cents now."""
        return {name: bank.total() for name, bank in self.banks.items()}


def build(scenario: Scenario, *, seed: int | None = None) -> ScenarioRun:
    """A fresh simulation of ``scenario``, nothing run yet.

    ``seed`` overrides the scenario's seed.
    """
    spec = scenario.simulation
    seed = spec.seed if seed is None else seed
    sim = sagasim.Simulation(seed=seed, max_concurrent=spec.max_concurrent)
    banks = {
        bank.name: Bank(
            sim,
            bank.name,
            dict(bank.accounts),
            latency=bank.latency.value,
            outages=bank.outages,
        )
        for bank in scenario.banks
    }
    sim.bindings.update(banks)
    return ScenarioRun(
        scenario=scenario,
        seed=seed,
        sim=sim,
        banks=banks,
        workflow=Transfer,
        opening={name: bank.total() for name, bank in banks.items()},
    )
