"""Simulated external services: latency, capacity, outages, an effects ledger.

Every service derives from :class:`Service` and shares one request model:
a call is recorded in the service's ``history`` when it is made, waits for
a slot, spends its request latency, is applied (or refused) atomically at
the instant it arrives, spends its response latency and returns. Each state
change is an entry in the service's ``effects`` ledger and an
``EFFECT_APPLIED`` trace row: the trace says what the engine did, the
ledger says what the world saw.

Services reach workflows as bindings: ``sim.bindings["payments"] =
Payments(sim)``, then ``self.env["payments"]`` inside a workflow.
"""

from sagasim.services.bank import Bank, InsufficientFunds, UnknownAccount
from sagasim.services.base import QueueTimeout, Service
from sagasim.services.errors import (
    IdempotencyConflict,
    InvalidArgument,
    ServiceError,
    ServiceUnavailable,
)
from sagasim.services.inventory import Inventory, OutOfStock, UnknownHold, UnknownSku
from sagasim.services.latency import (
    Fixed,
    LatencyModel,
    LogNormal,
    Uniform,
    parse_latency,
)
from sagasim.services.mailer import Mailer, UnknownMessage
from sagasim.services.payments import (
    AlreadyRefunded,
    Payments,
    RefundExceedsCharge,
    UnknownCharge,
)

__all__ = [
    "AlreadyRefunded",
    "Bank",
    "Fixed",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InvalidArgument",
    "Inventory",
    "LatencyModel",
    "LogNormal",
    "Mailer",
    "OutOfStock",
    "QueueTimeout",
    "Payments",
    "RefundExceedsCharge",
    "Service",
    "ServiceError",
    "ServiceUnavailable",
    "Uniform",
    "UnknownAccount",
    "UnknownCharge",
    "UnknownHold",
    "UnknownMessage",
    "UnknownSku",
    "parse_latency",
]
