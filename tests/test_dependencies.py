"""The package's runtime dependencies are what it imports: no more, no fewer.

The modules of ``gptcourse/`` are parsed (not imported): every absolute import of a
third-party module is a requirement. One inside a ``try`` whose ``except`` catches
``ImportError`` is optional and belongs to an extra (``pip install gptcourse[interop]``);
any other belongs to ``[project] dependencies`` in pyproject.toml.

When a module starts to import a new package, add it there: a plotting module will bring
matplotlib back, and the trainer safetensors (both were listed before anything imported
them).
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from gptcourse import data

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the lock installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class _Imports(ast.NodeVisitor):
    """The top-level names of the modules that a file imports, required and optional."""

    def __init__(self):
        self.required: set[str] = set()
        self.optional: set[str] = set()
        self._guarded = 0  # how many enclosing try blocks catch ImportError

    def visit_Try(self, node: ast.Try) -> None:  # noqa: N802 (ast's name)
        caught = set()
        for handler in node.handlers:
            types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught |= {t.id for t in types if isinstance(t, ast.Name)}
        guarded = bool(caught & IMPORT_ERRORS)
        self._guarded += guarded
        for statement in node.body:
            self.visit(statement)
        self._guarded -= guarded
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    visit_TryStar = visit_Try  # noqa: N815 (ast's name)

    def visit_If(self, node: ast.If) -> None:  # noqa: N802 (ast's name)
        """Imports under ``if TYPE_CHECKING:`` are for type checkers only: never run."""
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
        if name == "TYPE_CHECKING":
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def _add(self, module: str) -> None:
        name = module.split(".")[0]
        if name in sys.stdlib_module_names or name in ("gptcourse", "__future__"):
            return
        (self.optional if self._guarded else self.required).add(name)

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802
        if node.level == 0 and node.module:
            self._add(node.module)


def _package_imports() -> _Imports:
    imports = _Imports()
    for file in sorted((ROOT / "gptcourse").rglob("*.py")):
        imports.visit(ast.parse(file.read_text(encoding="utf-8"), filename=str(file)))
    return imports


def _distributions(modules: set[str]) -> set[str]:
    """The distributions (PyPI names) that install ``modules``."""
    installed = packages_distributions()
    missing = sorted(m for m in modules if m not in installed)
    assert not missing, f"imported by gptcourse but not installed: {missing}"
    return {_normalise(d) for m in modules for d in installed[m]}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_normalise(re.match(r"[A-Za-z0-9_.-]+", r)[0]) for r in requirements}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_parser_finds_guarded_and_unguarded_imports():
    imports = _Imports()
    imports.visit(
        ast.parse(
            "import os, numpy as np\n"
            "from torch import nn\n"
            "from . import sibling\n"
            "def f():\n"
            "    try:\n"
            "        import tiktoken.load\n"
            "    except (ImportError, OSError):\n"
            "        import tqdm\n"
            "try:\n"
            "    from transformers import GPT2Tokenizer\n"
            "except ValueError:\n"
            "    pass\n"
            "if TYPE_CHECKING:\n"
            "    import safetensors\n"
        )
    )
    assert imports.required == {"numpy", "torch", "tqdm", "transformers"}
    assert imports.optional == {"tiktoken"}


def test_dependencies_are_exactly_what_the_package_imports():
    imported = _distributions(_package_imports().required)
    listed = _requirement_names(_project()["dependencies"])
    assert imported == listed, (
        f"imported but not in [project] dependencies: {sorted(imported - listed)}; "
        f"listed but not imported: {sorted(listed - imported)}"
    )


def test_optional_imports_and_shipped_files_come_with_an_extra():
    extras = set()
    for requirements in _project()["optional-dependencies"].values():
        extras |= _requirement_names([r for r in requirements if not r.startswith("gptcourse[")])
    optional = _distributions(_package_imports().optional)
    shipping = _distributions({d.package_data[0] for d in data.DATASETS.values() if d.package_data})
    assert optional | shipping <= extras, sorted((optional | shipping) - extras)
