"""Compact HTML summaries of a simulation and of an instance, for Jupyter.

:func:`simulation_html` and :func:`instance_html` return a self-contained
HTML fragment: a few key numbers in a table and a small inline chart (a PNG
embedded as base64), with every name taken from a workflow, a step, an
instance, a service or an error HTML-escaped. They back the
``_repr_html_`` methods of :class:`~sagasim.Simulation` and
:class:`~sagasim.Instance`.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from matplotlib.figure import Figure

from sagasim.plots.data import handler_runs, step_label, trace_of, workflow_of
from sagasim.plots.overview import instances_chart
from sagasim.plots.timeline import instance_timeline

__all__ = [
    "escape",
    "use_in_notebook",
    "figure_png",
    "img_tag",
    "instance_html",
    "simulation_html",
    "table_html",
]

_STYLE = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
    "line-height:1.35;max-width:980px"
)
_TABLE = "border-collapse:collapse;margin:4px 0 8px 0"
_TH = "text-align:left;padding:2px 12px 2px 0;color:#555;font-weight:600"
_TD = "text-align:left;padding:2px 12px 2px 0"


def escape(value: Any) -> str:
    """``value`` as HTML text, quotes included."""
    return html.escape(str(value), quote=True)


def figure_png(fig: Figure, *, dpi: int = 96) -> bytes:
    """The figure rendered as PNG bytes (Agg), then closed for good."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    fig.clear()
    return buffer.getvalue()


def img_tag(fig: Figure, alt: str, *, dpi: int = 96, width: int | None = None) -> str:
    """An ``<img>`` with the figure embedded as a base64 PNG data URI."""
    data = base64.b64encode(figure_png(fig, dpi=dpi)).decode("ascii")
    size = (
        f' style="max-width:100%;width:{width}px"'
        if width
        else ' style="max-width:100%"'
    )
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}"{size}>'


def table_html(rows: Iterable[tuple[Any, Any]], *, raw: bool = False) -> str:
    """A two-column table of ``(name, value)`` rows, both escaped (``value``
    left as is with ``raw``, for HTML made here)."""
    cells = "".join(
        f'<tr><th style="{_TH}">{escape(name)}</th>'
        f'<td style="{_TD}">{value if raw else escape(value)}</td></tr>'
        for name, value in rows
    )
    return f'<table style="{_TABLE}">{cells}</table>'


def _counts(trace) -> Counter:
    return Counter(trace["event"].tolist())


def _retries(trace) -> int:
    return int(((trace["event"] == "ATTEMPT_START") & (trace["attempt"] > 1)).sum())


