"""The HTML report of a run: one self-contained file.

A report is made from a :class:`RunRecord`: the trace, the services'
history and effects, the violations the checks found. A record comes from
a finished simulation (:meth:`RunRecord.from_simulation`), a scenario file
that is simulated first (:meth:`RunRecord.from_scenario`), or a run folder
that ``sagasim run`` wrote (:meth:`RunRecord.from_folder`).

The page has no script and fetches nothing: its style is inline, its
charts are PNGs embedded as base64 data URIs, and every name that came
from a scenario or a workflow (instances, workflows, steps, services,
errors, violation messages) is HTML-escaped.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sagasim.checks import check_run, run_checks
from sagasim.plots.data import (
    by_instance,
    detail,
    disagreeing_pairs,
    instance_ids,
    pick_instance,
    read_trace,
    rollback_orders,
    rolled_back,
    step_label,
)
from sagasim.plots.load import history_frame, load_chart
from sagasim.plots.ordering import ordering_chart
from sagasim.plots.overview import instances_chart
from sagasim.plots.timeline import instance_timeline
from sagasim.report.html import escape, img_tag

__all__ = [
    "SECTIONS",
    "ReportError",
    "RunRecord",
    "render_report",
    "write_report",
]

SECTIONS = (
    ("summary", "Summary"),
    ("instances", "Instances"),
    ("steps", "Steps"),
    ("timeline", "Timeline"),
    ("ordering", "Rollback order"),
    ("services", "Services"),
    ("faults", "Faults"),
    ("violations", "Violations"),
)
"""The report's sections, ``(id, heading)``, in page order."""

MAX_ROWS = 200
"""The most rows a table of the report shows; the rest are counted."""

_ENDS = {
    "WORKFLOW_SUCCESS": "complete",
    "WORKFLOW_FAILURE": "errored",
    "WORKFLOW_TERMINATED": "terminated",
}
_EFFECT_BOOLS = ("rollback", "irreversible")
_EFFECT_INTS = ("effect_id", "op_id", "count", "attempt", "delta", "amount")


class ReportError(ValueError):
    """A source a report cannot be made from; the message is one line."""


