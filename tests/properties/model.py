"""An independent model of what a drawn workflow shape must do.

The model reads only the shape (see :mod:`.shapes`) and DESIGN.md's engine
semantics; it never looks at an engine run. It walks the shape the way
``run()`` does, in integer milliseconds, and predicts:

- every ``step.do`` call in call order (which is start order), with the
  start time of each attempt and when and how the step settles;
- how the instance ends (its output, or the error that failed ``run()``);
- the rollback plan: which handlers run, in which order, what output each
  one sees, with how many handler attempts, and when the run ends.

An optional crash instant is modelled as DESIGN rules 4 and 10 put it: the
crash comes after the completions of its instant; a completed step is
cached, a step that failed with ``NonRetryableError`` is not (the replay
runs it again), an attempt in flight fails with ``WorkflowInternalError``
when the replayed ``run()`` reaches the step and the next attempt follows
the backoff from then, and durable timers keep their wake times.

Under ``inflight="cancel"`` (the default) the steps of the failing item
still running when ``run()`` fails are cancelled then, and their handlers
see ``UNDEFINED``; under ``"drain"`` the rollback waits until they settle
(rule 8), and a crash meanwhile leaves them to the replay to finish.

At one instant, a gather member finishing at the very moment a sibling
fails ``run()`` may be seen either way (DESIGN leaves that order open), so
such predictions are sets of allowed values and ranges of attempts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagasim import UNDEFINED

INTERNAL = "WorkflowInternalError"
DEFAULT_HANDLER_RETRY = {"limit": 5, "delay": 10_000, "backoff": "exponential"}


def retry_wait(attempt: int, delay: int, backoff: str) -> int:
    """The wait after the failure of ``attempt`` (DESIGN rule 1)."""
    if backoff == "constant":
        return delay
    if backoff == "linear":
        return delay * attempt
    return delay * 2 ** (attempt - 1)


def step_output(spec: dict[str, Any], key: tuple[str, int]) -> Any:
    """What a succeeding body returns (the same on every attempt)."""
    if spec["returns_none"]:
        return None
    return {"step": key[0], "count": key[1]}


def attempt_error(spec: dict[str, Any], key: tuple[str, int], attempt: int):
    """The (name, message) a failing attempt raises."""
    name, count = key
    if spec["kind"] == "timeout":
        return (
            "WorkflowTimeoutError",
            f"Execution timed out after {spec['timeout']}ms",
        )
    if spec["kind"] == "nonretryable":
        return (spec["error_class"], f"{name}#{count} declined on attempt {attempt}")
    return ("Exhausted", f"{name}#{count} failed attempt {attempt}")


def caught_result(error: tuple[str, str | None]) -> str:
    """What the generated workflow returns for a step whose error it caught."""
    name, message = error
    return f"caught {name}: {'*' if message is None else message}"


@dataclass
class StepTimeline:
    """One step's predicted life: attempt starts, settle time and outcome."""

    key: tuple[str, int]
    spec: dict[str, Any]
    starts: list[int]
    end: int
    output: Any = UNDEFINED
    error: tuple[str, str | None] | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def uncaught(self) -> bool:
        return self.failed and not self.spec["caught"]

    def result(self) -> Any:
        """What ``run()`` gets back for this step (after its try/except)."""
        return caught_result(self.error) if self.failed else self.output


def step_timeline(
    spec: dict[str, Any],
    key: tuple[str, int],
    call: int,
    crash: int | None = None,
    replay_at: int | None = None,
) -> StepTimeline:
    """The attempts of a step called at ``call``.

    With ``crash`` (at or after ``call``), the step is called again by the
    replayed ``run()`` at ``replay_at`` (at or after ``crash``).
    """
    limit = spec["limit"]
    # An attempt ends when its body returns or raises, or at its deadline;
    # a body that returns exactly at the deadline succeeds (rule 2).
    latency = spec["latency"]
    if spec["timeout"] is not None:
        latency = min(latency, spec["timeout"])
    starts: list[int] = []
    armed = crash is not None
    attempt, at = 1, call
    while True:
        starts.append(at)
        end = at + latency
        if armed and at <= crash < end:
            armed = False
            if attempt > limit:
                return StepTimeline(
                    key, spec, starts, replay_at, error=(INTERNAL, None)
                )
            at = replay_at + retry_wait(attempt, spec["delay"], spec["backoff"])
            attempt += 1
            continue

        succeeds = spec["kind"] == "ok" and attempt > spec["flaky"]
        if succeeds:
            settle = replay_at if armed else end
            return StepTimeline(key, spec, starts, settle, step_output(spec, key))

        error = attempt_error(spec, key, attempt)
        if spec["kind"] == "nonretryable":
            if armed:
                # Not cached: the replay runs the body again, and it fails again.
                starts.append(replay_at)
                error = attempt_error(spec, key, attempt + 1)
                return StepTimeline(key, spec, starts, replay_at + latency, error=error)
            return StepTimeline(key, spec, starts, end, error=error)
        if attempt > limit:
            return StepTimeline(
                key, spec, starts, replay_at if armed else end, error=error
            )

        wake = end + retry_wait(attempt, spec["delay"], spec["backoff"])
        if armed and crash < wake:
            armed = False
            wake = max(wake, replay_at)
        at = wake
        attempt += 1


