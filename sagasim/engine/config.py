"""Step configuration: validation, defaults, and the retry schedule.

A config is checked before its step runs. Anything wrong with it (an unknown
key, a missing or mistyped field, a bad value) is a
:class:`~sagasim.errors.WorkflowFatalError`, as are step names that are not
strings, are longer than 256 characters, or hold a control character.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sagasim.durations import DurationError, parse_duration
from sagasim.errors import WorkflowFatalError

__all__ = [
    "BACKOFFS",
    "DEFAULT_CONFIG",
    "JITTERS",
    "MAX_NAME_LENGTH",
    "StepConfig",
    "resolve_config",
    "validate_name",
]

BACKOFFS = ("constant", "linear", "exponential")
MAX_NAME_LENGTH = 256

_STEP_KEYS = frozenset({"retries", "timeout", "sensitive", "lab"})
_ROLLBACK_KEYS = frozenset({"retries", "timeout", "lab"})
_RETRY_KEYS = frozenset({"limit", "delay", "backoff"})
_LAB_KEYS = frozenset({"jitter", "cap"})
JITTERS = ("none", "full", "equal", "decorrelated")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class StepConfig:
    """A validated config with the engine defaults filled in.

    ``limit`` counts retries, so a step makes at most ``limit + 1`` attempts.
    ``delay_fn``, when set, is a dynamic delay: it is called after each
    failure and its result is the base that backoff then scales.

    ``jitter`` and ``cap_ms`` come from the config's ``lab`` key, a lab
    extension that is *not* Cloudflare's behaviour (Cloudflare's backoff has
    neither jitter nor a cap). Without it, delays are exactly Cloudflare's.
    """

    __slots__ = (
        "limit",
        "delay_ms",
        "delay_fn",
        "backoff",
        "timeout_ms",
        "sensitive",
        "jitter",
        "cap_ms",
        "_shown",
    )

    def __init__(
        self,
        limit: int | float,
        delay_ms: int,
        delay_fn: Callable[..., Any] | None,
        backoff: str,
        timeout_ms: int,
        sensitive: bool,
        shown: dict[str, Any],
        jitter: str = "none",
        cap_ms: int | None = None,
    ) -> None:
        self.limit = limit
        self.delay_ms = delay_ms
        self.delay_fn = delay_fn
        self.backoff = backoff
        self.timeout_ms = timeout_ms
        self.sensitive = sensitive
        self.jitter = jitter
        self.cap_ms = cap_ms
        self._shown = shown

    def as_dict(self) -> dict[str, Any]:
        """The config as ``ctx.config`` shows it: values as the user gave them,
        defaults as the reference writes them. A fresh copy each call."""
        shown = dict(self._shown)
        shown["retries"] = dict(shown["retries"])
        if "lab" in shown:
            shown["lab"] = dict(shown["lab"])
        return shown

    def retry_delay(
        self,
        attempts: int,
        base: int | None = None,
        draw: float | None = None,
        previous: int | None = None,
    ) -> int:
        """The wait in ms after the failure of attempt number ``attempts``:
        ``base``, ``base * n`` or ``base * 2 ** (n - 1)`` by backoff.

        With the lab's ``cap`` the wait is at most the cap; with its
        ``jitter``, ``draw`` (uniform in [0, 1)) spreads it: ``full`` is
        ``U(0, v)``, ``equal`` is ``v/2 + U(0, v/2)``, and ``decorrelated``
        is ``min(cap, U(base, 3 * previous))``, ``previous`` starting at the
        base, as in the published backoff-and-jitter simulation.
        """
        if base is None:
            base = self.delay_ms
        if self.backoff == "constant":
            wait = base
        elif self.backoff == "linear":
            wait = base * attempts
        else:
            wait = base * 2 ** (attempts - 1)
        cap = self.cap_ms
        if cap is not None and wait > cap:
            wait = cap
        jitter = self.jitter
        if jitter == "none" or draw is None:
            return wait
        if jitter == "full":
            return round(draw * wait)
        if jitter == "equal":
            return round(wait / 2 + draw * wait / 2)
        previous = base if previous is None else previous
        spread = base + draw * (3 * previous - base)
        return round(spread if cap is None else min(cap, spread))


DEFAULT_CONFIG = StepConfig(
    limit=5,
    delay_ms=10_000,
    delay_fn=None,
    backoff="exponential",
    timeout_ms=600_000,
    sensitive=False,
    shown={
        "retries": {"limit": 5, "delay": 10000, "backoff": "exponential"},
        "timeout": "10 minutes",
    },
)
"""Cloudflare's production defaults: 5 retries, 10 s, exponential, 10 min."""


