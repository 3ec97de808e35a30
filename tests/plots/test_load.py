"""The load table and chart count what the service's history says."""

from __future__ import annotations

import pandas as pd
import pytest

import sagasim
from sagasim.plots import load_chart, queue_length, service_load
from sagasim.services import Payments

from .conftest import artists


class Pay(sagasim.Workflow):
    """Charge once; retry every 500 ms, up to 3 times."""

    async def run(self, event, step):
        payments = self.env["payments"]

        async def charge(ctx):
            return await payments.charge(event["instance_id"], 100)

        await step.do(
            "charge",
            charge,
            config={"retries": {"limit": 3, "delay": 500, "backoff": "constant"}},
        )


@pytest.fixture
def busy():
    """Five charges at 0 s on one slot of 100 ms: they end at 0.1 ... 0.5 s.
    Two more at 2 s fail in an outage [2, 2.6), at 2.1 and 2.2 s (one slot),
    and succeed on their retries, started at 2.6 and 2.7 s."""
    sim = sagasim.Simulation()
    sim.bindings["payments"] = Payments(
        sim, latency=100, capacity=1, outages=[(2.0, 2.6)]
    )
    for _ in range(5):
        sim.create(Pay)
    for _ in range(2):
        sim.create(Pay, at=2.0)
    sim.run()
    return sim


def test_queue_length_follows_the_single_slot(busy):
    """Four wait at first; one fewer each 100 ms; then the two late ones."""
    queue = queue_length(busy.bindings["payments"])
    head = queue[queue["time"] <= 0.5]
    assert [0.0, 0.1, 0.2, 0.3, 0.4, 0.5] == list(head["time"])
    assert [4, 3, 2, 1, 0, 0] == list(head["queued"])
    assert [1, 1, 1, 1, 1, 0] == list(head["in_service"])
    assert 0 == queue["queued"].iloc[-1] == queue["in_service"].iloc[-1]


def test_table_counts_calls_outcomes_and_retries(busy):
    """Sums over the bins equal the history's calls and the trace's retries."""
    service = busy.bindings["payments"]
    table = service_load(service, busy, bin_width=0.5)
    history = pd.DataFrame(service.history)
    trace = busy.trace
    retried = trace[(trace["event"] == "ATTEMPT_START") & (trace["attempt"] > 1)]
    assert len(history) == table["offered"].sum() == 9
    assert (history["outcome"] == "ok").sum() == table["succeeded"].sum() == 7
    assert (history["outcome"] == "failed").sum() == table["failed"].sum() == 2
    assert len(retried) == table["retries"].sum() == 2
    assert 0.5 == table["end"].iloc[0] - table["start"].iloc[0]
    assert 4 == table["max_queued"].iloc[0]
    assert [5, 0, 0, 0, 2, 2] == list(table["offered"])
    assert [0, 0, 0, 0, 0, 2] == list(table["retries"])


def test_retries_are_counted_without_a_trace_as_zero(busy):
    """Without the trace nothing tells a retry from a first attempt."""
    table = service_load(busy.bindings["payments"])
    assert 0 == table["retries"].sum()


def test_chart_panels_draw_the_table(busy):
    """Offered, succeeded and failed per bin; peaks; retries; the outage."""
    service = busy.bindings["payments"]
    table = service_load(service, busy, bin_width=0.5)
    fig = load_chart(service, busy, bin_width=0.5)
    requests, waiting, retries = fig.axes
    for gid, values in (
        ("offered", table["offered"]),
        ("succeeded", table["succeeded"]),
        ("failed", table["failed"] + table["unknown"]),
    ):
        (stairs,) = artists(requests, gid)
        assert list(values) == list(stairs.get_data().values)
    (queued,) = artists(waiting, "queued")
    assert 4 == max(queued.get_data().values)
    assert list(table["retries"]) == [
        p.get_height() for p in artists(retries, "retries")
    ]
    assert 3 == len([a for ax in fig.axes for a in artists(ax, "outage")])
    assert "Load on payments: 9 calls, 1 outage shaded" == requests.get_title()
    assert "calls per 0.5 s" == requests.get_ylabel()
    assert "simulated time (s)" == retries.get_xlabel()


def test_chart_reads_a_history_saved_as_csv(busy, tmp_path):
    """A history CSV and a trace CSV draw the same counts as the live run."""
    service = busy.bindings["payments"]
    history_path = tmp_path / "history.csv"
    trace_path = tmp_path / "trace.csv"
    pd.DataFrame(service.history).to_csv(history_path, index=False)
    busy.trace.to_csv(trace_path, index=False)
    live = service_load(service, busy, bin_width=0.5)
    saved = service_load(history_path, trace_path, bin_width=0.5)
    pd.testing.assert_frame_equal(live, saved)
    fig = load_chart(history_path, trace_path, outages=[(2.0, 2.6)])
    assert fig.axes[0].get_title().startswith("Load on payments: 9 calls")
