"""Turn the book's MyST Markdown into plain Markdown that Jupyter and Colab render.

The chapters and exercise sources are written for the book (Jupyter Book, MyST): they
cross-reference pages and figures, cite papers, and use directives such as admonitions.
Outside the book none of that renders: Jupyter shows ``{doc}`` roles and ``{note}``
fences as raw text. The notebooks that readers launch (``notebooks/``, ``exercises/``)
are therefore generated, and their Markdown goes through :func:`to_markdown`:

=====================================  ==============================================
MyST                                    plain Markdown
=====================================  ==============================================
``{doc}`text <../chapters/02_x>```     ``[text](02_x.ipynb)``, relative to the
                                        generated notebook (chapters link to their
                                        reader copy in ``notebooks/``, exercise pages
                                        to the learner's notebook in ``exercises/``,
                                        book pages to their ``.md``); without text,
                                        the page's title
``{ref}`label``` / ``{ref}`text <l>```  the section's title (or the text), linked to
                                        its notebook when it is another page's
``{numref}`fig-x```                     "Fig. 3.2", numbered as the book numbers it
                                        (``numfig_format`` of ``_config.yml``;
                                        ``%s``/``{number}``/``{name}`` in an explicit
                                        text); also sections and equations
``{eq}`label```                         "(3.1)"
``{cite:p}`a,b``` / ``{cite}``          "(Vaswani et al., 2017; Radford et al., 2018)"
``{cite:t}`key```                       "Vaswani et al. (2017)"; also ``cite:ps``,
                                        ``cite:ts``, ``cite:author``, ``cite:year``
``{term}`text <term>```, ``{index}``    the text
``{glue:text}`name:.3f```, ``{glue}``   the value glued in the recorded notebook
``{glue:md}`name```                     the glued Markdown
``{py:func}`~torch.softmax```, ...      ```softmax()```: code font, as Sphinx shows
                                        it (``func``, ``meth``, ``class``, ``mod``,
                                        ``attr``, ``data``, ``exc``, ``obj``)
``{math}`x``` / ``{code}`x```           ``$x$`` / ```x```
```{note}``` and the other admonitions  a blockquote with a bold title
``{dropdown}``, ``{margin}``,           the same
``{sidebar}``, ``{topic}``
``{figure} path`` / ``{image}``         ``![alt](path)`` and "**Fig. 3.2** caption"
``{math}`` block, ``$$ .. $$ (label)``  ``$$ .. $$`` (labels dropped)
``{code-block} lang`` / ``{code}``      a fenced code block
``{glossary}``, definition lists        a list with bold terms
``(label)=``, ``% comment``, ``+++``    nothing
=====================================  ==============================================

Anything else that MyST would interpret (another role or directive, a substitution
``{{ x }}``, a footnote ``[^1]``) raises :class:`MystError`: a reader's notebook never
shows raw MyST.
Code (fenced blocks, inline code spans) and math are left exactly as written.

:class:`Book` holds what the conversion needs to know about the whole book: the
pages of ``_toc.yml`` and their numbers, every label (figures, sections, equations),
``book/references.bib`` and the glued values of the recorded notebooks.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Where the reader's copy of a page lives: chapters and appendices are copied to
#: ``notebooks/``; an exercise page becomes the learner's notebook in ``exercises/``.
READER_FOLDERS = {
    "chapters": "notebooks",
    "appendices": "notebooks",
    "exercises/solutions": "exercises",
}

#: Sphinx's default ``numfig_format``; ``_config.yml`` may override it.
NUMFIG_FORMAT = {
    "section": "Section %s",
    "figure": "Fig. %s",
    "table": "Table %s",
    "code-block": "Listing %s",
}

ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}
#: Directives whose argument is their title, shown as an admonition.
TITLED = {"admonition", "dropdown", "margin", "sidebar", "topic"}
CODE_DIRECTIVES = {"code-block", "code", "sourcecode"}
PY_ROLES = {"func", "meth", "class", "mod", "attr", "data", "exc", "obj", "const"}

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:.-]+)\}[ \t]*(?P<arg>.*)$")
ROLE = re.compile(r"\{(?P<name>[A-Za-z][\w:.+-]*)\}(?P<ticks>`+)")
TICKS = re.compile(r"`+")
LABEL_LINE = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<title>.+?)[ \t#]*$")
MATH_LABEL = re.compile(r"\$\$[ \t]*\((?P<label>[^()\s]+)\)[ \t]*$")
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^()\s]+)\)")
SUBSTITUTION = re.compile(r"\{\{.*?\}\}", re.S)
FOOTNOTE = re.compile(r"\[\^[^\]]+\]")


class MystError(ValueError):
    """A MyST construct that the converter does not know, or a reference it cannot resolve."""


# --------------------------------------------------------------------------------------
# What the book knows: pages, numbers, labels, citations, glued values.


@dataclass
class Target:
    """Something a role can point at."""

    kind: str  # "figure", "section", "equation", "page"
    docname: str
    number: str  # "3.2"; "" where the book does not number it
    title: str  # a section's or page's title, a figure's caption


@dataclass
class _Page:
    docname: str
    number: str  # the page's own number ("3" for chapter 3, "3.9" for its exercises)
    prefix: str  # the number figures and equations of this page are counted under


def _jupytext_read(path: Path):
    import jupytext

    return jupytext.read(path, fmt="py:percent" if path.suffix == ".py" else None)


@dataclass
class Book:
    """The book around a page: its table of contents, labels, references and glue."""

    root: Path = ROOT
    _glue: dict[str, dict] = field(default_factory=dict, repr=False)

    # ---- configuration

    @cached_property
    def config(self) -> dict:
        import yaml

        return yaml.safe_load((self.root / "_config.yml").read_text(encoding="utf-8")) or {}

    @cached_property
    def numfig_format(self) -> dict[str, str]:
        configured = (self.config.get("sphinx") or {}).get("config", {}).get("numfig_format")
        return {**NUMFIG_FORMAT, **(configured or {})}

    @cached_property
    def repository(self) -> tuple[str, str]:
        """``(url, branch)`` of the course's repository, from ``_config.yml``."""
        repo = self.config.get("repository") or {}
        url = str(repo.get("url", "")).rstrip("/")
        if not url:
            raise MystError("_config.yml has no repository.url")
        return url, str(repo.get("branch") or "main")

    # ---- pages and their numbers

    @cached_property
    def _pages(self) -> dict[str, _Page]:
        """Every page of ``_toc.yml`` in reading order, with the numbers Sphinx gives."""
        import yaml

        toc = yaml.safe_load((self.root / "_toc.yml").read_text(encoding="utf-8"))
        pages: dict[str, _Page] = {toc["root"]: _Page(toc["root"], "", "")}
        chapter = 0  # sphinx-multitoc-numbering numbers chapters across parts

        def add(entry: dict, numbered: bool, parent: str | None, index: int) -> None:
            nonlocal chapter
            name = entry["file"].removesuffix(".ipynb").removesuffix(".md")
            if not numbered:
                number = ""
            elif parent is None:
                chapter += 1
                number = str(chapter)
            else:  # a sub-page comes after the sections of its parent
                sections = self._section_count(parent)
                number = f"{pages[parent].number}.{sections + index}"
            prefix = number.split(".")[0] if number else ""
            pages[name] = _Page(name, number, prefix)
            for i, sub in enumerate(entry.get("sections", []), 1):
                add(sub, numbered, name, i)

        for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
            for entry in part.get("chapters", []):
                add(entry, bool(part.get("numbered")), None, 0)
        return pages

    def docnames(self) -> list[str]:
        return list(self._pages)

    def page_number(self, docname: str) -> str:
        return self._pages[docname].number

    def source_of(self, docname: str) -> Path:
        for suffix in (".py", ".md", ".ipynb"):
            path = self.root / f"{docname}{suffix}"
            if path.is_file():
                return path
        raise MystError(f"no source for the page {docname!r}")

    def _markdown_cells(self, docname: str) -> list[tuple[str, dict, str]]:
        """``(cell_type, metadata, source)`` of every cell of a page, in order."""
        path = self.source_of(docname)
        if path.suffix == ".md":
            return [("markdown", {}, path.read_text(encoding="utf-8"))]
        nb = _jupytext_read(path)
        return [(c.cell_type, dict(c.metadata), c.source) for c in nb.cells]

    def _section_count(self, docname: str) -> int:
        return sum(
            1
            for kind, _, text in self._markdown_cells(docname)
            if kind == "markdown"
            for line in _outside_code(text)
            if (m := HEADING.match(line)) and len(m["hashes"]) == 2
        )

    @cached_property
    def titles(self) -> dict[str, str]:
        return {name: self._scan(name)[0] for name in self._pages}

    @cached_property
    def targets(self) -> dict[str, Target]:
        """Every label of the book: figures, sections and equations."""
        found: dict[str, Target] = {}
        counters: dict[tuple[str, str], int] = {}  # (kind, prefix) -> how many so far
        for name, page in self._pages.items():
            for kind, label, title in self._scan(name)[1]:
                if kind == "section":
                    number = title[0]
                    title = title[1]
                else:
                    key = (kind, page.prefix)
                    counters[key] = counters.get(key, 0) + 1
                    number = ".".join(filter(None, [page.prefix, str(counters[key])]))
                if label in found:
                    raise MystError(f"the label {label!r} is defined twice ({name})")
                found[label] = Target(kind, name, number, title)
        return found

    def _scan(self, docname: str):
        """The page's title, and its labels: ``(kind, label, title)`` in page order."""
        page = self._pages[docname]
        title = ""
        labels = []
        sections = [0] * 7
        pending_label = None
        for kind, metadata, text in self._markdown_cells(docname):
            if kind == "code":
                figure = (metadata.get("mystnb") or {}).get("figure") or {}
                if figure.get("name"):
                    labels.append(("figure", figure["name"], figure.get("caption", "")))
                continue
            if kind != "markdown":
                continue
            in_options = False  # in the option lines of a directive
            for line in _outside_code(text):
                fence = FENCE.match(line)
                directive = fence and DIRECTIVE_INFO.match(fence["info"].strip())
                if directive:
                    name = directive["name"]
                    in_options = True
                    continue
                if in_options:
                    option = re.match(r"^:?(?P<key>name|label):[ \t]*(?P<value>\S+)", line)
                    if option and name in ("figure", "glue:figure") and option["key"] == "name":
                        labels.append(("figure", option["value"], ""))
                    elif option and name == "math" and option["key"] == "label":
                        labels.append(("equation", option["value"], ""))
                    if re.match(r"^(:[\w-]+:|---|[\w-]+:)", line):
                        continue
                    in_options = False
                if m := LABEL_LINE.match(line):
                    pending_label = m["label"]
                    continue
                if m := HEADING.match(line):
                    level = len(m["hashes"])
                    if level == 1 and not title:
                        title = m["title"]
                    sections[level] += 1
                    sections[level + 1 :] = [0] * (6 - level)
                    parts = [str(n) for n in sections[2 : level + 1]]
                    number = ".".join([page.number, *parts]) if page.number else ""
                    if pending_label:
                        labels.append(("section", pending_label, (number, m["title"])))
                elif m := MATH_LABEL.search(line):
                    labels.append(("equation", m["label"], ""))
                if line.strip():
                    pending_label = None
        return title, labels

    # ---- where a page's reader copy lives

    def reader_path(self, docname: str) -> str:
        """The file a reader opens for a page, relative to the repository root."""
        folder, _, stem = docname.rpartition("/")
        if folder in READER_FOLDERS:
            return f"{READER_FOLDERS[folder]}/{stem}.ipynb"
        return str(self.source_of(docname).relative_to(self.root))

    # ---- citations

    @cached_property
    def bibliography(self) -> dict:
        path = self.root / "book" / "references.bib"
        if not path.is_file():
            raise MystError(f"a citation needs {path.relative_to(self.root)}, which is missing")
        from pybtex.database import parse_file

        return dict(parse_file(str(path), bib_format="bibtex").entries)

    def _entry(self, key: str):
        try:
            return self.bibliography[key]
        except KeyError:
            raise MystError(f"no entry {key!r} in book/references.bib") from None

    def cite_author(self, key: str) -> str:
        entry = self._entry(key)
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [" ".join(p.prelast_names + p.last_names) for p in people]
        names = [_latex_to_text(n) for n in names]
        if not names:
            return _latex_to_text(entry.fields.get("organization", key))
        if len(names) == 1:
            return names[0]
        if len(names) == 2:
            return f"{names[0]} and {names[1]}"
        return f"{names[0]} et al."

    def cite_year(self, key: str) -> str:
        return str(self._entry(key).fields.get("year", "n.d."))

    def reference(self, key: str) -> str:
        """One line of a reference list, in Markdown."""
        entry = self._entry(key)
        f = {k.lower(): _latex_to_text(v) for k, v in entry.fields.items()}
        where = f.get("journal") or f.get("booktitle") or f.get("publisher") or ""
        text = f"{self.cite_author(key)} ({self.cite_year(key)}). {f.get('title', key)}."
        if where:
            text += f" *{where}*."
        link = f.get("url") or (f"https://doi.org/{f['doi']}" if "doi" in f else "")
        return text + (f" <{link}>" if link else "")

    # ---- glue

    def glued(self, docname: str, key: str) -> dict:
        """The mime bundle glued under ``key`` in the recorded notebook of a page."""
        if docname not in self._glue:
            import nbformat

            path = self.root / f"{docname}.ipynb"
            values = {}
            if path.is_file():
                for cell in nbformat.read(path, as_version=4).cells:
                    for out in cell.get("outputs", []):
                        meta = out.get("metadata", {}).get("scrapbook")
                        if meta:
                            prefix = meta.get("mime_prefix", "")
                            data = out.get("data", {})
                            values[meta["name"]] = {
                                k.removeprefix(prefix): v for k, v in data.items()
                            }
            self._glue[docname] = values
        try:
            return self._glue[docname][key]
        except KeyError:
            raise MystError(
                f"nothing is glued as {key!r} in {docname}.ipynb (record the notebook first)"
            ) from None


