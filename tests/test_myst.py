"""The MyST-to-Markdown converter behind the notebooks that readers launch (tools/myst.py)."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools import myst
from tools.myst import Book, Context, MystError, to_markdown

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"

CONFIG = """
title: "A Book"
repository:
  url: https://github.com/example/book
  branch: trunk
sphinx:
  config:
    numfig_format:
      figure: "Figure %s"
"""

TOC = """
format: jb-book
root: book/intro
parts:
  - caption: Start
    chapters:
      - file: book/how
  - caption: "Part I"
    numbered: true
    chapters:
      - file: chapters/01_first
        sections:
          - file: exercises/solutions/01_first
  - caption: "Part II"
    numbered: true
    chapters:
      - file: chapters/02_second
"""

FIRST = """
# %% [markdown]
# # The first chapter
#
# (sec-counting)=
# ## How do we count?
#
# Text.

# %% mystnb={"figure": {"caption": "Counts.", "name": "fig-counts"}}
print(1)

# %% [markdown]
# ## Another section
#
# ```{figure} ../book/pic.png
# :name: fig-drawn
# :alt: A drawing
#
# A drawn figure with {term}`tokens <token>`.
# ```
#
# $$
# H = -\\log p
# $$ (eq-loss)

# %% mystnb={"figure": {"caption": "Losses.", "name": "fig-losses"}}
print(2)
"""

SECOND = """
# %% [markdown]
# # The second chapter
#
# ## One
#
# ## Two

