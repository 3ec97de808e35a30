"""The committed notebooks are what the generator writes, outputs cleared."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from sagasim.teaching.notebooks import NOTEBOOKS, build

FOLDER = Path(__file__).resolve().parents[2] / "notebooks"


def test_every_notebook_is_committed_and_nothing_else():
    """notebooks/ holds exactly the generated notebooks."""
    assert sorted(f"{name}.ipynb" for name in NOTEBOOKS) == sorted(
        path.name for path in FOLDER.glob("*.ipynb")
    )


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_the_committed_notebook_is_the_generated_one(name):
    """Re-running the generator changes nothing (python -m
    sagasim.teaching.notebooks rewrites them)."""
    committed = (FOLDER / f"{name}.ipynb").read_text(encoding="utf-8")
    assert nbformat.writes(build(name)) + "\n" == committed


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_outputs_are_cleared_and_the_seed_comes_first(name):
    """No outputs or execution counts; the first code cell is the papermill
    parameters cell, stating SEED before SCALE."""
    notebook = nbformat.read(FOLDER / f"{name}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    first = code[0]
    assert ["parameters"] == first.metadata["tags"]
    lines = [line for line in first.source.splitlines() if not line.startswith("#")]
    assert lines[0].startswith("SEED = ")
    assert 'SCALE = "small"' == lines[1]
    assert notebook.cells[0].cell_type == "markdown"
    assert "Seed: " in notebook.cells[0].source


def test_the_notebooks_only_call_the_package():
    """No cell defines a class or a function: the models live in sagasim
    (one small helper to read NaN as late is allowed)."""
    for name in NOTEBOOKS:
        notebook = nbformat.read(FOLDER / f"{name}.ipynb", as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert "class " not in cell.source, name
                defs = [ln for ln in cell.source.splitlines() if ln.startswith("def ")]
                assert defs in ([], ["def late(value):"]), name
