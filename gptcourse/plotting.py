"""The course's figure style: figures that fit the book's column, with text one can read.

Every notebook calls :func:`use_style` in its first plotting cell::

    from gptcourse import plotting

    plotting.use_style()

From then on, in Jupyter (and in the book, which shows the stored outputs):

* figures are :data:`WIDTH` inches wide unless a cell says otherwise, at :data:`DPI`
  pixels per inch, so that the book's text column (:data:`COLUMN_PX` CSS pixels) shows
  them at their own size, neither shrunk nor stretched;
* text is 10 pt, and nothing the course draws is smaller than :data:`MIN_FONT_SIZE`
  (9 pt, 12.5 CSS pixels at 1:1);
* each figure is stored as a PNG of twice its pixel size, marked to be shown at half
  that size, so that it is sharp on high-resolution ("retina") screens;
* each PNG carries a text chunk :data:`TEXT_KEY`: the height, in the PNG's own pixels,
  of the smallest text in the figure (font size in points times the PNG's dpi / 72).
  Whoever shows the PNG at some width can tell how large its smallest text appears:
  ``value * shown_width / png_width`` (:func:`smallest_text_shown`).

Heat maps get a colour bar, so that a colour can be read as a number: :func:`heatmap`.
"""

from __future__ import annotations

import base64
import struct
import zlib
from io import BytesIO

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

#: Pixels per inch of a figure, in CSS pixels: a 7.5-inch figure is 750 pixels wide.
DPI = 100
#: The width of the book's text column in CSS pixels (at a 1440-pixel-wide window).
COLUMN_PX = 790
#: The default width of a figure, in inches: at :data:`DPI`, a little inside the column.
WIDTH = 7.5
#: The smallest font size, in points, that any text of a figure may have.
MIN_FONT_SIZE = 9
#: The smallest text height, in CSS pixels, that a reader should see (9 pt at 1:1).
MIN_TEXT_PX = 12
#: The name of the PNG text chunk that records the smallest text of a figure.
TEXT_KEY = "gptcourse-min-text-px"

