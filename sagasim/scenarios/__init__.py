"""Scenario files: load and validate TOML, compile the saga, build a run.

- :func:`load_scenario` reads a file into a frozen :class:`Scenario`, or
  raises :class:`ScenarioError` with a one-line message.
- :func:`compile_workflow` turns a declarative saga into a
  :class:`sagasim.Workflow` subclass.
- :func:`build` turns a scenario into a :class:`ScenarioRun`: a
  :class:`sagasim.Simulation` with its services, faults and workflow.
- :class:`Transfer` is the built-in bank-transfer workflow, usable from a
  file as ``workflow = "sagasim.scenarios.transfer:Transfer"``.
"""

from sagasim.scenarios.loader import ScenarioError, load_scenario, parse_scenario
from sagasim.scenarios.run import ScenarioRun, build
from sagasim.scenarios.saga import DeclarativeSaga, TemplateFailure, compile_workflow
from sagasim.scenarios.spec import (
    Arrival,
    CallSpec,
    CompensationSpec,
    EventSpec,
    PayloadField,
    Scenario,
    ServiceSpec,
    SimulationSpec,
    StepSpec,
    WorkflowSpec,
)
from sagasim.scenarios.transfer import Transfer, transfer_params

__all__ = [
    "Arrival",
    "CallSpec",
    "CompensationSpec",
    "DeclarativeSaga",
    "EventSpec",
    "PayloadField",
    "Scenario",
    "ScenarioError",
    "ScenarioRun",
    "ServiceSpec",
    "SimulationSpec",
    "StepSpec",
    "TemplateFailure",
    "Transfer",
    "WorkflowSpec",
    "build",
    "compile_workflow",
    "load_scenario",
    "parse_scenario",
    "transfer_params",
]
