"""Irreversible sends of instances that rolled back."""

import sagasim
from sagasim.checks import irreversible

from .conftest import NO_RETRIES, Ledger, Trace, effect, found


def ended(instance="inst-1", *, rolled_back=True):
    t = Trace(instance)
    if rolled_back:
        t.add("ROLLBACK_START")
        t.add("ROLLBACK_COMPLETE")
        t.add("WORKFLOW_FAILURE")
    else:
        t.add("WORKFLOW_SUCCESS")
    return t.frame()


def send(effect_id=1, *, step="notify", **kw):
    return effect(
        effect_id, "send", f"msg_{effect_id}", service="MAIL", step=step, **kw
    )


def correction(effect_id, compensates=None, **kw):
    return effect(
        effect_id,
        "correction",
        "msg_1",
        service="MAIL",
        step="notify",
        rollback=True,
        compensates=compensates,
        **kw,
    )


def test_a_send_corrected_by_the_rollback_is_still_irreversible():
    """The correction only pretends: the send and its correction are cited."""
    result = irreversible(ended(), [send(1), correction(2, compensates=1)])

    assert found(result) == [("irreversible", "inst-1", "MAIL:msg_1", (1, 2))]
    assert "correction" in result["message"][0]


def test_a_correction_naming_nothing_matches_its_step():
    """A correction without compensates belongs to the send of its step."""
    effects = [send(1), send(2, step="other"), correction(3)]

    assert found(irreversible(ended(), effects)) == [
        ("irreversible", "inst-1", "MAIL:msg_1", (1, 3)),
        ("irreversible", "inst-1", "MAIL:msg_2", (2,)),
    ]


def test_a_send_never_corrected_is_reported():
    """A send alone in a rolled-back instance."""
    result = irreversible(ended(), [send(1)])

    assert found(result) == [("irreversible", "inst-1", "MAIL:msg_1", (1,))]
    assert "never corrected" in result["message"][0]


def test_sends_of_instances_that_did_not_roll_back_are_clean():
    """A completed instance's mail was meant to go."""
    assert found(irreversible(ended(rolled_back=False), [send(1)])) == []


def test_a_message_sent_by_a_handler_is_the_compensation_itself():
    """A send with rollback set is not reported."""
    assert found(irreversible(ended(), [send(1, rollback=True)])) == []


def test_any_effect_flagged_irreversible_is_reported():
    """The irreversible flag counts as well as the send kind."""
    shipped = effect(1, "capture", "parcel", 1, service="SHIP", resource="")
    shipped["irreversible"] = True

    assert found(irreversible(ended(), [shipped])) == [
        ("irreversible", "inst-1", "SHIP:parcel", (1,))
    ]


class Notify(sagasim.Workflow):
    """Send a confirmation, then fail; the handler sends a correction."""

    async def run(self, event, step):
        mail = self.env["MAIL"]

        async def correct(output, error, ctx):
            await mail.correct(output)

        await step.do("notify", lambda: mail.send("alice"), rollback=correct)
        if event["payload"]["fail"]:

            async def fail():
                raise sagasim.NonRetryableError("card declined")

            await step.do("fail", fail, config=NO_RETRIES)


def notify(fail):
    sim = sagasim.Simulation()
    mail = Ledger(sim, "MAIL", latency=5)
    sim.bindings["MAIL"] = mail
    sim.create(Notify, params={"fail": fail})
    sim.run()
    return sim, mail


def test_a_confirmation_sent_before_a_failure_is_reported():
    """On the real engine: the handler's correction does not unsend it."""
    sim, mail = notify(fail=True)

    assert found(irreversible(sim.trace, mail.effects)) == [
        ("irreversible", "inst-1", "MAIL:msg_1", (1, 2))
    ]


def test_a_confirmation_of_a_completed_instance_is_clean():
    """On the real engine: no rollback, nothing to report."""
    sim, mail = notify(fail=False)

    assert found(irreversible(sim.trace, mail.effects)) == []