@dataclass
class RunRecord:
    """Everything a report shows about one run.

    Attributes:
        name: what the run is called (the scenario's name, a folder's).
        source: where it came from, for the page's header.
        trace: the trace, with the columns of ``sim.trace``.
        history: every service call, one row each, with the service's name
            in ``service`` (see the services' ``history``); may be empty.
        effects: every applied effect (the services' ``effects``); may be
            empty.
        violations: the checks' findings, with the violation columns.
        seed: the seed of the simulation, when known.
        outages: each service's outage windows, by service name.
        faults: the fault plan's report (``sim.faults.report()``), if any.
        notes: sentences the page shows under the summary, such as what a
            saved run lacked.
        description: the scenario's description, if it has one.
        totals: ``resource``, ``before``, ``after``, ``change`` and
            ``conserved`` (the pool it belongs to, or ``""``), when known.
    """

    name: str
    source: str
    trace: pd.DataFrame
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    violations: pd.DataFrame = field(default_factory=pd.DataFrame)
    seed: int | None = None
    simulated_time: float | None = None
    outages: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    faults: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    description: str = ""
    totals: pd.DataFrame | None = None

    @classmethod
    def from_simulation(
        cls,
        sim: Any,
        *,
        name: str = "simulation",
        source: str = "a simulation",
        opening: dict[str, int] | None = None,
        pool: Any = None,
        violations: pd.DataFrame | None = None,
    ) -> RunRecord:
        """The record of a finished simulation.

        ``opening`` (``sagasim.checks.snapshot(sim)`` taken before
        ``sim.run()``) and ``pool`` are passed to
        :func:`sagasim.checks.run_checks` so conservation is checked; the
        checks run here unless ``violations`` are given.
        """
        services = _ledgered(sim)
        history = [call for _, service in services for call in service.history]
        effects = [effect for _, service in services for effect in service.effects]
        if violations is None:
            violations = run_checks(sim, opening=opening, pool=pool)
        faults = sim.faults.report() if getattr(sim, "faults", None) else None
        return cls(
            name=name,
            source=source,
            trace=sim.trace,
            history=pd.DataFrame(history),
            effects=pd.DataFrame(effects),
            violations=violations,
            seed=getattr(sim, "seed", None),
            simulated_time=float(sim.now),
            outages={
                service.name: list(service.outages)
                for _, service in services
                if getattr(service, "outages", None)
            },
            faults=faults,
        )

    @classmethod
    def from_scenario(cls, path: str | Path, *, seed: int | None = None) -> RunRecord:
        """Simulate the scenario file at ``path`` and record the run.

        The violations are the scenario run's own (conservation checked for
        the pools its ``[checks]`` names), and the totals table compares
        each service's snapshot before and after.

        Raises:
            ReportError: when the file cannot be read or is not a valid
                scenario.
        """
        from sagasim.scenarios import ScenarioError, build, load_scenario

        try:
            scenario = load_scenario(path)
            scenario_run = build(scenario, seed=seed)
        except (ScenarioError, ValueError) as exc:
            raise ReportError(str(exc)) from None
        scenario_run.run()
        record = cls.from_simulation(
            scenario_run.sim,
            name=scenario.name,
            source=f"scenario {Path(path)}",
            violations=scenario_run.violations(),
        )
        faults = scenario_run.fault_report()
        record.faults = faults if len(faults) else None
        record.description = scenario.description or ""
        record.totals = _totals(scenario_run)
        return record

    @classmethod
    def from_folder(cls, path: str | Path) -> RunRecord:
        """The record of a run folder: ``trace.csv``, and when present
        ``history.csv``, ``effects.csv`` and ``violations.csv``.

        Without ``violations.csv`` the checks run on what the folder holds
        (without ``effects.csv``, the ordering checks alone).

        Raises:
            ReportError: when the folder has no readable ``trace.csv``.
        """
        folder = Path(path)
        trace_path = folder / "trace.csv"
        if not trace_path.is_file():
            raise ReportError(f"{folder}: no trace.csv in this folder")
        try:
            trace = read_trace(trace_path)
        except (ValueError, OSError) as exc:
            raise ReportError(f"{trace_path}: not a trace ({exc})") from None

        notes = []
        history = _read_optional(folder / "history.csv")
        faults = _read_optional(folder / "faults.csv")
        effects = _effects(_read_optional(folder / "effects.csv"))
        if history.empty:
            notes.append("The folder has no history.csv: no service load is shown.")
        elif "started" not in history.columns:
            notes.append(
                "history.csv does not say when each call got a slot: calls "
                "waiting for one are counted as being served."
            )
        if effects.empty and not (folder / "effects.csv").is_file():
            notes.append(
                "The folder has no effects.csv: only the ordering checks, which "
                "read the trace alone, were run."
            )
        violations_path = folder / "violations.csv"
        if violations_path.is_file():
            violations = _read_optional(violations_path)
        else:
            violations = check_run(
                trace,
                effects.to_dict("records"),
                history.to_dict("records") if not history.empty else (),
            )
        return cls(
            name=folder.resolve().name,
            source=f"run folder {folder}",
            trace=trace,
            history=history,
            effects=effects,
            violations=violations,
            simulated_time=float(trace["time"].max()) if len(trace) else 0.0,
            faults=faults if len(faults) else None,
            notes=notes,
        )

    @classmethod
    def load(cls, path: str | Path, *, seed: int | None = None) -> RunRecord:
        """A scenario file (simulated here) or a run folder, by what
        ``path`` is.

        Raises:
            ReportError: when ``path`` is neither.
        """
        path = Path(path)
        if path.is_dir():
            if seed is not None:
                raise ReportError(
                    f"{path}: --seed applies to a scenario, not a run folder"
                )
            return cls.from_folder(path)
        if path.is_file():
            return cls.from_scenario(path, seed=seed)
        raise ReportError(f"{path}: no such scenario file or run folder")


def _ledgered(sim: Any) -> list[tuple[str, Any]]:
    seen: dict[int, tuple[str, Any]] = {}
    for name, service in getattr(sim, "bindings", {}).items():
        if hasattr(service, "history") and hasattr(service, "effects"):
            seen.setdefault(id(service), (name, service))
    return list(seen.values())


