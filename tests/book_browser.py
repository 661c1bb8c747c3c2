"""Open the built book in headless Chromium (through Playwright) and measure what a reader sees.

``tests/test_book.py`` asserts on what this module measures. One browser serves the whole
test session; each page of the book is loaded once at each width (``WIDTHS``), in its own
browser context, and everything the tests need is measured during that one visit
(:class:`PageReport`). Playwright drives the system's Chromium (``executable_path``): it
never downloads a browser of its own.

Run it by hand to see the measurements of one page::

    .venv/bin/python tests/book_browser.py chapters/04_self_attention
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"

#: A desktop window and a phone's (an iPhone 12 to 15 is 390 CSS pixels wide).
DESKTOP, PHONE = 1440, 390
WIDTHS = (DESKTOP, PHONE)
HEIGHTS = {DESKTOP: 900, PHONE: 844}

#: Chromium's command-line flags: headless in a container, nothing fetched in the background.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Pages loaded at once (each in its own browser context).
PARALLEL_PAGES = 2


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def have_playwright() -> bool:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return False
    return True


# Waits until MathJax has typeset the page (when it has formulas) and the fonts are in, so
# that what is measured next is the layout a reader sees.
SETTLE_JS = """async () => {
  if (document.querySelector('script[src*="mathjax"]')) {
    for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
      await new Promise(r => setTimeout(r, 25));
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  }
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""

NO_TRANSITIONS = (
    "*, *::before, *::after { transition: none !important; animation: none !important; }"
)

# Everything that reaches past the right edge of the window, or of a box that clips it.
# Content may reach past its box only inside a box that scrolls and is meant to: code
# blocks and display math (and tables, which the theme wraps in a scrolling box).
OVERFLOW_JS = """() => {
  const OWN_SCROLLERS = 'pre, div.highlight, div.math, mjx-container, ' +
                        '.pst-scrollable-table-container, .table-wrapper';
  const root = document.documentElement;
  const W = root.clientWidth;
  const describe = el => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.classList.length) s += '.' + [...el.classList].slice(0, 3).join('.');
    const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
    return text ? `${s} "${text}"` : s;
  };
  const problems = [];
  if (root.scrollWidth > W + 1)
    problems.push(`the page scrolls sideways: ${root.scrollWidth} px wide in a ${W} px window`);
  const seen = new Set();
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('mjx-assistive-mml')) continue;  // MathJax's copy for screen readers
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || r.right <= W + 1 || r.left >= W) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    let box = el.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === 'visible')
      box = box.parentElement;
    if (box && box !== document.body) {
      const b = box.getBoundingClientRect();
      if (r.right <= b.right + 1) continue;  // inside its box, which itself is checked
      if (box.matches(OWN_SCROLLERS)) continue;  // scrolls inside its own box: allowed
      if (seen.has(box)) continue;
      seen.add(box);
      problems.push(`${describe(el)} is cut at the right edge of ${describe(box)}`);
    } else {
      if (seen.has(el.parentElement)) { seen.add(el); continue; }
      seen.add(el);
      problems.push(`${describe(el)} reaches ${Math.round(r.right)} px, past the ${W} px window`);
    }
  }
  return problems;
}"""

# Every <pre> whose text is wider than its box: {kind: input|output, text: first line}.
WIDE_PRE_JS = """() => [...document.querySelectorAll('article pre')]
  .filter(p => p.getBoundingClientRect().width > 0 && p.scrollWidth > p.clientWidth + 1)
  .map(p => ({
    kind: p.closest('div.cell_input') ? 'input'
      : (p.closest('div.cell_output') ? 'output' : 'other'),
    excess: p.scrollWidth - p.clientWidth,
    text: p.textContent.split('\\n')
      .reduce((a, b) => (b.length > a.length ? b : a), '').slice(0, 100),
  }))"""

# The figures of the page: cell outputs and figure directives.
FIGURES_JS = """() => [...document.querySelectorAll('article img')]
  .filter(img => img.closest('div.cell_output, figure, div.figure'))
  .map(img => {
    const fig = img.closest('figure, div.figure');
    const caption = fig ? fig.querySelector('figcaption, p.caption') : null;
    return {
      src: img.getAttribute('src'),
      alt: img.getAttribute('alt'),
      caption: caption ? caption.textContent.trim() : '',
      renderedWidth: img.getBoundingClientRect().width,
      naturalWidth: img.naturalWidth,
      complete: img.complete && img.naturalWidth > 0,
    };
  })"""

# The launch buttons (Binder, Colab, JupyterHub, ...) of the page's header.
LAUNCH_JS = """() => [...document.querySelectorAll('.dropdown-launch-buttons a[href]')]
  .map(a => ({title: a.getAttribute('title') || a.textContent.trim(), href: a.href}))"""

# What the page shows: counts of typeset formulas, math errors, folded solutions.
CONTENT_JS = """() => ({
  mathSource: document.querySelectorAll('.math.notranslate.nohighlight').length,
  typeset: document.querySelectorAll('mjx-container').length,
  mathErrors: document.querySelectorAll('mjx-merror').length,
  exercises: document.querySelectorAll('div.exercise.admonition').length,
  foldedSolutions: [...document.querySelectorAll('div.solution.dropdown')]
    .filter(d => !d.querySelector('details') || !d.querySelector('details').open).length,
  solutions: document.querySelectorAll('div.solution').length,
  visibleSearchFields: [...document.querySelectorAll('.search-button-field, .search-button')]
    .filter(e => e.getBoundingClientRect().width > 0
                 && getComputedStyle(e).visibility !== 'hidden').length,
})"""


@dataclass
class PageReport:
    """What one page of the book showed at one window width."""

    page: str
    width: int
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)
    wide_pre: list[dict] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    launch_links: list[dict] = field(default_factory=list)
    content: dict = field(default_factory=dict)
    seconds: float = 0.0


