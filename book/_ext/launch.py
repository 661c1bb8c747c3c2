"""Launch buttons that open the notebooks readers can run, not the book's sources.

sphinx-book-theme's launch buttons (Binder, Colab, JupyterHub, ...) open the page's own
source. The book's sources are written for the book: MyST that Jupyter shows as raw
text, no set-up cell, and on exercise pages the solutions. So every launch URL is
rewritten to the generated copy (``tools/readers.py``, ``make readers``):

* ``chapters/NN_name`` opens ``notebooks/NN_name.ipynb``, ``appendices/x_name`` opens
  ``notebooks/x_name.ipynb``;
* ``exercises/solutions/NN_name`` opens the learner's ``exercises/NN_name.ipynb``,
  and the page says so at its top, with the same links.

The repository's URL is written once, in ``_config.yml`` (``repository.url``); pages
write ``{{ repository_url }}`` where they need it, code blocks included.

Registered in ``_config.yml`` under ``sphinx: local_extensions``.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx

#: The folders of the book's sources, and where the notebook a reader launches lives.
READER_FOLDERS = {
    "chapters/": "notebooks/",
    "appendices/": "notebooks/",
    "exercises/solutions/": "exercises/",
}
#: Stands in the exercise pages' note until the launch URLs are known.
PLACEHOLDER = "<!--gptcourse-learner-links-->"
#: Replaced by the repository's URL in every page, before MyST reads it.
REPOSITORY_URL = "{{ repository_url }}"


def reader_path(pagename: str) -> str | None:
    """The notebook a reader launches for a page, or None when the page has none."""
    for folder, copy in READER_FOLDERS.items():
        if pagename.startswith(folder) and "/" not in pagename[len(folder) :]:
            return f"{copy}{pagename[len(folder) :]}.ipynb"
    return None


def _buttons(context: dict) -> list[dict]:
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            return group.get("buttons", [])
    return []


def rewrite_launch_buttons(app: Sphinx, pagename: str, templatename, context: dict, doctree):
    """Point the page's launch buttons at its reader's copy (after the theme made them)."""
    target = reader_path(pagename)
    if target is None:
        return
    source = f"{pagename}.ipynb"
    links = []
    for button in _buttons(context):
        url = button.get("url")
        if not url:
            continue
        if source not in url:
            raise RuntimeError(f"{pagename}: a launch URL without {source}: {url}")
        button["url"] = url.replace(source, target)
        links.append(f'<a class="reference external" href="{button["url"]}">{button["text"]}</a>')
    if PLACEHOLDER in context.get("body", ""):
        repository = app.config.html_theme_options.get("repository_url", "").rstrip("/")
        branch = app.config.html_theme_options.get("repository_branch", "main")
        if repository:
            url = f"{repository}/blob/{branch}/{target}"
            links.append(f'<a class="reference external" href="{url}">GitHub</a>')
        shown = " or ".join([", ".join(links[:-1]), links[-1]] if len(links) > 1 else links)
        html = f"<code>{target}</code>" + (f" (open it on {shown})" if shown else "")
        context["body"] = context["body"].replace(PLACEHOLDER, html)


def add_learner_note(app: Sphinx, doctree: nodes.document, docname: str):
    """At the top of an exercise page: the learner's notebook, which has no solutions."""
    target = reader_path(docname)
    if target is None or not docname.startswith("exercises/"):
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    note = nodes.admonition(classes=["tip", "learner-notebook"])
    note += nodes.title(text="Work through them in a notebook")
    paragraph = nodes.paragraph()
    paragraph += nodes.Text(
        "These exercises, with a check after each one and without the solutions, are the notebook "
    )
    paragraph += nodes.raw("", PLACEHOLDER, format="html")
    paragraph += nodes.Text(
        ". The rocket button at the top of this page opens it too; in a copy of the course, "
    )
    paragraph += nodes.literal(text="make lab")
    paragraph += nodes.Text(" opens it in JupyterLab.")
    note += paragraph
    titles = [i for i, child in enumerate(section.children) if isinstance(child, nodes.title)]
    section.insert(titles[0] + 1 if titles else 0, note)


def fill_repository_url(app: Sphinx, docname: str, source: list[str]) -> None:
    """Write the repository's URL of ``_config.yml`` where a page asks for it."""
    if REPOSITORY_URL in source[0]:
        url = app.config.html_theme_options.get("repository_url", "")
        if not url:
            raise RuntimeError(f"{docname} uses {REPOSITORY_URL}, but _config.yml has none")
        source[0] = source[0].replace(REPOSITORY_URL, url.rstrip("/"))


def setup(app: Sphinx) -> dict:
    app.connect("source-read", fill_repository_url)
    app.connect("doctree-resolved", add_learner_note)
    # after sphinx-book-theme's add_launch_buttons (priority 501)
    app.connect("html-page-context", rewrite_launch_buttons, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
