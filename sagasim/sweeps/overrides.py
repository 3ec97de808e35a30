"""Setting dotted fields of a scenario document, and writing it back as TOML.

A grid key names one field of a scenario file by its dotted path:
``simulation.max_concurrent``, ``services.1.outages``, ``faults.0.probability``
(a number indexes an array of tables; ``faults[0].probability``, the form
the loader's error messages use, is read the same). Setting a field changes
the decoded TOML document, never the file; the scenario loader then checks
the whole document, so a key that names no scenario field, or a value of the
wrong type, is reported the way the loader reports a mistake in a file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from sagasim.sweeps.errors import SweepError
from sagasim.sweeps.grid import format_key, format_value

__all__ = ["apply_overrides", "dump_toml", "key_path"]

_INDEX = re.compile(r"\[(\d+)\]")


def key_path(key: str) -> list[str]:
    """The segments of a dotted key; ``a[0].b`` reads as ``a.0.b``.

    Raises:
        SweepError: an empty segment (``a..b``, a leading or trailing dot).
    """
    segments = _INDEX.sub(r".\1", key).split(".")
    if any(not segment for segment in segments):
        raise SweepError(f"grid {key}: expected a dotted field name such as a.b.c")
    return segments


def apply_overrides(
    data: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """A deep copy of the TOML document ``data`` with each dotted field of
    ``overrides`` set to its value.

    A missing table on the way is created (the loader then says whether it
    may exist); an array is indexed by a number and must be long enough.

    Raises:
        SweepError: a key goes through a value that is not a table or array,
            or indexes an array with something that is not an index in it.
    """
    document = copy.deepcopy(dict(data))
    for key, value in overrides.items():
        _set(document, key, key_path(key), copy.deepcopy(value))
    return document


def _set(document: dict[str, Any], key: str, path: list[str], value: Any) -> None:
    node: Any = document
    for depth, segment in enumerate(path):
        last = depth == len(path) - 1
        where = ".".join(path[:depth]) or "the scenario"
        if isinstance(node, dict):
            if last:
                node[segment] = value
            else:
                node = node.setdefault(segment, {})
        elif isinstance(node, list):
            if not segment.isdigit() or int(segment) >= len(node):
                raise SweepError(
                    f"grid {key}: {where} is an array of {len(node)}, "
                    f"expected an index from 0 to {len(node) - 1}, got {segment}"
                )
            if last:
                node[int(segment)] = value
            else:
                node = node[int(segment)]
        else:
            raise SweepError(
                f"grid {key}: {where} is {format_value(node)}, not a table, "
                f"so it has no field {segment}"
            )


def dump_toml(document: Mapping[str, Any]) -> str:
    """The TOML document ``document``, one ``key = value`` line per top-level
    key, every table and array written inline.

    ``tomllib.loads(dump_toml(d)) == d`` for any document ``tomllib``
    decodes.
    """
    return "".join(
        f"{format_key(key)} = {format_value(value)}\n"
        for key, value in document.items()
    )