@dataclass
class RollbackEntry:
    """One handler the model expects to run, in plan order."""

    key: tuple[str, int]
    outputs: tuple[Any, ...]  # the outputs the handler may see
    step_attempts: tuple[int, int]  # range of ctx.attempt (the step's attempts)
    handler_attempts: int = 1
    start: int = 0
    end: int = 0


@dataclass
class Prediction:
    """What the model expects of one run of a shape."""

    status: str
    output: Any = None
    error: tuple[str, str | None] | None = None
    failed_at: int | None = None
    drain_ends: int | None = None  # when the rollback starts
    end: int = 0
    steps: list[StepTimeline] = field(default_factory=list)
    rollback: list[RollbackEntry] = field(default_factory=list)
    # For each (name, count): allowed numbers of body invocations, and of
    # bodies that returned.
    invocations: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    completions: dict[tuple[str, int], frozenset[int]] = field(default_factory=dict)


class _Walk:
    """Walks the shape's items as ``run()`` does, with an optional crash."""

    def __init__(self, shape: dict[str, Any], crash: int | None) -> None:
        self.shape = shape
        self.crash = crash
        self.counts: dict[str, int] = {}
        self.results: list[Any] = []
        self.steps: list[StepTimeline] = []
        self.failing_item: list[StepTimeline] | None = None
        self.failed_at: int | None = None
        self.end = 0

    def key(self, name: str) -> tuple[str, int]:
        count = self.counts.get(name, 0) + 1
        self.counts[name] = count
        return (name, count)

    def run(self) -> None:
        t = 0
        replay = self.crash  # where the replayed run() has got to
        before_crash = self.crash is not None
        for item in self.shape["items"]:
            if item["type"] == "sleep":
                wake = t + item["ms"]
                if before_crash and wake > self.crash:
                    before_crash = False
                    wake = max(wake, replay)
                t = wake
                self.results.append("slept")
                continue

            specs = [item["step"]] if item["type"] == "step" else item["steps"]
            keys = [self.key(spec["name"]) for spec in specs]
            timelines = [
                step_timeline(spec, key, t)
                for spec, key in zip(specs, keys, strict=True)
            ]
            if before_crash:
                settles = _settles(timelines)
                timelines = [
                    step_timeline(spec, key, t, self.crash, replay)
                    for spec, key in zip(specs, keys, strict=True)
                ]
                if settles <= self.crash:
                    # Settled before the crash: the replayed run() passes it
                    # again, at once or after re-running uncached failures.
                    replay = _settles(timelines)
                    t = settles
                else:
                    before_crash = False
                    t = _settles(timelines)
            else:
                t = _settles(timelines)

            self.steps.extend(timelines)
            if any(tl.uncaught for tl in timelines):
                self.failing_item = timelines
                self.failed_at = t
                self.end = t
                return
            results = [tl.result() for tl in timelines]
            self.results.append(results[0] if item["type"] == "step" else results)
        self.end = t


def _settles(timelines: list[StepTimeline]) -> int:
    """When an item settles: at its uncaught failure, else when all settle."""
    failing = [tl.end for tl in timelines if tl.uncaught]
    return min(failing) if failing else max(tl.end for tl in timelines)


