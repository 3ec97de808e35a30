"""What a soak covered: the shapes, outcomes, operations and faults of its
cases, counted case by case."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sagasim.soak.case import CaseResult
from sagasim.strategies.shapes import iter_items, shape_steps

__all__ = ["Coverage", "case_features"]

#: The sections of the coverage table, in the order printed.
SECTIONS = ("shape", "outcome", "policy", "operation", "fault armed", "fault fired")


def _shape_features(shape: dict[str, Any]) -> set[str]:
    items = list(iter_items(shape["items"]))
    types = {item["type"] for item in items}
    specs = shape_steps(shape)
    features = set()
    if len(shape["items"]) > 1:
        features.add("sequence")
    if "gather" in types:
        features.add("gather")
    if "parallel" in types:
        features.add("nested gather")
        nested = any(
            inner["type"] == "parallel"
            for item in items
            if item["type"] == "parallel"
            for branch in item["branches"]
            for inner in branch
        )
        if nested:
            features.add("gather two deep")
    if "sleep" in types:
        features.add("sleep")
    if "wait" in types:
        features.add("wait for event")
    names = Counter(spec["name"] for spec in specs)
    if any(count > 1 for count in names.values()):
        features.add("repeated name")
    for spec in specs:
        kind = spec["kind"]
        if kind != "ok":
            features.add("caught error" if spec["caught"] else "uncaught error")
        if kind == "nonretryable":
            features.add(
                "NonRetryableError subclass"
                if spec["error_class"] != "NonRetryableError"
                else "NonRetryableError"
            )
        elif kind == "timeout":
            features.add("attempt timeout")
        elif kind == "exhaust":
            features.add("retries exhausted")
        if spec["flaky"]:
            features.add("flaky step")
        if spec["handler"]:
            features.add("rollback handler")
            if spec.get("handler_flaky"):
                features.add("failing handler")
        if spec["returns_none"]:
            features.add("step returns None")
    for item in items:
        if item["type"] == "wait":
            features.add("caught wait" if item["caught"] else "uncaught wait")
    return features


def case_features(case: dict[str, Any], result: CaseResult) -> set[tuple[str, str]]:
    """``(section, feature)`` pairs that ``case`` and its run covered."""
    features = {("shape", name) for name in _shape_features(case["shape"])}
    events = result.events
    outcome = {result.status or "engine raised"}
    for event, name in (
        ("ROLLBACK_START", "rollback ran"),
        ("ROLLBACK_FAILED", "rollback failed"),
        ("ENGINE_REPLAY", "replay after crash"),
        ("WAIT_COMPLETE", "event delivered"),
        ("WAIT_TIMED_OUT", "wait timed out"),
        ("STEP_CANCELLED", "step cancelled"),
    ):
        if events.get(event):
            outcome.add(name)
    features |= {("outcome", name) for name in outcome}
    features.add(("policy", f"inflight={case.get('inflight', 'cancel')}"))
    features.add(
        ("policy", f"on_rollback_failure={case.get('on_rollback_failure', 'halt')}")
    )
    features |= {("operation", name) for name in result.accepted}
    features |= {("fault armed", entry["kind"]) for entry in case.get("faults", ())}
    features |= {("fault fired", kind) for kind, n in result.fired.items() if n}
    return features


class Coverage:
    """Counts of cases per feature; adds up across chunks and workers."""

    def __init__(self) -> None:
        self.cases = 0
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, features: Iterable[tuple[str, str]]) -> None:
        self.cases += 1
        self.counts.update(set(features))

    def merge(self, other: Coverage) -> None:
        self.cases += other.cases
        self.counts.update(other.counts)

    def table(self) -> str:
        """A text table: each section's features, with their case counts and
        share of all cases, most common first."""
        lines = []
        width = max((len(name) for _, name in self.counts), default=10)
        for section in SECTIONS:
            rows = [
                (name, n) for (sec, name), n in self.counts.items() if sec == section
            ]
            if not rows:
                lines.append(f"{section}: none")
                continue
            lines.append(f"{section}")
            for name, n in sorted(rows, key=lambda r: (-r[1], r[0])):
                share = 100 * n / self.cases if self.cases else 0
                lines.append(f"  {name:<{width}}  {n:>8,}  {share:5.1f}%")
        return "\n".join(lines)
