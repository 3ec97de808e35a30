"""The rollback planner and executor.

When ``run()`` fails terminally, or an instance is terminated with
``rollback=True``, every step that started and registered a handler is
rolled back once, newest start first. Each handler runs as a durable internal
step (key ``("rollback", name, count)``) under its ``rollback_config``, or
the engine defaults when it has none, one handler at a time. A handler that
still fails after its retries halts the chain, unless the simulation was
made with ``on_rollback_failure="continue"``. A handler that completed
before a crash is not run again on replay; one that a crash cut off is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sagasim.engine.attempts import StepContext, StepInfo, StepRun, decode_output
from sagasim.engine.config import DEFAULT_CONFIG
from sagasim.engine.store import DO, FAILURE, ROLLBACK, SUCCESS, StepRecord
from sagasim.errors import UNDEFINED, RollbackMissing, error_info

if TYPE_CHECKING:
    from sagasim.engine.instance import Lifetime

__all__ = ["plan_rollback", "run_rollbacks"]


def plan_rollback(records: dict[tuple[str, str, int], StepRecord]) -> list[StepRecord]:
    """The steps to roll back, in the order their handlers run.

    These are the ``step.do`` steps whose first attempt started and that
    registered a handler, in reverse order of their start sequence. Call
    order breaks ties at one instant, since the sequence is taken at call
    time.
    """
    eligible = [
        record
        for record in records.values()
        if record.kind == DO and record.has_rollback and record.attempts > 0
    ]
    eligible.sort(key=lambda record: record.seq, reverse=True)
    return eligible


async def run_rollbacks(life: Lifetime) -> None:
    """Run the plan for ``life``'s instance, then end the instance."""
    store = life.store
    error = store.terminal_error
    plan = plan_rollback(store.records)
    if plan:
        total = len(plan)
        summary = {"status": "running", "total": total, "completed": 0}
        store.rollback_summary = summary
        life.trace_instance(
            "ROLLBACK_START",
            detail={"triggerError": error_info(error), "totalSteps": total},
        )
        halt = life.host.on_rollback_failure == "halt"
        failed = False
        for record in plan:
            if await _roll_back(life, record, error):
                summary["completed"] += 1
            else:
                failed = True
                if halt:
                    break
        summary["status"] = "failed" if failed else "complete"
        life.trace_instance(
            "ROLLBACK_FAILED" if failed else "ROLLBACK_COMPLETE",
            detail={"totalSteps": total, "completedSteps": summary["completed"]},
        )
    life.instance.end_after_rollback()


async def _roll_back(life: Lifetime, record: StepRecord, error: BaseException) -> bool:
    """Run one step's handler to its end; whether it succeeded."""
    store = life.store
    key = (ROLLBACK, record.name, record.count)
    handler_record = store.records.get(key)
    if handler_record is not None and handler_record.status == SUCCESS:
        return True
    if handler_record is not None and handler_record.status == FAILURE:
        return False

    handler = life.registry.get(record.key)
    now = life.clock.now_ms()
    if handler is None:
        handler_record = StepRecord(
            ROLLBACK, record.name, record.count, record.seq, now
        )
        handler_record.status = FAILURE
        handler_record.error = RollbackMissing(
            f"the rollback handler of step {record.name!r} (count {record.count}) "
            "could not be rebuilt"
        )
        store.records[key] = handler_record
        life.trace("ROLLBACK_STEP_FAILURE", handler_record, 0, handler_record.error)
        _log(life, handler_record, "missing", UNDEFINED)
        return False

    fn, config = handler
    if handler_record is None:
        handler_record = StepRecord(
            ROLLBACK,
            record.name,
            record.count,
            record.seq,
            now,
            config or DEFAULT_CONFIG,
        )
        store.records[key] = handler_record
        life.trace("ROLLBACK_STEP_START", handler_record)

    # The output as it stands when the handler runs: a step still in flight
    # (the "race" policy) has none yet.
    output = (
        decode_output(record.output_json) if record.status == SUCCESS else UNDEFINED
    )
    ctx = StepContext(
        StepInfo(record.name, record.count),
        record.attempts,
        record.config,
        life.instance.id,
    )
    run = StepRun(
        life, handler_record, lambda: fn(output, error, ctx), handler_record.config
    )
    life.track(run)
    run.begin()
    try:
        await run.future
    except Exception:  # noqa: BLE001 - the outcome is in the record
        _log(life, handler_record, "failure", output)
        return False
    _log(life, handler_record, "success", output)
    return True


def _log(life: Lifetime, record: StepRecord, status: str, output: Any) -> None:
    life.store.rollback_log.append(
        {
            "step": record.name,
            "count": record.count,
            "status": status,
            "attempts": record.attempts,
            "error": error_info(record.error) if record.error is not None else None,
            "output_undefined": output is UNDEFINED,
            "start": record.start_ms / 1000,
            "end": life.clock.now_ms() / 1000,
        }
    )
