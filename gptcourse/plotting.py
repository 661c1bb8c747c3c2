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
