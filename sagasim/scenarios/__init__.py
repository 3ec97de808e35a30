"""Scenario files: load and validate TOML, build a run, the transfer saga.

- :func:`load_scenario` reads a file into a frozen :class:`Scenario`, or
  raises :class:`ScenarioError` with a one-line message.
- :func:`build` turns a scenario into a :class:`ScenarioRun`: a
  :class:`sagasim.Simulation`, its banks, and the bound workflow.
- :class:`Transfer` is the built-in bank-transfer workflow.
"""

from sagasim.scenarios.loader import ScenarioError, load_scenario, parse_scenario
from sagasim.scenarios.run import ScenarioRun, build
from sagasim.scenarios.spec import (
    AccountRef,
    BankSpec,
    Latency,
    Retries,
    Scenario,
    SimulationSpec,
    TransferSpec,
)
from sagasim.scenarios.transfer import Transfer, transfer_params

__all__ = [
    "AccountRef",
    "BankSpec",
    "Latency",
    "Retries",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "SimulationSpec",
    "Transfer",
    "TransferSpec",
    "build",
    "load_scenario",
    "parse_scenario",
    "transfer_params",
]
