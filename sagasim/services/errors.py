"""Errors raised by simulated services."""


class ServiceUnavailable(Exception):
    """The service was down when the request reached it.

    It is an ordinary (retryable) error: the engine retries the step under its
    retry config, and a later attempt succeeds once the outage window closes.
    No effect was applied.
    """
