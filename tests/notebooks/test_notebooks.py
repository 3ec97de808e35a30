"""Every teaching notebook runs top to bottom at small scale, quickly."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import papermill
import pytest

from sagasim.teaching.notebooks import NOTEBOOKS

FOLDER = Path(__file__).resolve().parents[2] / "notebooks"
LIMIT_S = 60.0


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_the_notebook_runs_at_small_scale_in_under_a_minute(name, tmp_path, capsys):
    """papermill runs it with SCALE = "small" on a python3 kernel, no cell
    fails, its closing checks pass, and it takes less than a minute."""
    began = time.perf_counter()
    papermill.execute_notebook(
        str(FOLDER / f"{name}.ipynb"),
        str(tmp_path / f"{name}.ipynb"),
        parameters={"SCALE": "small"},
        kernel_name="python3",
        cwd=str(FOLDER),
        progress_bar=False,
        request_save_on_cell_execute=False,
    )
    seconds = time.perf_counter() - began
    with capsys.disabled():
        print(f"\n{name}: {seconds:.1f} s")

    ran = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    code = [cell for cell in ran.cells if cell.cell_type == "code"]
    errors = [
        output
        for cell in code
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert [] == errors
    printed = "".join(
        output.get("text", "")
        for output in code[-1].get("outputs", [])
        if output.output_type == "stream"
    )
    assert "all claims hold" in printed
    images = [
        output
        for cell in code
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert images, "the notebook draws at least one chart"
    assert seconds < LIMIT_S
