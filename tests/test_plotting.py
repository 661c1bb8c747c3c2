"""The course's figure style: sizes, the smallest text, retina PNGs, colour bars."""

from __future__ import annotations

import base64

import matplotlib
import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gptcourse import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def course_style():
    with matplotlib.rc_context():
        plotting.use_style()
        yield
    plt.close("all")


def test_the_default_figure_fits_the_column_at_its_own_size():
    fig = plt.figure()
    width_px = fig.get_figwidth() * fig.dpi
    assert width_px == plotting.WIDTH * plotting.DPI <= plotting.COLUMN_PX
    assert matplotlib.rcParams["font.size"] >= plotting.MIN_FONT_SIZE
    assert plotting.MIN_FONT_SIZE * plotting.DPI / 72 >= plotting.MIN_TEXT_PX  # 9 pt -> 12.5 px


def test_the_png_is_twice_the_size_it_is_shown_at_and_records_its_smallest_text():
    fig, ax = plt.subplots(figsize=(5, 2))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.set_xticks([0, 1], ["zero", "one"], fontsize=9)
    ax.legend()
    png, shown = plotting.figure_png(fig)
    width, height = plotting.png_size(png)
    assert (shown["width"], shown["height"]) == (width // 2, height // 2)
    assert 400 < shown["width"] <= 500 + 2 * 10  # "tight": margins trimmed, 0.1-inch pads
    assert float(plotting.png_text(png)[plotting.TEXT_KEY]) == pytest.approx(9 * 200 / 72)
    # shown at its own size, 9 pt is 12.5 CSS pixels; shrunk to half, 6.25
    assert plotting.smallest_text_shown(png, shown["width"]) == pytest.approx(12.5, abs=0.1)
    assert plotting.smallest_text_shown(png, shown["width"] / 2) == pytest.approx(6.25, abs=0.1)


def test_the_smallest_text_counts_every_visible_text_and_only_those():
    fig, ax = plt.subplots()
    ax.set_title("title")
    ax.text(0.5, 0.5, "tiny", fontsize=6)
    ax.text(0.5, 0.2, "hidden", fontsize=4, visible=False)
    fig.canvas.draw()
    assert plotting.smallest_font_size(fig) == 6
    assert plotting.smallest_font_size(plt.figure()) == float("inf")


def test_heatmap_draws_a_labelled_colour_bar():
    fig, ax = plt.subplots()
    image = plotting.heatmap(ax, torch.rand(4, 5), label="weight", vmin=0, vmax=1)
    assert image.get_array().shape == (4, 5)
    assert len(fig.axes) == 2  # the heat map and its colour bar
    assert fig.axes[1].get_ylabel() == "weight"
    masked = np.ma.masked_equal(np.eye(3), 0)
    assert plotting.heatmap(ax, masked, label="p").get_array().mask.sum() == 6


def test_png_text_reads_what_was_written():
    png, _ = plotting.figure_png(plt.subplots()[0])
    marked = plotting._add_text_chunk(png, "key", "value")
    assert plotting.png_text(marked)["key"] == "value"
    assert plotting.png_size(marked) == plotting.png_size(png)
    assert plt.imread(__import__("io").BytesIO(marked)).shape[0] > 0  # still a valid PNG


def test_jupyter_shows_figures_as_measured_retina_pngs(tmp_path):
    """In a kernel with the inline backend, as when a notebook is recorded."""
    code = (
        "import matplotlib.pyplot as plt\n"
        "from gptcourse import plotting\n"
        "plotting.use_style()\n"
        "fig, ax = plt.subplots(figsize=(6, 2))\n"
        "ax.plot([1, 2, 3])\n"
        "plt.show()"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    (out,) = [o for o in nb.cells[0].outputs if "image/png" in o.get("data", {})]
    png = base64.b64decode(out["data"]["image/png"])
    shown = out["metadata"]["image/png"]
    width, height = plotting.png_size(png)
    assert (shown["width"], shown["height"]) == (width // 2, height // 2)
    assert shown["width"] <= 600 + 2 * 10
    assert plotting.smallest_text_shown(png, shown["width"]) >= plotting.MIN_TEXT_PX


def test_transformer_families_draws_three_labelled_panels_in_readable_text(course_style):
    fig, axes = plt.subplots(1, 3, figsize=(plotting.WIDTH, 3.4))
    plotting.transformer_families(axes)
    titles = [ax.get_title() for ax in axes]
    assert [t.split("\n")[0] for t in titles] == ["Encoder–decoder", "Encoder-only", "Decoder-only"]
    texts = [t.get_text() for ax in axes for t in ax.texts]
    assert "sees the past" in texts and "sees all" in texts
    fig.canvas.draw()
    assert plotting.smallest_font_size(fig) >= plotting.MIN_FONT_SIZE
    # what each position sees: 25 cells per grid, 15 of them filled in a causal one
    blue = matplotlib.colors.to_rgba("tab:blue")
    filled = [sum(p.get_facecolor() == blue for p in ax.patches) for ax in axes]
    assert filled == [25 + 15, 25, 15]
    plt.close(fig)
