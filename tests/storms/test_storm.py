"""The retry-storm experiment at small scale: 700 instances, one outage."""

from __future__ import annotations

import math

import pytest
from matplotlib.figure import Figure

from sagasim.storms import (
    STORM_STRATEGIES,
    RetryStrategy,
    StormScenario,
    run_storm,
    storm_chart,
    storm_table,
)

SMALL = StormScenario(
    rate=10,
    duration=40,
    herd=300,
    herd_at=5,
    outage=(5, 10),
    capacity=6,
    horizon=150,
)
"""400 stream instances over 40 s and a herd of 300 at 5 s, when a 5-s
outage starts; capacity 6 (about 30 calls/s at full load)."""

STRATEGIES = (
    RetryStrategy("exponential"),
    RetryStrategy("exponential + full jitter (lab)", jitter="full"),
    RetryStrategy("exponential, limit 3", limit=3),
)


@pytest.fixture(scope="module")
def small():
    return run_storm(SMALL, STRATEGIES, seed=1)


def row(results, name):
    return storm_table(results).set_index("strategy").loc[name]


def test_unjittered_retries_without_a_limit_keep_failing_long_after_the_outage(
    small,
):
    """Un-jittered exponential: the herd's retry waves still fail at 136 s,
    126 s after the outage, and 109 instances are still retrying at 150 s."""
    expo = row(small, "exponential")

    assert math.isnan(expo["recovery_s"])
    assert (136.0, 109, 591, 2516) == (
        expo["last_unhealthy_s"],
        expo["retrying"],
        expo["completed"],
        expo["attempts"],
    )


def test_full_jitter_recovers_ten_seconds_after_the_outage(small):
    """Full jitter spreads the herd: healthy from 20 s, every instance done,
    with fewer attempts than un-jittered retries."""
    full = row(small, "exponential + full jitter (lab)")

    assert (10.0, 20.0, 700, 0, 2303) == (
        full["recovery_s"],
        full["last_unhealthy_s"],
        full["completed"],
        full["retrying"],
        full["attempts"],
    )


def test_a_retry_limit_ends_the_storm_by_giving_up(small):
    """Limit 3: healthy 5 s after the outage, but 257 instances gave up."""
    limited = row(small, "exponential, limit 3")

    assert (5.0, 443, 257, 1701) == (
        limited["recovery_s"],
        limited["completed"],
        limited["gave_up"],
        limited["attempts"],
    )


def test_goodput_after_the_outage_is_lower_without_jitter(small):
    """From 10 s to 40 s un-jittered retries fail more calls than they serve;
    full jitter serves more than it fails."""
    timeline = small.timeline
    window = timeline[(timeline["time"] >= 10) & (timeline["time"] < 40)]
    sums = window.groupby("strategy")[["successes", "failures"]].sum()

    assert (470.0, 686.0) == tuple(sums.loc["exponential"])
    assert (642.0, 433.0) == tuple(sums.loc["exponential + full jitter (lab)"])


def test_the_table_marks_lab_extensions(small):
    """Only the jittered strategy uses config['lab']."""
    assert [False, True, False] == storm_table(small)["lab"].tolist()
    assert all(s.lab == (s.jitter != "none" or s.cap_ms is not None)
               for s in STORM_STRATEGIES)  # fmt: skip


def test_the_timeline_has_one_row_per_strategy_and_second(small):
    """150 one-second bins for each of the three strategies."""
    timeline = small.timeline

    assert (450, ["strategy", "time", "offered", "successes", "failures", "queue"]) == (
        len(timeline),
        list(timeline.columns),
    )
    assert 0 == timeline["queue"].min()


def test_a_storm_is_deterministic_for_a_seed(small):
    """The same scenario and seed give the same table."""
    again = run_storm(SMALL, STRATEGIES[:1], seed=1)

    assert storm_table(small).iloc[:1].equals(storm_table(again))


def test_the_chart_has_a_panel_per_strategy_with_the_outage_shaded(small):
    """Three panels (plus their queue axes) titled by strategy and recovery."""
    figure = storm_chart(small)

    assert isinstance(figure, Figure)
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert [
        "exponential: not recovered by 150 s, 109 still retrying",
        "exponential + full jitter (lab): recovered 10 s after the outage",
        "exponential, limit 3: recovered 5 s after the outage",
    ] == titles
    assert "lab extensions, not Cloudflare" in figure.get_suptitle()


def test_the_queue_is_the_time_average_of_waiting_calls():
    """Capacity 1, 100 ms calls, two at 0 s: one waits 0.1 s of the first
    second, so the first bin's mean queue is 0.1."""
    scenario = StormScenario(
        rate=1,
        duration=1,
        herd=1,
        herd_at=0,
        outage=(50, 51),
        capacity=1,
        latency_ms=(100, 100),
        load_factor=0,
        queue_timeout_ms=None,
        horizon=3,
    )

    results = run_storm(scenario, STRATEGIES[:1])

    assert [0.1, 0.0, 0.0] == [round(q, 9) for q in results.timeline["queue"]]
    assert [2.0, 0.0, 0.0] == results.timeline["successes"].tolist()
    assert 1 == storm_table(results)["peak_queue"].iloc[0]
