"""Check every link of the built book: internal links and anchors must resolve.

    python tools/linkcheck.py [_build/html]

Reads every HTML page of the built book (``make book``) and follows each ``href`` and
``src`` that stays inside the book: the file must exist and, when the link names an
anchor (``page.html#section``), the page must have an element with that id. Any that does
not is printed and the command fails. Links out of the book (``https://...``) are not
followed, since the book is built offline; they are listed, with the pages that use them,
in ``_build/linkcheck/external.txt`` for a human or an online job to check.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HTML = ROOT / "_build" / "html"
#: Folders of the build that hold third-party assets, not pages of the book.
NOT_PAGES = ("_static", "_sources", "_images", ".doctrees")
#: Link schemes that lead nowhere to check.
IGNORED_SCHEMES = ("javascript", "data", "blob", "about")


class _Page(HTMLParser):
    """The ids of a page and the links it makes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name") if tag in ("a", "map") else ("id",):
            if attributes.get(key):
                self.ids.add(attributes[key])
        for key in ("href", "src"):
            value = attributes.get(key)
            if value is not None and not (tag == "link" and attributes.get("rel") == "preconnect"):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def check(html: Path) -> tuple[list[str], dict[str, set[str]]]:
    """(broken internal links, {external URL: pages that link to it})."""
    pages = sorted(p for p in html.rglob("*.html") if p.relative_to(html).parts[0] not in NOT_PAGES)
    parsed: dict[Path, _Page] = {}

    def page_of(path: Path) -> _Page:
        if path not in parsed:
            parsed[path] = _parse(path)
        return parsed[path]

    broken: list[str] = []
    external: dict[str, set[str]] = defaultdict(set)
    for path in pages:
        where = path.relative_to(html).as_posix()
        for link in page_of(path).links:
            parts = urlsplit(link)
            if parts.scheme in IGNORED_SCHEMES:
                continue
            if parts.scheme or parts.netloc:
                external[link].add(where)
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(html.resolve()) and not target.is_relative_to(html):
                broken.append(f"{where}: {link} leads out of the book")
                continue
            if not target.exists():
                broken.append(f"{where}: {link} -> no such file")
                continue
            anchor = unquote(parts.fragment)
            if anchor and target.suffix == ".html" and anchor not in page_of(target).ids:
                broken.append(f"{where}: {link} -> no anchor #{anchor} in {target.name}")
    return broken, external


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", type=Path, default=DEFAULT_HTML)
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        print(f"{args.html} holds no built book: run `make book` first")
        return 2
    broken, external = check(args.html)
    report = args.html.parent / "linkcheck" / "external.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{url}\n    {', '.join(sorted(pages))}" for url, pages in sorted(external.items())]
    report.write_text(
        f"# {len(external)} links out of the book, not followed (the build is offline)\n"
        + "\n".join(lines)
        + "\n",
        encoding="utf-8",
    )
    for line in broken:
        print(line)
    print(
        f"{len(broken)} broken internal links; {len(external)} external links listed in "
        f"{report.relative_to(ROOT) if report.is_relative_to(ROOT) else report}"
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
