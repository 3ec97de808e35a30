"""The runtime: SimPy under the engine, coroutine combinators, the trace."""

from sagasim.engine.futures import any_, gather, race
from sagasim.runtime.simulation import Simulation, wait
from sagasim.runtime.trace import COLUMNS, TraceRecorder

__all__ = ["COLUMNS", "Simulation", "TraceRecorder", "any_", "gather", "race", "wait"]
