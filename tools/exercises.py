"""Generate the learner's exercise notebooks from their sources, which hold the solutions.

    python tools/exercises.py generate [PATH ...]  # write exercises/NN_*.ipynb from its source
    python tools/exercises.py check    [PATH ...]  # fail when a generated notebook is stale

One source per exercise notebook, ``exercises/solutions/NN_name.py`` (jupytext
``py:percent``, paired with an executed ``.ipynb`` that the book renders). In it:

* an exercise is a markdown cell holding only an ``{exercise}`` directive
  (sphinx-exercise); the learner sees it as a heading "Exercise N.M" and its text;
* its solution follows between a markdown cell that opens with ``{solution-start}``
  and one that opens with ``{solution-end}`` (the book folds what lies between into a
  dropdown). Markdown cells in there are the written part of the solution and are
  left out of the learner's notebook;
* code that the learner writes sits between ``# BEGIN SOLUTION`` and
  ``# END SOLUTION`` lines, in a code cell that ends with a check call into
  :mod:`gptcourse.checks`; the learner gets ``raise NotImplementedError(...)`` at
  the marker's indentation instead, and the rest of the cell unchanged;
* a markdown cell holding only a ``{solution}`` directive (a written answer)
  becomes a place for the learner's own answer.

The rest of the Markdown goes through :mod:`tools.myst` (the learner's notebook runs in
Jupyter or Colab, where MyST does not render), and the notebook starts its code with the
set-up cell of :mod:`tools.readers`. ``make readers`` generates these notebooks together
with the chapters' reader copies.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `tools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "exercises" / "solutions"
OUTPUT = ROOT / "exercises"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>.*)$")
ANSWER_PLACEHOLDER = "**Your answer:** _write it here._"


class ExerciseSourceError(ValueError):
    """An exercise source breaks the conventions this generator relies on."""


def _directive(markdown: str) -> tuple[str, str, str] | None:
    """``(name, argument, body)`` if the cell is exactly one directive, else None."""
    lines = markdown.strip().splitlines()
    if not lines:
        return None
    head = FENCE.match(lines[0])
    if not head or lines[-1].strip() != head["fence"] or len(lines) < 2:
        return None
    body = [ln for ln in lines[1:-1] if not re.match(r"^:[\w-]+:", ln)]  # drop :options:
    return head["name"], head["arg"].strip(), "\n".join(body).strip()


def _leading_directive(markdown: str) -> str | None:
    """The name of the directive that opens a markdown cell, if one does."""
    lines = markdown.strip().splitlines()
    head = FENCE.match(lines[0]) if lines else None
    return head["name"] if head else None


def _stub_code(source: str, where: str, exercise: str) -> tuple[str, int]:
    """Replace each solution region by a ``raise``; return the code and how many."""
    out, regions, inside = [], 0, False
    for number, line in enumerate(source.splitlines(), 1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise ExerciseSourceError(f"{where}, line {number}: BEGIN SOLUTION inside another")
            inside, regions = True, regions + 1
            out.append(
                f'{begin["indent"]}raise NotImplementedError("Exercise {exercise}: replace this '
                'line with your code.")'
            )
        elif END.match(line):
            if not inside:
                raise ExerciseSourceError(f"{where}, line {number}: END SOLUTION without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ExerciseSourceError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out), regions


def learner_notebook(src: Path, book=None):
    """The learner's notebook (an ``nbformat`` node) generated from ``src``."""
    import jupytext
    import nbformat

    from tools.myst import Book, Context, to_markdown
    from tools.readers import finish, reader_tags

    book = book or Book()
    nb = jupytext.read(src, fmt="py:percent")
    rel = src.relative_to(ROOT) if src.is_relative_to(ROOT) else Path(src.name)
    context = Context(book, f"exercises/solutions/{src.stem}", "exercises")
    cells = []
    chapter = int(src.stem.split("_", 1)[0])  # "01_language_models" -> 1, as the book numbers it
    exercise = 0
    stub_cells = 0
    in_solution = False  # between {solution-start} and {solution-end}
    for index, cell in enumerate(nb.cells):
        where = context.where = f"{rel}, cell {index}"
        if cell.cell_type == "markdown":
            name = _leading_directive(cell.source)
            if name == "solution-start":
                if in_solution:
                    raise ExerciseSourceError(f"{where}: solution-start inside a solution")
                in_solution = True
                continue
            if name == "solution-end":
                if not in_solution:
                    raise ExerciseSourceError(f"{where}: solution-end without solution-start")
                in_solution = False
                continue
            if in_solution:  # the written part of a solution
                continue
            directive = _directive(cell.source)
            if name == "solution" and directive:
                cells.append(nbformat.v4.new_markdown_cell(ANSWER_PLACEHOLDER))
                continue
            if name == "exercise" and directive:
                exercise += 1
                _, title, body = directive
                title = to_markdown(title, context)
                heading = f"### Exercise {chapter}-{exercise}" + (f": {title}" if title else "")
                text = f"{heading}\n\n{to_markdown(body, context)}".strip()
                cells.append(nbformat.v4.new_markdown_cell(text))
                continue
            if "{exercise" in cell.source or "{solution" in cell.source:
                raise ExerciseSourceError(
                    f"{where}: an exercise or solution directive must fill its markdown cell "
                    "alone (a solution-start or solution-end directive must open its cell)"
                )
            cells.append(nbformat.v4.new_markdown_cell(to_markdown(cell.source, context)))
        elif cell.cell_type == "code":
            code, regions = _stub_code(cell.source, where, f"{chapter}-{exercise}")
            if regions:
                stub_cells += 1
                if "check." not in code and "checks." not in code:
                    raise ExerciseSourceError(
                        f"{where}: a cell with a solution must end with a check call into "
                        "gptcourse.checks, so that the learner sees whether their code is right"
                    )
            new = nbformat.v4.new_code_cell(code)
            tags = reader_tags(cell.metadata)
            if regions:
                tags.append("exercise")
            if tags:
                new.metadata["tags"] = tags
            cells.append(new)
        else:
            cells.append(nbformat.v4.new_raw_cell(cell.source))
    if in_solution:
        raise ExerciseSourceError(f"{rel}: a solution-start is never closed by solution-end")
    if not stub_cells:
        raise ExerciseSourceError(f"{rel}: no code cell holds a '# BEGIN SOLUTION' region")
    solutions = f"solutions/{src.stem}.ipynb"
    intro = nbformat.v4.new_markdown_cell(
        "> Replace each `raise NotImplementedError(...)` with your code and run the cell: "
        "the check at its end tells you whether your code is right, and if not, what is "
        f"wrong. Solutions are in [{solutions}]({solutions}) and in the book."
    )
    # Keep the title first when the source starts with one.
    at = 1 if cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("#") else 0
    cells.insert(at, intro)
    return finish(cells, book, context, str(rel), src.stem)