def validate_name(name: object) -> str:
    """Return ``name`` if it is a valid step name, else raise fatally."""
    if not isinstance(name, str):
        raise WorkflowFatalError(f"step name must be a string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise WorkflowFatalError(
            f"step name is {len(name)} characters; the limit is {MAX_NAME_LENGTH}"
        )
    if _CONTROL.search(name):
        raise WorkflowFatalError(f"step name {name!r} contains a control character")
    return name


def resolve_config(config: object, *, name: str, rollback: bool = False) -> StepConfig:
    """Validate ``config`` and merge it over :data:`DEFAULT_CONFIG`.

    The merge is shallow except for ``retries``, which is merged one level
    deep; a given ``retries`` must name both ``limit`` and ``delay``. A
    rollback config (``rollback=True``) may hold only ``retries`` and
    ``timeout``.
    """
    if config is None:
        return DEFAULT_CONFIG
    what = "rollback_config" if rollback else "config"

    def fail(message: str) -> WorkflowFatalError:
        return WorkflowFatalError(f"invalid {what} for step {name!r}: {message}")

    if not isinstance(config, Mapping):
        raise fail(f"expected a dict, got {config!r}")
    allowed = _ROLLBACK_KEYS if rollback else _STEP_KEYS
    unknown = sorted(str(key) for key in config if key not in allowed)
    if unknown:
        raise fail(
            f"unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(allowed))}"
        )

    shown_retries = dict(DEFAULT_CONFIG._shown["retries"])
    limit: int | float = DEFAULT_CONFIG.limit
    delay_ms = DEFAULT_CONFIG.delay_ms
    delay_fn = None
    backoff = DEFAULT_CONFIG.backoff
    if "retries" in config:
        retries = config["retries"]
        if not isinstance(retries, Mapping):
            raise fail(f"retries: expected a dict, got {retries!r}")
        unknown = sorted(str(key) for key in retries if key not in _RETRY_KEYS)
        if unknown:
            raise fail(
                f"retries: unknown key {unknown[0]!r}; allowed keys are "
                "backoff, delay, limit"
            )
        for required in ("limit", "delay"):
            if required not in retries:
                raise fail(f"retries.{required} is required when retries is given")
        limit = _limit(retries["limit"], fail)
        delay = retries["delay"]
        shown_retries = {"limit": retries["limit"]}
        if callable(delay) and not isinstance(delay, (str, timedelta)):
            delay_fn = delay
            delay_ms = 0
        else:
            delay_ms = _duration(delay, "retries.delay", fail)
            shown_retries["delay"] = delay
        backoff = retries.get("backoff", DEFAULT_CONFIG.backoff)
        if backoff not in BACKOFFS:
            raise fail(
                f"retries.backoff must be one of {', '.join(BACKOFFS)}, got {backoff!r}"
            )
        shown_retries["backoff"] = backoff

    timeout_ms = DEFAULT_CONFIG.timeout_ms
    shown_timeout = DEFAULT_CONFIG._shown["timeout"]
    if "timeout" in config:
        shown_timeout = config["timeout"]
        timeout_ms = _duration(shown_timeout, "timeout", fail)
        if timeout_ms == 0:
            raise fail("timeout must be greater than 0")

    sensitive = False
    shown: dict[str, Any] = {"retries": shown_retries, "timeout": shown_timeout}
    if "sensitive" in config:
        if config["sensitive"] != "output":
            raise fail(f"sensitive must be 'output', got {config['sensitive']!r}")
        sensitive = True
        shown["sensitive"] = "output"

    jitter = "none"
    cap_ms = None
    if "lab" in config:
        lab = config["lab"]
        if not isinstance(lab, Mapping):
            raise fail(f"lab: expected a dict, got {lab!r}")
        unknown = sorted(str(key) for key in lab if key not in _LAB_KEYS)
        if unknown:
            raise fail(f"lab: unknown key {unknown[0]!r}; allowed keys are cap, jitter")
        jitter = lab.get("jitter", "none")
        if jitter not in JITTERS:
            raise fail(
                f"lab.jitter must be one of {', '.join(JITTERS)}, got {jitter!r}"
            )
        if "cap" in lab:
            cap_ms = _duration(lab["cap"], "lab.cap", fail)
            if cap_ms == 0:
                raise fail("lab.cap must be greater than 0")
        shown["lab"] = dict(lab)

    return StepConfig(
        limit,
        delay_ms,
        delay_fn,
        backoff,
        timeout_ms,
        sensitive,
        shown,
        jitter,
        cap_ms,
    )


def _limit(value: object, fail: Callable[[str], Exception]) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"retries.limit must be a whole number >= 0, got {value!r}")
    if value == math.inf:
        return math.inf
    if value < 0 or value != int(value):
        raise fail(f"retries.limit must be a whole number >= 0, got {value!r}")
    return int(value)


def _duration(value: object, field: str, fail: Callable[[str], Exception]) -> int:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise fail(f"{field}: {exc}") from None