def predict(
    shape: dict[str, Any], crash: int | None = None, inflight: str = "cancel"
) -> Prediction:
    """The model's prediction for ``shape`` under the ``inflight`` policy
    (``"cancel"`` or ``"drain"``), with an engine crash at ``crash``
    (integer milliseconds), or none."""
    base = _Walk(shape, None)
    base.run()
    drain_ends = _drain_ends(base, inflight)
    rollback_crash = None
    if crash is not None and crash < base.end:
        walk = _Walk(shape, crash)
        walk.run()
    else:
        walk = base
        if crash is not None and crash < drain_ends:
            _crash_while_draining(walk, crash)
        else:
            rollback_crash = crash

    prediction = Prediction(status="complete", steps=walk.steps, end=walk.end)
    if walk.failing_item is None:
        prediction.output = walk.results
        for tl in walk.steps:
            prediction.invocations[tl.key] = (len(tl.starts), len(tl.starts))
            prediction.completions[tl.key] = frozenset({0 if tl.failed else 1})
        return prediction

    failed_at = walk.failed_at
    (failure,) = [tl for tl in walk.failing_item if tl.uncaught]
    prediction.status = "errored"
    prediction.error = failure.error
    prediction.failed_at = failed_at
    cancelled = set() if inflight == "drain" else {tl.key for tl in walk.failing_item}
    for tl in walk.steps:
        outputs, attempts, completions = _seen_at_failure(
            tl, failed_at, tl.key in cancelled
        )
        prediction.invocations[tl.key] = attempts
        prediction.completions[tl.key] = completions
        if tl.spec["handler"]:
            prediction.rollback.append(RollbackEntry(tl.key, outputs, attempts))
    prediction.rollback.reverse()
    prediction.drain_ends = _drain_ends(walk, inflight)
    prediction.end = _time_rollback(
        prediction.rollback, walk.steps, prediction.drain_ends, rollback_crash
    )
    return prediction


def _drain_ends(walk: _Walk, inflight: str) -> int:
    """When the rollback starts: at the failure, or, when draining, once
    every step of the failing item has settled."""
    if walk.failing_item is None:
        return walk.end
    if inflight == "cancel":
        return walk.failed_at
    return max(walk.failed_at, *(tl.end for tl in walk.failing_item))


def _crash_while_draining(walk: _Walk, crash: int) -> None:
    """Re-time the steps still running when the engine crashes while it
    drains them: the replay goes on draining them (rules 4 and 8), so an
    attempt in flight fails then and is retried after its backoff."""
    for index, tl in enumerate(walk.failing_item):
        if tl.end > crash:
            again = step_timeline(tl.spec, tl.key, tl.starts[0], crash, crash)
            walk.failing_item[index] = again
            walk.steps[walk.steps.index(tl)] = again


def _seen_at_failure(tl: StepTimeline, failed_at: int, cancelled: bool):
    """(outputs a handler may see, attempts range, completions) of a step
    when ``run()`` fails at ``failed_at``; ``cancelled`` says whether the
    step, if still running then, is cancelled rather than drained."""
    attempts = len(tl.starts)
    if not cancelled or tl.uncaught or tl.end < failed_at:
        if tl.failed:
            return (UNDEFINED,), (attempts, attempts), frozenset({0})
        return (tl.output,), (attempts, attempts), frozenset({1})

    before = sum(1 for at in tl.starts if at < failed_at)
    by = sum(1 for at in tl.starts if at <= failed_at)
    if tl.end == failed_at and not tl.failed:
        return (tl.output, UNDEFINED), (before, by), frozenset({0, 1})
    return (UNDEFINED,), (before, by), frozenset({0})


def _time_rollback(
    plan: list[RollbackEntry],
    steps: list[StepTimeline],
    start: int,
    crash: int | None,
) -> int:
    """Set each handler's start, end and attempts; return the run's end.

    Handlers run back to back from ``start``. A crash while one runs
    cuts it off; the replay, at the crash instant, retries it after its
    rollback config's first retry wait.
    """
    specs = {tl.key: tl.spec for tl in steps}
    t = start
    for entry in plan:
        spec = specs[entry.key]
        latency = spec["handler_latency"]
        entry.start = t
        end = t + latency
        if crash is not None and t <= crash < end:
            retry = spec["handler_config"] or DEFAULT_HANDLER_RETRY
            end = crash + retry_wait(1, retry["delay"], retry["backoff"]) + latency
            entry.handler_attempts = 2
        entry.end = t = end
    return t
