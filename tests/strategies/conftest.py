"""Hypothesis profiles for the strategy tests (as in tests/properties).

``ci`` (the default) keeps this folder and ``tests/strategies`` together
under a minute on two cores; ``soak`` runs many more examples. Pick one
with ``HYPOTHESIS_PROFILE``:
``HYPOTHESIS_PROFILE=soak .venv/bin/pytest tests/properties``.
"""

from sagasim.strategies import register_profiles

register_profiles()