# --------------------------------------------------------------------------------------
# The conversion.


@dataclass
class Context:
    """Where the converted text goes: the page it comes from, the folder of its copy."""

    book: Book
    docname: str
    out_dir: str  # folder of the generated notebook, relative to the repository root
    where: str = ""  # for error messages: "chapters/01_x.py, cell 3"
    cited: list[str] = field(default_factory=list)  # keys, in order of first citation

    def fail(self, message: str):
        raise MystError(f"{self.where or self.docname}: {message}")

    def link_to(self, docname: str, anchor: str = "") -> str:
        path = self.book.reader_path(docname)
        rel = posixpath.relpath(path, self.out_dir or ".")
        return rel + (f"#{anchor}" if anchor else "")

    def resolve_doc(self, target: str) -> str:
        """The docname that a ``{doc}`` target names, relative to the current page."""
        target = target.strip().removesuffix(".ipynb").removesuffix(".md")
        if target.startswith("/"):
            name = posixpath.normpath(target.lstrip("/"))
        else:
            name = posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), target))
        if name not in self.book.docnames():
            self.fail(f"{{doc}} names {target!r}, which is not a page of _toc.yml")
        return name


def to_markdown(text: str, context: Context) -> str:
    """Plain Markdown for one markdown cell (or page) of MyST. See the module's docstring."""
    lines = text.split("\n")
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.extend(_inline("\n".join(paragraph), context).split("\n"))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            flush()
            end = _closing_fence(lines, i, fence)
            block = lines[i : end + 1]
            directive = DIRECTIVE_INFO.match(fence["info"].strip())
            if directive:
                body = lines[i + 1 : end]
                out.extend(_directive(directive["name"], directive["arg"], body, context))
            elif fence["fence"][0] == ":":
                context.fail(f"a colon fence without a directive: {line.strip()!r}")
            else:
                out.extend(block)  # code: untouched
            i = end + 1
            continue
        stripped = line.strip()
        if LABEL_LINE.match(stripped) or stripped == "+++" or stripped.startswith("%"):
            flush()
            i += 1
            continue
        if stripped.startswith("$$"):
            flush()
            end = i
            while not _closes_math(lines[end], first=end == i):
                end += 1
                if end == len(lines):
                    context.fail("a $$ block is never closed")
            block = lines[i : end + 1]
            block[-1] = MATH_LABEL.sub("$$", block[-1])
            out.extend(block)
            i = end + 1
            continue
        if stripped.startswith(": ") and paragraph:  # a definition list
            term = paragraph.pop()
            flush()
            out.append(f"- **{_inline(term.strip(), context)}**: " + _inline(stripped[2:], context))
            i += 1
            continue
        if not stripped:
            flush()
            out.append(line)
            i += 1
            continue
        paragraph.append(line)
        i += 1
    flush()
    return "\n".join(out)


