"""The soak: many generated cases run against every invariant.

:func:`run_case` runs one case (see :mod:`sagasim.strategies.cases`) and
checks it; :func:`soak` runs many under Hypothesis, shrinking the first
failure; ``sagasim check`` is its command line (:mod:`sagasim.soak.cli`).
"""

from sagasim.soak.case import HORIZON, CaseResult, CaseRun, case_source, run_case
from sagasim.soak.invariants import lifecycle

__all__ = ["HORIZON", "CaseResult", "CaseRun", "case_source", "lifecycle", "run_case"]
