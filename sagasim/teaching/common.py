"""What every teaching notebook needs: scales, scenario files, small tables."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sagasim.scenarios import ScenarioRun, build, parse_scenario
from sagasim.sweeps.overrides import apply_overrides, dump_toml

__all__ = ["SCALES", "at_scale", "run_scenario", "scenario_path", "statuses"]

SCALES = ("small", "full")
"""A notebook's ``SCALE``: ``"small"`` runs in seconds (CI), ``"full"`` is
the size the prose talks about (``make notebooks``)."""


def at_scale(scale: str, small: Any, full: Any) -> Any:
    """``small`` or ``full``, as ``scale`` says.

    Raises:
        ValueError: a scale other than ``"small"`` and ``"full"``.
    """
    if scale not in SCALES:
        raise ValueError(f"SCALE must be one of {SCALES}, got {scale!r}")
    return small if scale == "small" else full


def scenario_path(name: str | Path) -> Path:
    """The bundled scenario file ``name`` (``"bank_transfer"``, with or
    without ``.toml``), found from the working folder, its parent (a
    notebook runs in ``notebooks/``) or the source tree; a path that exists
    is returned as it is.

    Raises:
        FileNotFoundError: no such scenario.
    """
    path = Path(name)
    if path.exists():
        return path
    file = path.name if path.suffix == ".toml" else path.name + ".toml"
    roots = [Path.cwd(), Path.cwd().parent, Path(__file__).resolve().parents[2]]
    for root in roots:
        candidate = root / "scenarios" / file
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no scenario {name!r} in scenarios/")


def run_scenario(
    name: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
) -> ScenarioRun:
    """Run the scenario file ``name`` to the end, with dotted fields set.

    ``overrides`` maps dotted fields (``simulation.instances``,
    ``faults.0.probability``) to values, as a sweep's grid does; ``seed``
    replaces the file's seed.
    """
    path = scenario_path(name)
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    document = apply_overrides(document, dict(overrides or {}))
    run = build(parse_scenario(dump_toml(document), path), seed=seed)
    run.run()
    return run


def statuses(sim: Any) -> dict[str, int]:
    """How many instances of ``sim`` ended in each status."""
    counts = pd.Series([i.status()["status"] for i in sim.instances]).value_counts()
    return {str(name): int(n) for name, n in counts.items()}