def _closes_math(line: str, first: bool) -> bool:
    body = line.strip()
    if first:
        body = body[2:]
    return bool(re.search(r"\$\$[ \t]*(\([^()\s]+\))?[ \t]*$", body))


def _closing_fence(lines: list[str], start: int, fence: re.Match) -> int:
    char, length = fence["fence"][0], len(fence["fence"])
    for j in range(start + 1, len(lines)):
        candidate = lines[j].strip()
        if candidate and set(candidate) == {char} and len(candidate) >= length:
            return j
    raise MystError(f"the fence {lines[start].strip()!r} is never closed")


def _outside_code(text: str):
    """The lines of a MyST text outside code blocks (directive fences and bodies are in)."""
    lines = text.split("\n")
    open_directives: list[str] = []  # the fences of the directives we are inside
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if open_directives and stripped and set(stripped) == {open_directives[-1][0]}:
            if len(stripped) >= len(open_directives[-1]):
                open_directives.pop()
                yield line
                i += 1
                continue
        fence = FENCE.match(line)
        if fence and DIRECTIVE_INFO.match(fence["info"].strip()):
            open_directives.append(fence["fence"])
        elif fence:
            try:
                i = _closing_fence(lines, i, fence) + 1
            except MystError:
                return
            continue
        yield line
        i += 1