def _totals(scenario_run: Any) -> pd.DataFrame:
    """Each resource's total before and after a scenario run."""
    closing = scenario_run.closing()
    pools = {
        resource: pool
        for pool, members in scenario_run.conserved().items()
        for resource in members
    }
    rows = [
        {
            "resource": resource,
            "before": before,
            "after": closing.get(service, {}).get(resource, 0),
            "change": closing.get(service, {}).get(resource, 0) - before,
            "conserved": pools.get(resource, ""),
        }
        for service, totals in scenario_run.opening.items()
        for resource, before in totals.items()
    ]
    return pd.DataFrame(
        rows, columns=["resource", "before", "after", "change", "conserved"]
    )


def _read_optional(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    try:
        return pd.read_csv(path, keep_default_na=False)
    except (ValueError, OSError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def _effects(frame: pd.DataFrame) -> pd.DataFrame:
    """Effects read back from CSV, with the types the checks expect."""
    if frame.empty:
        return frame
    frame = frame.copy()
    for column in _EFFECT_BOOLS:
        if column in frame:
            frame[column] = frame[column].map(
                lambda v: str(v).strip().lower() in ("true", "1")
            )
    for column in _EFFECT_INTS:
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0)
            frame[column] = frame[column].astype(int)
    if "compensates" in frame:
        frame["compensates"] = [
            None if value in ("", None) else int(float(value))
            for value in frame["compensates"]
        ]
    if "key" in frame:
        frame["key"] = [None if value == "" else value for value in frame["key"]]
    if "time" in frame:
        frame["time"] = pd.to_numeric(frame["time"], errors="coerce").astype(float)
    return frame


# -- rendering -------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 24px auto; max-width: 1180px; padding: 0 16px; color: #1f2933;
       line-height: 1.4; font-size: 14px; background: #ffffff; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #d9dee3;
     padding-bottom: 4px; }
