"""The notebook tooling: stored notebooks match their sources and are cleanly executed."""

from __future__ import annotations

import os
import shutil

import nbformat
import pytest

from tools import notebooks

SOURCES = notebooks.all_sources()


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: str(p.relative_to(notebooks.ROOT)))
def test_stored_notebook_is_current(src):
    assert notebooks.problems(src) == []


@pytest.fixture
def pair(tmp_path):
    """A copy of chapter 1's source and stored notebook, to break on purpose."""
    src = notebooks.ROOT / "chapters" / "01_language_models.py"
    shutil.copy(src, tmp_path / src.name)
    shutil.copy(src.with_suffix(".ipynb"), tmp_path / (src.stem + ".ipynb"))
    return tmp_path / src.name


def _edit(ipynb, change):
    nb = nbformat.read(ipynb, as_version=4)
    change(nb)
    nbformat.write(nb, ipynb)


def test_a_copy_is_current(pair):
    assert notebooks.problems(pair) == []


def test_edited_source_makes_the_notebook_stale(pair):
    pair.write_text(pair.read_text().replace("import math", "import math, os"))
    assert any("differs from its source" in p for p in notebooks.problems(pair))


def test_unexecuted_cells_are_reported(pair):
    def clear(nb):
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.execution_count, cell.outputs = None, []

    _edit(pair.with_suffix(".ipynb"), clear)
    assert any("never executed" in p for p in notebooks.problems(pair))


def test_stored_errors_and_machine_paths_are_reported(pair):
    def break_it(nb):
        code = [c for c in nb.cells if c.cell_type == "code"]
        code[0].outputs.append(
            nbformat.v4.new_output("error", ename="ValueError", evalue="x", traceback=[])
        )
        code[1].outputs.append(
            nbformat.v4.new_output("stream", name="stderr", text="/home/ada/gpt/x.py:3: Warning\n")
        )

    _edit(pair.with_suffix(".ipynb"), break_it)
    found = notebooks.problems(pair)
    assert any("stored an error (ValueError)" in p for p in found)
    assert any("path of the recording machine: /home/ada/gpt/x.py" in p for p in found)


def test_out_of_order_execution_is_reported(pair):
    def shuffle(nb):
        code = [c for c in nb.cells if c.cell_type == "code"]
        code[0].execution_count, code[1].execution_count = 2, 1

    _edit(pair.with_suffix(".ipynb"), shuffle)
    assert any("in order" in p for p in notebooks.problems(pair))


def test_urls_are_not_mistaken_for_machine_paths():
    assert not notebooks.MACHINE_PATH.search("see https://example.org/home/user/page")
    assert notebooks.MACHINE_PATH.search("File /tmp/ipykernel_123/456.py, line 2")


def test_noise_level_floats_are_reported(pair):
    def noisy(nb):
        code = [c for c in nb.cells if c.cell_type == "code"]
        code[0].outputs.append(
            nbformat.v4.new_output("stream", name="stdout", text="largest difference: 8.7e-18\n")
        )

    _edit(pair.with_suffix(".ipynb"), noisy)
    assert any("8.7e-18" in p and "rounding noise" in p for p in notebooks.problems(pair))
    assert not notebooks.NOISE_FLOAT.search("lr 3e-4, loss 1.2e+01, ratio 10^-12.4")


def test_nbval_validates_on_another_numeric_path_than_recording(tmp_path):
    """The kernels nbval starts inherit VALIDATE_ENV; a recording kernel never does."""
    for name, value in notebooks.VALIDATE_ENV.items():
        assert os.environ.get(name) == value  # set by conftest.py for nbval's kernels
    src = tmp_path / "01_env.py"
    names = sorted(notebooks.VALIDATE_ENV)
    src.write_text(
        f"# %%\nimport os\nprint([os.environ.get(n) for n in {names!r}])\n",
        encoding="utf-8",
    )
    notebooks.record(src, timeout=120)
    stored = nbformat.read(src.with_suffix(".ipynb"), as_version=4)
    assert stored.cells[0].outputs[0]["text"] == f"{[None] * len(names)}\n"
