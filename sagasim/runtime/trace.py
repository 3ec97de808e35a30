"""The trace recorder: one row per engine event, kept in columnar buffers.

Rows are appended to plain Python lists and integer arrays, which is cheap
on the engine's hot path; :meth:`TraceRecorder.frame` turns them into a
pandas DataFrame on demand.
"""

from __future__ import annotations

import json
from array import array
from typing import Any

import pandas as pd

from sagasim.errors import error_name

__all__ = ["COLUMNS", "TraceRecorder"]

COLUMNS = (
    "seq",
    "time",
    "instance",
    "event",
    "step",
    "count",
    "attempt",
    "error_name",
    "error_message",
    "detail",
)


class TraceRecorder:
    """Collects trace rows; ``seq`` is the row's position, a total order."""

    __slots__ = (
        "_time",
        "_instance",
        "_event",
        "_step",
        "_count",
        "_attempt",
        "_error_name",
        "_error_message",
        "_detail",
        "_frame",
    )

    def __init__(self) -> None:
        self._time = array("q")
        self._instance: list[str] = []
        self._event: list[str] = []
        self._step: list[str] = []
        self._count = array("q")
        self._attempt = array("q")
        self._error_name: list[str] = []
        self._error_message: list[str] = []
        self._detail: list[str] = []
        self._frame: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self._event)

    def record(
        self,
        time_ms: int,
        instance: str,
        event: str,
        step: str = "",
        count: int = 0,
        attempt: int = 0,
        error: BaseException | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one row; ``detail`` is stored as compact JSON."""
        self._time.append(time_ms)
        self._instance.append(instance)
        self._event.append(event)
        self._step.append(step)
        self._count.append(count)
        self._attempt.append(attempt)
        if error is None:
            self._error_name.append("")
            self._error_message.append("")
        else:
            self._error_name.append(error_name(error))
            self._error_message.append(str(error))
        if detail is None:
            self._detail.append("")
        else:
            self._detail.append(
                json.dumps(
                    detail, separators=(",", ":"), ensure_ascii=False, default=str
                )
            )
        self._frame = None

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with :data:`COLUMNS`; ``time`` in seconds."""
        if self._frame is not None and len(self._frame) == len(self):
            return self._frame.copy()
        n = len(self)
        frame = pd.DataFrame(
            {
                "seq": pd.RangeIndex(n).to_numpy(),
                "time": pd.array(self._time, dtype="int64").to_numpy() / 1000,
                "instance": self._instance,
                "event": self._event,
                "step": self._step,
                "count": pd.array(self._count, dtype="int64"),
                "attempt": pd.array(self._attempt, dtype="int64"),
                "error_name": self._error_name,
                "error_message": self._error_message,
                "detail": self._detail,
            },
            columns=list(COLUMNS),
        )
        self._frame = frame
        return frame.copy()
