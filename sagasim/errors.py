"""The public exceptions and the ``UNDEFINED`` marker.

Errors keep Cloudflare's names: an error that reaches ``run()`` or a rollback
handler carries a ``name`` and a ``message``, which is what instance status,
the trace and the checks report.
"""

from __future__ import annotations

__all__ = [
    "UNDEFINED",
    "AggregateError",
    "Cancelled",
    "NonRetryableDelayError",
    "NonRetryableError",
    "RollbackMissing",
    "Terminated",
    "WorkflowFatalError",
    "WorkflowInternalError",
    "WorkflowTimeoutError",
    "error_info",
    "error_name",
    "is_non_retryable",
]


class _Undefined:
    """The type of :data:`UNDEFINED`; there is exactly one instance."""

    __slots__ = ()
    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __reduce__(self) -> str:
        return "UNDEFINED"

    def __copy__(self) -> _Undefined:
        return self

    def __deepcopy__(self, memo: dict) -> _Undefined:
        return self


UNDEFINED = _Undefined()
"""The output a rollback handler sees for a step that has none.

A step that failed, was cancelled, or is still running when its handler runs
has no output. ``UNDEFINED`` is falsy and distinct from ``None``, which a step
may return on purpose.
"""


class NonRetryableError(Exception):
    """Raised by a step body to end its retries after the current attempt.

    The error reaches ``run()`` with its class, name and message intact. Like
    Cloudflare's, it is not cached: after a replay the step runs again.
    ``name`` defaults to the class name, so a subclass reports its own name.
    """

    def __init__(self, message: str = "", name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.name = name if name is not None else type(self).__name__


class NonRetryableDelayError(NonRetryableError):
    """A dynamic retry delay raised, timed out, or returned a bad value."""


class WorkflowTimeoutError(Exception):
    """An attempt outlived its step timeout, or an event wait timed out.

    For a step attempt it is an ordinary retryable failure.
    """

    name = "WorkflowTimeoutError"


class WorkflowFatalError(Exception):
    """A failure that ends the instance as errored at once.

    Raised for a bad step config or name, the step limit, and an output that
    is not JSON or is over 1 MiB. User code cannot catch it away and no
    rollback runs.
    """

    name = "WorkflowFatalError"


class WorkflowInternalError(Exception):
    """The engine failed under an attempt, for example by crashing mid-attempt."""

    name = "WorkflowInternalError"


class Terminated(Exception):
    """The error rollback handlers see after ``terminate(rollback=True)``."""

    name = "Terminated"


class RollbackMissing(Exception):
    """A step's rollback handler could not be rebuilt after a crash."""

    name = "RollbackMissing"


class Cancelled(Exception):
    """What an awaitable holds once the engine has cancelled its work."""

    name = "Cancelled"


class AggregateError(Exception):
    """Raised by :func:`sagasim.any` when every awaitable failed.

    ``errors`` lists the failures in the order of the awaitables.
    """

    name = "AggregateError"

    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__("All promises were rejected")
        self.errors = errors


def error_name(error: BaseException) -> str:
    """The error's ``name``: its ``name`` attribute if a string, else its class."""
    name = getattr(error, "name", None)
    return name if isinstance(name, str) else type(error).__name__


def error_info(error: BaseException) -> dict[str, str]:
    """``{"name", "message"}`` as instance status reports an error."""
    return {"name": error_name(error), "message": str(error)}


def is_non_retryable(error: BaseException) -> bool:
    """Whether ``error`` ends retries, by class or, as Cloudflare checks, by name."""
    if isinstance(error, NonRetryableError):
        return True
    if error_name(error) == "NonRetryableError":
        return True
    return str(error).startswith("NonRetryableError")