# %% mystnb={"figure": {"caption": "Second's first.", "name": "fig-second"}}
print(3)
"""

EXERCISES = """
# %% [markdown]
# # Exercises: first
"""

BIB = r"""
@inproceedings{vaswani2017,
  author = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki},
  title = {Attention Is All You Need},
  booktitle = {Advances in Neural Information Processing Systems},
  year = {2017},
  url = {https://arxiv.org/abs/1706.03762},
}
@techreport{radford2018,
  author = {Radford, Alec and Narasimhan, Karthik},
  title = {Improving Language Understanding by Generative Pre-Training},
  institution = {OpenAI},
  year = {2018},
}
@article{bengio2003,
  author = {Bengio, Yoshua},
  title = {A Neural Probabilistic Language Model},
  journal = {JMLR},
  year = {2003},
}
"""


@pytest.fixture
def book(tmp_path) -> Book:
    files = {
        "_config.yml": CONFIG,
        "_toc.yml": TOC,
        "book/intro.md": "# Welcome\n",
        "book/how.md": "# How to use it\n",
        "book/references.bib": BIB,
        "chapters/01_first.py": FIRST,
        "chapters/02_second.py": SECOND,
        "exercises/solutions/01_first.py": EXERCISES,
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (tmp_path / "book" / "pic.png").write_bytes(b"\x89PNG")
    glue = nbformat.v4.new_code_cell("glue('gap', 0.12345)")
    glue.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/papermill.record/text/plain": "0.12345"},
            metadata={"scrapbook": {"name": "gap", "mime_prefix": "application/papermill.record/"}},
        )
    ]
    nbformat.write(nbformat.v4.new_notebook(cells=[glue]), tmp_path / "chapters/01_first.ipynb")
    return Book(tmp_path)


def convert(book: Book, text: str, docname: str = "chapters/01_first", out: str = "notebooks"):
    return to_markdown(textwrap.dedent(text).strip("\n"), Context(book, docname, out))


def test_pages_are_numbered_as_the_book_numbers_them(book):
    assert book.page_number("book/intro") == "" and book.page_number("book/how") == ""
    assert book.page_number("chapters/01_first") == "1"
    # a sub-page comes after the chapter's two sections
    assert book.page_number("exercises/solutions/01_first") == "1.3"
    assert book.page_number("chapters/02_second") == "2"  # numbering goes on across parts


def test_doc_links_to_the_reader_copy_relative_to_the_generated_notebook(book):
    text = "See {doc}`the next one <02_second>` and {doc}`../exercises/solutions/01_first`."
    assert convert(book, text) == (
        "See [the next one](02_second.ipynb) and [Exercises: first](../exercises/01_first.ipynb)."
    )
    page = "exercises/solutions/01_first"
    from_exercises = convert(book, "{doc}`../../chapters/02_second`", page, "exercises")
    assert from_exercises == "[The second chapter](../notebooks/02_second.ipynb)"
    assert convert(book, "{doc}`/book/how`") == "[How to use it](../book/how.md)"
    with pytest.raises(MystError, match="not a page of _toc.yml"):
        convert(book, "{doc}`03_missing`")


def test_figures_are_numbered_per_chapter_in_page_order(book):
    targets = book.targets
    assert [targets[k].number for k in ("fig-counts", "fig-drawn", "fig-losses", "fig-second")] == [
        "1.1",
        "1.2",
        "1.3",
        "2.1",
    ]
    text = "{numref}`fig-losses`, {numref}`fig-second`, {numref}`Fig. {number} <fig-counts>`"
    assert convert(book, text) == "Figure 1.3, Figure 2.1, Fig. 1.1"
    assert convert(book, "{numref}`see %s, {name} <fig-counts>`") == "see 1.1, Counts."
    with pytest.raises(MystError, match="fig-nowhere"):
        convert(book, "{numref}`fig-nowhere`")


def test_sections_and_equations(book):
    assert convert(book, "{ref}`sec-counting`") == "How do we count?"
    assert convert(book, "{ref}`counting <sec-counting>`") == "counting"
    assert convert(book, "{numref}`sec-counting`") == "Section 1.1"
    other = convert(book, "{ref}`sec-counting`", "chapters/02_second")
    assert other == "[How do we count?](01_first.ipynb)"
    assert convert(book, "Equation {eq}`eq-loss`") == "Equation (1.1)"


def test_citations_from_the_bibliography(book):
    context = Context(book, "chapters/01_first", "notebooks")
    text = to_markdown(
        "As {cite:t}`vaswani2017` showed {cite:p}`vaswani2017,radford2018`; {cite}`bengio2003`.",
        context,
    )
    assert text == (
        "As Vaswani et al. (2017) showed (Vaswani et al., 2017; Radford and Narasimhan, 2018);"
        " (Bengio, 2003)."
    )
    assert context.cited == ["vaswani2017", "radford2018", "bengio2003"]
    refs = myst.references_markdown(context)
    assert refs.startswith("## References\n\n- Vaswani et al. (2017). Attention Is All You Need.")
    assert "<https://arxiv.org/abs/1706.03762>" in refs
    assert convert(book, "{cite:author}`bengio2003` in {cite:year}`bengio2003`") == "Bengio in 2003"
    with pytest.raises(MystError, match="no entry 'nobody1999'"):
        convert(book, "{cite:p}`nobody1999`")


def test_terms_index_code_roles_and_glue(book):
    assert convert(book, "a {term}`token`, {term}`tokens <token>`") == "a token, tokens"
    assert convert(book, "{index}`perplexity` and {index}`the loss <single: loss>`") == (
        "perplexity and the loss"
    )
    assert convert(book, "{py:func}`torch.softmax` {py:class}`~torch.nn.Linear`") == (
        "`torch.softmax()` `Linear`"
    )
    assert convert(book, "{py:meth}`~torch.Tensor.view` {py:mod}`gptcourse.bpe`") == (
        "`view()` `gptcourse.bpe`"
    )
    assert convert(book, "{math}`x^2` and {code}`x = 1`") == "$x^2$ and `x = 1`"
    assert convert(book, "gap {glue:text}`gap:.2f` nats, {glue:text}`gap`") == (
        "gap 0.12 nats, 0.12345"
    )
    with pytest.raises(MystError, match="nothing is glued as 'nothing'"):
        convert(book, "{glue:text}`nothing`")


def test_admonitions_become_blockquotes_with_a_title(book):
    text = """
    Before.

    ```{note}
    A note with a {term}`token`.
    ```

    ::::{admonition} Careful
    :class: warning
    Two lines,
    and code:

    ```python
    x = "{doc}`not a role in code`"
    ```
    ::::

    ````{important} First line
    The rest.
    ````
    """
    assert convert(book, text) == textwrap.dedent(
        """\
        Before.

        > **Note**
        >
        > A note with a token.

        > **Careful**
        >
        > Two lines,
        > and code:
        >
        > ```python
        > x = "{doc}`not a role in code`"
        > ```

        > **Important**
        >
        > First line
        > The rest."""
    )


def test_code_and_math_stay_as_written_and_labels_go(book):
    text = """
    (sec-x)=
    % a comment for authors
    Inline `{doc}` and ``{ref}`x` `` stay; so does $\\frac{a}{b}$.

    +++
    $$
    \\sum_i x_i
    $$ (eq-sum)

    ```{math}
    :label: eq-other
    a = b
    ```
    """
    assert convert(book, text) == textwrap.dedent(
        """\
        Inline `{doc}` and ``{ref}`x` `` stay; so does $\\frac{a}{b}$.

        $$
        \\sum_i x_i
        $$

        $$
        a = b
        $$"""
    )


def test_figures_definition_lists_and_links(book):
    text = """
    ```{figure} ../book/pic.png
    :name: fig-drawn
    :alt: A drawing

    A drawn figure.
    ```

    Token
    : a piece of text.

    See [the second chapter](02_second.ipynb), [the web](https://example.org),
    [this](#top).
    """
    assert convert(book, text) == textwrap.dedent(
        """\
        ![A drawing](../book/pic.png)

        **Figure 1.2** A drawn figure.

        - **Token**: a piece of text.

        See [the second chapter](02_second.ipynb), [the web](https://example.org),
        [this](#top)."""
    )
    assert (
        myst.figure_caption(
            {"name": "fig-losses", "caption": "Losses, {term}`x`."},
            Context(book, "chapters/01_first", "notebooks"),
        )
        == "**Figure 1.3** Losses, x."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{unknownrole}`x`", r"the role \{unknownrole\}"),
        ("{cite:alp}`vaswani2017`", r"the role \{cite:alp\}"),
        ("```{tableofcontents}\n```", r"the directive \{tableofcontents\}"),
        ("```{exercise}\nDo it.\n```", r"the directive \{exercise\}"),
        ("Hello {{ name }}.", "substitution"),
        ("A claim[^1].", "footnote"),
        ("{doc}`unclosed", "not closed"),
        ("```{note}\nnever closed", "never closed"),
        ("[broken](nowhere.md)", "points at nothing"),
    ],
)
def test_what_the_converter_does_not_know_fails(book, text, message):
    with pytest.raises(MystError, match=message):
        convert(book, text)


# ---- the real book


ROLE_OR_DIRECTIVE = re.compile(r"\{[A-Za-z][\w:.-]*\}`|^\s*(?:>\s*)*(?:`{3,}|:{3,})\{", re.M)


def _markdown_outside_code(source: str) -> str:
    lines, out, fence = source.split("\n"), [], None
    for line in lines:
        m = re.match(r"^\s*(?:>\s*)*(`{3,}|~{3,})(?!\{)", line)
        if fence is None and m:
            fence = m.group(1)
            continue
        if fence is not None:
            if line.strip().lstrip("> ").startswith(fence):
                fence = None
            continue
        out.append(re.sub(r"(`+)(?!\{).*?\1", "", line))
    return "\n".join(out)


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "exercises").glob("*.ipynb")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_myst_is_left_in_a_notebook_for_readers(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            left = ROLE_OR_DIRECTIVE.search(_markdown_outside_code(cell.source))
            assert not left, f"raw MyST in {path.name}: {cell.source[:200]!r}"
            for target in re.findall(r"\]\(([^)\s]+)\)", cell.source):
                if not re.match(r"^[a-z]+:|^#", target):
                    assert (path.parent / target.split("#")[0]).exists(), target


def test_numbers_agree_with_the_built_book():
    """Every label's number, as the converter computes it, is the one the book shows."""
    if not (HTML / "index.html").is_file():
        if os.environ.get("GPTCOURSE_REQUIRE_BOOK") == "1":
            pytest.fail("the book is not built: run `make book` first")
        pytest.skip("the book is not built: run `make book` first")
    book = Book()
    fmt = book.numfig_format["figure"]
    for docname in book.docnames():
        number = book.page_number(docname)
        html = (HTML / f"{docname}.html").read_text(encoding="utf-8")
        if number:
            assert f'<span class="section-number">{number}. </span>' in html, docname
    for label, target in book.targets.items():
        html = (HTML / f"{target.docname}.html").read_text(encoding="utf-8")
        if target.kind == "figure":
            pattern = rf'<span class="caption-number">{re.escape(fmt % target.number)} </span>'
            assert re.search(pattern, html), (label, target.number)
            assert f'id="{label}"' in html, label
