"""The built book as readers see it, in headless Chromium at 1440 px and at 390 px.

``tests/book_browser.py`` opens every page of the table of contents once (Playwright
driving the system's Chromium) and measures what the tests below assert: formulas
typeset, figures shown, solutions folded, nothing running off the page or cut at a box's
edge, no console errors, figures readable, launch buttons that open a notebook. Other
tests read the built HTML: citations, API links, glossary, index.

``make test`` builds the book first and sets ``GPTCOURSE_REQUIRE_BOOK=1``, which turns a
missing book into a failure instead of a skip. A missing browser (Chromium, or the
``playwright`` package that drives it) is a failure under ``CI=true`` (or
``GPTCOURSE_REQUIRE_BROWSER=1``); elsewhere those tests are skipped and the run's summary
says how to enable them (``conftest.py``).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import yaml
from book_browser import DESKTOP, HTML, WIDTHS, find_chromium, have_playwright, visit_book
from matplotlib import image as mpimg
from PIL import Image

from conftest import BOOK_TIMING, INSTALL_BROWSER, INSTALL_PLAYWRIGHT, NO_BROWSER

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("GPTCOURSE_REQUIRE_BOOK") == "1"
BROWSER_REQUIRED = (
    os.environ.get("CI", "").lower() == "true" or os.environ.get("GPTCOURSE_REQUIRE_BROWSER") == "1"
)
SCREENSHOT = ROOT / "_build" / "screenshots" / "chapter.png"

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import gptcourse_book  # noqa: E402  (the book's Sphinx extension)


def _missing(reason: str, required: bool = REQUIRED):
    if required:
        pytest.fail(reason)
    pytest.skip(reason)


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    walk(toc.get("parts", []))
    return files


PAGES = _toc_files()
CHAPTERS = [f for f in PAGES if f.startswith("chapters/")]
EXERCISES = [f for f in PAGES if f.startswith("exercises/")]


def _html(page: str) -> str:
    if not (HTML / "index.html").is_file():
        _missing("the book is not built: run `make book` first")
    return (HTML / f"{page}.html").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def book(request):
    """``{(page, width): PageReport}`` for every page of the toc at 1440 px and 390 px."""
    if not (HTML / "index.html").is_file():
        _missing("the book is not built: run `make book` first")
    chromium = find_chromium()
    if chromium is None:
        _missing(f"{NO_BROWSER}: {INSTALL_BROWSER}", required=BROWSER_REQUIRED)
    if not have_playwright():
        _missing(f"{NO_BROWSER} (Playwright): {INSTALL_PLAYWRIGHT}", required=BROWSER_REQUIRED)
    start = time.perf_counter()
    reports = visit_book(chromium, PAGES, screenshots={(CHAPTERS[0], DESKTOP): SCREENSHOT})
    request.config.stash[BOOK_TIMING] = (
        f"{len(PAGES)} pages of the book, each at {' and '.join(map(str, WIDTHS))} px, "
        f"measured in Chromium in {time.perf_counter() - start:.0f} s"
    )
    return reports


def test_every_page_of_the_toc_is_built():
    if not (HTML / "index.html").is_file():
        _missing("the book is not built: run `make book` first")
    missing = [f for f in PAGES if not (HTML / f"{f}.html").is_file()]
    assert not missing


# ------------------------------------------------------------------------ in the browser


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_renders_math_and_figures(book, page):
    static = _html(page)
    assert "cdn.jsdelivr" not in static and "mathjax/tex-chtml.js" in static  # offline MathJax
    content = book[page, DESKTOP].content
    assert content["mathSource"] > 0, "a chapter without a formula: is the page the right one?"
    assert content["typeset"] >= content["mathSource"], (
        f"{content['typeset']} of {content['mathSource']} formulas were typeset"
    )
    assert content["mathErrors"] == 0, "MathJax reported a TeX error"

    figures = [f for f in book[page, DESKTOP].figures if "_images/" in f["src"]]
    assert figures, "no figure rendered on the page"
    for figure in figures:
        assert figure["complete"], f"{figure['src']} did not load"
        file = ((HTML / page).parent / figure["src"]).resolve()
        pixels = mpimg.imread(file)
        assert pixels.shape[0] > 50 and pixels.shape[1] > 50
        assert float(np.std(pixels)) > 0.01, f"{figure['src']} is blank"


@pytest.mark.parametrize("page", EXERCISES)
def test_exercise_solutions_are_folded(book, page):
    content = book[page, DESKTOP].content
    assert content["exercises"] > 0
    assert content["solutions"] > 0, f"{page}: no solution"
    assert content["foldedSolutions"] == content["solutions"], "a solution is open"
    assert content["mathErrors"] == 0


def test_screenshot_of_first_chapter_is_not_blank(book):
    pixels = mpimg.imread(SCREENSHOT)
    assert float(np.std(pixels)) > 0.05


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_page_fits_the_window(book, page, width):
    """Nothing runs off the page or is cut at a box's edge; code and formulas may scroll
    inside their own box. At 390 px the page never scrolls sideways."""
    problems = book[page, width].overflow
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_outputs_fit_their_boxes(book, page, width):
    """Printed output and error messages wrap: none is wider than its box. (Code, in
    cells and in the text, keeps its lines and may scroll inside its box.)"""
    wide = [p for p in book[page, width].wide_pre if p["kind"] == "output"]
    assert not wide, "\n".join(f"{p['excess']} px too wide: {p['text']}" for p in wide)


@pytest.mark.parametrize("page", CHAPTERS + EXERCISES)
def test_code_cells_fit_their_boxes_at_desktop_width(book, page):
    wide = [p for p in book[page, DESKTOP].wide_pre if p["kind"] == "input"]
    assert not wide, "\n".join(f"{p['excess']} px too wide: {p['text']}" for p in wide)


@pytest.mark.parametrize("page", PAGES)
def test_no_console_errors_and_nothing_from_the_network(book, page):
    report = book[page, DESKTOP]
    assert not report.page_errors, report.page_errors
    assert not report.console_errors, report.console_errors
    assert not report.network, f"the page loads from the network: {report.network}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_one_search_field(book, page, width):
    assert book[page, width].content["visibleSearchFields"] == 1


#: Alt text that is only a file name or a path ("fig.png", "../_images/9a50...png").
FILE_NAME = re.compile(r"^\S+\.(png|jpe?g|svg|gif|webp)$|^[0-9a-f]{16,}", re.I)


@pytest.mark.parametrize("page", CHAPTERS + EXERCISES)
def test_figures_have_alt_text_and_a_caption(book, page):
    if not book[page, DESKTOP].figures:
        pytest.skip("no figure on this page")
    problems = []
    for figure in book[page, DESKTOP].figures:
        alt = (figure["alt"] or "").strip()
        if not alt or FILE_NAME.search(alt):
            problems.append(f"{figure['src']}: alt text {alt!r}")
        if not figure["caption"]:
            problems.append(f"{figure['src']}: no caption")
    assert not problems, "\n".join(problems)


#: The chunk that gptcourse's figures carry: the smallest text height, in PNG pixels.
MIN_TEXT_CHUNK = "gptcourse-min-text-px"
#: 9 pt, in CSS pixels.
MIN_TEXT_CSS_PX = 12


@pytest.mark.parametrize("page", CHAPTERS + EXERCISES)
def test_figure_text_is_at_least_9_points_as_displayed(book, page):
    if not book[page, DESKTOP].figures:
        pytest.skip("no figure on this page")
    problems = []
    for figure in book[page, DESKTOP].figures:
        file = ((HTML / page).parent / figure["src"]).resolve()
        with Image.open(file) as image:
            chunk = getattr(image, "text", {}).get(MIN_TEXT_CHUNK)
        if chunk is None:
            problems.append(f"{figure['src']}: no {MIN_TEXT_CHUNK} text chunk")
            continue
        shown = float(chunk) * figure["renderedWidth"] / figure["naturalWidth"]
        if shown < MIN_TEXT_CSS_PX:
            problems.append(f"{figure['src']}: its smallest text is {shown:.1f} CSS px")
    assert not problems, "\n".join(problems)


def launch_target(href: str) -> str | None:
    """The repository path of the notebook that a launch button opens."""
    url = urlparse(href)
    query = parse_qs(url.query)
    if url.netloc == "colab.research.google.com":
        match = re.match(r"/github/[^/]+/[^/]+/blob/[^/]+/(.+)$", url.path)
        return match[1] if match else None
    if "/v2/gh/" in url.path:  # BinderHub
        for key in ("urlpath", "labpath", "filepath"):
            if key in query:
                return re.sub(r"^/?(lab/tree|tree|notebooks)/", "", query[key][0])
        return None
    if "git-pull" in url.path and "urlpath" in query:  # JupyterHub's nbgitpuller
        repo = query.get("repo", [""])[0].rstrip("/").split("/")[-1]
        return re.sub(rf"^/?(lab/tree|tree)/{re.escape(repo)}/", "", query["urlpath"][0])
    return None


def test_launch_target_understands_the_buttons():
    assert (
        launch_target(
            "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/notebooks/01_language_models.ipynb"
        )
        == "notebooks/01_language_models.ipynb"
    )
    assert (
        launch_target(
            "https://colab.research.google.com/github/o/r/blob/main/exercises/03_tokenisation.ipynb"
        )
        == "exercises/03_tokenisation.ipynb"
    )
    assert (
        launch_target(
            "https://hub.example.org/hub/user-redirect/git-pull?repo=https://github.com/o/gptcourse"
            "&urlpath=lab/tree/gptcourse/notebooks/03_x.ipynb&branch=main"
        )
        == "notebooks/03_x.ipynb"
    )


@pytest.mark.parametrize("page", CHAPTERS + EXERCISES)
def test_launch_buttons_open_a_generated_notebook(book, page):
    stem = Path(page).name
    if page.startswith("chapters/"):
        expected = re.compile(rf"notebooks/(.+/)?{re.escape(stem)}\.ipynb")
    else:
        expected = re.compile(rf"exercises/{re.escape(stem)}\.ipynb")
    links = book[page, DESKTOP].launch_links
    assert links, "no launch buttons"
    for link in links:
        target = launch_target(link["href"])
        assert target, f"{link['title']}: cannot tell which notebook {link['href']} opens"
        assert expected.fullmatch(target), f"{link['title']} opens {target}"
        assert (ROOT / target).is_file(), f"{link['title']} opens {target}, not in the repository"


# ------------------------------------------------------------------- in the built HTML


def test_no_thebe_on_any_page():
    for page in PAGES:
        html = _html(page)
        assert "THEBE_JS_URL" not in html and "sphinx-thebe" not in html, page


@pytest.mark.parametrize("page", EXERCISES)
def test_solutions_show_no_markers_and_exercises_are_numbered_apart_from_sections(page):
    html = _html(page)
    assert "BEGIN SOLUTION" not in html and "END SOLUTION" not in html
    chapter = int(Path(page).name.split("_")[0])
    numbers = re.findall(r"Exercise (\d+[-.]\d+)", html)
    assert numbers, "no numbered exercise"
    assert set(numbers) == {f"{chapter}-{n}" for n in range(1, len(set(numbers)) + 1)}


def test_citations_link_to_the_bibliography():
    intro = _html("book/intro")
    cites = re.findall(r'<a class="reference internal" href="references.html#(id\d+)"', intro)
    assert cites, "the intro cites no paper"
    text = re.sub(r"<[^>]+>", "", intro)
    assert "(Radford et al., 2018)" in text  # {cite:p}
    assert "Vaswani et al. (2017)" in text  # {cite:t}
    references = _html("book/references")
    for anchor in cites:
        assert f'id="{anchor}"' in references
    entries = re.findall(r'<div class="citation" id="[^"]+" role="doc-biblioentry">', references)
    assert len(entries) >= 35
    assert "Vaswani et al., 2017" in references and "Attention Is All You Need" in references
    assert "https://arxiv.org/abs/1706.03762" in references


def test_api_names_link_to_their_documentation():
    glossary = _html("book/glossary")
    for url in (
        "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional"
        ".scaled_dot_product_attention.html#torch.nn.functional.scaled_dot_product_attention",
        "https://docs.pytorch.org/docs/stable/generated/torch.nn.Embedding.html",
        "https://huggingface.co/docs/transformers/model_doc/gpt2#transformers.GPT2Tokenizer",
        "https://huggingface.co/docs/tokenizers/api/models#tokenizers.models.BPE",
        "https://github.com/openai/tiktoken/blob/",
    ):
        assert f'href="{url}' in glossary, url


def test_glossary_defines_terms_with_a_chapter_and_a_chinese_rendering():
    glossary = _html("book/glossary")
    definitions = re.findall(r"<dd>(.*?)</dd>", glossary, re.S)
    assert len(definitions) >= 35
    for definition in definitions:
        assert re.search(r"[\u4e00-\u9fff]", definition), definition[:80]
        names_its_chapter = r"(Built|Introduced|Shown|Discussed|Explained|Measured) in\s"
        assert re.search(names_its_chapter, definition), definition[:80]
    for term in ("self-attention", "KV cache", "RoPE", "perplexity", "LoRA", "top-p sampling"):
        assert f'id="term-{term.replace(" ", "-")}"' in glossary, term


def test_the_index_lists_terms_and_is_in_the_navigation():
    index = _html("genindex")
    assert len(re.findall(r"<li><a href=", index)) >= 30
    assert "glossary.html#term-self-attention" in index
    intro = _html("book/intro")
    nav = intro[intro.index("bd-docs-nav") :]
    assert 'href="../genindex.html"' in nav and 'href="glossary.html"' in nav


# --------------------------------------------------------------------- the book's tools


def test_solution_markers_are_stripped_and_nothing_else():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n# BEGIN"
    assert gptcourse_book.strip_solution_markers(source) == "def f(x):\n    return 2 * x\n# BEGIN"


def test_exercise_numbers_read_chapter_dash_exercise():
    assert gptcourse_book.exercise_number((3, 2)) == ("3-2",)
    assert gptcourse_book.exercise_number((4,)) == ("4",)


def test_bibliography_labels_are_author_year_and_unique():
    from pybtex.database import parse_string

    bib = parse_string(
        """
        @misc{a, author = {Ann Smith and Bob Jones and Cy Li}, title = {A}, year = {2020}}
        @misc{b, author = {Ann Smith and Bob Jones and Cy Li}, title = {B}, year = {2020}}
        @misc{c, author = {Ann Smith and Bob Jones}, title = {C}, year = {2021}}
        @misc{d, author = {nostalgebraist}, title = {D}, year = {2020}}
        @misc{e, author = {Federico Lebr{\\'o}n}, title = {E}, year = {2023}}
        """,
        "bibtex",
    )
    labels = list(gptcourse_book.AuthorYearLabels().format_labels(bib.entries.values()))
    assert labels == [
        "Smith et al., 2020a",
        "Smith et al., 2020b",
        "Smith and Jones, 2021",
        "nostalgebraist, 2020",
        "Lebrón, 2023",
    ]


def test_inventories_are_where_the_config_says_with_the_real_base_urls():
    sys.path.insert(0, str(ROOT))
    from tools import inventories

    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    mapping = config["intersphinx_mapping"]
    assert config.get("nitpicky") is True  # an unknown API name fails the build
    for project in inventories.PROJECTS:
        base, path = mapping[project.key]
        assert (ROOT / path).is_file(), path
        assert base == inventories.base_url(project), project.key
        header = (ROOT / path).read_bytes().split(b"\n")[2].decode()
        assert header == f"# Version: {project.version()}", (
            f"{path} was written for another version: run `python tools/inventories.py generate`"
        )


@pytest.mark.parametrize(
    ("name", "role", "url"),
    [
        (
            "torch.nn.functional.scaled_dot_product_attention",
            "py:function",
            "https://docs.pytorch.org/docs/stable/generated/torch.nn.functional"
            ".scaled_dot_product_attention.html#torch.nn.functional.scaled_dot_product_attention",
        ),
        ("torch.softmax", "py:function", "generated/torch.softmax.html#torch.softmax"),
        ("torch.nn.Linear", "py:class", "generated/torch.nn.Linear.html#torch.nn.Linear"),
        ("torch.nn.Module.forward", "py:method", "torch.nn.Module.html#torch.nn.Module.forward"),
        ("torch.Tensor.view", "py:method", "generated/torch.Tensor.view.html#torch.Tensor.view"),
        ("torch.optim.AdamW", "py:class", "generated/torch.optim.AdamW.html"),
        ("torch.nn.init.normal_", "py:function", "nn.init.html#torch.nn.init.normal_"),
        ("torch.utils.data.DataLoader", "py:class", "data.html#torch.utils.data.DataLoader"),
        ("torch.Tensor", "py:class", "tensors.html#torch.Tensor"),
        (
            "transformers.GPT2LMHeadModel",
            "py:class",
            "https://huggingface.co/docs/transformers/model_doc/gpt2#transformers.GPT2LMHeadModel",
        ),
        ("transformers.pipeline", "py:function", "main_classes/pipelines#transformers.pipeline"),
        ("transformers.AutoModelForCausalLM", "py:class", "model_doc/auto#transformers.Auto"),
        ("transformers.GenerationMixin.generate", "py:method", "main_classes/text_generation#"),
        ("tokenizers.models.BPE", "py:class", "api/models#tokenizers.models.BPE"),
        ("tiktoken.get_encoding", "py:function", "/tiktoken/registry.py#L"),
        ("math.log", "py:function", "https://docs.python.org/3/library/math.html#math.log"),
        ("str.join", "py:method", "library/stdtypes.html#str.join"),
        ("collections.Counter", "py:class", "library/collections.html#collections.Counter"),
    ],
)
def test_inventory_links(name, role, url):
    sys.path.insert(0, str(ROOT))
    from tools import inventories

    found = {}
    for project in inventories.PROJECTS:
        path = inventories.OUTPUT / f"{project.key}.inv"
        for found_role, items in inventories.load(path, project.base_url).items():
            if name in items:
                found[found_role] = items[name]
    assert role in found, f"{name} is not in the inventories as {role}: {found}"
    assert url in found[role]


def test_linkcheck_finds_missing_pages_and_anchors_and_lists_external_links(tmp_path):
    sys.path.insert(0, str(ROOT))
    from tools import linkcheck

    (tmp_path / "sub").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#here">ok</a> <a href="sub/page.html#gone">no anchor</a>'
        '<a href="missing.html">no page</a> <img src="_images/x.png">'
        '<a href="https://example.org/a">out</a> <a href="#top">self</a><p id="top"></p>'
    )
    (tmp_path / "sub" / "page.html").write_text('<h1 id="here">x</h1><a href="../index.html">')
    broken, external = linkcheck.check(tmp_path)
    assert broken == [
        "index.html: sub/page.html#gone -> no anchor #gone in page.html",
        "index.html: missing.html -> no such file",
        "index.html: _images/x.png -> no such file",
    ]
    assert external == {"https://example.org/a": {"index.html"}}


def test_every_internal_link_of_the_book_resolves():
    sys.path.insert(0, str(ROOT))
    from tools import linkcheck

    _html("book/intro")  # skips (or fails) when the book is not built
    broken, _ = linkcheck.check(HTML)
    assert not broken, "\n".join(broken)
