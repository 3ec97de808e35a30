"""Hypothesis profiles for the property tests.

``ci`` (the default) keeps the folder well under a minute on two cores;
``soak`` runs many more examples. Pick one with ``HYPOTHESIS_PROFILE``:
``HYPOTHESIS_PROFILE=soak .venv/bin/pytest tests/properties``.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "soak",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
