"""Record and check the course's notebooks.

Every notebook is written as text (a jupytext ``py:percent`` file, the source of
truth that is reviewed) and paired with an ``.ipynb`` that stores its executed
outputs, which nbval validates and the book renders.

    python tools/notebooks.py record [PATH ...]   # execute, store outputs in the .ipynb
    python tools/notebooks.py check  [PATH ...]   # fail when an .ipynb is stale or unexecuted
    python tools/notebooks.py list                # the paired notebooks

PATH may name the ``.py`` or the ``.ipynb`` of a pair; without PATH, every pair.
Recording runs each notebook in a fresh kernel, in the notebook's folder, with the
environment in :data:`KERNEL_ENV` (the same one the tests use), so that the stored
outputs are what CI reproduces.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Folders whose notebook sources are paired with an ``.ipynb``.
NOTEBOOK_DIRS = ("chapters", "appendices", "exercises/solutions")

#: The names of notebook sources: a chapter's ``NN_name.py`` (its number) and an
#: appendix's ``x_name.py`` (its letter, lower case: ``appendices/d_questions.py``).
SOURCE_GLOBS = ("[0-9][0-9]_*.py", "[a-z]_*.py")

#: The kernel environment for recording and for nbval: fixed threads, hash seed and
#: cell names (warnings quote the cell name instead of a temporary file path).
KERNEL_ENV = {
    "OMP_NUM_THREADS": "2",
    "MKL_NUM_THREADS": "2",
    "OPENBLAS_NUM_THREADS": "2",
    "PYTHONHASHSEED": "0",
    "IPYKERNEL_CELL_NAME": "<cell>",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "TQDM_MININTERVAL": "5",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}

#: What nbval adds to :data:`KERNEL_ENV` when it validates the stored outputs: PyTorch's
#: portable (non-vectorised) CPU kernels and MKL's reproducible code path. Recording uses
#: this machine's fastest path, validating another one, so a printed figure that depends on
#: rounding noise (a "largest difference" of 4e-16, say) fails here, on the machine that
#: recorded it, and not later on a reader's machine with another CPU or BLAS.
VALIDATE_ENV = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
}

TEXT_FORMAT = "py:percent"
PAIRED_FORMATS = "ipynb,py:percent"

# Absolute paths of the recording machine must not reach the book.
MACHINE_PATH = re.compile(r"(?<![\w.:/-])/(?:home|root|tmp|Users|work)/[\w.-]+[\w./-]*")
# A float printed at 1e-13 or below is, in this course, a difference at rounding-noise level.
NOISE_FLOAT = re.compile(r"(?<![\w.])\d(?:\.\d+)?e-(?:1[3-9]|[2-9]\d|\d{3})\b")

# What the sources of plotting cells may not ask for (gptcourse.plotting has the limits).
PLOTTING = re.compile(r"\b(?:plt|ax|axes|fig)\b")
FONT_SIZE = re.compile(r"\b(?:fontsize|size|labelsize)\s*[=:]\s*(\d+(?:\.\d+)?)\b")
SMALL_FONT = re.compile(
    r"\b(?:fontsize|size|labelsize)\s*[=:]\s*[\"'](xx-small|x-small|small|smaller)[\"']"
)
FIGSIZE = re.compile(r"\bfigsize[\"']?\s*[=:]\s*\(\s*(\d+(?:\.\d+)?)\s*,")
HEAT_MAP = re.compile(r"\.(?:imshow|pcolormesh|pcolor|matshow)\(")
COLOUR_BAR = re.compile(r"\b(?:colorbar|heatmap)\(")
NUMREF = re.compile(r"\{(?:numref|ref)\}`(?:[^`<]*<)?(?P<label>[^`<>]+)>?`")


def apply_kernel_env(environ: dict | None = None, validate: bool = False) -> None:
    """Set :data:`KERNEL_ENV` in ``environ`` (``os.environ`` by default).

    With ``validate``, also :data:`VALIDATE_ENV`: the numeric path that nbval checks on.
    """
    environ = os.environ if environ is None else environ
    environ.update(KERNEL_ENV)
    if validate:
        environ.update(VALIDATE_ENV)


def all_sources() -> list[Path]:
    """Every notebook source (``.py``) of the course, sorted."""
    found: list[Path] = []
    for folder in NOTEBOOK_DIRS:
        for pattern in SOURCE_GLOBS:
            found += sorted((ROOT / folder).glob(pattern))
    return found


def source_of(path: Path) -> Path:
    """The ``.py`` source of a pair named by either of its files."""
    path = path.resolve()
    src = path.with_suffix(".py")
    if not src.is_file():
        raise SystemExit(f"{path}: no notebook source {src.name} beside it")
    return src


def _read_source(src: Path):
    import jupytext

    nb = jupytext.read(src, fmt=TEXT_FORMAT)
    nb.metadata.setdefault("jupytext", {})["formats"] = PAIRED_FORMATS
    # Versions of jupytext are not part of the notebook's meaning.
    nb.metadata["jupytext"].pop("text_representation", None)
    nb.metadata.setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}
    )
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"  # stable ids: no churn in diffs
    return nb


def _normalise(nb) -> None:
    """Drop what varies between runs but means nothing.

    Timestamps, the Python patch level, and how a cell's printed text happened to be
    split into messages (consecutive stream outputs are joined, as nbval compares them).
    """
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        merged = []
        for out in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (
                out.get("output_type") == "stream"
                and previous is not None
                and previous.get("output_type") == "stream"
                and previous.get("name") == out.get("name")
            ):
                previous["text"] += out["text"]
            else:
                merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged


def record(src: Path, timeout: int = 900) -> float:
    """Execute the notebook of ``src`` in a fresh kernel and write its ``.ipynb``.

    Returns the wall time in seconds.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = _read_source(src)
    apply_kernel_env()
    for name in VALIDATE_ENV:  # record on this machine's own numeric path
        os.environ.pop(name, None)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(src.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as e:
        raise SystemExit(
            f"{src.relative_to(ROOT)} failed while recording; nothing was written.\n{e}"
        ) from None
    elapsed = time.perf_counter() - start
    _normalise(nb)
    nbformat.write(nb, src.with_suffix(".ipynb"))
    return elapsed


def problems(src: Path) -> list[str]:
    """Why the stored ``.ipynb`` of ``src`` is not what CI should validate."""
    import nbformat

    ipynb = src.with_suffix(".ipynb")
    if not ipynb.is_file():
        return ["it has never been recorded"]
    expected = _read_source(src)
    stored = nbformat.read(ipynb, as_version=4)
    found = []
    want = [_compared(c) for c in expected.cells]
    have = [_compared(c) for c in stored.cells]
    if want != have:
        for i, (w, h) in enumerate(zip(want, have, strict=False)):
            if w != h:
                found.append(f"cell {i} differs from its source ({w[0]} cell: {w[1][:60]!r})")
                break
        else:
            found.append(f"it has {len(have)} cells, its source {len(want)}")
    code = [c for c in stored.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.get("execution_count") for c in code]
    if any(n is None for n in counts):
        found.append(f"{sum(n is None for n in counts)} code cells were never executed")
    elif counts != list(range(1, len(counts) + 1)):
        found.append("its cells were not executed once each, in order, in a fresh kernel")
    for i, cell in enumerate(stored.cells):
        for out in cell.get("outputs", []):
            tags = cell.metadata.get("tags", [])
            if out.get("output_type") == "error" and "raises-exception" not in tags:
                found.append(f"cell {i} stored an error ({out.get('ename')})")
            text = str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
            leak = MACHINE_PATH.search(text)
            if leak:
                found.append(f"cell {i} shows a path of the recording machine: {leak.group(0)}")
            noise = NOISE_FLOAT.search(text)
            if noise and "nbval-ignore-output" not in tags:
                found.append(
                    f"cell {i} prints {noise.group(0)}, a figure at the level of rounding noise "
                    "that differs between machines: assert a bound and print the bound"
                )
    return found + figure_problems(stored)


def _compared(cell) -> tuple:
    """What a stored cell must share with its source: type, source, tags, figure metadata."""
    return (cell.cell_type, cell.source, cell.metadata.get("tags", []), cell.metadata.get("mystnb"))


def figure_problems(nb) -> list[str]:
    """Why the figures of a recorded notebook break the course's figure style.

    Every figure is numbered, captioned and described (myst-nb metadata ``mystnb`` of
    its cell: ``figure.name``, ``figure.caption``, ``image.alt``) and referred to from the
    text; it is at most the book's column wide; its smallest text shows at least
    ``MIN_TEXT_PX`` CSS pixels tall (read from the PNG, see :mod:`gptcourse.plotting`);
    heat maps have a colour bar; and no source asks for a font below ``MIN_FONT_SIZE``
    or a figure wider than ``WIDTH``, as far as a look at the source can tell.
    """
    import base64

    from gptcourse import plotting

    found = []
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    referenced = {m["label"].strip() for m in NUMREF.finditer(markdown)}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("mystnb") or {}
        figure, image = meta.get("figure") or {}, meta.get("image") or {}
        pngs = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if PLOTTING.search(cell.source):
            for m in FONT_SIZE.finditer(cell.source):
                if float(m.group(1)) < plotting.MIN_FONT_SIZE:
                    found.append(
                        f"cell {i} asks for a {m.group(1)}-point font ({m.group(0)!r}): "
                        f"text must be {plotting.MIN_FONT_SIZE} points or larger"
                    )
            for m in SMALL_FONT.finditer(cell.source):
                found.append(f"cell {i} asks for a font that is too small ({m.group(0)!r})")
            for m in FIGSIZE.finditer(cell.source):
                if float(m.group(1)) > plotting.WIDTH:
                    found.append(
                        f"cell {i} makes a figure {m.group(1)} inches wide: the book's column "
                        f"takes {plotting.WIDTH} (plotting.WIDTH)"
                    )
            if HEAT_MAP.search(cell.source) and not COLOUR_BAR.search(cell.source):
                found.append(
                    f"cell {i} draws a heat map without a colour bar: use plotting.heatmap "
                    "or fig.colorbar"
                )
        if figure and not pngs:
            found.append(f"cell {i} has a figure caption but shows no figure")
        if not pngs:
            continue
        if len(pngs) > 1:
            found.append(f"cell {i} shows {len(pngs)} figures: one per cell, with its caption")
        missing = [
            name
            for name, value in [
                ("figure.name", figure.get("name")),
                ("figure.caption", figure.get("caption")),
                ("image.alt", image.get("alt")),
            ]
            if not str(value or "").strip()
        ]
        if missing:
            found.append(
                f"cell {i} shows a figure without {', '.join(missing)}: give its cell "
                '`# %% mystnb={"figure": {"caption": ..., "name": "fig-..."}, '
                '"image": {"alt": ...}}`'
            )
        elif figure["name"] not in referenced:
            found.append(
                f"cell {i}: the text never refers to its figure ({{numref}}`{figure['name']}`)"
            )
        for out in pngs:
            png = base64.b64decode(out["data"]["image/png"])
            png_width = plotting.png_size(png)[0]
            shown = out.get("metadata", {}).get("image/png", {}).get("width", png_width)
            if shown > plotting.COLUMN_PX:
                found.append(
                    f"cell {i} shows a figure {shown} pixels wide: the book's column is "
                    f"{plotting.COLUMN_PX} (plotting.WIDTH inches at most)"
                )
            text_px = plotting.smallest_text_shown(png, min(shown, plotting.COLUMN_PX))
            if text_px is None:
                found.append(
                    f"cell {i} shows a figure that was not drawn in the course's style: "
                    "call plotting.use_style() in the notebook's first plotting cell"
                )
            elif text_px < plotting.MIN_TEXT_PX:
                found.append(
                    f"cell {i}: the smallest text of its figure shows {text_px:.1f} pixels "
                    f"tall, below {plotting.MIN_TEXT_PX}: larger fonts, or a smaller figure"
                )
    return found


def _resolve(paths: list[str]) -> list[Path]:
    return [source_of(Path(p)) for p in paths] if paths else all_sources()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="execute notebooks and store their outputs")
    rec.add_argument("paths", nargs="*")
    rec.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    chk = sub.add_parser("check", help="fail when a stored notebook is stale")
    chk.add_argument("paths", nargs="*")
    sub.add_parser("list", help="list the paired notebooks")
    args = parser.parse_args(argv)

    if args.command == "list":
        for src in all_sources():
            print(src.relative_to(ROOT))
        return 0
    sources = _resolve(args.paths)
    if args.command == "record":
        for src in sources:
            print(f"recording {src.relative_to(ROOT)} ...", flush=True)
            print(f"  done in {record(src, args.timeout):.1f} s", flush=True)
        return 0
    failed = 0
    for src in sources:
        for problem in problems(src):
            failed += 1
            rel = src.relative_to(ROOT)
            print(f"{rel.with_suffix('.ipynb')}: {problem}")
    if failed:
        print(
            "\nThe stored notebooks must be what their sources execute to. Re-record them with\n"
            "  make record NB=<path>      (or: make record, for every notebook)"
        )
        return 1
    print(f"{len(sources)} notebooks are up to date with their sources.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
