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

- :func:`rollback_ordering` (the trace alone): handlers run newest start
  first, once each, one at a time, only after a terminal failure.
- :func:`conservation` (opening and closing totals): nothing created or
  destroyed.
- :func:`double_effects` (the ledgers): requests applied twice, refunds and
  releases of nothing or of what was already undone.
- :func:`leaks` (the ledgers, and the trace for who rolled back): forward
  effects a rollback left in place, and compensations of nothing.
- :func:`irreversible` (likewise): sends a rollback could only correct.
- :func:`compensation_before_effect` (the ledgers): undos that landed
  before what they undo.

Evidence is trace ``seq`` numbers for the ordering checks and effect ids
(of the service named in ``subject``) for the others.
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
