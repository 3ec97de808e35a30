"""Soaking the engine: many generated cases under Hypothesis.

The examples are split into chunks of :data:`CHUNK` cases. Each chunk is
one run of a Hypothesis ``@given`` test over
:func:`sagasim.strategies.workflow_cases`, seeded with its own sub-seed
drawn from the soak's seed, with no example database, so the same soak
checks the same cases every time. The first chunk that finds a violation
shrinks it to the smallest case Hypothesis can find and the soak stops
there.

Attention: Hypothesis also draws from constants it finds in the project's
modules that are loaded, so the cases depend on which are: a soak in worker
processes (any number of them) checks other cases than the same soak in a
process that has loaded more of the project, such as the command line.
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from sagasim.soak.case import case_source, run_case
from sagasim.soak.coverage import Coverage, case_features
from sagasim.strategies.cases import workflow_cases

__all__ = ["CHUNK", "Failure", "SoakReport", "chunk_seeds", "soak", "soak_chunk"]

#: Cases per chunk: the unit of work a worker process takes.
CHUNK = 200


@dataclass
class Failure:
    """The smallest failing case a chunk found.

    Attributes:
        case: the case, as plain data.
        violations: what it broke (the checks' columns).
        snippet: the case as a runnable script.
        seed: the chunk's sub-seed.
    """

    case: dict[str, Any]
    violations: pd.DataFrame
    snippet: str
    seed: int


@dataclass
class SoakReport:
    """What a soak did.

    Attributes:
        cases: cases generated and checked (shrinking steps not included).
        seconds: wall-clock seconds, shrinking included.
        shrink_seconds: the part of them spent shrinking the failure.
        busy_seconds: the chunks' own seconds of generating and checking,
            added up over the chunks (so over the workers too).
        workers: the worker processes (1: this process).
        coverage: the shapes, outcomes, operations and faults covered.
        failure: the shrunk failing case, or ``None``.
        shrinks: cases run while shrinking the failure.
    """

    cases: int = 0
    seconds: float = 0.0
    shrink_seconds: float = 0.0
    busy_seconds: float = 0.0
    workers: int = 1
    coverage: Coverage = field(default_factory=Coverage)
    failure: Failure | None = None
    shrinks: int = 0

    @property
    def rate(self) -> float:
        """Cases generated and checked per second of wall-clock time,
        shrinking left out.

        With workers and a failure, the other chunks go on while one
        shrinks, so the rate is estimated from the chunks' own seconds,
        as if the workers had been busy all along.
        """
        if self.failure is not None and self.workers > 1:
            busy = self.busy_seconds / self.workers
        else:
            busy = self.seconds - self.shrink_seconds
        return self.cases / busy if busy > 0 else 0.0


class _Found(Exception):
    """Raised inside the Hypothesis test for a case with violations."""


def chunk_seeds(seed: int, chunks: int) -> list[int]:
    """The sub-seed of each chunk of a soak seeded with ``seed``."""
    rng = random.Random(f"sagasim-soak:{seed}")
    return [rng.randrange(2**32) for _ in range(chunks)]


def soak_chunk(
    examples: int,
    seed: int,
    *,
    determinism: bool = False,
    progress: Callable[[int], None] | None = None,
    case_options: dict[str, Any] | None = None,
) -> SoakReport:
    """Check ``examples`` generated cases under Hypothesis seed ``seed``.

    The cases come from ``workflow_cases(**case_options)``. ``progress(1)``
    is called after each case checked before any failure.
    """
    report = SoakReport()
    state: dict[str, Any] = {"failing": None, "found_at": 0.0}

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    @hypothesis_seed(seed)
    @given(case=workflow_cases(**(case_options or {})))
    def check(case: dict[str, Any]) -> None:
        result = run_case(case, determinism=determinism)
        if state["failing"] is None:
            report.cases += 1
            report.coverage.add(case_features(case, result))
            if progress is not None:
                progress(1)
        else:
            report.shrinks += 1
        if not result.ok:
            if state["failing"] is None:
                state["found_at"] = time.perf_counter()
            state["failing"] = (case, result.violations)
            raise _Found()

    started = time.perf_counter()
    try:
        check()
    except Exception:  # noqa: BLE001 - _Found, or Hypothesis' own Flaky
        if state["failing"] is None:
            raise
    ended = time.perf_counter()
    report.seconds = ended - started
    if state["failing"] is not None:
        report.shrink_seconds = ended - state["found_at"]
        case, violations = state["failing"]
        report.failure = Failure(case, violations, _snippet(case, violations), seed)
    report.busy_seconds = report.seconds - report.shrink_seconds
    return report


def _snippet(case: dict[str, Any], violations: pd.DataFrame) -> str:
    found = [f"{row.check}: {row.message}" for row in violations.head(5).itertuples()]
    comment = "sagasim check found:\n" + "\n".join(f"  {line}" for line in found)
    return case_source(case, comment)


def soak(
    examples: int,
    *,
    seed: int = 0,
    workers: int = 1,
    determinism: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    case_options: dict[str, Any] | None = None,
) -> SoakReport:
    """Check ``examples`` generated cases, in chunks of ``chunk``.

    The cases come from :func:`~sagasim.strategies.workflow_cases`, called
    with ``case_options`` (``{"faults": False}`` for none, say).

    With ``workers`` above 1 the chunks run on that many joblib worker
    processes, ``progress(n)`` being called as each chunk of ``n`` cases
    finishes; in this process it is called after every case. The soak stops
    at the first chunk to finish with a failure (with workers, chunks finish
    in any order, so which of several failing chunks that is may vary).
    """
    sizes = [chunk] * (examples // chunk)
    if examples % chunk:
        sizes.append(examples % chunk)
    seeds = chunk_seeds(seed, len(sizes))
    total = SoakReport(workers=max(1, min(workers, len(sizes))))
    started = time.perf_counter()
    if workers <= 1:
        for size, sub in zip(sizes, seeds, strict=True):
            part = soak_chunk(
                size,
                sub,
                determinism=determinism,
                progress=progress,
                case_options=case_options,
            )
            if _merge(total, part):
                break
    else:
        from joblib import Parallel, delayed

        jobs = Parallel(n_jobs=workers, return_as="generator_unordered")
        # NOTE: chunks finish in any order; the coverage adds up the same.
        results = jobs(
            delayed(soak_chunk)(
                size, sub, determinism=determinism, case_options=case_options
            )
            for size, sub in zip(sizes, seeds, strict=True)
        )
        try:
            for part in results:
                if progress is not None:
                    progress(part.cases)
                if _merge(total, part):
                    break
        finally:
            # Closing the generator cancels the chunks still running; joblib
            # warns about that, but stopping them is the point.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                results.close()
    total.seconds = time.perf_counter() - started
    return total


def _merge(total: SoakReport, part: SoakReport) -> bool:
    """Add ``part`` into ``total``; whether it holds a failure."""
    total.cases += part.cases
    total.shrinks += part.shrinks
    total.shrink_seconds += part.shrink_seconds
    total.busy_seconds += part.busy_seconds
    total.coverage.merge(part.coverage)
    if part.failure is not None and total.failure is None:
        total.failure = part.failure
    return part.failure is not None
