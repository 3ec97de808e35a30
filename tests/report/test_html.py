"""Notebook summaries of a simulation and of an instance."""

from __future__ import annotations

import sagasim
from sagasim.report import instance_html, simulation_html

from .conftest import assert_escaped, assert_self_contained


def test_simulation_summary_has_the_key_numbers_and_a_chart(evil):
    """Seed, time, statuses, attempts, rollbacks, faults and services."""
    page = simulation_html(evil)
    assert page.startswith('<div class="sagasim-simulation"')
    assert ">4<" in page
    assert "3 (2 complete, 1 errored)" in page
    assert "1 started, 1 complete, 0 failed; 3 handlers run" in page
    assert ">faults injected<" in page
    assert "&lt;i&gt;pay&lt;/i&gt;: 5 calls, 5 effects" in page
    assert 1 == page.count("<img ")
    assert_self_contained(page)


def test_simulation_summary_escapes_service_names(evil):
    """A service called <i>pay</i> is shown as text."""
    page = simulation_html(evil)
    assert "<i>pay</i>" not in page


def test_a_simulation_that_has_not_run_has_no_chart():
    """Before run() there is nothing to draw, and no error."""
    sim = sagasim.Simulation(seed=9)
    page = simulation_html(sim)
    assert "<img" not in page
    assert ">9<" in page


def test_instance_summary_of_a_rolled_back_instance(evil):
    """Status, error, rollback outcome, handler order and a timeline."""
    page = instance_html(evil.get("inst-2"))
    assert "Instance inst-2" in page
    assert ">errored<" in page
    assert (
        "NonRetryableError: &lt;b&gt;refused&lt;/b&gt; &amp; &quot;never&quot;" in page
    )
    assert ">complete, 3 of 3 handlers<" in page
    expected = " \u2192 ".join(
        ["a&amp;b &quot;q&quot; $x$", "&lt;img src=x onerror=alert(1)&gt;", "charge"]
    )
    assert expected in page
    assert 1 == page.count("<img ")
    assert_self_contained(page)


def test_instance_summary_of_a_completed_instance_shows_output(evil):
    """A completed instance shows its output and its injected fault."""
    page = instance_html(evil.get("inst-1"))
    assert ">complete<" in page
    assert ">output<" in page
    assert ">faults injected</th><td" in page
    assert "5 started, 1 failed, 1 retries" in page


def test_summaries_escape_every_name_from_the_workflow(evil):
    """Workflow, step and error text never reach the page unescaped."""
    page = simulation_html(evil) + instance_html(evil.get("inst-2"))
    assert "<script" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;" in page
    assert_escaped(page)


def test_summaries_are_what_jupyter_displays(evil, monkeypatch):
    """With the one-line _repr_html_ methods, IPython shows the summaries."""
    from IPython.core.formatters import DisplayFormatter

    monkeypatch.setattr(
        sagasim.Simulation,
        "_repr_html_",
        lambda self: simulation_html(self),
        raising=False,
    )
    monkeypatch.setattr(
        sagasim.Instance,
        "_repr_html_",
        lambda self: instance_html(self),
        raising=False,
    )
    formatter = DisplayFormatter()
    shown, _ = formatter.format(evil)
    assert shown["text/html"].startswith('<div class="sagasim-simulation"')
    shown, _ = formatter.format(evil.get("inst-2"))
    assert shown["text/html"].startswith('<div class="sagasim-instance"')


def test_use_in_notebook_registers_the_summaries_with_ipython(evil):
    """Without _repr_html_, a shell's HTML formatter is taught both types."""
    import types

    from IPython.core.formatters import DisplayFormatter

    from sagasim.report import use_in_notebook

    shell = types.SimpleNamespace(display_formatter=DisplayFormatter())
    assert use_in_notebook(shell)
    shown, _ = shell.display_formatter.format(evil)
    assert shown["text/html"].startswith('<div class="sagasim-simulation"')
    shown, _ = shell.display_formatter.format(evil.get("inst-1"))
    assert shown["text/html"].startswith('<div class="sagasim-instance"')
    assert not use_in_notebook(None)
