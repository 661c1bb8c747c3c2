"""The notebook tooling: stored notebooks match their sources and are cleanly executed."""

from __future__ import annotations

import io
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


def _figure_notebook(source: str, png: bytes, meta: dict | None, text: str = ""):
    """A recorded notebook of one figure cell, as tools/notebooks.py reads it."""
    import base64

    cell = nbformat.v4.new_code_cell(source)
    if meta is not None:
        cell.metadata["mystnb"] = meta
    width, height = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"},
            metadata={"image/png": {"width": width // 2, "height": height // 2}},
        )
    ]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text), cell])


GOOD_META = {
    "figure": {"caption": "What it shows.", "name": "fig-demo"},
    "image": {"alt": "A line rising."},
}


@pytest.fixture(scope="module")
def pngs():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gptcourse import plotting

    with matplotlib.rc_context():
        plotting.use_style()
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.plot([0, 1])
        good, _ = plotting.figure_png(fig)
        ax.set_xticks([0, 1], ["a", "b"], fontsize=5)
        tiny, _ = plotting.figure_png(fig)
        wide, _ = plotting.figure_png(plt.subplots(figsize=(10, 2))[0])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=200)  # matplotlib's own: no text chunk
        unmarked = buffer.getvalue()
        plt.close("all")
    return {"good": good, "tiny": tiny, "wide": wide, "unmarked": unmarked}


def test_a_figure_in_the_course_style_passes(pngs):
    nb = _figure_notebook(
        "plt.plot(x)\nplt.show()", pngs["good"], GOOD_META, "See {numref}`fig-demo`."
    )
    assert notebooks.figure_problems(nb) == []


@pytest.mark.parametrize(
    ("source", "png", "meta", "text", "expected"),
    [
        ("plt.show()", "good", None, "", "without figure.name, figure.caption, image.alt"),
        ("plt.show()", "good", {"figure": GOOD_META["figure"]}, "{numref}`fig-demo`", "image.alt"),
        ("plt.show()", "good", GOOD_META, "no reference", "never refers to its figure"),
        ("ax.set_xticks(t, fontsize=7)", "good", GOOD_META, "{numref}`fig-demo`", "7-point font"),
        ('ax.text(0, 0, "x", size="small")', "good", GOOD_META, "{numref}`fig-demo`", "too small"),
        (
            "fig, ax = plt.subplots(figsize=(10, 3))",
            "good",
            GOOD_META,
            "{numref}`fig-demo`",
            "10 inches wide",
        ),
        ("ax.imshow(w)", "good", GOOD_META, "{numref}`fig-demo`", "without a colour bar"),
        ("plt.show()", "wide", GOOD_META, "{numref}`fig-demo`", "the book's column is 790"),
        (
            "plt.show()",
            "tiny",
            GOOD_META,
            "{numref}`fig-demo`",
            "smallest text of its figure shows",
        ),
        (
            "plt.show()",
            "unmarked",
            GOOD_META,
            "{numref}`fig-demo`",
            "not drawn in the course's style",
        ),
    ],
)
def test_figures_that_break_the_style_are_reported(pngs, source, png, meta, text, expected):
    problems = notebooks.figure_problems(_figure_notebook(source, pngs[png], meta, text))
    assert any(expected in p for p in problems), problems


def test_colour_bars_and_heatmap_satisfy_the_heat_map_rule(pngs):
    for source in ("ax.imshow(w)\nfig.colorbar(im)", "plotting.heatmap(ax, w, label='p')"):
        nb = _figure_notebook(source, pngs["good"], GOOD_META, "{numref}`fig-demo`")
        assert notebooks.figure_problems(nb) == []


def test_a_caption_without_a_figure_is_reported():
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata["mystnb"] = GOOD_META
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert any("caption but shows no figure" in p for p in notebooks.figure_problems(nb))
