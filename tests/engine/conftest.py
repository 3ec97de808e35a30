"""Small helpers shared by the engine specification tests.

They use the public API only: ``sagasim.Simulation``, its instances and the
``sim.trace`` DataFrame. Times are simulated seconds, as the library reports
them.
"""

from __future__ import annotations

from collections.abc import Iterable

import sagasim

NO_RETRIES = {"retries": {"limit": 0, "delay": 0}}


def start(workflow, params=None, *, id=None, **options):
    """Create a simulation with ``options`` and one instance; run nothing yet."""
    sim = sagasim.Simulation(**options)
    inst = sim.create(workflow, params=params, id=id)
    return sim, inst


def run(workflow, params=None, *, id=None, **options):
    """Run one instance of ``workflow`` until no live work is left."""
    sim, inst = start(workflow, params, id=id, **options)
    sim.run()
    return sim, inst


def rows(sim, event=None, *, step=None, instance=None):
    """Trace rows in ``seq`` order, filtered by event name(s), step and instance."""
    trace = sim.trace.sort_values("seq")
    if event is not None:
        names = [event] if isinstance(event, str) else list(event)
        trace = trace[trace["event"].isin(names)]
    if step is not None:
        trace = trace[trace["step"] == step]
    if instance is not None:
        trace = trace[trace["instance"] == instance]
    return trace


def times(sim, event, *, step=None, instance=None) -> list[float]:
    """The ``time`` of each matching trace row."""
    selected = rows(sim, event, step=step, instance=instance)
    return [float(t) for t in selected["time"]]


def column(sim, name, event=None, *, step=None, instance=None) -> list:
    """One column of the matching trace rows, as plain Python values."""
    selected = rows(sim, event, step=step, instance=instance)
    return selected[name].tolist()


def records(sim, columns: Iterable[str], event=None, *, step=None, instance=None):
    """Tuples of the given columns for each matching trace row."""
    selected = rows(sim, event, step=step, instance=instance)
    return [tuple(row) for row in selected[list(columns)].itertuples(index=False)]


def events(sim, *, step=None, instance=None, prefix: str | tuple = "") -> list[str]:
    """Event names in ``seq`` order, optionally only those with a prefix."""
    names = column(sim, "event", step=step, instance=instance)
    return [name for name in names if name.startswith(prefix)]


def ok(value=None, *, ms=0, calls=None):
    """A body that waits ``ms`` simulated milliseconds and returns ``value``.

    When ``calls`` is a list, the body appends its step name when it starts.
    """

    async def body(ctx):
        if calls is not None:
            calls.append(ctx.step.name)
        if ms:
            await sagasim.sleep(ms)
        return value

    return body


def fail(message="boom", *, ms=0, error=RuntimeError, calls=None):
    """A body that waits ``ms`` simulated milliseconds and raises ``error``."""

    async def body(ctx):
        if calls is not None:
            calls.append(ctx.step.name)
        if ms:
            await sagasim.sleep(ms)
        raise error(message)

    return body


def undo(log, *, ms=0):
    """A rollback handler that appends ``(step name, output)`` to ``log``."""

    async def handler(output, error, ctx):
        log.append((ctx.step.name, output))
        if ms:
            await sagasim.sleep(ms)

    return handler
