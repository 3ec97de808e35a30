"""Seeded runs of random workflow shapes are reproducible (DESIGN: Determinism)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, note, settings
from hypothesis import strategies as st

from sagasim.strategies import case_snippet

from .model import predict
from .support import model_shapes, run_shape

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


@given(
    shape=model_shapes(),
    seed=st.integers(0, 2**32),
    inflight=st.sampled_from(("cancel", "drain")),
    data=st.data(),
)
def test_same_shape_and_seed_give_a_byte_identical_trace(shape, seed, inflight, data):
    """The same shape, seed and crash instant give byte-identical trace CSV."""
    end = predict(shape).end
    crash = data.draw(st.none() | st.integers(0, end + 5), label="crash_ms")
    note(case_snippet(shape, crash=crash, seed=seed, inflight=inflight, jitter=True))

    options = {"seed": seed, "crash": crash, "jitter": True, "inflight": inflight}
    first, _, _ = run_shape(shape, **options)
    second, _, _ = run_shape(shape, **options)

    assert list(first.trace.columns) == TRACE_COLUMNS
    assert first.trace.to_csv(index=False) == second.trace.to_csv(index=False)


RUNNER = """
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
from properties.support import run_shape
digests = []
for case in json.load(sys.stdin):
    sim, _, _ = run_shape(case.pop("shape"), jitter=True, **case)
    digests.append(hashlib.sha256(sim.trace.to_csv(index=False).encode()).hexdigest())
print(json.dumps(digests))
"""


def run_elsewhere(cases, hash_seed):
    """Trace digests of ``cases`` run in a fresh interpreter."""
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed))
    tests = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, tests],
        input=json.dumps(cases),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


@settings(max_examples=max(1, settings().max_examples // 100))
@given(
    cases=st.lists(
        st.fixed_dictionaries(
            {
                "shape": model_shapes(),
                "seed": st.integers(0, 2**32),
                "crash": st.none() | st.integers(0, 200),
                "inflight": st.sampled_from(("cancel", "drain")),
            }
        ),
        min_size=10,
        max_size=10,
    )
)
def test_traces_do_not_depend_on_the_string_hash_seed(cases):
    """Runs in interpreters with different PYTHONHASHSEED give identical traces."""
    assert run_elsewhere(cases, 1) == run_elsewhere(cases, 2)
