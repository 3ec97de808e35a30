"""Running model-sized shapes, for the tests that compare with the model."""

from __future__ import annotations

from typing import Any

from sagasim import Simulation
from sagasim.strategies import ShapeLog, workflow_from_shape, workflow_shapes


def model_shapes(**options: Any):
    """Shapes the model can predict: sequences of steps, flat gathers and
    sleeps, with handlers that never fail."""
    return workflow_shapes(nested=False, waits=False, failing_handlers=False, **options)


def run_shape(
    shape: dict[str, Any],
    *,
    seed: int = 0,
    crash: int | None = None,
    jitter: bool = False,
    inflight: str = "cancel",
):
    """Run one instance of ``shape`` under the ``inflight`` policy; with
    ``crash`` (ms), crash the engine under it at that simulated instant.
    Returns ``(sim, inst, log)``."""
    log = ShapeLog()
    sim = Simulation(seed=seed, inflight=inflight)
    inst = sim.create(workflow_from_shape(shape, log=log, jitter=jitter))
    if crash is not None:
        sim.run(until=crash / 1000)
        inst.crash()
    sim.run()
    return sim, inst, log
