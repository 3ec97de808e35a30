"""Workflow shapes: what a generated workflow does, drawn as plain data.

A shape is ``{"items": [item, ...]}``, run top to bottom by ``run()``. An
item is one of

- ``{"type": "step", "step": spec}``: ``await step.do(...)``;
- ``{"type": "gather", "steps": [spec, ...]}``: ``await sagasim.gather(...)``
  of two or three ``step.do`` calls, started in list order;
- ``{"type": "parallel", "branches": [[item, ...], ...]}``: two or three
  branches, each a sequence of one or two items run as its own coroutine,
  gathered, so gathers nest (two deep at most);
- ``{"type": "sleep", "name": ..., "ms": ...}``: ``await step.sleep(...)``;
- ``{"type": "wait", "name": ..., "event": ..., "timeout": ..., "caught":
  ...}``: ``await step.wait_for_event(name, type=event, timeout=...)``; its
  result is the event's payload, and a timeout that is ``caught`` becomes a
  value instead of failing ``run()``.

A step spec is a flat dict:

``name``
    from a small alphabet, so names repeat and counts go above 1.
``latency``
    the body's simulated ms per attempt.
``kind``
    ``"ok"``; ``"nonretryable"`` (raises ``NonRetryableError``, or its
    subclass ``Declined`` when ``error_class`` says so); ``"exhaust"``
    (raises until its retries are used up); ``"timeout"`` (outlives its
    per-attempt ``timeout`` on every attempt).
``caught``
    whether ``run()`` wraps the step in ``try``/``except``.
``flaky``
    the first attempts of an ``"ok"`` step that fail; an uncaught ``"ok"``
    step always has a retry to spare, so one engine crash cannot fail it.
``limit``, ``delay``, ``backoff``, ``timeout``
    its retry config (``timeout`` ``None`` for the engine default).
``returns_none``
    whether the body returns ``None`` instead of ``{"step", "count"}``.
``handler``, ``handler_latency``, ``handler_config``, ``handler_flaky``
    whether it registers a rollback handler, the handler's ms, its
    ``rollback_config`` retries (``None`` for the engine defaults) and how
    many of its first attempts raise.

At most one step is the *failure point*: a failing step that nothing
catches. Everything is lists, dicts, small integers and ``sampled_from``
choices, so a failing example shrinks to few items, short latencies and
simple kinds.

Example::

    from hypothesis import given
    from sagasim.strategies import workflow_shapes

    @given(workflow_shapes(failure=True))
    def test_a_failure_point_fails_the_instance(shape):
        ...
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "BACKOFFS",
    "EVENT_TYPES",
    "FAILING_KINDS",
    "NAMES",
    "can_fail",
    "iter_items",
    "shape_steps",
    "step_specs",
    "workflow_shapes",
]

NAMES = "abc"
EVENT_TYPES = ("go", "stop")
BACKOFFS = ("constant", "linear", "exponential")
FAILING_KINDS = ("nonretryable", "exhaust", "timeout")
ERROR_CLASSES = ("NonRetryableError", "Declined")


_HANDLER_CONFIGS = st.none() | st.fixed_dictionaries(
    {
        "limit": st.integers(1, 2),
        "delay": st.integers(0, 10),
        "backoff": st.sampled_from(BACKOFFS),
    }
)


@st.composite
def _step_specs(draw: st.DrawFn, names: str, failing_handlers: bool) -> dict[str, Any]:
    # Fields that matter only in some specs are drawn only there, which
    # keeps draws few and shrinking direct; the others keep their defaults.
    spec = {
        "name": draw(st.sampled_from(names)),
        "latency": draw(st.integers(0, 40)),
        "kind": "ok",
        "caught": draw(st.booleans()),
        "timeout": None,
        "flaky": 0,
        "limit": 0,
        "delay": 0,
        "backoff": "constant",
        "error_class": "NonRetryableError",
        "returns_none": False,
        "handler": draw(st.integers(0, 3)) > 0,
        "handler_latency": 0,
        "handler_config": None,
        "handler_flaky": 0,
    }
    if spec["caught"]:
        spec["kind"] = draw(st.sampled_from(("ok", *FAILING_KINDS)))
    _set_kind(draw, spec)
    if spec["handler"]:
        spec["handler_latency"] = draw(st.integers(0, 10))
        spec["handler_config"] = draw(_HANDLER_CONFIGS)
        if failing_handlers:
            spec["handler_flaky"] = draw(st.integers(0, 3))
    return spec


def _set_kind(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """Draw the fields that depend on the spec's ``kind``: what an ``"ok"``
    step returns and how flaky it is, a failing step's retries, the error
    class of a non-retryable one, and the timeout."""
    if spec["kind"] == "ok":
        spec["returns_none"] = draw(st.booleans())
        spec["flaky"] = draw(st.integers(0, 2))
        spec["limit"] = spec["flaky"] + draw(st.integers(1, 2))
    else:
        spec["returns_none"] = False
        spec["flaky"] = 0
        spec["limit"] = draw(st.integers(0, 2))
    if spec["kind"] == "nonretryable":
        spec["error_class"] = draw(st.sampled_from(ERROR_CLASSES))
    else:
        spec["error_class"] = "NonRetryableError"
    if spec["limit"] > 0:
        spec["delay"] = draw(st.integers(0, 10))
        spec["backoff"] = draw(st.sampled_from(BACKOFFS))
    else:
        spec["delay"], spec["backoff"] = 0, "constant"
    _set_timeout(draw, spec)


# NOTE: strategies are built once per set of arguments and reused, because
# Hypothesis validates each new strategy object on its first draw, which
# would otherwise cost more than drawing from it.
@functools.cache
def step_specs(
    *, names: str = NAMES, failing_handlers: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """A step that succeeds, or fails inside a ``try``/``except``.

    With ``failing_handlers``, its rollback handler may raise on its first
    attempts (``handler_flaky``), perhaps more often than its retries allow.
    """
    return _step_specs(names, failing_handlers)


def _set_timeout(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """A "timeout" step outlives its per-attempt timeout on every attempt;
    any other step may have a timeout it meets, perhaps exactly."""
    if spec["kind"] == "timeout":
        spec["timeout"] = draw(st.integers(1, 30))
        spec["latency"] = spec["timeout"] + draw(st.integers(1, 10))
    elif draw(st.booleans()):
        spec["timeout"] = max(1, spec["latency"] + draw(st.integers(0, 5)))
    else:
        spec["timeout"] = None


@functools.cache
def _items(
    *,
    names: str,
    depth: int,
    waits: bool,
    caught_waits: bool,
    failing_handlers: bool,
) -> st.SearchStrategy[dict[str, Any]]:
    """One item; a ``parallel`` item only while ``depth`` is above 0."""
    specs = step_specs(names=names, failing_handlers=failing_handlers)
    choices = [
        st.fixed_dictionaries({"type": st.just("step"), "step": specs}),
        st.fixed_dictionaries(
            {
                "type": st.just("gather"),
                "steps": st.lists(specs, min_size=2, max_size=3),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("sleep"),
                "name": st.sampled_from(names),
                "ms": st.integers(0, 30),
            }
        ),
    ]
    if waits:
        choices.append(
            st.fixed_dictionaries(
                {
                    "type": st.just("wait"),
                    "name": st.sampled_from(names),
                    "event": st.sampled_from(EVENT_TYPES),
                    "timeout": st.integers(1, 60),
                    "caught": st.just(True) if caught_waits else st.booleans(),
                }
            )
        )
    if depth > 0:
        branch = st.lists(
            _items(
                names=names,
                depth=depth - 1,
                waits=waits,
                caught_waits=caught_waits,
                failing_handlers=failing_handlers,
            ),
            min_size=1,
            max_size=2,
        )
        choices.append(
            st.fixed_dictionaries(
                {
                    "type": st.just("parallel"),
                    "branches": st.lists(branch, min_size=2, max_size=3),
                }
            )
        )
    return st.one_of(choices)


@functools.cache
def _lists(
    items: st.SearchStrategy[dict[str, Any]], max_items: int
) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(items, min_size=1, max_size=max_items)


def iter_items(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every item of ``items``, depth first, parallel branches included."""
    for item in items:
        yield item
        if item["type"] == "parallel":
            for branch in item["branches"]:
                yield from iter_items(branch)


