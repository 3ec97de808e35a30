"""The report as headless Chromium renders it (``make report-check``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sagasim.report import SECTIONS, write_report

from .conftest import EVIL_WORKFLOW

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

if CHROMIUM is None:
    pytest.skip("chromium is not installed", allow_module_level=True)


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            timeout=180,
            check=True,
        )


@pytest.fixture(scope="module")
def report(evil, tmp_path_factory):
    return write_report(evil, tmp_path_factory.mktemp("browser") / "report.html")


@pytest.fixture(scope="module")
def screenshot(report):
    shot = report.with_suffix(".png")
    chromium(f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri())
    return shot


@pytest.fixture(scope="module")
def dom(report):
    return chromium("--dump-dom", report.as_uri()).stdout.decode("utf-8")


def test_screenshot_is_a_page_with_text_and_charts(screenshot):
    """The PNG is 1280x2000, mostly white, with dark text and chart colours."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("RGB"), dtype=int)
    assert (2000, 1280, 3) == pixels.shape
    white = (pixels.min(axis=2) > 245).mean()
    dark = (pixels.max(axis=2) < 100).sum()
    assert 0.5 < white < 0.99
    assert dark > 5_000, "headings and tables are drawn in dark text"
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(packed)) > 100
    green = (np.abs(pixels - (0x4C, 0x9F, 0x70)).sum(axis=2) < 30).sum()
    assert green > 50, "the instances chart's green lines are drawn"


def test_rendered_page_has_every_section_and_its_charts(dom):
    """The DOM Chromium built keeps each section, heading and image."""
    for sid, title in SECTIONS:
        assert f'<section id="{sid}"><h2>{title}</h2>' in dom
    assert 4 == dom.count('<img alt="')
    assert 4 == dom.count('src="data:image/png;base64,')


def test_hostile_names_stay_text_in_the_browser(dom):
    """No script element exists; the workflow's name is shown as text."""
    assert "<script" not in dom.lower()
    assert EVIL_WORKFLOW.replace("<", "&lt;").replace(">", "&gt;") in dom
