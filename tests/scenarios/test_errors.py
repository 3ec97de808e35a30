"""Bad scenario files through the command line: one line, exit 2, no files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagasim.cli import main

BASE = """\
[simulation]
instances = 2

[[services]]
name = "payments"
kind = "payments"

[payload]
amount = 100

[workflow]
[[workflow.steps]]
name = "charge"
call = "payments.charge"
args = { customer = "c", amount = "{payload.amount}" }
key = "{instance}:charge"
compensation = { call = "payments.refund", args = { charge = "{output}" } }
"""

# name: (old, new, the error after "sagasim: error: <file>: ")
CASES = {
    "bad field": (
        'kind = "payments"',
        'kind = "payments"\ncapacity = "lots"',
        'services[0].capacity: expected a positive integer, got "lots"',
    ),
    "bad fault kind": (
        "[workflow]",
        '[[faults]]\nkind = "lose_output"\n[[faults]]\nkind = "explode"\n[workflow]',
        "faults[1].kind: expected one of fail_before, lose_output, hang, "
        "crash_during, crash_before_persist, crash_after_persist, latency, "
        "mock_result, mock_error, force_timeout, disable_sleeps, "
        "disable_retry_delays, mock_event, force_event_timeout, outage, "
        "got 'explode'",
    ),
    "bad fault field": (
        "[workflow]",
        '[[faults]]\nkind = "hang"\nlands_after = "soon"\n[workflow]',
        "faults[0].lands_after: expected '<n> <unit>', got 'soon'",
    ),
    "bad template": (
        'amount = "{payload.amount}"',
        'amount = "{payload.amout}"',
        "workflow.steps[0].args.amount: {payload.amout}: the payload has no "
        "field 'amout' (its fields: amount)",
    ),
    "unbalanced template": (
        'charge = "{output}"',
        'charge = "{output"',
        "workflow.steps[0].compensation.args.charge: a '{' without its '}' at "
        "character 1 of '{output' (write '{{' for a literal brace)",
    ),
    "unknown section": (
        "[workflow]\n[[workflow.steps]]",
        "[unused]\n[[unused.steps]]",
        "unused: unknown field, expected one of description, simulation, "
        "services, payload, workflow, events, faults, checks",
    ),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_file_is_one_stderr_line_and_exit_2(case, tmp_path, capsys):
    """The error names the file and the dotted field; nothing is written."""
    old, new, message = CASES[case]
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1))

    status = main(["run", str(path), "-o", str(tmp_path / "out")])

    out, err = capsys.readouterr()
    assert (2, "") == (status, out)
    assert f"sagasim: error: {path}: {message}\n" == err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (
            "no_such_pkg.saga:Order",
            'workflow: cannot import module "no_such_pkg.saga": '
            "ModuleNotFoundError: No module named 'no_such_pkg'",
        ),
        (
            "sagasim.scenarios:Nothing",
            "workflow: module \"sagasim.scenarios\" has no 'Nothing'",
        ),
        (
            "sagasim:Simulation",
            "workflow: sagasim:Simulation is not a subclass of sagasim.Workflow, "
            "got <class 'sagasim.runtime.simulation.Simulation'>",
        ),
        (
            "x:Y:Z",
            'workflow: expected a [workflow] table or "package.module:ClassName", '
            'got "x:Y:Z"',
        ),
    ],
)
def test_a_bad_workflow_reference_is_one_line_and_exit_2(
    ref, message, tmp_path, capsys
):
    """workflow = "x:Y" that cannot be imported is a one-line error too."""
    path = write(tmp_path, f'workflow = "{ref}"\n[simulation]\ninstances = 1\n')

    status = main(["run", str(path), "-o", str(tmp_path / "out")])

    err = capsys.readouterr().err
    assert 2 == status
    assert f"sagasim: error: {path}: {message}\n" == err


@pytest.mark.parametrize(
    "text",
    [
        BASE.replace('kind = "payments"', 'kind = "paypal"'),
        BASE.replace("[workflow]", '[[faults]]\nkind = "nope"\n[workflow]'),
        BASE.replace('amount = "{payload.amount}"', 'amount = "{steps.later.id}"'),
        'workflow = "no_such_module_at_all:Saga"\n[simulation]\ninstances = 1\n',
    ],
    ids=["field", "fault", "template", "workflow"],
)
def test_as_a_program_a_bad_file_prints_no_traceback(text, tmp_path):
    """Run as `python -m sagasim`, stderr is one line and the exit status 2."""
    path = write(tmp_path, text)
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")

    done = subprocess.run(
        [sys.executable, "-m", "sagasim", "run", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )

    assert (2, "") == (done.returncode, done.stdout)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert 1 == len(lines)
    assert lines[0].startswith(f"sagasim: error: {path}: ")
    assert not (tmp_path / "runs").exists()
