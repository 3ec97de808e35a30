"""The kinds of service a scenario file can declare, and what each accepts.

Each kind names a class of :mod:`sagasim.services` and the settings of its
own that a ``[[services]]`` table may give, besides the request model's
(``latency``, ``response_latency``, ``capacity``, ``outages``,
``error_rate``). The operations a step may call are the class's public
``async`` methods; their parameters are the step's ``args``, except
``key``, which the step's ``key`` fills in.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cached_property

from sagasim.services import Bank, Inventory, Mailer, Payments, Service

__all__ = ["COMMON_OPTIONS", "SERVICE_KINDS", "Kind", "Operation"]

COMMON_OPTIONS = ("latency", "response_latency", "capacity", "outages", "error_rate")


@dataclass(frozen=True)
class Operation:
    """One operation of a service kind, from its method's signature."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    takes_key: bool

    @property
    def params(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(frozen=True)
class Kind:
    """A service kind: its class and its own settings.

    ``options`` maps each setting to ``(check, required)``, where ``check``
    is the name of a value check of the loader (``"balances"``, ``"flag"``,
    ``"text"``).
    """

    name: str
    cls: type[Service]
    options: dict[str, tuple[str, bool]]

    @cached_property
    def operations(self) -> dict[str, Operation]:
        """The operations a step may call, by name."""
        found = {}
        for name, method in inspect.getmembers(self.cls, inspect.iscoroutinefunction):
            if name.startswith("_"):
                continue
            required, optional = [], []
            takes_key = False
            for param in list(inspect.signature(method).parameters.values())[1:]:
                if param.name == "key":
                    takes_key = True
                elif param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    continue
                elif param.default is param.empty:
                    required.append(param.name)
                else:
                    optional.append(param.name)
            found[name] = Operation(name, tuple(required), tuple(optional), takes_key)
        return found

    def can_find(self) -> bool:
        """Whether the kind looks records up by idempotency key (``find``)."""
        return "find" in self.operations

    def describe(self, op: str) -> str:
        """``"payments.charge(customer, amount, key)"`` for messages."""
        operation = self.operations[op]
        params = list(operation.params) + (["key"] if operation.takes_key else [])
        return f"{op}({', '.join(params)})"


SERVICE_KINDS: dict[str, Kind] = {
    "bank": Kind("bank", Bank, {"accounts": ("balances", True)}),
    "payments": Kind(
        "payments", Payments, {"currency": ("text", False), "strict": ("flag", False)}
    ),
    "inventory": Kind(
        "inventory",
        Inventory,
        {"stock": ("balances", True), "idempotent_release": ("flag", False)},
    ),
    "mailer": Kind("mailer", Mailer, {}),
}


def operation_names(kind: str) -> list[str]:
    """The operation names of ``kind``, sorted."""
    return sorted(SERVICE_KINDS[kind].operations)
