"""Simulated external services: latency, outages and an effects ledger.

A service spends simulated time with :func:`sagasim.sleep`, so a step body
that awaits it takes as long as the service makes it take. Every effect a
service applies is recorded in its ledger, which is what a run is judged by:
the trace says what the engine did, the ledger says what the world saw.
"""

from sagasim.services.bank import Bank, InsufficientFunds, UnknownAccount
from sagasim.services.errors import ServiceUnavailable

__all__ = ["Bank", "InsufficientFunds", "ServiceUnavailable", "UnknownAccount"]
