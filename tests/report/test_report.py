"""The HTML report: sections, escaping, self-containment, sources, CLI."""

from __future__ import annotations

import argparse
import re

import pandas as pd
import pytest

from sagasim import checks
from sagasim.report import (
    SECTIONS,
    ReportError,
    RunRecord,
    render_report,
    write_run_charts,
)
from sagasim.report.cli import handle, register

from .conftest import EVIL_STEP, assert_escaped, assert_self_contained

# Two transfers a second apart; south is down during [1, 2.5) s, so the
# second one's credit fails through its one retry and it rolls back.
SCENARIO = """\
description = "two transfers, the <second> one rolled back"

[simulation]
seed = 5
instances = 2
arrival = { process = "fixed", interval = "1 second" }

[[services]]
name = "north"
kind = "bank"
latency = 50
accounts = { alice = 10_000 }

[[services]]
name = "south"
kind = "bank"
latency = 100
accounts = { bob = 0 }
outages = [[1, 2.5]]

[payload]
amount = 1_000

[workflow]
name = "transfer"
config.retries = { limit = 1, delay = 500, backoff = "constant" }

[[workflow.steps]]
name = "debit"
call = "north.debit"
args = { account = "alice", amount = "{payload.amount}" }
key = "{instance}:debit"
compensation.call = "north.credit"
compensation.args = { account = "alice", amount = "{payload.amount}" }

[[workflow.steps]]
name = "credit"
call = "south.credit"
args = { account = "bob", amount = "{payload.amount}" }
key = "{instance}:credit"
compensation.call = "south.debit"
compensation.args = { account = "bob", amount = "{payload.amount}" }

[checks]
conserved = { money = ["money:north", "money:south"] }
"""


def section(page: str, sid: str) -> str:
    """The HTML of one section, its embedded images left out."""
    body = re.search(rf'<section id="{sid}">.*?</section>', page, re.DOTALL).group(0)
    return re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', body)


def sections(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)"><h2>', page)


@pytest.fixture(scope="module")
def page(evil):
    return render_report(RunRecord.from_simulation(evil, name="<evil> run"))


def tables(record, **options):
    """The report without its charts: quick, for tests of the tables."""
    return render_report(record, charts=False, **options)


def test_report_has_every_section_in_order(page):
    """Summary, instances, steps, timeline, order, services, faults, checks."""
    assert [sid for sid, _ in SECTIONS] == sections(page)
    for sid, title in SECTIONS:
        assert f'<section id="{sid}"><h2>{title}</h2>' in page
        assert f'<a href="#{sid}">{title}</a>' in page


def test_report_escapes_every_name_from_the_run(page):
    """Workflow, step, service and error text, and the run's name."""
    assert_escaped(page)
    assert "<evil>" not in page
    assert "<title>sagasim report: &lt;evil&gt; run</title>" in page


def test_report_fetches_nothing(page):
    """No script, stylesheet or image comes from outside the file."""
    assert_self_contained(page)
    images = re.findall(r"<img ", page)
    # instances, timeline, rollback order, one service's load
    assert 4 == len(images)


def test_report_lists_the_instance_that_failed_and_its_handler_order(page):
    """The rolled-back instance, its escaped error and the order handlers ran."""
    failed = re.search(r"Instances that did not complete \((\d+)\)", page)
    assert "1" == failed.group(1)
    assert "<td>inst-2</td>" in page
    assert "NonRetryableError: &lt;b&gt;refused&lt;/b&gt;" in page
    assert (
        "a&amp;b &quot;q&quot; $x$ \u2192 &lt;img src=x onerror=alert(1)&gt; "
        "\u2192 charge"
    ) in page
    assert "in 1 of them, undoing in reverse order of completion" in page


def test_report_shows_the_checks_violations(evil):
    """The violations given are counted in the summary and listed."""
    found = pd.DataFrame(
        [["double_effect", "inst-1", EVIL_STEP, "charged <twice>", (1, 2)]],
        columns=list(checks.COLUMNS),
    )
    page = tables(RunRecord.from_simulation(evil, violations=found))
    assert '<span class="bad">1</span>' in page
    assert "1 violation: 1 double_effect." in page
    assert "<td>charged &lt;twice&gt;</td><td>1, 2</td>" in page


def test_a_clean_run_says_so(evil):
    """No violations: the summary and the section say none."""
    page = tables(RunRecord.from_simulation(evil, violations=checks.empty()))
    assert '<span class="good">none</span>' in page
    assert "The checks found no violation." in page


def test_the_instance_drawn_can_be_chosen(evil):
    """--instance picks the timeline's instance; an unknown one is an error."""
    record = RunRecord.from_simulation(evil)
    assert "timeline of inst-3" in tables(record, instance="inst-3")
    with pytest.raises(ReportError, match="no instance 'inst-9'"):
        tables(record, instance="inst-9")


def save_run(sim, folder):
    history, effects = checks.ledgers(sim)
    folder.mkdir()
    sim.trace.to_csv(folder / "trace.csv", index=False)
    pd.DataFrame(history).to_csv(folder / "history.csv", index=False)
    pd.DataFrame(effects).to_csv(folder / "effects.csv", index=False)