def _split_options(body: list[str]) -> tuple[dict[str, str], list[str]]:
    """A directive's options (``:key: value`` lines, or a ``---`` YAML block) and body."""
    options: dict[str, str] = {}
    if body and body[0].strip() == "---":
        import yaml

        end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), None)
        if end is None:
            raise MystError("a directive's option block (---) is never closed")
        options = {k: str(v) for k, v in (yaml.safe_load("\n".join(body[1:end])) or {}).items()}
        return options, body[end + 1 :]
    j = 0
    while j < len(body):
        m = re.match(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>.*)$", body[j])
        if not m:
            break
        options[m["key"]] = m["value"].strip()
        j += 1
    return options, body[j:]


def _quote(lines: list[str]) -> list[str]:
    return [f"> {ln}".rstrip() for ln in lines]


def _directive(name: str, arg: str, raw_body: list[str], context: Context) -> list[str]:
    options, body_lines = _split_options(raw_body)
    body = "\n".join(body_lines).strip("\n")
    if name in ADMONITIONS or name in TITLED:
        if name in ADMONITIONS:
            title = ADMONITIONS[name]
            if arg:  # these take no argument: MyST reads it as the body's first line
                body = f"{arg}\n{body}" if body else arg
        else:
            title = _inline(arg, context) if arg else name.capitalize()
        inner = to_markdown(body, context).split("\n") if body else []
        return _quote([f"**{title}**", "", *inner])
    if name in CODE_DIRECTIVES:
        fence = "`" * max(3, *(len(m) + 1 for m in TICKS.findall(body)))
        return [f"{fence}{arg.strip()}", *body.split("\n"), fence]
    if name == "math":
        return ["$$", *body.split("\n"), "$$"]
    if name in ("figure", "image"):
        return _figure(name, arg, options, body, context)
    if name == "index":
        return []
    if name == "glossary":
        out, term = [], None
        for line in body.split("\n"):
            if line and not line[0].isspace():
                term = line.strip()
            elif line.strip() and term:
                out.append(f"- **{term}**: {_inline(line.strip(), context)}")
                term = None
        return out
    context.fail(f"the directive {{{name}}} has no plain-Markdown form in tools/myst.py")
    return []  # pragma: no cover


