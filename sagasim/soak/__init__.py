"""The soak: many generated cases run against every invariant.

:func:`run_case` runs one case (see :mod:`sagasim.strategies.cases`) and
checks it; :func:`sagasim.soak.runner.soak` runs many under Hypothesis,
shrinking the first failure; ``sagasim check`` is its command line
(:mod:`sagasim.soak.cli`). :func:`lifecycle` checks a trace's instance
lifecycles.
"""

from __future__ import annotations

from typing import Any

from sagasim.soak.invariants import lifecycle, lifecycle_of

__all__ = [
    "HORIZON",
    "CaseResult",
    "CaseRun",
    "case_source",
    "lifecycle",
    "lifecycle_of",
    "run_case",
]

_FROM_CASE = frozenset({"HORIZON", "CaseResult", "CaseRun", "case_source", "run_case"})


def __getattr__(name: str) -> Any:
    # NOTE: the case runner needs Hypothesis (through sagasim.strategies),
    # which only the test extras install; it is imported on first use so
    # that the command line, which imports sagasim.soak.cli, works without.
    if name in _FROM_CASE:
        from sagasim.soak import case

        return getattr(case, name)
    raise AttributeError(f"module 'sagasim.soak' has no attribute {name!r}")
