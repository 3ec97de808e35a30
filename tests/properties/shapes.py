"""Hypothesis strategies for workflow shapes, drawn as plain data.

A shape is ``{"items": [...]}``; each item is one of

- ``{"type": "step", "step": spec}``: ``await step.do(...)``;
- ``{"type": "gather", "steps": [spec, ...]}``: ``await sagasim.gather(...)``
  of two to four ``step.do`` calls, started in list order;
- ``{"type": "sleep", "name": ..., "ms": ...}``: ``await step.sleep(...)``.

A step spec is a flat dict: its ``name`` (from a small alphabet, so names
repeat), body ``latency`` in ms, ``kind`` (``"ok"``; ``"nonretryable"``;
``"exhaust"``, raising until its retries are used up; or ``"timeout"``,
outliving its per-attempt ``timeout`` every time), whether the workflow
``caught`` its error with try/except, its retry config, and its rollback
handler (or none). An ``"ok"`` step may be ``flaky`` (its first attempts
fail) but always has a retry to spare, so one engine crash cannot make it
fail. At most one step is the failure point: a failing step that nothing
catches.

Everything is lists, dicts, small integers and ``sampled_from`` choices, so
a failing example shrinks to few items, short latencies and simple kinds.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

NAMES = "abc"
BACKOFFS = ("constant", "linear", "exponential")
FAILING_KINDS = ("nonretryable", "exhaust", "timeout")


@st.composite
def step_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A step that succeeds, or fails inside a try/except."""
    spec = {
        "name": draw(st.sampled_from(NAMES)),
        "latency": draw(st.integers(0, 40)),
        "kind": "ok",
        "caught": draw(st.booleans()),
        "timeout": None,
        "flaky": 0,
        "limit": 0,
        "delay": draw(st.integers(0, 10)),
        "backoff": draw(st.sampled_from(BACKOFFS)),
        "error_class": draw(st.sampled_from(("NonRetryableError", "Declined"))),
        "returns_none": draw(st.booleans()),
        "handler": draw(st.integers(0, 3)) > 0,
        "handler_latency": draw(st.integers(0, 10)),
        "handler_config": draw(
            st.none()
            | st.fixed_dictionaries(
                {
                    "limit": st.integers(1, 2),
                    "delay": st.integers(0, 10),
                    "backoff": st.sampled_from(BACKOFFS),
                }
            )
        ),
    }
    if spec["caught"]:
        spec["kind"] = draw(st.sampled_from(("ok", *FAILING_KINDS)))
    if spec["kind"] == "ok":
        spec["flaky"] = draw(st.integers(0, 2))
        spec["limit"] = spec["flaky"] + draw(st.integers(1, 2))
    else:
        spec["limit"] = draw(st.integers(0, 2))
    set_timeout(draw, spec)
    return spec


def set_timeout(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """A "timeout" step outlives its per-attempt timeout on every attempt;
    any other step may have a timeout it meets, perhaps exactly."""
    if spec["kind"] == "timeout":
        spec["timeout"] = draw(st.integers(1, 30))
        spec["latency"] = spec["timeout"] + draw(st.integers(1, 10))
    elif draw(st.booleans()):
        spec["timeout"] = max(1, spec["latency"] + draw(st.integers(0, 5)))
    else:
        spec["timeout"] = None


def items() -> st.SearchStrategy[dict[str, Any]]:
    """One item of a workflow: a step, a gather of steps, or a sleep."""
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("step"), "step": step_specs()}),
        st.fixed_dictionaries(
            {
                "type": st.just("gather"),
                "steps": st.lists(step_specs(), min_size=2, max_size=4),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("sleep"),
                "name": st.sampled_from(NAMES),
                "ms": st.integers(0, 30),
            }
        ),
    )


def step_list(shape: dict[str, Any]) -> list[dict[str, Any]]:
    """The shape's step specs in call order."""
    specs = []
    for item in shape["items"]:
        if item["type"] == "step":
            specs.append(item["step"])
        elif item["type"] == "gather":
            specs.extend(item["steps"])
    return specs


@st.composite
def shapes(draw: st.DrawFn, *, failure: bool | None = None) -> dict[str, Any]:
    """A workflow shape; with ``failure`` True it has a failure point, with
    False none, and by default maybe one."""
    shape = {"items": draw(st.lists(items(), min_size=1, max_size=6))}
    specs = step_list(shape)
    if not specs:
        shape["items"].append({"type": "step", "step": draw(step_specs())})
        specs = step_list(shape)

    if failure is None:
        failure = draw(st.integers(0, 2)) > 0
    if failure:
        spec = specs[draw(st.integers(0, len(specs) - 1))]
        spec["kind"] = draw(st.sampled_from(FAILING_KINDS))
        spec["caught"] = False
        spec["flaky"] = 0
        spec["limit"] = draw(st.integers(0, 2))
        set_timeout(draw, spec)
    return shape
