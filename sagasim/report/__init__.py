"""Presentation of a run in HTML: notebook summaries and the report file.

- :func:`simulation_html` and :func:`instance_html`: compact summaries for
  Jupyter, behind the ``_repr_html_`` of a Simulation and an Instance
  (:func:`use_in_notebook` registers them with IPython directly).
- :class:`RunRecord`, :func:`render_report` and :func:`write_report`: the
  self-contained HTML report of a run (``sagasim report``).
- :func:`write_run_charts`: a run's charts as PNG files (``sagasim run``).
"""

from sagasim.report.document import (
    SECTIONS,
    ReportError,
    RunRecord,
    render_report,
    write_report,
)
from sagasim.report.files import write_run_charts
from sagasim.report.html import instance_html, simulation_html, use_in_notebook

__all__ = [
    "SECTIONS",
    "ReportError",
    "RunRecord",
    "instance_html",
    "render_report",
    "simulation_html",
    "use_in_notebook",
    "write_report",
    "write_run_charts",
]
