"""The notebooks readers launch: generated, current, set up, and running in a plain Jupyter.

``notebooks/`` (the chapters) and ``exercises/`` (the learner's notebooks) are generated
by ``tools/readers.py`` (``make readers``). The slow test here runs one of each where a
reader would: a fresh virtual environment with nothing but ``ipykernel``, in which only
the set-up cell installs anything (the course's package, from this checkout).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from tools import exercises, notebooks, readers
from tools.myst import Book

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
IN_CI = os.environ.get("CI", "").lower() == "true"
#: The notebooks that the fresh-environment test runs: a quick chapter, quick exercises.
CHAPTER = ROOT / "notebooks" / "04_self_attention.ipynb"
EXERCISES = ROOT / "exercises" / "01_language_models.ipynb"


def generated_notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
        (ROOT / "exercises").glob("*.ipynb")
    )


def test_every_notebook_for_readers_is_what_its_source_generates():
    assert readers.main(["check"]) == 0


@pytest.mark.parametrize("path", generated_notebooks(), ids=lambda p: p.name)
def test_a_notebook_for_readers_starts_with_the_set_up_and_stores_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["setup"]
    assert 'find_spec("gptcourse") is None' in code[0].source
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert not any(t.startswith("nbval") for c in nb.cells for t in c.metadata.get("tags", []))
    assert "jupytext" not in nb.metadata  # not paired: a reader's copy, not a source


def test_figures_of_a_chapter_copy_keep_their_number_and_caption():
    book = Book()
    for src in readers.chapter_sources():
        nb = nbformat.read(readers.chapter_target(src), as_version=4)
        figures = [
            c.metadata["mystnb"]["figure"]["name"]
            for c in jupytext.read(src).cells
            if "figure" in c.metadata.get("mystnb", {})
        ]
        captions = [
            c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("**")
        ]
        fmt = book.numfig_format["figure"]
        for label in figures:
            number = fmt % book.targets[label].number
            assert any(caption.startswith(f"**{number}**") for caption in captions), label


def test_the_set_up_installs_from_the_repository_of_config_and_nowhere_else():
    book = Book()
    url, branch = book.repository
    assert readers.package_source(book) == f"git+{url}@{branch}"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    generated = {str(p.relative_to(ROOT)) for p in generated_notebooks()}
    copies = [
        name
        for name in tracked
        if name not in generated
        and name != "_config.yml"
        and (ROOT / name).is_file()
        and url in (ROOT / name).read_text(encoding="utf-8", errors="ignore")
    ]
    assert not copies, f"the repository's URL is repeated in {copies}: write it only in _config.yml"


def test_the_set_up_cell_does_nothing_where_the_package_is_installed():
    cell = readers.setup_cell(Book(), interop=True)
    env = {**os.environ, readers.SOURCE_VARIABLE: "/nonexistent/checkout"}
    result = subprocess.run(
        [sys.executable, "-c", cell.source], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # no "Installing gptcourse ..."


def test_interop_is_installed_only_where_a_notebook_needs_it():
    assert readers.needs_interop(["from gptcourse import gpt2_tokenizer"])
    assert readers.needs_interop(["import tiktoken"])
    assert not readers.needs_interop(["import torch\nfrom gptcourse import attention"])


# ---- the built book's launch buttons


def _built(page: str) -> str:
    path = HTML / f"{page}.html"
    if not path.is_file():
        if os.environ.get("GPTCOURSE_REQUIRE_BOOK") == "1":
            pytest.fail("the book is not built: run `make book` first")
        pytest.skip("the book is not built: run `make book` first")
    return path.read_text(encoding="utf-8")


LAUNCH = re.compile(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]+)"')


@pytest.mark.parametrize(
    "page",
    [
        *(f"{s.parent.name}/{s.stem}" for s in readers.chapter_sources()),
        *(f"exercises/solutions/{s.stem}" for s in exercises.sources()),
    ],
)
def test_launch_buttons_open_the_notebook_made_for_readers(page):
    html = _built(page)
    expected = Book().reader_path(page)
    assert (ROOT / expected).is_file()
    urls = set(LAUNCH.findall(html))
    assert len({u for u in urls if "colab" in u}) == 1 and len(urls) >= 2, urls
    for url in urls:
        assert url.endswith(expected) or f"urlpath=lab/tree/{expected}" in url, url
        assert all(f not in url for f in ("chapters/", "appendices/", "solutions/")), url
    if page.startswith("exercises/"):  # the page names the learner's notebook, with the links
        note = html[html.index("learner-notebook") :][:3000]
        assert f"<code>{expected}</code>" in note
        assert all(url in note for url in urls)


def test_how_to_use_gets_the_repository_url_from_the_config():
    html = _built("book/how_to_use")
    assert "{{ repository_url }}" not in html
    assert f'clone<span class="w"> </span>{Book().repository[0]}' in html


# ---- a plain Jupyter, as a reader has


def _torch_spec() -> str:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return re.search(r"^TORCH_SPEC \?= (\S+)$", makefile, re.M)[1]


def _missing(reason: str):
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def plain_jupyter(tmp_path_factory):
    """A fresh venv with only ipykernel, and a kernel spec for it; the package's source."""
    tmp = tmp_path_factory.mktemp("plain-jupyter")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "venv")], check=True)
    python = tmp / "venv" / "bin" / "python"
    constraints = tmp / "constraints.txt"
    # The course's torch (the Makefile's TORCH_SPEC), never a multi-GB CUDA build.
    constraints.write_text(_torch_spec() + "\n", encoding="utf-8")
    env = {**os.environ, "PIP_CONSTRAINT": str(constraints), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "ipykernel"],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        _missing(f"pip cannot install ipykernel into a fresh venv (no package index?): {last}")
    # The package as a reader's pip gets it: its files, not this checkout's build outputs.
    source = tmp / "gptcourse-source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "gptcourse", source / "gptcourse", ignore=shutil.ignore_patterns("__pycache__")
    )
    kernels = tmp / "kernels"
    (kernels / "plain").mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "plain Jupyter",
        "language": "python",
    }
    (kernels / "plain" / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    # The kernel's environment: a reader's, with the data and the package source the
    # test provides, and none of the course's settings for validating notebooks.
    kernel_env = {
        name: value
        for name, value in os.environ.items()
        if name not in notebooks.VALIDATE_ENV and name != "PYTHONPATH"
    }
    kernel_env |= {
        readers.SOURCE_VARIABLE: str(source),
        "PIP_CONSTRAINT": str(constraints),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    print(f"fresh venv with ipykernel: {time.perf_counter() - started:.0f} s")
    return kernels, kernel_env, tmp


def _run_plain(notebook: Path, plain_jupyter) -> nbformat.NotebookNode:
    kernels, kernel_env, tmp = plain_jupyter
    work = tmp / notebook.stem
    work.mkdir()
    nb = nbformat.read(notebook, as_version=4)
    manager = KernelManager(
        kernel_name="plain", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    started = time.perf_counter()
    NotebookClient(
        nb, km=manager, timeout=600, allow_errors=True, resources={"metadata": {"path": str(work)}}
    ).execute(env=kernel_env)
    setup = next(c for c in nb.cells if c.cell_type == "code").metadata.get("execution", {})
    installing = ""
    if "shell.execute_reply" in setup:
        begin, end = (setup[k] for k in ("iopub.execute_input", "shell.execute_reply"))
        seconds = (_timestamp(end) - _timestamp(begin)).total_seconds()
        installing = f" (the set-up cell {seconds:.0f} s)"
    total = time.perf_counter() - started
    print(f"{notebook.relative_to(ROOT)} in a plain Jupyter: {total:.0f} s{installing}")
    return nb


def _timestamp(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def test_a_chapter_and_its_exercises_run_in_a_plain_jupyter(plain_jupyter):
    """Only the set-up cell installs anything; then the chapter runs to its end, and the
    learner's notebook runs to its end with no error but its stubs' "not implemented"."""
    chapter = _run_plain(CHAPTER, plain_jupyter)
    setup = chapter.cells[[c.cell_type for c in chapter.cells].index("code")]
    assert "Installing gptcourse from file://" in "".join(o.get("text", "") for o in setup.outputs)
    for cell in chapter.cells:
        errors = _errors(cell)
        assert not errors, (cell.source[:80], errors and errors[0].evalue)

    learner = _run_plain(EXERCISES, plain_jupyter)
    stubs = [c for c in learner.cells if "exercise" in c.metadata.get("tags", [])]
    assert stubs
    for cell in learner.cells:
        errors = _errors(cell)
        if cell in stubs:
            assert errors and "not implemented yet" in errors[0].evalue, cell.source[:80]
        else:
            assert not errors, (cell.source[:80], errors and errors[0].evalue)
