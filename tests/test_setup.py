"""The set-up files agree with each other: one pinned environment, whichever way it is built."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the lock installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "dev.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if match:
            pins.setdefault(_normalise(match[1]), match[2])
    return pins


def test_torch_is_pinned_the_same_everywhere():
    makefile = re.search(r"^TORCH_SPEC \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert makefile and makefile[1] in pip_lines


def test_the_lock_holds_every_requirement_of_the_package_and_its_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += [r for r in extra if not r.startswith("gptcourse[")]
    names = {_normalise(re.match(r"[A-Za-z0-9_.-]+", r)[0]) for r in wanted}
    missing = names - set(_locked()) - {"torch"}  # torch is installed apart (Makefile)
    assert not missing, f"add {sorted(missing)} to requirements/dev.in and run make lock"


def test_the_outputs_shaping_versions_are_exact_pins():
    pins = _locked()
    for name in ("numpy", "matplotlib", "ipykernel", "transformers"):
        assert name in pins, name
    text = (ROOT / "requirements" / "dev.in").read_text()
    for name in ("numpy", "matplotlib", "ipykernel", "transformers", "jupyter-book"):
        assert re.search(rf"^{name}==", text, re.M), f"{name} must be pinned exactly in dev.in"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)