def test_a_saved_run_folder_reports_what_the_live_run_does(evil, tmp_path):
    """Trace, history and effects read back give the same checks and tables."""
    folder = tmp_path / "evil-run"
    save_run(evil, folder)
    saved = RunRecord.from_folder(folder)
    live = RunRecord.from_simulation(evil)
    assert "evil-run" == saved.name
    assert list(live.violations["check"]) == list(saved.violations["check"])
    assert len(live.violations) > 0
    page = tables(saved)
    assert [sid for sid, _ in SECTIONS] == sections(page)
    assert_escaped(page)
    for sid in ("instances", "steps", "ordering", "services", "violations"):
        assert section(tables(live), sid) == section(page, sid)


def test_a_folder_with_a_trace_alone_says_what_is_missing(evil, tmp_path):
    """Without history.csv and effects.csv the page says so and still renders."""
    folder = tmp_path / "bare"
    folder.mkdir()
    evil.trace.to_csv(folder / "trace.csv", index=False)
    page = tables(RunRecord.from_folder(folder))
    assert "The folder has no history.csv" in page
    assert "The folder has no effects.csv" in page
    assert "no service calls recorded" in page


def parse(*argv):
    parser = argparse.ArgumentParser(prog="sagasim")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", *argv])


def test_command_simulates_a_scenario_and_writes_its_report(tmp_path, capsys):
    """`sagasim report SCENARIO -o FILE` runs the scenario, writes FILE and
    prints its path; the transfer that rolled back balances."""
    scenario = tmp_path / "two.toml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "out" / "r.html"
    args = parse(str(scenario), "-o", str(out), "--seed", "3")
    assert handle is args.handler
    assert 0 == args.handler(args)
    assert f"report: {out}\n" == capsys.readouterr().out
    page = out.read_text()
    assert "<th>seed</th><td>3</td>" in page
    assert "sagasim report: two" in page
    assert "<p>two transfers, the &lt;second&gt; one rolled back</p>" in page
    assert "2 (1 complete, 1 errored)" in page
    assert "credit \u2192 debit" in page
    assert "The checks found no violation." in page
    assert (
        '<tr><td>money:north</td><td class="num">10,000</td>'
        '<td class="num">9,000</td><td class="num">-1,000</td><td>money</td></tr>'
    ) in page
    assert '<p class="good">money: balanced, nothing created or lost</p>' in page
    assert [sid for sid, _ in SECTIONS] == sections(page)
    assert_self_contained(page)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.toml", "no such scenario file or run folder"),
        (lambda p: p, "no trace.csv in this folder"),
        (
            lambda p: (p / "bad.toml").write_text("[simulation]\n") and p / "bad.toml",
            "bad.toml",
        ),
    ],
)
def test_command_refuses_a_bad_source_with_one_line(tmp_path, capsys, make, message):
    """Exit status 2 and one `sagasim: error:` line naming the problem."""
    args = parse(str(make(tmp_path)), "-o", str(tmp_path / "r.html"))
    assert 2 == handle(args)
    err = capsys.readouterr().err
    assert err.startswith("sagasim: error: ")
    assert message in err
    assert 1 == err.count("\n")
    assert not (tmp_path / "r.html").exists()


def test_command_reports_an_unwritable_output(evil, tmp_path, capsys):
    """Exit status 1 when the report cannot be written."""
    folder = tmp_path / "run"
    save_run(evil, folder)
    blocker = tmp_path / "file"
    blocker.write_text("")
    args = parse(str(folder), "-o", str(blocker / "r.html"))
    assert 1 == handle(args)
    assert capsys.readouterr().err.startswith("sagasim: error: cannot write ")


def test_run_charts_are_written_as_png_files(evil, tmp_path):
    """Instances, timeline, rollback order and one load chart per service."""
    written = write_run_charts(evil, tmp_path / "charts")
    names = [path.name for path in written]
    assert [
        "instances.png",
        "timeline.png",
        "rollback-order.png",
        "load-i_pay_i.png",
    ] == names
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sagasim_command_line_runs_report_and_writes_run_charts(tmp_path, capsys):
    """`sagasim run --charts` leaves PNGs beside the CSVs, and `sagasim
    report` reads that folder back."""
    from sagasim.cli import main

    scenario = tmp_path / "two.toml"
    scenario.write_text(SCENARIO)
    outdir = tmp_path / "run"
    assert 0 == main(["run", str(scenario), "-o", str(outdir), "--charts"])
    pngs = sorted(p.name for p in outdir.glob("*.png"))
    assert [
        "instances.png",
        "load-north.png",
        "load-south.png",
        "rollback-order.png",
        "timeline.png",
    ] == pngs
    assert f"  {outdir / 'timeline.png'}\n" in capsys.readouterr().out

    out = tmp_path / "report.html"
    assert 0 == main(["report", str(outdir), "-o", str(out)])
    page = out.read_text()
    assert "sagasim report: run" in page
    assert "<h3>north</h3>" in page and "<h3>south</h3>" in page
    assert [sid for sid, _ in SECTIONS] == sections(page)
    assert 2 == main(["report", str(outdir), "--seed", "1"])
    assert "applies to a scenario" in capsys.readouterr().err
