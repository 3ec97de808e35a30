"""The Python example in README.md runs as it is and prints what it says."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_python_api_example_runs_and_rolls_the_debit_back():
    """The README's transfer example errors, rolls back the debit, loses nothing."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {"__name__": "readme_example"}
    out = io.StringIO()

    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace)

    inst, north, south = namespace["inst"], namespace["north"], namespace["south"]
    assert inst.status()["status"] == "errored"
    assert inst.status()["error"]["name"] == "ServiceUnavailable"
    assert inst.status()["rollback"] == {
        "status": "complete",
        "total": 1,
        "completed": 1,
    }
    assert [(r["step"], r["status"]) for r in inst.rollbacks] == [("debit", "success")]
    assert (north.balances, south.balances) == ({"alice": 10_000}, {"bob": 0})
    assert "ROLLBACK_COMPLETE" in out.getvalue()
