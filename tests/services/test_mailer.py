"""The mailer: irreversible sends, keys, corrections as the only compensation."""

from __future__ import annotations

import sagasim
from sagasim import Simulation
from sagasim.services import Mailer, UnknownMessage

from .helpers import body, effect_rows, in_step, run_script


def kinds(mailer):
    return [
        (e["kind"], e["entity"], e["irreversible"], e["compensates"])
        for e in mailer.effects
    ]


def test_a_send_is_an_irreversible_effect():
    """A send returns msg_1 and records an irreversible effect with no quantity."""
    sim = Simulation(seed=1)
    mailer = Mailer(sim, latency=20)

    inst = run_script(
        sim,
        in_step("mail", lambda ctx: mailer.send("ann@example.com", "Order shipped")),
    )

    assert "msg_1" == inst.status()["output"]
    assert [("send", "msg_1", True, None)] == kinds(mailer)
    assert [("", 0, 0)] == [
        (e["resource"], e["delta"], e["amount"]) for e in mailer.effects
    ]
    assert {} == mailer.snapshot()
    assert [
        (
            0.02,
            "inst-1",
            "mail",
            1,
            1,
            {
                "service": "mailer",
                "op": "send",
                "kind": "send",
                "entity": "msg_1",
                "amount": 0,
                "effect_id": 1,
            },
        )
    ] == effect_rows(sim)


def test_a_failed_saga_corrects_the_message_it_sent():
    """The rollback handler cannot unsend; it sends a correction linked to it."""
    sim = Simulation(seed=1)
    mailer = Mailer(sim, latency=20)

    async def undo(output, error, ctx):
        await mailer.correct(output, "Sorry: your order was cancelled.")

    async def script(event, step):
        await step.do(
            "mail",
            body(lambda ctx: mailer.send("ann@example.com", "Order shipped")),
            rollback=undo,
        )
        raise sagasim.NonRetryableError("payment failed")

    inst = run_script(sim, script)

    assert "errored" == inst.status()["status"]
    assert [("send", "msg_1", True, None), ("correction", "msg_2", False, 1)] == kinds(
        mailer
    )
    assert [False, True] == [e["rollback"] for e in mailer.effects]
    assert {
        "msg_1": {
            "id": "msg_1",
            "key": None,
            "to": "ann@example.com",
            "subject": "Order shipped",
            "text": "",
            "corrects": None,
        },
        "msg_2": {
            "id": "msg_2",
            "key": None,
            "to": "ann@example.com",
            "subject": "Correction: Order shipped",
            "text": "Sorry: your order was cancelled.",
            "corrects": "msg_1",
        },
    } == mailer.messages


def test_correct_by_key_and_twice_sends_two_corrections():
    """A correction names the message by key; corrections are not deduplicated."""
    sim = Simulation(seed=1)
    mailer = Mailer(sim)

    async def script(ctx):
        await mailer.send("ann@example.com", "Hi", key="welcome-ann")
        await mailer.correct("welcome-ann", "Wrong name, sorry.")
        await mailer.correct("msg_1", "Wrong name, sorry.")

    run_script(sim, in_step("mail", script))

    assert [
        ("send", "msg_1", True, None),
        ("correction", "msg_2", False, 1),
        ("correction", "msg_3", False, 1),
    ] == kinds(mailer)


def test_a_send_with_a_key_is_sent_once_and_without_twice():
    """Repeating a keyed send returns msg_1; an unkeyed repeat is a new message."""
    sim = Simulation(seed=1)
    mailer = Mailer(sim)

    async def script(ctx):
        return [
            await mailer.send("ann@example.com", "Hi", key="k"),
            await mailer.send("ann@example.com", "Hi", key="k"),
            await mailer.send("ann@example.com", "Hi"),
            await mailer.send("ann@example.com", "Hi"),
        ]

    inst = run_script(sim, in_step("mail", script))

    assert ["msg_1", "msg_1", "msg_2", "msg_3"] == inst.status()["output"]
    assert 3 == len(mailer.effects)


def test_correcting_an_unknown_message_is_refused():
    """UnknownMessage is non-retryable and sends nothing."""
    sim = Simulation(seed=1)
    mailer = Mailer(sim)

    inst = run_script(sim, in_step("fix", lambda ctx: mailer.correct("msg_3", "x")))

    assert {
        "name": "UnknownMessage",
        "message": "mailer 'mailer' has no message 'msg_3'",
    } == inst.status()["error"]
    assert issubclass(UnknownMessage, sagasim.NonRetryableError)
    assert [] == mailer.effects
