"""Interactive dashboards for notebooks, built on ipywidgets.

:class:`Explorer` runs a scenario file or a built-in saga under knobs set
by controls (failure probabilities, concurrency, retries, idempotency, the
in-flight policy, the seed) and shows a summary and charts of the run. It
runs only when its Run button is pressed (or :meth:`Explorer.run` is
called); moving a control only marks the view stale.

The model under it is plain Python and needs no widgets:
:func:`explore` runs a source once under some knobs and returns an
:class:`Exploration`; :func:`exploration_figure` draws it::

    from sagasim.widgets import Explorer, explore

    explore("fan-out", failure=0.2, seed=3).summary()
    Explorer("scenarios/bank_transfer.toml", run=True)   # in a notebook
"""

from sagasim.widgets.explorer import Explorer
from sagasim.widgets.figure import exploration_figure, violations_bars
from sagasim.widgets.model import (
    BUILTINS,
    KNOBS,
    Exploration,
    Source,
    apply_knobs,
    explore,
    knob_defaults,
    load_source,
)

__all__ = [
    "BUILTINS",
    "KNOBS",
    "Exploration",
    "Explorer",
    "Source",
    "apply_knobs",
    "exploration_figure",
    "explore",
    "knob_defaults",
    "load_source",
    "violations_bars",
]
