"""Checks: pure functions over a finished run.

Each check reads the record of a run (the trace DataFrame ``sim.trace``,
and the ``history`` and ``effects`` lists simulated services keep) and
returns a DataFrame of violations with the columns ``check``, ``instance``,
``subject``, ``message`` and ``evidence`` (:mod:`sagasim.checks.frame`),
empty when the run is clean. They need no live simulation, so they work on
saved runs too::

    opening = checks.snapshot(sim)
    sim.run()
    violations = checks.run_checks(sim, opening=opening)

The trace says what the engine did; the ledgers say what the world saw.
Ordering checks read the trace alone; business checks read the ledgers,
and the trace for which instances rolled back.
"""

from sagasim.checks.conservation import conservation, snapshot
from sagasim.checks.duplicates import REPEAT_FORBIDDEN, double_effects
from sagasim.checks.frame import COLUMNS, Violation, concat, empty
from sagasim.checks.irreversibility import irreversible
from sagasim.checks.leakage import leaks
from sagasim.checks.ordering import rollback_ordering
from sagasim.checks.overtaking import compensation_before_effect
from sagasim.checks.run import check_run, ledgers, run_checks, services

__all__ = [
    "COLUMNS",
    "REPEAT_FORBIDDEN",
    "Violation",
    "check_run",
    "compensation_before_effect",
    "concat",
    "conservation",
    "double_effects",
    "empty",
    "irreversible",
    "leaks",
    "ledgers",
    "rollback_ordering",
    "run_checks",
    "services",
    "snapshot",
]
