"""Small sweep targets, importable by worker processes."""

from __future__ import annotations

import random
from pathlib import Path

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "bank_transfer.toml"

# The bundled demo cut to 160 transfers (arrivals over 16 s, so the last
# ones meet the south bank's outage at 15 s); with one slot the queue holds
# most of them back past the outage, with fifty it does not.
SCENARIO_GRID = {
    "simulation.instances": [160],
    "simulation.max_concurrent": [1, 50],
}


def draws(params: dict, seed: int) -> dict:
    """A few uniform draws under ``seed``: their sum scaled, and the first."""
    rng = random.Random(seed)
    values = [rng.random() for _ in range(params.get("n", 3))]
    return {"total": sum(values) * params.get("scale", 1), "first": values[0]}


def fails_on_odd_n(params: dict, seed: int) -> dict:
    """Raise for an odd ``n``."""
    if params["n"] % 2:
        raise ValueError(f"odd n: {params['n']}")
    return {"n": params["n"] * 2}
