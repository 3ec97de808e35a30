"""The reproduction of the published backoff-and-jitter simulation."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from sagasim.engine.config import resolve_config
from sagasim.storms import (
    JITTER_STRATEGIES,
    OccRun,
    check_shape,
    jitter_chart,
    run_jitter,
    simulate_occ,
)
from sagasim.storms.__main__ import main


def test_a_run_is_deterministic_for_a_seed():
    """Ten full-jitter clients, seed 3: the same time and calls every time."""
    first = simulate_occ(10, "full", seed=3)

    assert OccRun(completion_ms=466.391, calls=39) == first
    assert first == simulate_occ(10, "full", seed=3)
    assert OccRun(completion_ms=437.451, calls=38) == simulate_occ(10, "full", seed=4)


def test_no_backoff_calls_grow_faster_than_full_jitter_calls():
    """From 5 to 20 clients, no backoff's calls grow 9.8x, full jitter's 6.9x."""
    table = run_jitter(clients=(5, 20), runs=3, strategies=("none", "full"), seed=0)
    calls = table.set_index(["strategy", "clients"])["calls"]

    assert [15.0, 147.667, 14.667, 101.333] == [
        round(calls[key], 3)
        for key in [("none", 5), ("none", 20), ("full", 5), ("full", 20)]
    ]
    assert calls["none", 20] / calls["none", 5] > calls["full", 20] / calls["full", 5]


def test_with_five_clients_and_no_backoff_one_client_wins_each_round():
    """Five clients racing without backoff make 5 + 4 + 3 + 2 + 1 writes."""
    assert 15 == simulate_occ(5, "none", seed=11).calls


def waits(name, draw=None, attempts=8):
    config = resolve_config(JITTER_STRATEGIES[name].config(scale=1), name="update")
    previous = None
    out = []
    for attempt in range(1, attempts + 1):
        previous = config.retry_delay(attempt, None, draw, previous)
        out.append(previous)
    return out


def test_the_strategies_wait_as_published_with_base_5_and_cap_2000():
    """expo = min(2000, 5 * 2**n); full and equal spread it; decorrelated is
    min(2000, U(5, 3 * prev)); none waits 0."""
    assert [10, 20, 40, 80, 160, 320, 640, 1280, 2000, 2000] == waits(
        "exponential", attempts=10
    )
    assert [5, 10, 20, 40, 80, 160, 320, 640] == waits("full", draw=0.5)
    assert [5, 10, 20, 40, 80, 160, 320, 640] == waits("equal", draw=0.0)
    assert [15, 45, 135, 405, 1215, 2000, 2000, 2000] == waits(
        "decorrelated", draw=0.9999999
    )
    assert [5] * 8 == waits("decorrelated", draw=0.0)
    assert [0] * 8 == waits("none")


def test_every_strategy_but_two_uses_the_lab_extension():
    """Only 'none' leaves out config['lab']; the un-jittered one keeps a cap."""
    assert {
        "exponential": {"cap": 2000},
        "decorrelated": {"jitter": "decorrelated", "cap": 2000},
        "equal": {"jitter": "equal", "cap": 2000},
        "full": {"jitter": "full", "cap": 2000},
        "none": None,
    } == {name: s.config(scale=1).get("lab") for name, s in JITTER_STRATEGIES.items()}


def shape_table(time, calls, clients=(10, 50, 100)):
    rows = []
    for strategy in JITTER_STRATEGIES:
        for n in clients:
            rows.append(
                {
                    "strategy": strategy,
                    "clients": n,
                    "completion_ms": time[strategy] * n,
                    "calls": calls[strategy] * n ** (2 if strategy == "none" else 1),
                }
            )
    return pd.DataFrame(rows)


def test_check_shape_confirms_a_table_of_the_published_shape():
    """A table built to the published shape passes all five claims."""
    table = shape_table(
        time={"exponential": 60, "full": 5, "equal": 7, "decorrelated": 5.2, "none": 2},
        calls={"exponential": 20, "full": 8, "equal": 8.2, "decorrelated": 10,
               "none": 0.25},
    )  # fmt: skip

    shape = check_shape(table)

    assert [True] * 5 == shape["holds"].tolist()


def test_check_shape_reports_a_claim_that_fails():
    """If no backoff is not the fastest, that claim fails and says who was."""
    table = shape_table(
        time={"exponential": 60, "full": 1, "equal": 7, "decorrelated": 1.1, "none": 2},
        calls={"exponential": 20, "full": 8, "equal": 8.2, "decorrelated": 10,
               "none": 0.25},
    )  # fmt: skip

    shape = check_shape(table).set_index("claim")

    verdict = shape.loc["no backoff finishes fastest"]
    assert not verdict["holds"]
    assert "10: full" in verdict["evidence"]


def test_quick_mode_writes_the_table_and_chart_into_the_folder_it_prints(
    tmp_path, capsys
):
    """--quick: 3 client counts x 5 strategies in jitter.csv, a PNG, the path."""
    out = tmp_path / "jitter"

    assert 0 == main(
        ["jitter", "--quick", "--runs", "2", "--jobs", "1", "--out", str(out)]
    )

    table = pd.read_csv(out / "jitter.csv")
    assert (15, [10, 20, 40]) == (len(table), sorted(set(table["clients"])))
    assert {2} == set(table["runs"])
    assert (out / "jitter.png").stat().st_size > 10_000
    assert 5 == len(pd.read_csv(out / "shape.csv"))
    printed = capsys.readouterr().out.splitlines()
    assert str(out) == printed[-1]
    assert "lab extensions, not Cloudflare" in printed[0]


def test_the_chart_is_a_figure_with_time_and_calls_panels():
    """Two axes, one line per strategy in each."""
    table = run_jitter(clients=(3, 6), runs=2, strategies=("none", "full"))

    figure = jitter_chart(table)

    assert isinstance(figure, Figure)
    assert [2, 2] == [len(ax.lines) for ax in figure.axes]


def test_an_unknown_strategy_is_refused():
    """Names come from JITTER_STRATEGIES."""
    with pytest.raises(ValueError, match="unknown strategy 'jittery'"):
        run_jitter(clients=(2,), runs=1, strategies=("jittery",))


def test_the_module_names_its_experiments_when_called_without_one(capsys):
    """``python -m sagasim.storms`` alone prints its usage and exits 2."""
    assert 2 == main([])
    assert "{jitter,storm}" in capsys.readouterr().err
