"""Grids: parsing --grid options, expanding points, overriding fields."""

from __future__ import annotations

import tomllib

import pytest

from sagasim.sweeps import SweepError, parse_grid_option, parse_value
from sagasim.sweeps.grid import normalise_grid, points, split_values
from sagasim.sweeps.overrides import apply_overrides, dump_toml


def test_grid_values_are_read_as_toml_or_kept_as_text():
    """Numbers, booleans, quoted strings and arrays are TOML; the rest text."""
    assert ("simulation.max_concurrent", [1, 10, 100]) == parse_grid_option(
        "simulation.max_concurrent=1,10,100"
    )
    assert 0.25 == parse_value("0.25")
    assert True is parse_value("true")
    assert "10 seconds" == parse_value("10 seconds")
    assert "10 seconds" == parse_value('"10 seconds"')
    assert "fixed" == parse_value("fixed")
    assert [[15, 25]] == parse_value("[[15, 25]]")
    assert {"min": 1, "max": 5} == parse_value("{ min = 1, max = 5 }")


def test_commas_inside_brackets_braces_and_quotes_do_not_split():
    """An array, an inline table or a quoted string stays one value."""
    assert ["[[15,25]]", "[]", '"a,b"', "{ min = 1, max = 2 }", "x"] == split_values(
        '[[15,25]], [], "a,b", { min = 1, max = 2 }, x'
    )
    key, values = parse_grid_option("banks.1.outages=[[15,25]],[]")
    assert ("banks.1.outages", [[[15, 25]], []]) == (key, values)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("simulation.instances", "expected key=value1,value2"),
        ("=1,2", "expected key=value1,value2"),
        ("simulation.instances=", "at least one value"),
        ("simulation.instances= , ", "at least one value"),
    ],
)
def test_malformed_grid_options_are_errors(option, message):
    """A --grid option without a key or without values names itself."""
    with pytest.raises(SweepError, match=message) as info:
        parse_grid_option(option)
    assert str(info.value).startswith(f"--grid {option}")


def test_points_vary_the_last_key_fastest():
    """Points are the product of the values, first key slowest."""
    grid = normalise_grid({"a": [1, 2], "b": ["x", "y"]})
    assert [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ] == points(grid)
    assert [{}] == points(normalise_grid(None))


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"a": "123"}, "grid a: expected a list of values"),
        ({"a": 5}, "grid a: expected a list of values"),
        ({"a": []}, "grid a: expected at least one value"),
        ({"": [1]}, "expected each key to be a name"),
    ],
)
def test_bad_grids_are_errors(grid, message):
    """Values that are not a non-empty list, or a blank key, are refused."""
    with pytest.raises(SweepError, match=message):
        normalise_grid(grid)


def test_overrides_set_dotted_fields_and_leave_the_document_alone():
    """A dotted key sets a nested field, a number indexes an array."""
    document = {"simulation": {"instances": 5}, "faults": [{"probability": 0.5}]}
    changed = apply_overrides(
        document,
        {
            "simulation.max_concurrent": 3,
            "faults.0.probability": 0.1,
            "checks.conserved": {"money": ["a"]},
        },
    )
    assert {
        "simulation": {"instances": 5, "max_concurrent": 3},
        "faults": [{"probability": 0.1}],
        "checks": {"conserved": {"money": ["a"]}},
    } == changed
    assert {"simulation": {"instances": 5}, "faults": [{"probability": 0.5}]} == (
        document
    )


def test_bracketed_indexes_read_as_dotted_ones():
    """``faults[0].probability``, as the loader writes it, is faults.0."""
    document = {"faults": [{"probability": 0.5}]}
    assert {"faults": [{"probability": 0.1}]} == apply_overrides(
        document, {"faults[0].probability": 0.1}
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("faults.1.probability", "faults is an array of 1, expected an index from 0"),
        ("faults.x", "faults is an array of 1"),
        ("simulation.instances.x", "simulation.instances is 5, not a table"),
        ("simulation..instances", "expected a dotted field name"),
    ],
)
def test_overrides_that_cannot_be_set_name_the_key(key, message):
    """An index past the end, or a field of a number, is a SweepError."""
    document = {"simulation": {"instances": 5}, "faults": [{"probability": 0.5}]}
    with pytest.raises(SweepError, match=message) as info:
        apply_overrides(document, {key: 1})
    assert str(info.value).startswith(f"grid {key}: ")


def test_dumped_documents_read_back_unchanged():
    """TOML written by dump_toml decodes to the same document."""
    text = """
description = "quotes \\" and unicode é"
[simulation]
seed = 7
start = 2026-01-01T00:00:00Z
arrival = { process = "fixed", interval = "100 ms" }
[[services]]
name = "south"
outages = [[15, 25.5]]
"odd key" = { "a.b" = true, c = [] }
[[services]]
name = "north"
"""
    document = tomllib.loads(text)
    assert document == tomllib.loads(dump_toml(document))
