"""The step and rollback engine, independent of SimPy.

It runs against the small :class:`~sagasim.engine.clock.Clock` interface;
:mod:`sagasim.runtime` provides that clock on a SimPy environment.
"""

from sagasim.engine.attempts import StepContext, StepInfo
from sagasim.engine.config import DEFAULT_CONFIG, StepConfig, resolve_config
from sagasim.engine.instance import TERMINAL, Instance
from sagasim.engine.workflow import Step, Workflow

__all__ = [
    "DEFAULT_CONFIG",
    "TERMINAL",
    "Instance",
    "Step",
    "StepConfig",
    "StepContext",
    "StepInfo",
    "Workflow",
    "resolve_config",
]
