"""Charts of a run written as PNG files, beside its trace."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from sagasim.plots.data import pick_instance, rolled_back
from sagasim.plots.load import load_chart
from sagasim.plots.ordering import ordering_chart
from sagasim.plots.overview import instances_chart
from sagasim.plots.timeline import instance_timeline

__all__ = ["write_run_charts"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def write_run_charts(sim: Any, outdir: str | Path, *, dpi: int = 110) -> list[Path]:
    """Write the charts of a finished simulation into ``outdir`` as PNG.

    Files, each only when there is something to draw:

    - ``instances.png``: instances in flight and ended over time;
    - ``timeline.png``: the timeline of the most telling instance (see
      :func:`sagasim.plots.data.pick_instance`);
    - ``rollback-order.png``: its rollback order against reverse completion,
      when an instance rolled back;
    - ``load-<service>.png``: the load on each service that keeps a
      history (the name reduced to letters, digits, ``.``, ``_`` and ``-``).

    Returns:
        The paths written, in that order.

    Raises:
        OSError: when ``outdir`` cannot be made or a file written.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    trace = sim.trace
    written: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        path = outdir / name
        fig.savefig(path, format="png", dpi=dpi, metadata={"Software": None})
        fig.clear()
        written.append(path)

    if trace.empty:
        return written
    save(instances_chart(trace), "instances.png")
    chosen = pick_instance(trace)
    save(instance_timeline(trace, chosen), "timeline.png")
    undone = rolled_back(trace)
    if undone:
        target = chosen if chosen in set(undone) else undone[0]
        save(ordering_chart(trace, target), "rollback-order.png")
    names: set[str] = set()
    seen: set[int] = set()
    for name, service in getattr(sim, "bindings", {}).items():
        if id(service) in seen or not getattr(service, "history", None):
            continue
        seen.add(id(service))
        stem = (
            _UNSAFE.sub("_", str(getattr(service, "name", name))).strip("._")
            or "service"
        )
        while stem in names:
            stem += "_"
        names.add(stem)
        save(load_chart(service, trace), f"load-{stem}.png")
    return written