def _figure(name, arg, options, body, context: Context) -> list[str]:
    image = arg.strip()
    if not re.match(r"^[a-z]+://", image):
        page_dir = posixpath.dirname(context.docname)
        path = posixpath.normpath(posixpath.join(page_dir, image))
        if not (context.book.root / path).is_file():
            context.fail(f"the image {image!r} does not exist")
        image = posixpath.relpath(path, context.out_dir or ".")
    alt = options.get("alt", "")
    lines = [f"![{alt}]({image})"]
    if name == "figure":
        label = options.get("name")
        number = context.book.targets[label].number if label in context.book.targets else ""
        caption = to_markdown(body, context).strip() if body else ""
        lines += ["", _caption_line(context.book, number, caption)]
    return lines


def _caption_line(book: Book, number: str, caption: str) -> str:
    """The caption line under a figure: "*Fig. 3.2* caption", as the book shows it."""
    if number:
        return f"**{book.numfig_format['figure'] % number}** {caption}".rstrip()
    return caption


def figure_caption(figure: dict, context: Context) -> str:
    """The Markdown caption line for a code cell's ``mystnb.figure`` metadata."""
    label = figure.get("name")
    target = context.book.targets.get(label) if label else None
    caption = to_markdown(figure.get("caption", ""), context).strip()
    return _caption_line(context.book, target.number if target else "", caption)


