"""Cases written out as scripts that run the same simulation."""

import io
from contextlib import redirect_stdout

from hypothesis import given, note, settings
from properties.known_bugs import AvoidingCaseRun

from sagasim.soak import case_source
from sagasim.strategies import case_snippet, workflow_cases

from .test_shapes import spec


def run_script(script):
    """Run ``script``; return its globals and what it printed."""
    namespace = {"__name__": "snippet"}
    out = io.StringIO()
    with redirect_stdout(out):
        exec(compile(script, "<snippet>", "exec"), namespace)
    return namespace, out.getvalue()


@settings(max_examples=max(1, settings().max_examples // 4))
@given(workflow_cases())
def test_a_case_script_leaves_the_same_trace_byte_for_byte(case):
    """Running a case's script gives the trace the case itself gives."""
    case_run = AvoidingCaseRun(case)
    case_run.play()
    script = case_source(case_run.effective_case())
    note(script)

    namespace, _ = run_script(script)

    expected = case_run.sim.trace.to_csv(index=False)
    assert namespace["sim"].trace.to_csv(index=False) == expected


def test_a_script_prints_status_rollbacks_handlers_and_violations():
    """The script prints the status, inst.rollbacks, what the handlers saw,
    the end time and check_run's findings, after the comment lines; the
    crash at 2 ms cuts the handler off, so it runs again 10 s later."""
    shape = {
        "items": [
            {"type": "step", "step": spec("a", handler=True, handler_latency=5)},
            {"type": "step", "step": spec("b", kind="nonretryable", limit=0)},
        ]
    }
    script = case_snippet(shape, crash=2, comment="found:\n  nothing")

    _, printed = run_script(script)

    assert script.startswith("# found:\n#   nothing\nimport sagasim\n")
    lines = printed.splitlines()
    assert lines[0] == (
        "{'status': 'errored', 'output': None, 'error': {'name': "
        "'NonRetryableError', 'message': 'b#1 declined on attempt 1'}, "
        "'rollback': {'status': 'complete', 'total': 1, 'completed': 1}}"
    )
    assert lines[2] == "[('a', 1, {'step': 'a', 'count': 1}, 1)]"
    assert lines[3] == "10.007"  # the crash at 2 ms cut the handler off
    assert lines[4] == "Empty DataFrame"
