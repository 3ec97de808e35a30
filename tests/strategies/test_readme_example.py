"""The README's example of drawn faults against a user's workflow runs."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_fault_schedule_example_runs_and_passes():
    """The transfer under fail_before and latency faults keeps the books."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Property tests and the soak") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)

    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})
