"""Retry storms: capacity-limited services, backoff, jitter, metastability.

Two experiments, both on the lab's engine and services:

- :mod:`sagasim.storms.storm`: thousands of instances retry against a
  capacity-limited :class:`Endpoint` during and after an outage
  (:func:`run_storm`, :func:`storm_table`, :func:`storm_chart`);
- :mod:`sagasim.storms.jitter`: a reproduction of the published
  backoff-and-jitter simulation on an optimistic-concurrency row
  (:func:`run_jitter`, :func:`check_shape`, :func:`jitter_chart`;
  ``make jitter``).

Attention: jitter and the backoff cap are lab extensions
(``config["lab"]``), not Cloudflare's behaviour.
"""

from sagasim.storms.endpoint import Endpoint
from sagasim.storms.jitter import (
    JITTER_STRATEGIES,
    JitterStrategy,
    OccClient,
    OccRun,
    check_shape,
    jitter_chart,
    run_jitter,
    simulate_occ,
)
from sagasim.storms.occ import AbsNormal, OccRow, StaleWrite
from sagasim.storms.storm import (
    STORM_STRATEGIES,
    RetryStrategy,
    StormClient,
    StormResults,
    StormScenario,
    run_storm,
    storm_chart,
    storm_table,
)

__all__ = [
    "JITTER_STRATEGIES",
    "STORM_STRATEGIES",
    "AbsNormal",
    "Endpoint",
    "JitterStrategy",
    "OccClient",
    "OccRow",
    "OccRun",
    "RetryStrategy",
    "StaleWrite",
    "StormClient",
    "StormResults",
    "StormScenario",
    "check_shape",
    "jitter_chart",
    "run_jitter",
    "run_storm",
    "simulate_occ",
    "storm_chart",
    "storm_table",
]
