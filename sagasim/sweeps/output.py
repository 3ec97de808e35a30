"""Saving a sweep's results: CSV or Parquet, chosen by the file's extension."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
from pathlib import Path

import pandas as pd

from sagasim.sweeps.errors import SweepError

__all__ = ["FORMATS", "check_output", "save"]

FORMATS = (".csv", ".parquet")


def check_output(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path`, once it is known to be savable:
    run this before a long sweep, not after.

    Raises:
        SweepError: the extension is neither ``.csv`` nor ``.parquet``, or
            it is ``.parquet`` and pyarrow is not installed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SweepError(
            f"{path}: expected a file name ending in .csv or .parquet, "
            f"got {suffix or 'no extension'}"
        )
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        raise SweepError(
            f"{path}: writing Parquet needs pyarrow, which is not installed "
            "(pip install pyarrow), or write .csv"
        )
    return path


def save(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` to ``path`` as CSV or Parquet, by its extension, via a
    temporary file and a rename: a reader sees the old file or the new one,
    never half of one. Folders on the way are created.

    Raises:
        SweepError: as :func:`check_output`.
        OSError: the file cannot be written.
    """
    path = check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if path.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False, engine="pyarrow")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
