"""The built book, opened in headless Chromium: math is typeset, figures show, solutions fold.

``make test`` builds the book first and sets ``GPTCOURSE_REQUIRE_BOOK=1``, which turns a
missing book into a failure instead of a skip. A missing browser is a failure under
``CI=true`` (or ``GPTCOURSE_REQUIRE_BROWSER=1``); elsewhere these tests are skipped and the
run's summary says how to enable them (``conftest.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib import image as mpimg

from conftest import INSTALL_BROWSER, NO_BROWSER

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
REQUIRED = os.environ.get("GPTCOURSE_REQUIRE_BOOK") == "1"
BROWSER_REQUIRED = (
    os.environ.get("CI", "").lower() == "true" or os.environ.get("GPTCOURSE_REQUIRE_BROWSER") == "1"
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",  # lets MathJax finish typesetting
]


def _missing(reason: str, required: bool = REQUIRED):
    if required:
        pytest.fail(reason)
    pytest.skip(reason)


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    if not (HTML / "index.html").is_file():
        _missing("the book is not built: run `make book` first")
    found = find_chromium()
    if found is None:
        _missing(f"{NO_BROWSER}: {INSTALL_BROWSER}", required=BROWSER_REQUIRED)
    return found


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    walk(toc.get("parts", []))
    return files


def _chapter_pages() -> list[str]:
    return [f for f in _toc_files() if f.startswith("chapters/")]


def _dump_dom(chromium: str, page: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_every_page_of_the_toc_is_built():
    if not (HTML / "index.html").is_file():
        _missing("the book is not built: run `make book` first")
    missing = [f for f in _toc_files() if not (HTML / f"{f}.html").is_file()]
    assert not missing


@pytest.mark.parametrize("page", _chapter_pages())
def test_chapter_renders_math_and_figures(chromium, page):
    path = HTML / f"{page}.html"
    static = path.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in static and "mathjax/tex-chtml.js" in static  # offline MathJax

    dom = _dump_dom(chromium, path)
    math_nodes = len(re.findall(r'class="math notranslate nohighlight"', static))
    typeset = dom.count("<mjx-container")
    assert math_nodes > 0, "a chapter without a formula: is the page the right one?"
    assert typeset >= math_nodes, f"{typeset} of {math_nodes} formulas were typeset"
    assert "<mjx-merror" not in dom, "MathJax reported a TeX error"

    images = re.findall(r'<img[^>]+src="([^"]+)"', dom)
    figures = [src for src in images if "_images/" in src]
    assert figures, "no figure rendered on the page"
    for src in figures:
        file = (path.parent / src).resolve()
        assert file.is_file(), f"{src} is referenced but missing"
        pixels = mpimg.imread(file)
        assert pixels.shape[0] > 50 and pixels.shape[1] > 50
        assert float(np.std(pixels)) > 0.01, f"{src} is blank"


def test_exercise_solutions_are_folded(chromium):
    pages = [f for f in _toc_files() if f.startswith("exercises/")]
    assert pages
    for page in pages:
        dom = _dump_dom(chromium, HTML / f"{page}.html")
        assert 'class="exercise admonition"' in dom or "exercise admonition" in dom
        solutions = re.findall(r'<div class="solution dropdown[^"]*"', dom)
        assert solutions, f"{page}: no folded solution"
        assert "<mjx-merror" not in dom


def test_screenshot_of_first_chapter_is_not_blank(chromium):
    page = HTML / f"{_chapter_pages()[0]}.html"
    shot = ROOT / "_build" / "screenshots" / "chapter.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                "--window-size=1200,1600",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    pixels = mpimg.imread(shot)
    assert float(np.std(pixels)) > 0.05
