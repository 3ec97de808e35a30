"""Fault injection: plans of where and how to break a run, and the injector."""

from sagasim.faults.injector import Injector
from sagasim.faults.plan import (
    KINDS,
    STEP_KINDS,
    Fault,
    FaultPlan,
    FaultPlanError,
    InjectedError,
)

__all__ = [
    "KINDS",
    "STEP_KINDS",
    "Fault",
    "FaultPlan",
    "FaultPlanError",
    "InjectedError",
    "Injector",
]
