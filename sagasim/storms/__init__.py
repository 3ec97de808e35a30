"""Retry storms: capacity-limited services, backoff, jitter, metastability."""

from sagasim.storms.endpoint import Endpoint

__all__ = ["Endpoint"]
