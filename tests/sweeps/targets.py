"""Small sweep targets, importable by worker processes."""

from __future__ import annotations

import random

# Twenty transfers from north to south. The credit has no idempotency key:
# when its first answer is lost (faults.0) the retry credits a second time,
# a double effect that also breaks conservation. Some credits are refused
# for good (faults.1), and those transfers roll back.
TINY_SCENARIO = """\
description = "20 transfers; credit answers lost, some credits refused"

[simulation]
seed = 1
instances = 20
arrival = { process = "fixed", interval = "100 ms" }
max_concurrent = 5

[[services]]
name = "north"
kind = "bank"
latency = { min = 20, max = 80 }
accounts = { alice = 1_000_000 }

[[services]]
name = "south"
kind = "bank"
latency = { min = 30, max = 120 }
accounts = { bob = 0 }

[payload]
amount = { min = 100, max = 5_000 }

[workflow]
name = "transfer"
config = { retries = { limit = 2, delay = "500 ms" }, timeout = "5 seconds" }

[[workflow.steps]]
name = "debit"
call = "north.debit"
args = { account = "alice", amount = "{payload.amount}" }
key = "{instance}:debit"
compensation = { call = "north.credit", args = { account = "alice", \
amount = "{payload.amount}" }, key = "{instance}:debit:refund" }

[[workflow.steps]]
name = "credit"
call = "south.credit"
args = { account = "bob", amount = "{payload.amount}" }
compensation = { call = "south.debit", args = { account = "bob", \
amount = "{payload.amount}" } }

[[faults]]
kind = "lose_output"
step = "credit"
attempt = 1
probability = 0.3

[[faults]]
kind = "mock_error"
step = "credit"
probability = 0.2
retryable = false
error = "account frozen"
error_name = "AccountFrozen"

[checks]
conserved = { money = ["money:north", "money:south"] }
"""

TINY_GRID = {"faults.0.probability": [0, 0.5], "faults.1.probability": [0, 0.3]}


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