async def _measure(page, report: PageReport, screenshot: Path | None) -> None:
    await page.evaluate(SETTLE_JS)
    report.overflow = await page.evaluate(OVERFLOW_JS)
    report.wide_pre = await page.evaluate(WIDE_PRE_JS)
    report.figures = await page.evaluate(FIGURES_JS)
    report.content = await page.evaluate(CONTENT_JS)
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(screenshot))


async def _visit(browser, page_name: str, screenshots: dict) -> list[PageReport]:
    """Load ``page_name`` once in a desktop window, measure, narrow it to a phone's, measure.

    Narrowing the window of a loaded page lays it out exactly as loading it narrow would
    (nothing in the book lays out by script at load time) and halves the suite's time.
    """
    start = time.perf_counter()
    reports = [PageReport(page_name, width) for width in WIDTHS]
    first = reports[0]
    context = await browser.new_context(
        viewport={"width": WIDTHS[0], "height": HEIGHTS[WIDTHS[0]]}, device_scale_factor=1
    )
    try:
        page = await context.new_page()
        page.on(
            "console",
            lambda m: first.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: first.page_errors.append(str(e)))
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(("file:", "data:", "blob:"))
                else first.network.append(r.url)
            ),
        )
        await page.goto((HTML / f"{page_name}.html").as_uri(), wait_until="load")
        # Measure the layout the window settles in, not a sidebar halfway through sliding.
        await page.add_style_tag(content=NO_TRANSITIONS)
        first.launch_links = await page.evaluate(LAUNCH_JS)
        for report in reports:
            if report is not first:
                await page.set_viewport_size(
                    {"width": report.width, "height": HEIGHTS[report.width]}
                )
            await _measure(page, report, screenshots.get((page_name, report.width)))
    finally:
        await context.close()
    for report in reports:
        report.seconds = (time.perf_counter() - start) / len(reports)
    return reports


async def _visit_all(chromium: str, pages: list[str], screenshots: dict) -> dict:
    from playwright.async_api import async_playwright

    limit = asyncio.Semaphore(PARALLEL_PAGES)

    async def one(browser, name):
        async with limit:
            return await _visit(browser, name, screenshots)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            visits = await asyncio.gather(*(one(browser, name) for name in pages))
        finally:
            await browser.close()
    return {(r.page, r.width): r for reports in visits for r in reports}


def visit_book(
    chromium: str, pages: list[str], screenshots: dict | None = None
) -> dict[tuple[str, int], PageReport]:
    """Load every page at every width of ``WIDTHS``: ``{(page, width): PageReport}``.

    ``screenshots`` maps ``(page, width)`` to a PNG path to write.
    """
    return asyncio.run(_visit_all(chromium, pages, screenshots or {}))


if __name__ == "__main__":
    found = find_chromium()
    if not found:
        sys.exit("no Chromium found")
    started = time.perf_counter()
    results = visit_book(found, sys.argv[1:] or ["book/intro"])
    for (name, width), result in sorted(results.items()):
        print(f"== {name} at {width} px ({result.seconds:.1f} s)")
        print(json.dumps({k: v for k, v in vars(result).items() if v}, indent=1, default=str))
    print(f"{len(results)} page loads in {time.perf_counter() - started:.1f} s")