.source { color: #52606d; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 12px 0; }
th, td { text-align: left; padding: 3px 14px 3px 0; vertical-align: top;
         border-bottom: 1px solid #eef1f4; }
th { color: #52606d; font-weight: 600; }
td.num, th.num { text-align: right; }
img { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.note { color: #52606d; font-style: italic; }
.bad { color: #b42318; font-weight: 600; }
.good { color: #2f7a4b; font-weight: 600; }
nav a { margin-right: 12px; color: #1f5fa8; text-decoration: none; }
"""


def render_report(
    record: RunRecord, *, instance: str | None = None, charts: bool = True
) -> str:
    """The report of ``record`` as one HTML document.

    ``instance`` chooses the instance whose timeline and rollback order are
    drawn (by default the most telling one; see
    :func:`sagasim.plots.data.pick_instance`). With ``charts=False`` the
    tables come without the charts, which is much quicker.
    """
    image = _image if charts else _left_out
    trace = record.trace
    grouped = by_instance(trace)
    chosen = _choose(trace, instance, grouped)
    parts = [
        _summary(record, grouped),
        _instances(record, grouped, image),
        _steps(trace),
        _timeline(trace, chosen, image),
        _ordering(trace, chosen, grouped, image),
        _services(record, image),
        _faults(record),
        _violations(record.violations),
    ]
    nav = "".join(f'<a href="#{sid}">{escape(title)}</a>' for sid, title in SECTIONS)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"sagasim report: {record.name}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="source">from {escape(record.source)}, made {escape(stamp)}</p>'
        f"<nav>{nav}</nav></header><main>{''.join(parts)}</main></body></html>\n"
    )


def _image(make: Any, alt: str) -> str:
    """The chart ``make()`` draws, as an embedded image."""
    return img_tag(make(), alt)


def _left_out(make: Any, alt: str) -> str:
    return f'<p class="note">chart left out: {escape(alt)}</p>'


def _choose(trace: pd.DataFrame, instance: str | None, grouped: dict) -> str | None:
    if trace.empty:
        return None
    try:
        return pick_instance(trace, instance, grouped=grouped)
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def _section(sid: str, body: str) -> str:
    title = dict(SECTIONS)[sid]
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{body}</section>'


def _table(
    frame: pd.DataFrame, *, numeric: tuple[str, ...] = (), limit: int = MAX_ROWS
) -> str:
    if frame.empty:
        return '<p class="note">none</p>'
    head = "".join(
        f'<th class="num">{escape(c)}</th>' if c in numeric else f"<th>{escape(c)}</th>"
        for c in frame.columns
    )
    body = []
    for values in frame.head(limit).itertuples(index=False):
        cells = "".join(
            f'<td class="num">{escape(_cell(v))}</td>'
            if c in numeric
            else f"<td>{escape(_cell(v))}</td>"
            for c, v in zip(frame.columns, values, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    more = ""
    if len(frame) > limit:
        more = f'<p class="note">and {len(frame) - limit:,} more rows not shown</p>'
    rows = "".join(body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{more}"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value != int(value) else f"{int(value):,}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _pairs(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th>{escape(name)}</th><td>{value}</td></tr>" for name, value in rows
    )
    return f"<table>{cells}</table>"


def _statuses(grouped: dict[str, list]) -> Counter:
    found: Counter = Counter()
    for rows in grouped.values():
        status = "running"
        for row in rows:
            if row.event in _ENDS:
                status = _ENDS[row.event]
            elif row.event == "WORKFLOW_QUEUED" and status == "running":
                status = "queued"
            elif row.event == "WORKFLOW_START":
                status = "running"
        found[status] += 1
    return found


def _summary(record: RunRecord, grouped: dict[str, list]) -> str:
    trace = record.trace
    events = Counter(trace["event"].tolist())
    statuses = _statuses({k: v for k, v in grouped.items() if k})
    retries = int(((trace["event"] == "ATTEMPT_START") & (trace["attempt"] > 1)).sum())
    violations = len(record.violations)
    verdict = (
        '<span class="good">none</span>'
        if violations == 0
        else f'<span class="bad">{violations:,}</span>'
    )
    by_status = ", ".join(
        f"{count:,} {escape(status)}"
        for status, count in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    rows = [("run", escape(record.name))]
    if record.seed is not None:
        rows.append(("seed", escape(record.seed)))
    if record.simulated_time is not None:
        rows.append(("simulated time", f"{record.simulated_time:,.3f} s"))
    rows += [
        (
            "instances",
            f"{sum(statuses.values()):,}" + (f" ({by_status})" if by_status else ""),
        ),
        (
            "steps",
            f"{events['STEP_START']:,} started, {events['STEP_SUCCESS']:,} "
            f"succeeded, {events['STEP_FAILURE']:,} failed",
        ),
        (
            "attempts",
            f"{events['ATTEMPT_START']:,} started, "
            f"{events['ATTEMPT_FAILURE']:,} failed, {retries:,} retries",
        ),
        (
            "rollbacks",
            f"{events['ROLLBACK_START']:,} started, "
            f"{events['ROLLBACK_COMPLETE']:,} complete, "
            f"{events['ROLLBACK_FAILED']:,} failed; "
            f"{events['ROLLBACK_STEP_START']:,} handlers run",
        ),
        ("faults injected", f"{events['FAULT_INJECTED']:,}"),
        ("engine crashes", f"{events['ENGINE_CRASH']:,}"),
        ("effects applied", f"{len(record.effects):,}"),
        ("violations", verdict),
    ]
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in record.notes)
    about = f"<p>{escape(record.description)}</p>" if record.description else ""
    totals = ""
    if record.totals is not None and len(record.totals):
        totals = "<h3>Totals before and after</h3>" + _table(
            record.totals, numeric=("before", "after", "change")
        )
        for pool, members in record.totals.groupby("conserved", sort=False):
            if not pool:
                continue
            change = int(members["change"].sum())
            verdict = (
                f'<p class="good">{escape(pool)}: balanced, nothing created or lost</p>'
                if change == 0
                else f'<p class="bad">{escape(pool)}: does not balance, '
                f"{change:+,} unaccounted for</p>"
            )
            totals += verdict
    return _section("summary", about + _pairs(rows) + notes + totals)


def _instances(record: RunRecord, grouped: dict[str, list], image: Any) -> str:
    trace = record.trace
    if trace.empty:
        return _section("instances", '<p class="note">the trace is empty</p>')
    chart = image(lambda: instances_chart(trace), "instances over time")
    rows = []
    for name in instance_ids(trace):
        mine = grouped.get(name, [])
        ended = [row for row in mine if row.event in _ENDS]
        if not ended or ended[-1].event == "WORKFLOW_SUCCESS":
            continue
        last = ended[-1]
        workflow = next(
            (
                detail(row).get("workflow", "")
                for row in mine
                if row.event == "WORKFLOW_QUEUED"
            ),
            "",
        )
        handlers = [
            step_label(row.step, row.count)
            for row in mine
            if row.event == "ROLLBACK_STEP_START"
        ]
        chain = next(
            (
                "complete" if row.event == "ROLLBACK_COMPLETE" else "failed"
                for row in reversed(mine)
                if row.event in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
            ),
            "",
        )
        rows.append(
            {
                "instance": name,
                "workflow": workflow,
                "status": _ENDS[last.event],
                "error": f"{last.error_name}: {last.error_message}"
                if last.error_name
                else "",
                "ended (s)": last.time,
                "rollback": chain,
                "handler order": " \u2192 ".join(handlers),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "instance",
            "workflow",
            "status",
            "error",
            "ended (s)",
            "rollback",
            "handler order",
        ],
    )
    heading = f"<h3>Instances that did not complete ({len(table):,})</h3>"
    limit = 50
    return _section(
        "instances",
        chart + heading + _table(table, numeric=("ended (s)",), limit=limit),
    )


def _steps(trace: pd.DataFrame) -> str:
    forward = trace[trace["step"] != ""]
    if forward.empty:
        return _section("steps", '<p class="note">no step ran</p>')
    starts = forward[forward["event"] == "STEP_START"].groupby("step")["seq"].count()
    events = forward.groupby(["step", "event"]).size().unstack(fill_value=0)

    def col(name: str) -> pd.Series:
        return events[name] if name in events else pd.Series(0, index=events.index)

    retried = forward[(forward["event"] == "ATTEMPT_START") & (forward["attempt"] > 1)]
    first_seen = forward.groupby("step")["seq"].min().sort_values()
    table = pd.DataFrame(
        {
            "step": first_seen.index,
            "started": starts.reindex(first_seen.index, fill_value=0).to_numpy(),
            "succeeded": col("STEP_SUCCESS")
            .reindex(first_seen.index, fill_value=0)
            .to_numpy(),
            "failed": col("STEP_FAILURE")
            .reindex(first_seen.index, fill_value=0)
            .to_numpy(),
            "cancelled": col("STEP_CANCELLED")
            .reindex(first_seen.index, fill_value=0)
            .to_numpy(),
            "attempts": col("ATTEMPT_START")
            .reindex(first_seen.index, fill_value=0)
            .to_numpy(),
            "retries": retried.groupby("step")["seq"]
            .count()
            .reindex(first_seen.index, fill_value=0)
            .to_numpy(),
            "faults": col("FAULT_INJECTED")
            .reindex(first_seen.index, fill_value=0)
            .to_numpy(),
            "handlers run": col("ROLLBACK_STEP_START")
            .reindex(first_seen.index, fill_value=0)
            .to_numpy(),
        }
    )
    table = table[table[["started", "handlers run", "faults"]].sum(axis=1) > 0]
    numeric = tuple(c for c in table.columns if c != "step")
    return _section("steps", _table(table, numeric=numeric))


def _timeline(trace: pd.DataFrame, chosen: str | None, image: Any) -> str:
    if chosen is None:
        return _section("timeline", '<p class="note">the trace is empty</p>')
    text = (
        f"<p>Every attempt, wait and rollback handler of <strong>{escape(chosen)}"
        "</strong>, in simulated time; handlers are numbered in the order they "
        "ran.</p>"
    )
    chart = image(lambda: instance_timeline(trace, chosen), f"timeline of {chosen}")
    return _section("timeline", text + chart)


def _ordering(
    trace: pd.DataFrame, chosen: str | None, grouped: dict, image: Any
) -> str:
    undone = rolled_back(trace)
    if not undone:
        return _section("ordering", '<p class="note">no instance rolled back</p>')
    disagreeing = 0
    for name in undone:
        orders = rollback_orders(grouped[name], name)
        if disagreeing_pairs(orders.ran, orders.reverse_completion):
            disagreeing += 1
    target = chosen if chosen in set(undone) else undone[0]
    text = (
        f"<p>{len(undone):,} instance{'s' if len(undone) != 1 else ''} rolled back; "
        f"in {disagreeing:,} of them, undoing in reverse order of completion "
        "would have differed from the engine's reverse order of start. "
        f"Below: <strong>{escape(target)}</strong>.</p>"
    )
    chart = image(lambda: ordering_chart(trace, target), f"rollback order of {target}")
    return _section("ordering", text + chart)


def _services(record: RunRecord, image: Any) -> str:
    history = record.history
    if history.empty or "service" not in history:
        return _section("services", '<p class="note">no service calls recorded</p>')
    frame = history_frame(history)
    effects = record.effects
    rows, charts = [], []
    for name in dict.fromkeys(frame["service"]):
        calls = frame[frame["service"] == name]
        outcomes = Counter(calls["outcome"])
        applied = (
            int((effects["service"] == name).sum())
            if not effects.empty and "service" in effects
            else 0
        )
        rows.append(
            {
                "service": name,
                "calls": len(calls),
                "ok": outcomes["ok"],
                "failed": outcomes["failed"],
                "unanswered": outcomes["unknown"],
                "pending": outcomes["pending"],
                "effects": applied,
            }
        )
        chart = image(
            lambda calls=calls, name=name: load_chart(
                calls, record.trace, name=name, outages=record.outages.get(name, ())
            ),
            f"load on {name}",
        )
        charts.append(f"<h3>{escape(name)}</h3>" + chart)
    table = pd.DataFrame(rows)
    numeric = tuple(c for c in table.columns if c != "service")
    return _section("services", _table(table, numeric=numeric) + "".join(charts))


def _faults(record: RunRecord) -> str:
    trace = record.trace
    fired = trace[trace["event"] == "FAULT_INJECTED"]
    parts = []
    if record.faults is not None and len(record.faults):
        parts.append(
            "<h3>Fault plan</h3>" + _table(record.faults, numeric=("fault", "fired"))
        )
    if fired.empty:
        parts.append('<p class="note">no fault was injected</p>')
    else:
        kinds = Counter(detail(d).get("kind", "?") for d in fired["detail"])
        where = Counter(
            (detail(row.detail).get("kind", "?"), row.step)
            for row in fired.itertuples(index=False)
        )
        table = pd.DataFrame(
            [
                {"kind": kind, "step": step or "(instance)", "fired": n}
                for (kind, step), n in sorted(where.items(), key=lambda kv: -kv[1])
            ]
        )
        summary = ", ".join(f"{n:,} {kind}" for kind, n in kinds.most_common())
        parts.append(f"<p>{len(fired):,} injections: {escape(summary)}.</p>")
        parts.append(_table(table, numeric=("fired",)))
    return _section("faults", "".join(parts))


def _violations(violations: pd.DataFrame) -> str:
    if violations is None or violations.empty:
        return _section(
            "violations", '<p class="good">The checks found no violation.</p>'
        )
    counts = Counter(violations["check"]) if "check" in violations else Counter()
    summary = ", ".join(f"{n:,} {check}" for check, n in counts.most_common())
    noun = "violation" if len(violations) == 1 else "violations"
    text = f'<p class="bad">{len(violations):,} {noun}: {escape(summary)}.</p>'
    return _section("violations", text + _table(violations))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_report(
    source: Any,
    out: str | Path,
    *,
    instance: str | None = None,
    seed: int | None = None,
) -> Path:
    """Write the report of ``source`` to ``out``; return the path written.

    ``source`` is a :class:`RunRecord`, a finished Simulation, or the path
    of a scenario file or run folder (:meth:`RunRecord.load`). The file is
    written through a temporary file and a rename, so a reader never sees
    half a report.

    Raises:
        ReportError: for a source that cannot be reported on.
        OSError: when the file cannot be written.
    """
    if isinstance(source, RunRecord):
        record = source
    elif isinstance(source, (str, Path)):
        record = RunRecord.load(source, seed=seed)
    else:
        record = RunRecord.from_simulation(source)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_report(record, instance=instance)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
