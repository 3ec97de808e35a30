"""Errors raised by simulated services.

Two families, which the engine treats differently:

- :class:`ServiceError` and its subclasses are ordinary, retryable errors:
  the request did not reach the service's state, nothing was applied, and a
  later attempt may succeed.
- Business refusals (insufficient funds, an unknown account, a reused
  idempotency key) derive from :class:`sagasim.NonRetryableError`: retrying
  the same request would be refused the same way, so the step fails after
  the current attempt. They too apply nothing.
"""

from __future__ import annotations

import sagasim

__all__ = [
    "IdempotencyConflict",
    "InvalidArgument",
    "InvalidArgumentType",
    "InvalidArgumentValue",
    "ServiceError",
    "ServiceUnavailable",
]


class ServiceError(Exception):
    """The service failed the request; nothing was applied. Retryable.

    Raised as it is for the random failures of a service's ``error_rate``.
    """


class ServiceUnavailable(ServiceError):
    """The service was down (in an outage window) when the request reached it.

    It is an ordinary (retryable) error: the engine retries the step under its
    retry config, and a later attempt succeeds once the outage window closes.
    No effect was applied.
    """


class IdempotencyConflict(sagasim.NonRetryableError):
    """An idempotency key was reused with different arguments.

    The first request with the key fixed what the key means; a request that
    names the same key with, say, another amount is refused rather than
    silently given the first result. Non-retryable; nothing is applied.
    """


class InvalidArgument(sagasim.NonRetryableError):
    """A request whose arguments are wrong: sent again, it would be wrong
    again, so it is non-retryable. Nothing is applied."""


class InvalidArgumentType(InvalidArgument, TypeError):
    """An argument of the wrong type, such as an amount that is not an int."""


class InvalidArgumentValue(InvalidArgument, ValueError):
    """An argument of the right type with a value out of range."""
