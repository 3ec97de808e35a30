"""Parameter grids: the points a sweep visits, and their values as text.

A grid maps each parameter to the values it takes, in order; its points are
the Cartesian product of those values, the first key varying slowest and the
last fastest (the order of :func:`itertools.product`)::

    {"a": [1, 2], "b": ["x", "y"]}  ->  a=1 b=x, a=1 b=y, a=2 b=x, a=2 b=y

On the command line each parameter is one ``--grid key=v1,v2,...`` option.
Each value is read as a TOML value when it is one (``10``, ``0.5``,
``true``, ``"10 seconds"``, ``[15, 25]``, ``{ min = 1, max = 5 }``) and is
kept as a plain string otherwise (``fixed``, ``10 seconds``). Commas inside
brackets, braces or quotes do not split values.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from sagasim.sweeps.errors import SweepError

__all__ = [
    "format_value",
    "plain",
    "normalise_grid",
    "parse_grid_option",
    "parse_value",
    "points",
    "split_values",
]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_CLOSING = {"[": "]", "{": "}"}


def normalise_grid(grid: Mapping[str, Iterable[Any]] | None) -> dict[str, tuple]:
    """``grid`` as a dict of key to a tuple of values, checked.

    Raises:
        SweepError: a key is not a non-empty string, or its values are not a
            non-empty list (a string alone is not a list of values).
    """
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise SweepError(f"grid: expected a mapping of key to values, got {grid!r}")
    checked: dict[str, tuple] = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key.strip():
            raise SweepError(f"grid: expected each key to be a name, got {key!r}")
        if isinstance(values, str | bytes | Mapping) or not isinstance(
            values, Iterable
        ):
            raise SweepError(
                f"grid {key}: expected a list of values, got {format_value(values)}"
            )
        values = tuple(plain(value) for value in values)
        if not values:
            raise SweepError(f"grid {key}: expected at least one value, got none")
        checked[key] = values
    return checked


def plain(value: Any) -> Any:
    """``value`` with NumPy scalars (as read back from a results frame)
    turned into the Python numbers and strings they hold."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def points(grid: Mapping[str, tuple]) -> list[dict[str, Any]]:
    """Every point of ``grid``, in grid order; one empty point for no keys."""
    keys = list(grid)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[key] for key in keys))
    ]


def parse_grid_option(text: str) -> tuple[str, list[Any]]:
    """``"key=v1,v2"`` as ``("key", [v1, v2])``, each value parsed.

    Raises:
        SweepError: no ``=``, an empty key, or no values.
    """
    key, sep, rest = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(f"--grid {text}: expected key=value1,value2,...")
    values = [parse_value(item) for item in split_values(rest)]
    if not values:
        raise SweepError(f"--grid {text}: expected at least one value after '='")
    return key, values


def split_values(text: str) -> list[str]:
    """Split ``text`` at the commas outside brackets, braces and quotes;
    blank items are dropped."""
    items: list[str] = []
    depth: list[str] = []
    quote = ""
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in _CLOSING:
            depth.append(_CLOSING[char])
        elif depth and char == depth[-1]:
            depth.pop()
        elif char == "," and not depth:
            items.append(text[start:index])
            start = index + 1
        index += 1
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


def parse_value(text: str) -> Any:
    """``text`` as a TOML value if it is one, else ``text`` itself."""
    text = text.strip()
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def format_value(value: Any) -> str:
    """``value`` written as TOML (strings quoted), the form
    :func:`parse_value` reads back; other objects as their ``repr``."""
    value = plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{format_key(key)} = {format_value(item)}" for key, item in value.items()
        )
        return "{ " + items + " }" if items else "{}"
    return repr(value)


def format_key(key: Any) -> str:
    """A TOML key: bare when it can be, quoted otherwise."""
    key = str(key)
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)