def can_fail(shape: dict[str, Any]) -> bool:
    """Whether anything in ``shape`` can raise into ``run()`` and so fail it
    terminally: a step or a wait that it does not catch. (Faults cannot
    change that: a caught step's injected failure is caught too.)"""
    if any(not spec["caught"] for spec in shape_steps(shape)):
        return True
    return any(
        item["type"] == "wait" and not item["caught"]
        for item in iter_items(shape["items"])
    )


def shape_steps(shape: dict[str, Any]) -> list[dict[str, Any]]:
    """The shape's step specs in the order they appear in it (which is call
    order for a shape without ``parallel`` items)."""
    specs = []
    for item in iter_items(shape["items"]):
        if item["type"] == "step":
            specs.append(item["step"])
        elif item["type"] == "gather":
            specs.extend(item["steps"])
    return specs


@st.composite
def workflow_shapes(
    draw: st.DrawFn,
    *,
    failure: bool | None = None,
    nested: bool = True,
    waits: bool = True,
    failing_handlers: bool = True,
    names: str = NAMES,
    max_items: int = 5,
) -> dict[str, Any]:
    """A workflow shape (see the module docstring).

    Args:
        failure: ``True`` for a failure point (one failing step that
            nothing catches; waits may then go uncaught too), ``False`` for
            none (every failing step and every wait is caught), ``None``
            for either.
        nested: whether ``parallel`` items (gathers of sequences, nested up
            to two deep) are drawn.
        waits: whether ``wait`` items are drawn.
        failing_handlers: whether rollback handlers may raise.
        names: the alphabet of step, sleep and wait names.
        max_items: the most top-level items.

    With ``nested``, ``waits`` and ``failing_handlers`` all false the shapes
    are sequences of steps, flat gathers and sleeps, whose outcome an
    independent model can predict exactly.
    """
    if failure is None:
        failure = draw(st.integers(0, 2)) > 0
    items = _items(
        names=names,
        depth=2 if nested else 0,
        waits=waits,
        caught_waits=not failure,
        failing_handlers=failing_handlers,
    )
    shape = {"items": draw(_lists(items, max_items))}
    specs = shape_steps(shape)
    if not specs:
        spec = draw(step_specs(names=names, failing_handlers=failing_handlers))
        shape["items"].append({"type": "step", "step": spec})
        specs = [spec]

    if failure:
        spec = specs[draw(st.integers(0, len(specs) - 1))]
        spec["kind"] = draw(st.sampled_from(FAILING_KINDS))
        spec["caught"] = False
        _set_kind(draw, spec)
    return shape