# ---- inline


def _inline(text: str, context: Context) -> str:
    """Convert the roles of a run of text; code spans and math stay as they are."""
    out: list[str] = []
    kept: list[str] = []  # converted roles, code and math: hidden from the link rewriting

    def keep(piece: str) -> None:
        kept.append(piece)
        out.append(f"\0{len(kept) - 1}\0")

    i = 0
    while i < len(text):
        role = ROLE.match(text, i)
        if role:
            ticks = role["ticks"]
            start = role.end()
            close = _find_ticks(text, start, len(ticks))
            if close < 0:
                context.fail(f"the role {{{role['name']}}} is not closed: {text[i : i + 60]!r}")
            keep(_role(role["name"], text[start:close], context))
            i = close + len(ticks)
            continue
        if text[i] == "`":
            run = TICKS.match(text, i).group(0)
            close = _find_ticks(text, i + len(run), len(run))
            end = len(text) if close < 0 else close + len(run)
            keep(text[i:end])
            i = end
            continue
        if text[i] == "$":
            close = _math_end(text, i)
            if close > i:
                keep(text[i:close])
                i = close
                continue
        j = i + 1
        while j < len(text) and text[j] not in "`${":
            j += 1
        out.append(text[i:j])
        i = j
    result = "".join(out)
    if SUBSTITUTION.search(result):
        context.fail(f"a substitution {SUBSTITUTION.search(result).group(0)!r} is MyST only")
    if FOOTNOTE.search(result):
        context.fail(f"a footnote {FOOTNOTE.search(result).group(0)!r} has no plain form here")
    result = LINK.sub(lambda m: _link(m, context), result)
    return re.sub("\0(\\d+)\0", lambda m: kept[int(m.group(1))], result)


def _math_end(text: str, i: int) -> int:
    """The end of ``$...$`` (or ``$$...$$``) math starting at ``i``, or ``i`` if none."""
    delim = "$$" if text.startswith("$$", i) else "$"
    start = i + len(delim)
    close = text.find(delim, start)
    if close < 0 or (delim == "$" and (close == start or text[start].isspace())):
        return i
    return close + len(delim)


def _find_ticks(text: str, start: int, n: int) -> int:
    for m in TICKS.finditer(text, start):
        if len(m.group(0)) == n:
            return m.start()
    return -1


def _link(match: re.Match, context: Context) -> str:
    target = match["target"]
    if re.match(r"^([a-z][\w+.-]*:|#|/)", target) and not target.startswith("/"):
        return match.group(0)  # a URL, mailto: or an anchor in the same notebook
    path, _, anchor = target.partition("#")
    name = posixpath.normpath(posixpath.join(posixpath.dirname(context.docname), path))
    stem = name.removesuffix(".ipynb").removesuffix(".md").removesuffix(".py")
    if stem in context.book.docnames():
        return f"[{match['text']}]({context.link_to(stem, anchor)})"
    if not (context.book.root / name).exists():
        context.fail(f"the link {target!r} points at nothing")
    return f"[{match['text']}]({posixpath.relpath(name, context.out_dir or '.')})"


def _explicit(content: str) -> tuple[str | None, str]:
    """``text <target>`` -> (text, target); ``target`` -> (None, target)."""
    m = EXPLICIT.match(content.strip())
    if m and m["text"]:
        return m["text"], m["target"].strip()
    return None, content.strip()


