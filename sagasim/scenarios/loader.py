"""Reading and validating scenario files.

A scenario file is TOML::

    [simulation]
    seed = 7                      # integer >= 0, default 0
    instances = 200               # integer >= 1, required
    arrival_interval = "250 ms"   # milliseconds or "<n> <unit>", default 0
    max_concurrent = 50           # integer >= 1, default 50000

    [[banks]]                     # one or more
    name = "north"                # required, unique
    latency = { min = 20, max = 80 }  # ms: integer, or uniform {min, max}
    accounts = { alice = 1_000_000 }  # opening balances in integer cents
    outages = [[30, 45]]          # [start, end) windows in simulated seconds

    [transfer]
    amount = { min = 100, max = 5_000 }   # cents: integer, or uniform range
    from = { bank = "north", account = "alice" }
    to = { bank = "south", account = "bob" }
    retries = { limit = 3, delay = "1 second", backoff = "exponential" }
    timeout = "5 seconds"

Every problem is reported as a :class:`ScenarioError` whose message is one
line: the file, the dotted field, and what was expected.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

import sagasim
from sagasim.scenarios.spec import (
    AccountRef,
    BankSpec,
    Latency,
    Retries,
    Scenario,
    SimulationSpec,
    TransferSpec,
)

__all__ = ["ScenarioError", "load_scenario", "parse_scenario"]

T = TypeVar("T")

DEFAULT_MAX_CONCURRENT = 50_000
BACKOFFS = ("constant", "linear", "exponential")

_TOML_LOCATION = re.compile(r"\s*\(at (line \d+, column \d+|end of document)\)$")


class ScenarioError(ValueError):
    """A scenario file cannot be used; the message is a single line.

    The message reads ``<file>: <field>: <what is wrong>``, for example
    ``scenarios/x.toml: simulation.instances: expected a positive integer,
    got "ten"``. Problems not tied to one field leave the field out.
    """


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate the scenario file at ``path``.

    Raises:
        ScenarioError: the file is missing or unreadable, is not valid TOML,
            or does not describe a valid scenario.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: cannot read file: not UTF-8 text") from None
    return parse_scenario(text, path)


def parse_scenario(text: str, path: str | Path = "<scenario>") -> Scenario:
    """Parse and validate scenario TOML ``text``; ``path`` names it in errors.

    Raises:
        ScenarioError: ``text`` is not valid TOML or not a valid scenario.
    """
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(_toml_message(path, exc)) from None
    return _Validator(path).scenario(data)


def _toml_message(path: Path, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = _TOML_LOCATION.search(message)
    if match is None:
        return f"{path}: invalid TOML: {message}"
    where = match.group(1).replace("document", "file")
    return f"{path}: {where}: invalid TOML: {message[: match.start()]}"


class _Validator:
    """Checks one decoded TOML document, naming ``path`` in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, message: str) -> NoReturn:
        raise ScenarioError(f"{self.path}: {field}: {message}")

    def expected(self, field: str, what: str, value: object) -> NoReturn:
        self.fail(field, f"expected {what}, got {_show(value)}")

    # -- document structure ------------------------------------------------

    def scenario(self, data: dict[str, Any]) -> Scenario:
        self.known_fields("", data, ("simulation", "banks", "transfer"))
        simulation = self.simulation(self.table(data, "simulation", ""))
        banks = self.banks(self.required(data, "banks", "", "an array of [[banks]]"))
        transfer = self.transfer(self.table(data, "transfer", ""), banks)
        return Scenario(
            path=self.path,
            name=self.path.stem,
            simulation=simulation,
            banks=banks,
            transfer=transfer,
        )

    def simulation(self, table: dict[str, Any]) -> SimulationSpec:
        where = "simulation"
        self.known_fields(
            where, table, ("seed", "instances", "arrival_interval", "max_concurrent")
        )
        return SimulationSpec(
            seed=self.optional(table, "seed", where, self.natural, 0),
            instances=self.positive(
                self.required(table, "instances", where, "a positive integer"),
                f"{where}.instances",
            ),
            arrival_interval_ms=self.optional(
                table, "arrival_interval", where, self.duration, 0
            ),
            max_concurrent=self.optional(
                table, "max_concurrent", where, self.positive, DEFAULT_MAX_CONCURRENT
            ),
        )

    def banks(self, value: object) -> tuple[BankSpec, ...]:
        if not isinstance(value, list) or not value:
            self.expected("banks", "one or more [[banks]] tables", value)
        banks: list[BankSpec] = []
        for index, item in enumerate(value):
            where = f"banks[{index}]"
            if not isinstance(item, dict):
                self.expected(where, "a table", item)
            bank = self.bank(item, where)
            for earlier_index, earlier in enumerate(banks):
                if earlier.name == bank.name:
                    self.expected(
                        f"{where}.name",
                        f"a name not used by banks[{earlier_index}]",
                        bank.name,
                    )
            banks.append(bank)
        return tuple(banks)

    def bank(self, table: dict[str, Any], where: str) -> BankSpec:
        self.known_fields(where, table, ("name", "latency", "accounts", "outages"))
        name = self.name(
            self.required(table, "name", where, "a bank name"), f"{where}.name"
        )
        latency = self.optional(table, "latency", where, self.latency, Latency(0, 0))
        accounts = self.accounts(
            self.required(table, "accounts", where, "a table of account balances"),
            f"{where}.accounts",
        )
        outages = self.optional(table, "outages", where, self.outages, ())
        return BankSpec(name=name, latency=latency, accounts=accounts, outages=outages)

    def transfer(
        self, table: dict[str, Any], banks: tuple[BankSpec, ...]
    ) -> TransferSpec:
        where = "transfer"
        self.known_fields(where, table, ("amount", "from", "to", "retries", "timeout"))
        amount_min, amount_max = self.amount(
            self.required(table, "amount", where, _AMOUNT), f"{where}.amount"
        )
        source = self.account_ref(
            self.required(table, "from", where, _ACCOUNT_REF), f"{where}.from", banks
        )
        destination = self.account_ref(
            self.required(table, "to", where, _ACCOUNT_REF), f"{where}.to", banks
        )
        return TransferSpec(
            amount_min=amount_min,
            amount_max=amount_max,
            source=source,
            destination=destination,
            retries=self.optional(table, "retries", where, self.retries, None),
            timeout_ms=self.optional(table, "timeout", where, self.timeout, None),
        )

    # -- field access --------------------------------------------------------

    def known_fields(
        self, where: str, table: Mapping[str, Any], allowed: tuple[str, ...]
    ) -> None:
        for key in table:
            if key not in allowed:
                self.fail(
                    _join(where, key),
                    "unknown field, expected one of " + ", ".join(allowed),
                )

    def required(
        self, table: Mapping[str, Any], key: str, where: str, what: str
    ) -> Any:
        if key not in table:
            self.fail(_join(where, key), f"missing, expected {what}")
        return table[key]

    def optional(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        check: Callable[[Any, str], T],
        default: T,
    ) -> T:
        if key not in table:
            return default
        return check(table[key], _join(where, key))

    def table(self, data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
        value = self.required(data, key, where, f"a [{_join(where, key)}] table")
        if not isinstance(value, dict):
            self.expected(_join(where, key), "a table", value)
        return value

    # -- value checks ---------------------------------------------------------

    def integer(self, value: object, field: str, what: str, low: int) -> int:
        if not _is_int(value) or value < low:
            self.expected(field, what, value)
        return value

    def natural(self, value: object, field: str) -> int:
        return self.integer(value, field, "a non-negative integer", 0)

    def positive(self, value: object, field: str) -> int:
        return self.integer(value, field, "a positive integer", 1)

    def name(self, value: object, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.expected(field, "a non-empty string", value)
        return value

    def duration(self, value: object, field: str, *, allow_zero: bool = True) -> int:
        what = (
            'a duration (milliseconds or "<n> <unit>")'
            if allow_zero
            else 'a positive duration (milliseconds or "<n> <unit>")'
        )
        if _is_int(value):
            ms = value
        elif isinstance(value, str):
            try:
                ms = sagasim.parse_duration(value)
            except Exception:
                self.expected(field, what, value)
        else:
            self.expected(field, what, value)
        if ms < 0 or (ms == 0 and not allow_zero):
            self.expected(field, what, value)
        return ms

    def timeout(self, value: object, field: str) -> int:
        return self.duration(value, field, allow_zero=False)

    def range_table(
        self, value: dict[str, Any], field: str, what: str, low: int
    ) -> tuple[int, int]:
        self.known_fields(field, value, ("min", "max"))
        bounds = []
        for key in ("min", "max"):
            bound = self.required(value, key, field, what)
            bounds.append(self.integer(bound, f"{field}.{key}", what, low))
        if bounds[0] > bounds[1]:
            self.expected(f"{field}.max", f"at least min ({bounds[0]})", bounds[1])
        return bounds[0], bounds[1]

    def latency(self, value: object, field: str) -> Latency:
        what = "milliseconds (a non-negative integer)"
        if isinstance(value, dict):
            return Latency(*self.range_table(value, field, what, 0))
        if not _is_int(value) or value < 0:
            self.expected(field, f"{what} or {{ min, max }}", value)
        return Latency(value, value)

    def amount(self, value: object, field: str) -> tuple[int, int]:
        if isinstance(value, dict):
            return self.range_table(value, field, "a positive integer of cents", 1)
        if not _is_int(value) or value < 1:
            self.expected(field, _AMOUNT, value)
        return value, value

    def accounts(self, value: object, field: str) -> MappingProxyType[str, int]:
        if not isinstance(value, dict):
            self.expected(field, "a table of account balances", value)
        balances = {}
        for account, balance in value.items():
            balances[account] = self.integer(
                balance, f"{field}.{account}", "a non-negative integer of cents", 0
            )
        return MappingProxyType(balances)

    def outages(self, value: object, field: str) -> tuple[tuple[float, float], ...]:
        if not isinstance(value, list):
            self.expected(field, "an array of [start, end] windows", value)
        windows = []
        for index, window in enumerate(value):
            where = f"{field}[{index}]"
            if (
                not isinstance(window, list)
                or len(window) != 2
                or not all(_is_number(bound) for bound in window)
            ):
                self.expected(where, "[start, end] in seconds", window)
            start, end = window
            if not 0 <= start < end:
                self.expected(where, "0 <= start < end", window)
            windows.append((float(start), float(end)))
        return tuple(windows)

    def account_ref(
        self, value: object, field: str, banks: tuple[BankSpec, ...]
    ) -> AccountRef:
        if not isinstance(value, dict):
            self.expected(field, _ACCOUNT_REF, value)
        self.known_fields(field, value, ("bank", "account"))
        bank_name = self.required(value, "bank", field, "a bank name")
        by_name = {bank.name: bank for bank in banks}
        if not isinstance(bank_name, str) or bank_name not in by_name:
            names = ", ".join(_show(name) for name in by_name)
            self.expected(f"{field}.bank", f"one of the banks {names}", bank_name)
        account = self.required(value, "account", field, "an account name")
        accounts = by_name[bank_name].accounts
        if not isinstance(account, str) or account not in accounts:
            names = ", ".join(_show(name) for name in accounts)
            self.expected(
                f"{field}.account",
                f"an account of bank {_show(bank_name)} ({names})",
                account,
            )
        return AccountRef(bank=bank_name, account=account)

    def retries(self, value: object, field: str) -> Retries:
        if not isinstance(value, dict):
            self.expected(field, "a table { limit, delay, backoff }", value)
        self.known_fields(field, value, ("limit", "delay", "backoff"))
        limit = self.natural(
            self.required(value, "limit", field, "a non-negative integer"),
            f"{field}.limit",
        )
        delay = self.duration(
            self.required(value, "delay", field, "a duration"), f"{field}.delay"
        )
        backoff = value.get("backoff", "exponential")
        if backoff not in BACKOFFS:
            self.expected(f"{field}.backoff", "one of " + ", ".join(BACKOFFS), backoff)
        return Retries(limit=limit, delay_ms=delay, backoff=backoff)


_AMOUNT = "a positive integer of cents or { min, max }"
_ACCOUNT_REF = "a table { bank, account }"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_int(value)


def _show(value: object) -> str:
    """Render a decoded TOML value the way it would be written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        shown = "[" + ", ".join(_show(item) for item in value) + "]"
    elif isinstance(value, dict):
        items = ", ".join(f"{key} = {_show(item)}" for key, item in value.items())
        shown = "{ " + items + " }" if items else "{}"
    else:
        shown = str(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
