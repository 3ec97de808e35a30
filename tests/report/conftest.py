"""A run whose names try to break out of HTML, and page helpers."""

from __future__ import annotations

import base64
import re

import pytest

import sagasim
from sagasim.faults import Fault
from sagasim.services import Payments

EVIL_WORKFLOW = '<script>alert("workflow")</script>'
EVIL_STEP = "<img src=x onerror=alert(1)>"
EVIL_OTHER = 'a&b "q" $x$'
EVIL_SERVICE = "<i>pay</i>"
EVIL_ERROR = '<b>refused</b> & "never"'
EVIL = (EVIL_WORKFLOW, EVIL_STEP, EVIL_OTHER, EVIL_SERVICE, EVIL_ERROR)


class Evil(sagasim.Workflow):
    """Charge, then two parallel steps with hostile names, the slower one
    started first, then a refusal whose message is HTML."""

    name = EVIL_WORKFLOW

    async def run(self, event, step):
        payments = self.env["pay"]

        async def charge(ctx):
            return await payments.charge(event["instance_id"], 500)

        async def refund(output, error, ctx):
            if output is not sagasim.UNDEFINED:
                await payments.refund(output)

        async def slow(ctx):
            await sagasim.sleep(300)

        async def fast(ctx):
            await sagasim.sleep(100)

        async def refuse(ctx):
            if (event["payload"] or {}).get("fail"):
                raise sagasim.NonRetryableError(EVIL_ERROR)

        async def undo(output, error, ctx):
            await sagasim.sleep(20)

        await step.do(
            "charge",
            charge,
            rollback=refund,
            config={"retries": {"limit": 2, "delay": 100}},
        )
        await sagasim.gather(
            step.do(EVIL_STEP, slow, rollback=undo),
            step.do(EVIL_OTHER, fast, rollback=undo),
        )
        await step.do("confirm", refuse)


def evil_simulation():
    """Three instances: the second fails and rolls back; the first charge
    loses its reply once."""
    sim = sagasim.Simulation(
        seed=4,
        faults=[Fault("lose_output", step="charge", instance="inst-1", attempt=1)],
    )
    sim.bindings["pay"] = Payments(sim, EVIL_SERVICE, latency=20)
    sim.create(Evil)
    sim.create(Evil, params={"fail": True}, at=0.5)
    sim.create(Evil, at=1.0)
    sim.run()
    return sim


@pytest.fixture(scope="session")
def evil():
    """The finished run; tests only read it."""
    return evil_simulation()


def assert_escaped(page: str) -> None:
    """No hostile name appears raw; each appears escaped."""
    import html

    for name in EVIL:
        assert name not in page
        assert html.escape(name, quote=True) in page
    assert "<script" not in page.lower()


_ATTR = re.compile(r"""\b(src|href)\s*=\s*(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def links(page: str) -> list[tuple[str, str]]:
    """Every (attribute, value) of a src or href in ``page``."""
    return [(m.group(1).lower(), m.group(3)) for m in _ATTR.finditer(page)]


def assert_self_contained(page: str) -> None:
    """Nothing is fetched: images are PNG data URIs, links stay in the page."""
    found = links(page)
    assert found
    for attribute, value in found:
        assert not re.match(r"\s*(https?:)?//", value, re.IGNORECASE), value
        if attribute == "src":
            assert value.startswith("data:image/png;base64,")
            png = base64.b64decode(value.split(",", 1)[1])
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            assert b"http" not in png, "no address, even in the PNG's metadata"
        else:
            assert value.startswith("#")
    lowered = page.lower()
    for fetching in ("http://", "https://", "<link", "@import", "url("):
        assert fetching not in lowered
