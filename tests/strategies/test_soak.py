"""The soak: running cases, many under Hypothesis, and sagasim check."""

import io
import sys
from contextlib import redirect_stdout

import pytest

from sagasim.checks import Violation, concat
from sagasim.checks.frame import frame
from sagasim.cli import main
from sagasim.soak import CaseRun, run_case
from sagasim.soak import runner as soak_runner
from sagasim.soak.runner import soak

from .test_shapes import spec

CLEAN = {
    "shape": {
        "items": [
            {"type": "step", "step": spec("a", handler=True)},
            {"type": "wait", "name": "w", "event": "go", "timeout": 5, "caught": True},
            {"type": "step", "step": spec("b", kind="nonretryable", limit=0)},
        ]
    },
    "faults": [{"kind": "fail_before", "step": "a", "attempt": 1}],
    "operations": [{"at": 1, "op": "send_event", "type": "go", "payload": 4}],
    "seed": 1,
}


# Cases that stay clear of the engine bugs still open (see
# tests/properties/known_bugs.py), so that these tests pin the soak itself.
CLEAR = {"faults": False, "operations": ("pause", "resume", "crash")}


def plant_a_bug(monkeypatch):
    """Make every case whose shape has a gather report a violation."""

    def checked(case, **options):
        result = run_case(case, **options)
        if any(item["type"] == "gather" for item in case["shape"]["items"]):
            planted = Violation("planted", "inst-1", "", "a gather", ())
            result.violations = concat([result.violations, frame([planted])])
        return result

    monkeypatch.setattr(soak_runner, "run_case", checked)


def test_a_clean_case_runs_to_its_end_without_violations():
    """The case fails at b, rolls a back, and breaks nothing."""
    result = run_case(CLEAN, determinism=True)

    assert result.violations.empty
    assert result.status == "errored"
    assert result.fired == {"fail_before": 1}
    assert result.accepted == {"send_event": 1}
    assert result.events["ROLLBACK_STEP_SUCCESS"] == 1
    assert len(result.digest) == 64


def test_an_error_escaping_the_engine_is_a_violation(monkeypatch):
    """An exception out of the run is reported as engine_raised."""

    def explode(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(CaseRun, "play", explode)

    (violation,) = run_case(CLEAN).violations.itertuples()
    assert (violation.check, violation.subject) == ("engine_raised", "RuntimeError")
    assert violation.message.startswith("RuntimeError: boom at ")


def test_two_runs_with_different_traces_are_reported(monkeypatch):
    """With determinism, different trace digests are nondeterministic_trace."""
    digests = iter(["1" * 64, "2" * 64])
    monkeypatch.setattr(CaseRun, "digest", lambda self: next(digests))

    checks = run_case(CLEAN, determinism=True).violations["check"].tolist()
    assert checks == ["nondeterministic_trace"]


def test_a_soak_checks_as_many_cases_as_asked_the_same_way_each_time():
    """The same seed gives the same cases and so the same coverage."""
    first = soak(20, seed=3, chunk=10, case_options=CLEAR)
    second = soak(20, seed=3, chunk=10, case_options=CLEAR)

    assert (first.cases, first.failure) == (20, None)
    assert first.coverage.cases == 20
    assert first.coverage.counts == second.coverage.counts


def test_workers_check_the_same_cases_each_time():
    """Two worker processes check all the cases, the same ones every run.

    Worker runs are compared with each other, not with a run in this
    process: Hypothesis also draws from constants it finds in the modules
    loaded, and this process has loaded far more of them than a worker.
    """
    spread = soak(20, seed=4, chunk=10, workers=2, case_options=CLEAR)
    again = soak(20, seed=4, chunk=10, workers=2, case_options=CLEAR)

    assert (spread.cases, spread.failure) == (20, None)
    assert spread.coverage.cases == 20
    assert spread.coverage.counts == again.coverage.counts


def test_a_violation_stops_the_soak_and_shrinks_to_the_smallest_case(monkeypatch):
    """A planted bug in gathers shrinks to one gather of two plain steps,
    with no faults or operations, written as a script that runs."""
    plant_a_bug(monkeypatch)

    report = soak(200, seed=5, chunk=100)

    failure = report.failure
    assert failure is not None
    assert report.cases < 200
    assert failure.case["shape"]["items"] == [
        {"type": "gather", "steps": [spec(limit=1), spec(limit=1)]}
    ]
    assert (failure.case["faults"], failure.case["operations"]) == ([], [])
    assert failure.violations["check"].tolist() == ["planted"]
    assert failure.snippet.startswith("# sagasim check found:\n#   planted: a gather\n")
    with redirect_stdout(io.StringIO()):
        exec(compile(failure.snippet, "<snippet>", "exec"), {})


def test_sagasim_check_prints_its_rate_and_coverage(monkeypatch, capsys):
    """A clean soak exits 0 with cases per second and the coverage table."""
    clear = soak_runner.workflow_cases(**CLEAR)
    monkeypatch.setattr(soak_runner, "workflow_cases", lambda **options: clear)

    assert main(["check", "--examples", "10", "--seed", "1"]) == 0

    out = capsys.readouterr().out
    assert out.startswith("sagasim check: 10 cases in ")
    assert "cases/s" in out
    assert "\ncoverage (cases per feature)\nshape\n" in out
    assert out.endswith("violations: none\n")


def test_sagasim_check_prints_the_shrunk_case_and_exits_1(monkeypatch, capsys):
    """On a violation it prints the violations and the script, exit 1."""
    plant_a_bug(monkeypatch)

    assert main(["check", "--examples", "200", "--seed", "5"]) == 1

    out = capsys.readouterr().out
    assert "violations: 1 in the shrunk case" in out
    assert "  planted: a gather\n" in out
    assert "the shrunk case, as a runnable script:" in out
    assert "class Generated(sagasim.Workflow):" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--examples", "0"], "argument --examples: expected a positive integer"),
        (["--seed", "-1"], "argument --seed: expected a non-negative integer"),
        (["--workers", "two"], "argument --workers: expected a positive integer"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(argv, message, capsys):
    """A bad argument is one line on stderr and exit status 2."""
    assert main(["check", *argv]) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"sagasim: error: {message}")
    assert err.count("\n") == 1


def test_sagasim_check_without_hypothesis_says_so_and_exits_2(monkeypatch, capsys):
    """Without Hypothesis installed, sagasim check is a one-line error."""
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "sagasim.soak.runner")

    assert main(["check", "--examples", "3"]) == 2

    assert capsys.readouterr().err == (
        "sagasim: error: sagasim check needs Hypothesis: pip install 'sagasim[check]'\n"
    )
