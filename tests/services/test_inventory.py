"""Inventory: holds, releases, idempotent release or drift, keys, refusals."""

from __future__ import annotations

import pytest

import sagasim
from sagasim import Simulation
from sagasim.services import (
    IdempotencyConflict,
    Inventory,
    OutOfStock,
    UnknownHold,
    UnknownSku,
)

from .helpers import body, in_step, run_script


def kinds(inventory):
    return [
        (e["kind"], e["entity"], e["resource"], e["delta"], e["compensates"])
        for e in inventory.effects
    ]


def hold_then_release_twice(inventory):
    """A script: hold 3 "sku-1", then release the hold twice."""

    async def script(event, step):
        hold = await step.do("hold", body(lambda ctx: inventory.hold("sku-1", 3)))
        await step.do("release", body(lambda ctx: inventory.release(hold)))
        await step.do("again", body(lambda ctx: inventory.release(hold)))
        return hold

    return script


def test_a_hold_takes_stock_and_a_release_puts_it_back():
    """Hold 3 of 10, release: 7 then 10 available; two linked effects."""
    sim = Simulation(seed=1)
    inventory = Inventory(sim, stock={"sku-1": 10, "sku-2": 0}, latency=10)
    seen = []

    async def script(event, step):
        hold = await step.do("hold", body(lambda ctx: inventory.hold("sku-1", 3)))
        seen.append(inventory.available("sku-1"))
        await step.do("release", body(lambda ctx: inventory.release(hold)))
        return hold

    inst = run_script(sim, script)

    assert "hold_1" == inst.status()["output"]
    assert [7] == seen
    assert [
        ("hold", "hold_1", "stock:sku-1", -3, None),
        ("release", "hold_1", "stock:sku-1", 3, 1),
    ] == kinds(inventory)
    assert [3, 3] == [e["amount"] for e in inventory.effects]
    assert {"stock:sku-1": 10, "stock:sku-2": 0} == inventory.snapshot()
    assert {
        "hold_1": {"id": "hold_1", "key": None, "sku": "sku-1", "qty": 3, "releases": 1}
    } == inventory.holds


def test_a_non_idempotent_release_of_a_released_hold_drifts():
    """idempotent_release=False: releasing twice makes 3 units from nothing."""
    sim = Simulation(seed=1)
    inventory = Inventory(sim, stock={"sku-1": 10}, idempotent_release=False)

    run_script(sim, hold_then_release_twice(inventory))

    assert [
        ("hold", "hold_1", "stock:sku-1", -3, None),
        ("release", "hold_1", "stock:sku-1", 3, 1),
        ("release", "hold_1", "stock:sku-1", 3, 1),
    ] == kinds(inventory)
    assert {"sku-1": 13} == inventory.stock
    assert 2 == inventory.holds["hold_1"]["releases"]


def test_an_idempotent_release_of_a_released_hold_changes_nothing():
    """idempotent_release=True: the second release is ok and applies nothing."""
    sim = Simulation(seed=1)
    inventory = Inventory(sim, stock={"sku-1": 10}, idempotent_release=True)

    run_script(sim, hold_then_release_twice(inventory))

    assert [
        ("hold", "hold_1", "stock:sku-1", -3, None),
        ("release", "hold_1", "stock:sku-1", 3, 1),
    ] == kinds(inventory)
    assert [("hold", "ok"), ("release", "ok"), ("release", "ok")] == [
        (row["op"], row["outcome"]) for row in inventory.history
    ]
    assert {"sku-1": 10} == inventory.stock


def test_release_by_key_finds_a_hold_whose_id_was_lost():
    """The hold lands but its answer is lost; the handler releases it by key."""
    sim = Simulation(seed=1)
    inventory = Inventory(sim, stock={"sku-1": 5}, latency=100, response_latency=100)

    async def hold(ctx):
        return await inventory.hold("sku-1", 2, key=f"{ctx.instance_id}:hold")

    async def release(output, error, ctx):
        await inventory.release(f"{ctx.instance_id}:hold")

    config = {"retries": {"limit": 0, "delay": 0}, "timeout": 150}
    inst = run_script(sim, in_step("hold", hold, config=config, rollback=release))

    assert "errored" == inst.status()["status"]
    assert [
        ("hold", "hold_1", "stock:sku-1", -2, None),
        ("release", "hold_1", "stock:sku-1", 2, 1),
    ] == kinds(inventory)
    assert [(0.1, False), (0.25, True)] == [
        (e["time"], e["rollback"]) for e in inventory.effects
    ]
    assert {"sku-1": 5} == inventory.stock


def test_holds_with_a_key_reserve_once_and_without_twice():
    """Two holds with one key are one hold; two without a key are two."""
    sim = Simulation(seed=1)
    inventory = Inventory(sim, stock={"sku-1": 10})

    async def four(ctx):
        return [
            await inventory.hold("sku-1", 2, key="cart-1"),
            await inventory.hold("sku-1", 2, key="cart-1"),
            await inventory.hold("sku-1", 2),
            await inventory.hold("sku-1", 2),
        ]

    inst = run_script(sim, in_step("holds", four))

    assert ["hold_1", "hold_1", "hold_2", "hold_3"] == inst.status()["output"]
    assert {"sku-1": 4} == inventory.stock
    assert ["cart-1", None, None] == [e["key"] for e in inventory.effects]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda inv: inv.hold("sku-1", 6),
            OutOfStock,
            "inventory 'inventory' has 5 of 'sku-1', cannot hold 6",
        ),
        (
            lambda inv: inv.hold("sku-9", 1),
            UnknownSku,
            "inventory 'inventory' does not stock 'sku-9'",
        ),
        (
            lambda inv: inv.release("hold_4"),
            UnknownHold,
            "inventory 'inventory' has no hold 'hold_4'",
        ),
    ],
)
def test_refusals_fail_the_step_without_retry_or_effect(call, error, message):
    """Out of stock, unknown SKU, unknown hold: non-retryable, nothing applied."""
    sim = Simulation(seed=1)
    inventory = Inventory(sim, stock={"sku-1": 5})
    config = {"retries": {"limit": 3, "delay": 0}}

    inst = run_script(sim, in_step("op", lambda ctx: call(inventory), config=config))

    assert {"name": error.__name__, "message": message} == inst.status()["error"]
    assert issubclass(error, sagasim.NonRetryableError)
    assert 1 == len(inventory.history)
    assert [] == inventory.effects
    assert {"sku-1": 5} == inventory.stock


def test_reusing_a_hold_key_for_another_quantity_is_refused():
    """A hold key is bound to its first SKU and quantity."""
    sim = Simulation(seed=1)
    inventory = Inventory(sim, stock={"sku-1": 5})

    async def two(ctx):
        await inventory.hold("sku-1", 1, key="k")
        await inventory.hold("sku-1", 2, key="k")

    inst = run_script(sim, in_step("holds", two))

    assert {
        "name": IdempotencyConflict.__name__,
        "message": "key 'k' was used for a hold of 1 x 'sku-1', not 2 x 'sku-1'",
    } == inst.status()["error"]


def test_quantities_are_positive_integers():
    """qty must be a positive int; opening stock a non-negative one."""
    inventory = Inventory(Simulation(), stock={"a": 1})

    with pytest.raises(ValueError, match="qty must be positive, got 0"):
        inventory.hold("a", 0).send(None)
    with pytest.raises(TypeError, match="integer number of units, got 1.5"):
        inventory.hold("a", 1.5).send(None)
    with pytest.raises(ValueError, match="opening stock must be positive, got -1"):
        Inventory(Simulation(), stock={"a": -1})
