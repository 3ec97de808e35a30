"""Seeded runs of random workflow shapes are reproducible (DESIGN: Determinism)."""

from hypothesis import given, note
from hypothesis import strategies as st

from .interpreter import run_shape
from .model import predict
from .shapes import shapes
from .snippet import snippet

TRACE_COLUMNS = [
    "seq",
    "time",
    "instance",
    "event",
    "step",
    "count",
    "attempt",
    "error_name",
    "error_message",
    "detail",
]


@given(shape=shapes(), seed=st.integers(0, 2**32), data=st.data())
def test_same_shape_and_seed_give_a_byte_identical_trace(shape, seed, data):
    """The same shape, seed and crash instant give byte-identical trace CSV."""
    end = predict(shape).end
    crash = data.draw(st.none() | st.integers(0, end + 5), label="crash_ms")
    note(snippet(shape, crash, seed))

    first, _, _ = run_shape(shape, seed=seed, crash=crash, jitter=True)
    second, _, _ = run_shape(shape, seed=seed, crash=crash, jitter=True)

    assert list(first.trace.columns) == TRACE_COLUMNS
    assert first.trace.to_csv(index=False) == second.trace.to_csv(index=False)
