"""Charts of a run, as matplotlib Figures.

Every function returns a :class:`matplotlib.figure.Figure` that belongs to
no pyplot state (nothing is shown; save it, or let Jupyter display it), and
reads a finished Simulation or a trace saved as CSV.
"""

from sagasim.plots.timeline import instance_timeline

__all__ = ["instance_timeline"]