STYLE = {
    "figure.figsize": (WIDTH, 3.5),
    "figure.dpi": DPI,
    "figure.constrained_layout.use": True,  # labels and colour bars stay in the figure
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9,
    "legend.title_fontsize": 10,
    "figure.titlesize": 11,
    "figure.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Use the course's figure style, and show figures as sharp, measured PNGs in Jupyter."""
    matplotlib.rcParams.update(STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - the course always has IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    try:  # let the inline backend register its own formatters first, then replace them
        import matplotlib_inline.backend_inline  # noqa: F401
    except ImportError:  # pragma: no cover
        pass
    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, _display_png)


def smallest_font_size(fig: Figure) -> float:
    """The font size, in points, of the smallest visible text of a drawn figure."""
    sizes = [
        text.get_fontsize()
        for text in fig.findobj(Text)
        if text.get_visible() and text.get_text().strip() and text.get_alpha() != 0
    ]
    return float(min(sizes)) if sizes else float("inf")


def figure_png(fig: Figure) -> tuple[bytes, dict[str, int]]:
    """The figure as a PNG at twice its pixel size, and the size to show it at.

    The PNG carries the :data:`TEXT_KEY` text chunk. The second value is
    ``{"width": ..., "height": ...}`` in CSS pixels, half the PNG's, as Jupyter expects.
    """
    dpi = 2 * fig.dpi
    buffer = BytesIO()
    fig.canvas.print_figure(
        buffer,
        format="png",
        dpi=dpi,
        bbox_inches="tight",
        facecolor=fig.get_facecolor(),
        edgecolor=fig.get_edgecolor(),
    )
    smallest = smallest_font_size(fig)  # after drawing: tick labels exist now
    png = buffer.getvalue()
    if smallest != float("inf"):
        png = _add_text_chunk(png, TEXT_KEY, f"{smallest * dpi / 72:.2f}")
    width, height = struct.unpack(">II", png[16:24])
    return png, {"width": width // 2, "height": height // 2}


def _display_png(fig: Figure):
    if not fig.axes and not fig.lines:
        return None
    png, size = figure_png(fig)
    return base64.b64encode(png).decode("ascii"), size


def _add_text_chunk(png: bytes, key: str, value: str) -> bytes:
    """The PNG with a ``tEXt`` chunk ``key: value`` added before its end."""
    data = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    crc = zlib.crc32(b"tEXt" + data)
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", crc)
    end = png.rindex(b"IEND") - 4  # the IEND chunk's length field
    return png[:end] + chunk + png[end:]


def png_text(png: bytes) -> dict[str, str]:
    """The ``tEXt`` chunks of a PNG, as a dictionary."""
    found, at = {}, 8
    while at + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        if kind == b"tEXt":
            key, _, value = png[at + 8 : at + 8 + length].partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length
    return found


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` of a PNG in pixels."""
    return struct.unpack(">II", png[16:24])


def smallest_text_shown(png: bytes, shown_width: float) -> float | None:
    """How tall the figure's smallest text is when the PNG is shown ``shown_width`` wide.

    In the unit of ``shown_width`` (CSS pixels), or None for a PNG without the chunk.
    """
    value = png_text(png).get(TEXT_KEY)
    if value is None:
        return None
    return float(value) * shown_width / png_size(png)[0]


def heatmap(ax, values, *, label: str, colorbar: dict | None = None, **imshow_kwargs):
    """Draw a matrix ``values`` (rows, columns) as an image with a labelled colour bar.

    ``label`` says what a colour means ("probability", "attention weight");
    ``colorbar`` holds arguments for :meth:`matplotlib.figure.Figure.colorbar`
    (``location``, ``shrink``, ...). Other keyword arguments go to
    :meth:`matplotlib.axes.Axes.imshow` (``cmap``, ``vmin``, ``norm``, ...). Returns the
    image.
    """
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    image = ax.imshow(np.asanyarray(values), **imshow_kwargs)
    ax.figure.colorbar(image, ax=ax, label=label, **{"fraction": 0.05, **(colorbar or {})})
    return image


#: The three families of Transformer, as :func:`transformer_families` draws them: a title,
#: the stacks (label, what each position of it sees: "all" or "past"), what goes in and
#: what comes out.
FAMILIES = (
    (
        "Encoder–decoder\n(Transformer, 2017)",
        (("encoder", "all"), ("decoder", "past")),
        ("source text", "target so far"),
        "next target token",
    ),
    ("Encoder-only\n(BERT, 2018)", (("encoder", "all"),), ("text with [MASK]s",), "masked words"),
    ("Decoder-only\n(GPT, 2018)", (("decoder", "past"),), ("text so far",), "next token"),
)


def _mask(ax, x: float, y: float, size: float, causal: bool, n: int = 5) -> None:
    """Draw an ``n`` by ``n`` grid at ``(x, y)``: filled where a row may see a column."""
    from matplotlib.patches import Rectangle

    cell = size / n
    for i in range(n):  # row i: what position i sees
        for j in range(n):
            seen = j <= i or not causal
            ax.add_patch(
                Rectangle(
                    (x + j * cell, y + (n - 1 - i) * cell),
                    cell,
                    cell,
                    facecolor="tab:blue" if seen else "white",
                    edgecolor="0.6",
                    linewidth=0.5,
                )
            )


def transformer_families(axes) -> None:
    """Draw the encoder–decoder, encoder-only and decoder-only Transformers in three axes.

    Each stack is a box of N blocks, with what goes in below it and what comes out above;
    under each box, a small grid shows what its self-attention lets each position (a row)
    see: every position ("all", bidirectional) or only itself and the past (causal). The
    encoder–decoder's arrow is the decoder's cross-attention to the encoder's output.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    colours = {"encoder": "#d5e8f7", "decoder": "#fde3c8"}
    for ax, (title, stacks, inputs, output) in zip(axes, FAMILIES, strict=True):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        ax.set_title(title, fontsize=10)
        width = 0.42 if len(stacks) == 2 else 0.6
        xs = [0.04, 0.54] if len(stacks) == 2 else [0.2]
        for (kind, sees), x, source in zip(stacks, xs, inputs, strict=True):
            ax.add_patch(
                FancyBboxPatch(
                    (x, 0.42),
                    width,
                    0.3,
                    boxstyle="round,pad=0.01",
                    facecolor=colours[kind],
                    edgecolor="0.3",
                )
            )
            what = "sees all" if sees == "all" else "sees the past"
            ax.text(x + width / 2, 0.62, f"{kind}\n× N", ha="center", va="center")
            ax.text(x + width / 2, 0.47, what, ha="center", va="center", fontsize=9)
            _mask(ax, x + width / 2 - 0.09, 0.13, 0.18, causal=sees == "past")
            ax.text(x + width / 2, 0.04, source, ha="center", va="center", fontsize=9)
        top = xs[-1] + width / 2
        ax.annotate("", (top, 0.83), (top, 0.73), arrowprops={"arrowstyle": "->"})
        ax.text(top, 0.9, output, ha="center", va="center", fontsize=9)
        if len(stacks) == 2:  # cross-attention: the decoder reads the encoder's output
            ax.add_patch(
                FancyArrowPatch(
                    (xs[0] + width, 0.57),
                    (xs[1], 0.57),
                    arrowstyle="->",
                    mutation_scale=12,
                    color="0.2",
                )
            )
