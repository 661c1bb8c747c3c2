"""The book's own Sphinx extension: what the theme and extensions get wrong for this course.

Registered in ``_config.yml`` (``sphinx.local_extensions``). It

* strips the ``# BEGIN SOLUTION`` / ``# END SOLUTION`` marker lines from the code cells of
  the exercise pages: they tell ``tools/exercises.py`` what the learner writes, and mean
  nothing to a reader of the solution;
* numbers exercises ``Exercise 1-3`` (chapter, dash, exercise), so that they cannot be
  confused with sections (``1.3``); ``tools/exercises.py`` writes the same heading into the
  learner's notebook;
* registers the bibliography's styles, both named ``gptcourse``: citations in the text
  read "(Vaswani et al., 2017)" (``{cite:p}``) and "Vaswani et al. (2017)" (``{cite:t}``)
  (``bibtex_reference_style``), and the list is sorted by author and year, each entry
  labelled "Vaswani et al., 2017" (``bibtex_default_style``);
* drops sphinx-thebe's scripts and style from every page: the book does not offer live
  code cells, and the extension, which Jupyter Book always loads, declared
  ``THEBE_JS_URL`` twice on every page (a JavaScript error) and pointed at a CDN.
"""

from __future__ import annotations

import string
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sphinxcontrib.bibtex.plugin
from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.template import field as bib_field
from pybtex.style.template import sentence
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.exercises import BEGIN, END  # noqa: E402  (one definition of the markers)

#: Pages whose code cells hold solution markers.
EXERCISE_PAGES = "exercises/"
#: How an exercise's number is written: ``Exercise 1-3`` (chapter 1, third exercise).
EXERCISE_NUMBER_SEPARATOR = "-"


def strip_solution_markers(source: str) -> str:
    """``source`` without its ``# BEGIN SOLUTION`` and ``# END SOLUTION`` lines.

    >>> strip_solution_markers("def f():\\n  # BEGIN SOLUTION\\n  return 1\\n  # END SOLUTION")
    'def f():\\n  return 1'
    """
    lines = source.split("\n")
    return "\n".join(line for line in lines if not (BEGIN.match(line) or END.match(line)))


def _strip_markers_in_exercises(app: Sphinx, doctree: nodes.document) -> None:
    if not app.env.docname.startswith(EXERCISE_PAGES):
        return
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        stripped = strip_solution_markers(text)
        if stripped != text:
            block.children = [nodes.Text(stripped)]
            block.rawsource = stripped


def exercise_number(number: tuple) -> tuple:
    """The number Sphinx gave an exercise, as the book shows it: ``(1, 3)`` -> ``("1-3",)``.

    Sphinx joins the parts of a number with dots wherever it writes one (titles, numbered
    references, sphinx-exercise's solution titles); a one-part number is written as is.

    >>> exercise_number((1, 3))
    ('1-3',)
    >>> exercise_number(("1-3",))
    ('1-3',)
    """
    return (EXERCISE_NUMBER_SEPARATOR.join(map(str, number)),)


def _renumber_exercises(app: Sphinx, env: BuildEnvironment) -> list[str]:
    # Runs after Sphinx's TocTreeCollector has assigned every figure number.
    for numbers in env.toc_fignumbers.values():
        exercises = numbers.get("exercise", {})
        for ident, number in exercises.items():
            exercises[ident] = exercise_number(number)
    return []


class AuthorYearLabels(BaseLabelStyle):
    """Labels ``Vaswani et al., 2017``; ``2020a``, ``2020b`` when two would be the same."""

    def format_labels(self, sorted_entries):
        labels = [self.format_label(entry) for entry in sorted_entries]
        repeated = {label for label, n in Counter(labels).items() if n > 1}
        seen: Counter = Counter()
        for label in labels:
            if label in repeated:
                seen[label] += 1
                label += string.ascii_lowercase[seen[label] - 1]
            yield label

    @staticmethod
    def format_label(entry) -> str:
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [str(Text.from_latex(" ".join(p.prelast_names + p.last_names))) for p in people]
        if not names:
            who = entry.fields.get("title", entry.key)
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(UnsrtStyle):
    """pybtex's ``plain`` (sorted by author, year, title) with author-year labels, and
    titles as the papers write them ("Attention Is All You Need", not "Attention is all
    you need")."""

    default_label_style = "gptcourse-author-year"
    default_sorting_style = "author_year_title"

    def format_title(self, e, which_field, as_sentence=True):
        title = bib_field(which_field)
        return sentence[title] if as_sentence else title


def _round_brackets() -> BracketStyle:
    return BracketStyle(left="(", right=")", sep="; ")


@dataclass
class RoundAuthorYear(AuthorYearReferenceStyle):
    """Author-year citations in round brackets: (Vaswani et al., 2017)."""

    bracket_parenthetical: BracketStyle = field(default_factory=_round_brackets)
    bracket_textual: BracketStyle = field(default_factory=_round_brackets)
    bracket_author: BracketStyle = field(default_factory=_round_brackets)
    bracket_label: BracketStyle = field(default_factory=_round_brackets)
    bracket_year: BracketStyle = field(default_factory=_round_brackets)


def _drop_thebe(app: Sphinx, pagename, templatename, context, doctree) -> None:
    def is_thebe(asset) -> bool:
        filename = getattr(asset, "filename", None) or ""
        body = getattr(asset, "attributes", {}).get("body", "") or ""
        return "thebe" in filename or "THEBE_JS_URL" in body

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not is_thebe(asset)]


def setup(app: Sphinx) -> dict:
    register_plugin("pybtex.style.labels", "gptcourse-author-year", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "gptcourse", AuthorYearStyle)
    sphinxcontrib.bibtex.plugin.register_plugin(
        "sphinxcontrib.bibtex.style.referencing", "gptcourse", RoundAuthorYear
    )
    app.connect("doctree-read", _strip_markers_in_exercises)
    app.connect("env-get-updated", _renumber_exercises, priority=900)
    app.connect("html-page-context", _drop_thebe)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