def simulation_html(sim: Any) -> str:
    """A compact summary of a simulation: its seed and simulated time, its
    instances by status, steps, attempts and retries, faults injected,
    rollbacks, the services it binds, and a small chart of instances over
    time (once anything has run)."""
    trace = trace_of(sim)
    events = _counts(trace)
    statuses = Counter(inst.status()["status"] for inst in sim.instances)
    by_status = ", ".join(
        f"{count:,} {status}"
        for status, count in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    rows: list[tuple[str, Any]] = [
        ("seed", sim.seed),
        ("simulated time", f"{sim.now:,.3f} s"),
        (
            "instances",
            f"{len(sim.instances):,}" + (f" ({by_status})" if by_status else ""),
        ),
        (
            "steps",
            f"{events['STEP_START']:,} started, {events['STEP_SUCCESS']:,} "
            f"succeeded, {events['STEP_FAILURE']:,} failed",
        ),
        (
            "attempts",
            f"{events['ATTEMPT_START']:,} started, "
            f"{events['ATTEMPT_FAILURE']:,} failed, {_retries(trace):,} retries",
        ),
        (
            "rollbacks",
            f"{events['ROLLBACK_START']:,} started, "
            f"{events['ROLLBACK_COMPLETE']:,} complete, "
            f"{events['ROLLBACK_FAILED']:,} failed; "
            f"{events['ROLLBACK_STEP_START']:,} handlers run",
        ),
    ]
    if events["FAULT_INJECTED"] or getattr(sim, "faults", None) is not None:
        rows.append(("faults injected", f"{events['FAULT_INJECTED']:,}"))
    if events["ENGINE_CRASH"]:
        rows.append(("engine crashes", f"{events['ENGINE_CRASH']:,}"))
    services = _services(sim)
    if services:
        rows.append(
            (
                "services",
                "; ".join(
                    f"{getattr(s, 'name', name)}: {len(s.history):,} calls, "
                    f"{len(s.effects):,} effects"
                    for name, s in services
                ),
            )
        )
    chart = ""
    if len(trace):
        chart = img_tag(
            instances_chart(trace, width=7.5, height=2.6), "instances over time", dpi=80
        )
    return (
        f'<div class="sagasim-simulation" style="{_STYLE}">'
        f"<strong>Simulation</strong>{table_html(rows)}{chart}</div>"
    )


def _services(sim: Any) -> list[tuple[str, Any]]:
    seen: dict[int, tuple[str, Any]] = {}
    for name, service in getattr(sim, "bindings", {}).items():
        if hasattr(service, "history") and hasattr(service, "effects"):
            seen.setdefault(id(service), (name, service))
    return list(seen.values())


def _short_json(value: Any, limit: int = 160) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def instance_html(inst: Any) -> str:
    """A compact summary of one instance: its workflow and status, its error
    or output, its steps, attempts, retries and faults, the rollback
    handlers in the order they ran, and a small timeline (once it has
    started)."""
    trace = trace_of(inst.host.trace)
    mine = trace[trace["instance"] == inst.id]
    events = _counts(mine)
    status = inst.status()
    workflow = (
        workflow_of(trace, inst.id)
        or getattr(inst.workflow, "workflow_name", lambda: "")()
    )
    rows: list[tuple[str, Any]] = [
        ("workflow", workflow),
        ("status", status["status"]),
    ]
    if status.get("error"):
        error = status["error"]
        rows.append(("error", f"{error.get('name', '')}: {error.get('message', '')}"))
    elif status["status"] == "complete":
        rows.append(("output", _short_json(status.get("output"))))
    rows += [
        (
            "steps",
            f"{events['STEP_START']:,} started, {events['STEP_SUCCESS']:,} "
            f"succeeded, {events['STEP_FAILURE']:,} failed",
        ),
        (
            "attempts",
            f"{events['ATTEMPT_START']:,} started, "
            f"{events['ATTEMPT_FAILURE']:,} failed, {_retries(mine):,} retries",
        ),
    ]
    if events["FAULT_INJECTED"]:
        rows.append(("faults injected", f"{events['FAULT_INJECTED']:,}"))
    if events["ENGINE_CRASH"]:
        rows.append(("engine crashes", f"{events['ENGINE_CRASH']:,}"))
    summary = status.get("rollback")
    if summary:
        rows.append(
            (
                "rollback",
                f"{summary['status']}, {summary['completed']} of "
                f"{summary['total']} handlers",
            )
        )
    runs = handler_runs(mine, inst.id)
    if runs:
        order = " \u2192 ".join(step_label(*key) for _, key, _ in runs)
        rows.append(("handler order", order))
    chart = ""
    if events["WORKFLOW_START"]:
        chart = img_tag(
            instance_timeline(mine, inst.id, width=7.5, max_rows=20),
            f"timeline of {inst.id}",
            dpi=80,
        )
    return (
        f'<div class="sagasim-instance" style="{_STYLE}">'
        f"<strong>Instance {escape(inst.id)}</strong>{table_html(rows)}{chart}</div>"
    )


def use_in_notebook(ipython: Any = None) -> bool:
    """Have IPython and Jupyter show every Simulation and Instance as these
    summaries, whether or not the classes define ``_repr_html_``.

    ``ipython`` is the shell (``get_ipython()`` by default). Returns whether
    there was one to register with.
    """
    if ipython is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        ipython = get_ipython()
    if ipython is None:
        return False
    from sagasim import Instance, Simulation

    formatter = ipython.display_formatter.formatters["text/html"]
    formatter.for_type(Simulation, simulation_html)
    formatter.for_type(Instance, instance_html)
    return True
