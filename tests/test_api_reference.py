"""The API reference (book/api.md, Appendix E) documents every public name of the package.

Without a built book: every public module is on the page, and every name it exports
(its ``__all__``, or the public names it defines when it has none) has a docstring, or
for data a ``#:`` comment that Sphinx reads. With a built book: every such name is an
anchor of the rendered page, where autodoc put its entry.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
from pathlib import Path

import pytest

import gptcourse

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "book" / "api.md"
HTML = ROOT / "_build" / "html" / "book" / "api.html"
#: Left out on purpose: the exercise checks (their hints would give the answers away).
LEFT_OUT = re.compile(r"gptcourse\.checks\.ch\d\d$")


def _modules() -> list[str]:
    names = [
        m.name
        for m in pkgutil.walk_packages(gptcourse.__path__, "gptcourse.")
        if not any(part.startswith("_") for part in m.name.split("."))
    ]
    return sorted(n for n in names if not LEFT_OUT.match(n))


def _documented_modules() -> list[str]:
    return re.findall(r"^\.\. automodule:: (\S+)", PAGE.read_text(encoding="utf-8"), re.M)


def _public(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module_name
    ]


def _has_comment(module_name: str, name: str) -> bool:
    """Whether a module-level name has a ``#:`` doc comment (how Sphinx documents data)."""
    source = inspect.getsource(importlib.import_module(module_name))
    return re.search(rf"^#:.*\n(?:#:.*\n)*{re.escape(name)}\b", source, re.M) is not None


def test_every_public_module_is_on_the_page_once():
    documented = _documented_modules()
    assert sorted(documented) == _modules()
    assert len(documented) == len(set(documented))


@pytest.mark.parametrize("module_name", _modules())
def test_every_exported_name_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert inspect.getdoc(module), f"{module_name} has no module docstring"
    missing = []
    for name in _public(module_name):
        value = getattr(module, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            if not inspect.getdoc(value):
                missing.append(name)
        elif not _has_comment(module_name, name):
            missing.append(name)
    assert not missing, f"{module_name}: no docstring (or #: comment) for {missing}"


def test_every_exported_name_is_in_the_built_reference():
    if not HTML.is_file():
        if os.environ.get("GPTCOURSE_REQUIRE_BOOK") == "1":
            pytest.fail("the book is not built: run `make book` first")
        pytest.skip("the book is not built: run `make book` first")
    html = HTML.read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="(gptcourse\.[\w.]+)"', html))
    missing = [
        f"{m}.{name}"
        for m in _documented_modules()
        for name in _public(m)
        if f"{m}.{name}" not in anchors
    ]
    assert not missing, f"not in the API reference: {missing}"
    assert all(f"module-{m}" in html for m in _documented_modules())
