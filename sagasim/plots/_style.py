"""Shared look of the charts: colours, figures, safe text."""

from __future__ import annotations

from matplotlib.figure import Figure

__all__ = ["COLORS", "new_figure", "text"]

COLORS = {
    "success": "#4c9f70",
    "failure": "#d1495b",
    "cancelled": "#9e9e9e",
    "open": "#ffffff",
    "timed_out": "#d1495b",
    "retry_wait": "#c8c8c8",
    "sleep": "#a9cce3",
    "wait": "#d7bde2",
    "rollback": "#edae49",
    "rollback_failure": "#8c2f39",
    "fault": "#1a1a1a",
    "crash": "#6c3483",
    "run_failed": "#d1495b",
    "highlight": "#d1495b",
    "plain": "#7f8c8d",
    "offered": "#2e86c1",
    "succeeded": "#4c9f70",
    "failed": "#d1495b",
    "queued": "#edae49",
    "in_service": "#2e86c1",
    "retries": "#8e44ad",
    "outage": "#f5b7b1",
}


def new_figure(width: float, height: float) -> Figure:
    """A figure that belongs to no pyplot state: nothing is shown, nothing
    leaks between charts, and it renders with the Agg backend on save."""
    return Figure(figsize=(width, height), layout="constrained")


def text(value: object, limit: int = 48) -> str:
    """``value`` as chart text: shortened to ``limit`` characters, with ``$``
    escaped so that matplotlib never reads a step name as mathtext."""
    value = str(value)
    if len(value) > limit:
        value = value[: limit - 1] + "\u2026"
    return value.replace("$", r"\$")
