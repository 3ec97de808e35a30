"""Charts of a run, as matplotlib Figures.

Every chart function returns a :class:`matplotlib.figure.Figure` that
belongs to no pyplot state (nothing is shown; save it, or let Jupyter
display it) and reads a finished Simulation or a trace saved as CSV.
:mod:`sagasim.plots.data` has the tables behind the pictures.

- :func:`instance_timeline`: one instance's attempts, waits, faults and
  rollback handlers.
- :func:`ordering_chart`: one rollback's reverse-start order beside its
  reverse-completion order; :func:`disagreement_chart` (over
  :func:`ordering_disagreement`) how often they differ.
- :func:`idempotency_chart` (over :func:`idempotency_runs`): double
  effects, leaks and drift against the lost-reply rate, keys on and off.
- :func:`load_chart` (over :func:`service_load`): a service's load.
- :func:`instances_chart`: instances in flight and ended over time.
"""

from sagasim.plots.idempotency import idempotency_chart, idempotency_runs
from sagasim.plots.load import load_chart, queue_length, service_load
from sagasim.plots.ordering import (
    disagreement_chart,
    ordering_chart,
    ordering_disagreement,
)
from sagasim.plots.overview import instances_chart, instances_over_time
from sagasim.plots.timeline import instance_timeline

__all__ = [
    "disagreement_chart",
    "idempotency_chart",
    "idempotency_runs",
    "instance_timeline",
    "instances_chart",
    "instances_over_time",
    "load_chart",
    "ordering_chart",
    "ordering_disagreement",
    "queue_length",
    "service_load",
]