def _serialise(nb) -> str:
    import nbformat

    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def sources() -> list[Path]:
    return sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def target_of(src: Path) -> Path:
    return OUTPUT / (src.stem + ".ipynb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument(
        "paths", nargs="*", help="exercise sources or notebooks (default: every one)"
    )
    args = parser.parse_args(argv)
    chosen = [SOURCES / (Path(p).stem + ".py") for p in args.paths] or sources()
    for src in chosen:
        if not src.is_file():
            parser.error(f"no exercise source {src.relative_to(ROOT)}")
    from tools.myst import Book

    book = Book()
    stale = []
    for src in chosen:
        text = _serialise(learner_notebook(src, book))
        target = target_of(src)
        if args.command == "generate":
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                print(f"wrote {target.relative_to(ROOT)}")
        elif not target.is_file() or target.read_text(encoding="utf-8") != text:
            stale.append(target.relative_to(ROOT))
    generated = {target_of(src).name for src in sources()}
    orphans = (
        []
        if args.paths
        else [p for p in OUTPUT.glob("[0-9][0-9]_*.ipynb") if p.name not in generated]
    )
    if args.command == "generate":
        for orphan in orphans:
            orphan.unlink()
            print(f"removed {orphan.relative_to(ROOT)} (its source is gone)")
        return 0
    for path in stale:
        print(f"{path} is stale: it differs from what its source in exercises/solutions generates.")
    for orphan in orphans:
        print(f"{orphan.relative_to(ROOT)} has no source in exercises/solutions.")
    if stale or orphans:
        print("Regenerate the learner's notebooks with: make readers")
        return 1
    print(f"{len(chosen)} learner notebooks are up to date with their sources.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
