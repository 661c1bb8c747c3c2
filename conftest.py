"""pytest set-up shared by the unit tests and by nbval.

nbval starts each notebook's kernel with this process's environment, so setting the
kernel environment here makes the tests run notebooks as they were recorded, except for
the numeric path: nbval runs PyTorch's portable CPU kernels and MKL's reproducible mode
(``tools.notebooks.VALIDATE_ENV``), so that an output at the level of rounding noise fails
on the machine that recorded it instead of on a reader's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.notebooks import apply_kernel_env

apply_kernel_env(validate=True)
SANITIZE = Path(__file__).parent / "nbval_sanitize.cfg"

# Notebook sources are jupytext text files, not modules: never import them as tests
# (--doctest-modules would), only their stored .ipynb (with --nbval).
collect_ignore_glob = [
    "chapters/*.py",
    "appendices/*.py",
    "exercises/*.py",
    "exercises/solutions/*.py",
]

#: The reason a browser test gives when it is skipped; the summary below looks for it.
NO_BROWSER = "no Chromium to open the book with"
#: The one command that enables the browser checks (Debian and Ubuntu).
INSTALL_BROWSER = "sudo apt-get install chromium"
#: What drives that browser (in the lock, so `make venv` installs it; it never downloads a
#: browser of its own).
INSTALL_PLAYWRIGHT = ".venv/bin/pip install playwright"
#: How long the browser checks took, for the summary (tests/test_book.py sets it).
BOOK_TIMING = pytest.StashKey[str]()

_failed_notebooks: set[str] = set()


@pytest.fixture
def one_cpu_thread():
    """Run a test on one CPU thread: the models of the unit tests are so small that a
    second thread only adds synchronisation, which costs dearly when the cores are busy
    (the same tests take ten times longer on two threads of a loaded machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_configure(config):
    # What legitimately varies between a recording and a re-run, wherever pytest runs from.
    if getattr(config.option, "nbval_sanitize_with", "unset") is None:
        config.option.nbval_sanitize_with = str(SANITIZE)


def pytest_runtest_logreport(report):
    if report.failed and ".ipynb::" in report.nodeid:
        _failed_notebooks.add(report.nodeid.split("::", 1)[0])


def pytest_terminal_summary(terminalreporter):
    """Say what was skipped for want of a browser, and what to do about changed notebooks."""
    no_browser = [
        r for r in terminalreporter.stats.get("skipped", []) if NO_BROWSER in str(r.longrepr)
    ]
    if no_browser:
        playwright = any("Playwright" in str(r.longrepr) for r in no_browser)
        terminalreporter.section("rendered-book checks skipped")
        terminalreporter.write_line(
            f"{len(no_browser)} checks of the rendered book were skipped: "
            + ("Playwright is not installed" if playwright else "there is no Chromium")
            + " on this machine.\nEverything else ran. To run them too, install it, e.g.\n"
            f"  {INSTALL_PLAYWRIGHT if playwright else INSTALL_BROWSER}\n"
            "(CI, with CI=true, requires them.)"
        )
    timing = terminalreporter.config.stash.get(BOOK_TIMING, None)
    if timing:
        terminalreporter.write_line(f"rendered book: {timing}")
    if not _failed_notebooks:
        return
    terminalreporter.section("notebooks that changed")
    for path in sorted(_failed_notebooks):
        terminalreporter.write_line(f"  {path}")
    terminalreporter.write_line(
        "\nThese notebooks no longer produce the outputs they store (and the book shows).\n"
        "If the change is intended, re-record them and review the new outputs:\n"
        "  make record NB=<notebook>.py\n"
        "If it is not, the diff above shows the first cell whose output changed. Outputs that\n"
        "legitimately vary go in nbval_sanitize.cfg, or the cell is tagged nbval-ignore-output."
    )
