"""The explorer dashboard: knobs, a Run button, a summary and a chart.

Changing a control never runs anything: its observer only marks the view
stale ("settings changed: press Run"). The Run button's handler,
:meth:`Explorer.run`, reads every control, runs the scenario once with
:func:`~sagasim.widgets.model.explore`, and redraws the summary table and
the chart. So a slider dragged across fifty values costs nothing, and what
is on screen always belongs to one run, whose settings are listed with it.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from sagasim.widgets.figure import exploration_figure
from sagasim.widgets.model import (
    BACKOFFS,
    INFLIGHT,
    KNOBS,
    Exploration,
    Source,
    explore,
    knob_defaults,
    load_source,
)

__all__ = ["Explorer"]

_STALE = "<b style='color:#b9770e'>settings changed: press Run</b>"
_NEVER = "<i>not run yet: press Run</i>"


class Explorer:
    """An ipywidgets dashboard over one scenario file or built-in saga.

    Args:
        source: a scenario file path, or a built-in saga name
            (``"fan-out"``, ``"transfer"``; see
            :data:`~sagasim.widgets.model.BUILTINS`).
        run: run once at once, so the dashboard opens with a result.
        **values: starting values of the knobs (see
            :data:`~sagasim.widgets.model.KNOBS`); the rest start at the
            source's own values.

    Attributes:
        controls: the widgets by knob name, plus ``"instance"`` (which
            instance the timeline shows; empty for the most telling). Set
            their ``value`` from Python as a person would drag them.
        button: the Run button; its handler is :meth:`run`.
        result: the latest :class:`~sagasim.widgets.model.Exploration`, or
            ``None`` before the first run.
        figure: the latest chart (a matplotlib Figure), or ``None``.
        stale: whether a control changed since the latest run.
        runs: how many times the scenario has been run.
        widget: the whole dashboard, a :class:`ipywidgets.VBox`.
    """

    def __init__(
        self, source: str | Path | Source = "fan-out", *, run: bool = False, **values
    ) -> None:
        self.source = load_source(source)
        unknown = sorted(set(values) - set(KNOBS) - {"instance"})
        if unknown:
            raise ValueError(f"unknown knob {unknown[0]!r}; expected one of {KNOBS}")
        start = {**knob_defaults(self.source), **values}
        self.controls: dict[str, widgets.ValueWidget] = _controls(
            start, self.source.has_width
        )
        self.button = widgets.Button(
            description="Run", button_style="primary", icon="play"
        )
        self.button.on_click(self._clicked)
        self.status = widgets.HTML(_NEVER)
        self.summary = widgets.HTML()
        self.chart = widgets.Image(format="png")
        self.result: Exploration | None = None
        self.figure: Figure | None = None
        self.stale = True
        self.runs = 0
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.widget = self._layout()
        if run:
            self.run()

    # -- what the button does ----------------------------------------------------

    def values(self) -> dict[str, Any]:
        """Every knob's current control value (``width`` is ``None`` for a
        source without one)."""
        values = {name: self.controls[name].value for name in KNOBS}
        if not self.source.has_width:
            values["width"] = None
        return values

    def run(self) -> Exploration:
        """Run the scenario with the controls' values and redraw; return the
        result. This is what the Run button calls."""
        self.status.value = "<i>running…</i>"
        try:
            result = explore(self.source, **self.values())
            figure = exploration_figure(
                result, self.controls["instance"].value.strip() or None
            )
        except Exception as exc:  # noqa: BLE001 - shown to the person, and raised
            self.status.value = (
                "<b style='color:#c0392b'>"
                f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</b>"
            )
            raise
        self.result = result
        self.figure = figure
        self.runs += 1
        self.stale = False
        self.summary.value = _summary_html(result, figure.shown_instance)
        self.chart.value = _png(figure)
        self.status.value = (
            f"run {self.runs}: {html.escape(result.source)}, seed "
            f"{result.knobs['seed']}, {sum(result.statuses.values())} instances, "
            f"{result.sim_time:g} simulated seconds"
        )
        return result

    def _clicked(self, _button: widgets.Button) -> None:
        self.run()

    def _changed(self, change: dict[str, Any]) -> None:
        # Mark the view stale; never run from here.
        if change["new"] != change["old"]:
            self.stale = True
            self.status.value = _STALE if self.runs else _NEVER

    # -- display ------------------------------------------------------------------

    def _layout(self) -> widgets.VBox:
        rows = [
            ["seed", "instances", "max_concurrent", "width"],
            ["failure", "lost_reply", "error_rate", "idempotent"],
            ["retry_limit", "delay_ms", "backoff", "timeout_ms"],
            ["inflight", "instance"],
        ]
        grid = widgets.VBox(
            [widgets.HBox([self.controls[name] for name in row]) for row in rows]
        )
        title = widgets.HTML(
            f"<b>{html.escape(self.source.name)}</b> "
            f"<span style='color:#666'>{html.escape(self.source.path)}</span>"
        )
        return widgets.VBox(
            [
                title,
                grid,
                widgets.HBox([self.button, self.status]),
                self.summary,
                self.chart,
            ]
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _controls(start: dict[str, Any], has_width: bool) -> dict[str, widgets.Widget]:
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="260px")

    def slider(kind, description, value, **options):
        return kind(
            value=value,
            description=description,
            continuous_update=False,
            style=style,
            layout=layout,
            **options,
        )

    def number(description, value, lo, hi):
        return widgets.BoundedIntText(
            value=value, min=lo, max=hi, description=description, style=style,
            layout=layout,
        )  # fmt: skip

    def chance(description, value):
        return slider(
            widgets.FloatSlider, description, value, min=0.0, max=1.0, step=0.01
        )

    controls = {
        "seed": widgets.IntText(
            value=start["seed"], description="seed", style=style, layout=layout
        ),
        "instances": number("instances", start["instances"], 1, 1_000_000),
        "max_concurrent": number("max concurrent", start["max_concurrent"], 1, 50_000),
        "width": slider(
            widgets.IntSlider,
            "parallel width",
            start["width"] or 1,
            min=1,
            max=max(8, start["width"] or 1),
            disabled=not has_width,
        ),
        "failure": chance("P(last step fails)", start["failure"]),
        "lost_reply": chance("P(reply lost)", start["lost_reply"]),
        "error_rate": chance("service errors", start["error_rate"]),
        "retry_limit": slider(
            widgets.IntSlider,
            "retry limit",
            start["retry_limit"],
            min=0,
            max=max(10, start["retry_limit"]),
        ),
        "delay_ms": number("delay (ms)", start["delay_ms"], 0, 3_600_000),
        "backoff": widgets.Dropdown(
            options=BACKOFFS,
            value=start["backoff"],
            description="backoff",
            style=style,
            layout=layout,
        ),
        "timeout_ms": number("timeout (ms)", start["timeout_ms"], 1, 86_400_000),
        "idempotent": widgets.Checkbox(
            value=bool(start["idempotent"]),
            description="idempotency keys",
            style=style,
            layout=layout,
        ),
        "inflight": widgets.ToggleButtons(
            options=INFLIGHT,
            value=start["inflight"],
            description="in flight",
            style={"description_width": "110px", "button_width": "70px"},
        ),
        "instance": widgets.Text(
            value=str(start.get("instance") or ""),
            placeholder="most telling",
            description="timeline of",
            continuous_update=False,
            style=style,
            layout=layout,
        ),
    }
    return controls


def _summary_html(result: Exploration, instance: str) -> str:
    table = result.summary()
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:14px'>"
        f"{html.escape(str(row.what))}</th><td>{html.escape(str(row.value))}</td></tr>"
        for row in table.itertuples(index=False)
    )
    knobs = ", ".join(
        f"{name}={value}" for name, value in result.knobs.items() if value is not None
    )
    return (
        "<div style='font-size:13px'>"
        f"<table>{body}</table>"
        f"<div style='color:#666'>settings: {html.escape(knobs)}; timeline of "
        f"{html.escape(instance)}</div></div>"
    )


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
    return buffer.getvalue()