def _role(name: str, content: str, context: Context) -> str:
    book = context.book
    if name == "doc":
        text, target = _explicit(content)
        docname = context.resolve_doc(target)
        return f"[{text or book.titles[docname]}]({context.link_to(docname)})"
    if name in ("ref", "numref", "eq"):
        text, label = _explicit(content)
        found = book.targets.get(label)
        if found is None:
            context.fail(f"{{{name}}} names the label {label!r}, which is not defined")
        if name == "eq":
            shown = f"({found.number})"
        elif name == "ref":
            shown = text or found.title
        else:
            kind = "section" if found.kind == "page" else found.kind
            template = text or book.numfig_format.get(kind, "%s")
            if not found.number:
                context.fail(f"{{numref}} names {label!r}, which the book does not number")
            shown = (
                template.replace("%s", found.number)
                .replace("{number}", found.number)
                .replace("{name}", found.title)
            )
        if found.docname != context.docname and found.kind == "section":
            return f"[{shown}]({context.link_to(found.docname)})"
        return shown
    if name == "cite" or name.startswith("cite:"):
        return _cite(name.partition(":")[2] or "p", content, context)
    if name == "term":
        text, term = _explicit(content)
        return text or term
    if name == "index":
        text, _ = _explicit(content)
        return text if text is not None else content.strip().split(";")[0].strip()
    if name in ("glue", "glue:", "glue:any", "glue:text", "glue:md"):
        return _glue(name, content, context)
    if name.startswith("py:") and name[3:] in PY_ROLES:
        text, target = _explicit(content)
        if text is None:
            shown = target.lstrip("~")
            if target.startswith("~"):
                shown = shown.rsplit(".", 1)[-1]
            if name[3:] in ("func", "meth"):
                shown += "()"
        else:
            shown = text
        return f"`{shown}`"
    if name == "math":
        return f"${content}$"
    if name in ("code", "literal", "samp", "file", "kbd"):
        return f"`{content}`"
    if name in ("sub", "sup"):
        return f"<{name}>{content}</{name}>"
    if name == "abbr":
        text, _ = _explicit(content.replace("(", "<").replace(")", ">"))
        return text or content
    context.fail(f"the role {{{name}}} has no plain-Markdown form in tools/myst.py")
    return ""  # pragma: no cover


def _cite(mode: str, content: str, context: Context) -> str:
    book = context.book
    keys = [k.strip() for k in content.split(",") if k.strip()]
    for key in keys:
        book._entry(key)
        if key not in context.cited:
            context.cited.append(key)
    authors = [book.cite_author(k) for k in keys]
    years = [book.cite_year(k) for k in keys]
    if mode in ("p", "ps"):
        return "(" + "; ".join(f"{a}, {y}" for a, y in zip(authors, years, strict=True)) + ")"
    if mode in ("t", "ts"):
        return "; ".join(f"{a} ({y})" for a, y in zip(authors, years, strict=True))
    if mode == "author":
        return "; ".join(authors)
    if mode == "year":
        return "; ".join(years)
    context.fail(f"the role {{cite:{mode}}} has no plain-Markdown form in tools/myst.py")
    return ""  # pragma: no cover


def _glue(name: str, content: str, context: Context) -> str:
    from myst_nb.core.variables import format_plain_text

    key, fmt = content.strip(), ""
    if name == "glue:text" and ":" in key.split("::")[-1]:
        key, fmt = key.rsplit(":", 1)
    docname = context.docname
    if "::" in key:
        path, key = key.split("::", 1)
        docname = context.resolve_doc(path)
    bundle = context.book.glued(docname, key)
    if name == "glue:md":
        if "text/markdown" not in bundle:
            context.fail(f"{{glue:md}} {key!r}: no text/markdown was glued")
        return _inline(bundle["text/markdown"], context)
    if "text/plain" not in bundle:
        context.fail(f"{{{name}}} {key!r}: no text/plain was glued")
    return format_plain_text(bundle["text/plain"], fmt or ("s" if name == "glue:text" else ""))


def references_markdown(context: Context) -> str:
    """A "References" section for the works cited through ``context``, or ''."""
    if not context.cited:
        return ""
    lines = [f"- {context.book.reference(key)}" for key in context.cited]
    return "## References\n\n" + "\n".join(lines)


@cache
def _latex_to_text(value: str) -> str:
    """A BibTeX field as text: braces dropped, accents and dashes as characters."""
    from pybtex.backends.plaintext import Backend
    from pybtex.richtext import Text

    # Text.render_as("text") looks the backend up among every installed package's entry
    # points on each call (a tenth of a second each, minutes over the book); the plain
    # text backend is the one it finds.
    return Text.from_latex(value).render(Backend())


__all__ = [
    "Book",
    "Context",
    "MystError",
    "Target",
    "figure_caption",
    "references_markdown",
    "to_markdown",
]
