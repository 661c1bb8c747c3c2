"""The exercise mechanism: generated learner notebooks, stubs that fail, solutions that pass.

The solutions themselves run under nbval (``make test`` passes ``exercises/solutions``
to it), so every solution is proven to pass its checks there. Here we prove the other
direction, that every untouched stub fails its check, and that the generator does
what its sources ask.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools import exercises
from tools.exercises import ExerciseSourceError, learner_notebook

SOURCES = exercises.sources()


def _write_source(tmp_path: Path, body: str, name: str = "07_demo.py") -> Path:
    src = tmp_path / name
    src.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return src


DEMO = """
# %% [markdown]
# # Exercises: demo

# %%
from gptcourse.checks import ch01 as check

# %% [markdown]
# ```{exercise} Double it
# :label: ex-double
#
# Write `double(x)`.
# ```

# %% [markdown]
# ```{solution-start} ex-double
# :class: dropdown
# ```

# %% [markdown]
# Multiply by two.

# %%
def double(x):
    if x is None:
        # BEGIN SOLUTION
        return None
        # END SOLUTION
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION

check.uniform_perplexity(double)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Why?
# :label: ex-why
#
# Say why.
# ```

# %% [markdown]
# ```{solution} ex-why
# :class: dropdown
#
# Because.
# ```
"""


def test_generator_turns_solutions_into_stubs(tmp_path):
    nb = learner_notebook(_write_source(tmp_path, DEMO))
    text = "\n\n".join(cell.source for cell in nb.cells)
    assert "Multiply by two" not in text  # the written part of the solution is gone
    assert "Because." not in text
    assert "return 2 * x" not in text and "return None" not in text
    assert "solution-start" not in text and "{exercise}" not in text
    # Numbered as the book numbers it (book/_ext/gptcourse_book.py): chapter-dash-number.
    assert "### Exercise 7-1: Double it\n\nWrite `double(x)`." in text
    assert "### Exercise 7-2: Why?" in text
    assert exercises.ANSWER_PLACEHOLDER in text
    code = next(c for c in nb.cells if "def double" in c.source)
    assert code.source.splitlines()[2:4] == [
        '        raise NotImplementedError("Exercise 7-1: replace this line with your code.")',
        '    raise NotImplementedError("Exercise 7-1: replace this line with your code.")',
    ]
    assert code.metadata["tags"] == ["exercise"]
    assert "check.uniform_perplexity(double)" in code.source
    assert "Replace each `raise NotImplementedError(...)`" in nb.cells[1].source


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("        # END SOLUTION\n", "BEGIN SOLUTION inside another"),
        ("    return 2 * x\n    # END SOLUTION\n", "BEGIN SOLUTION is never closed"),
        ("    # BEGIN SOLUTION\n    return 2", "END SOLUTION without BEGIN"),
        ("check.uniform_perplexity(double)\n", "must end with a check call"),
        ("# ```{solution-end}\n", "never closed by solution-end"),
    ],
)
def test_generator_rejects_broken_sources(tmp_path, broken, message):
    # Remove the last occurrence of load-bearing lines.
    head, found, tail = textwrap.dedent(DEMO).rpartition(broken)
    assert found
    source = head + tail
    with pytest.raises(ExerciseSourceError, match=message):
        learner_notebook(_write_source(tmp_path, source))


def test_generator_rejects_a_source_without_any_exercise_code(tmp_path):
    src = _write_source(tmp_path, "# %% [markdown]\n# # Nothing to do\n")
    with pytest.raises(ExerciseSourceError, match="no code cell holds"):
        learner_notebook(src)


def test_generated_notebooks_are_up_to_date():
    assert SOURCES, "no exercise sources found"
    assert exercises.main(["check"]) == 0


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_untouched_stub_fails_its_check(src):
    """Run the learner's notebook as shipped: each exercise cell must report failure."""
    nb = nbformat.read(exercises.target_of(src), as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(src.parent.parent)}},
    ).execute()
    exercise_cells = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
    assert exercise_cells
    for cell in exercise_cells:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        first_line = cell.source.splitlines()[0]
        assert errors, f"the stub in {first_line!r} passed its check untouched"
        assert errors[0].ename == "CheckFailed", (first_line, errors[0].ename, errors[0].evalue)
        assert "not implemented yet" in errors[0].evalue
    # Cells that are not exercises (imports, set-up) must run cleanly for the learner.
    for cell in nb.cells:
        if cell.cell_type == "code" and "exercise" not in cell.metadata.get("tags", []):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            uses_stub = any(
                name in cell.source for c in exercise_cells for name in _defined_names(c)
            )
            assert not errors or uses_stub, (cell.source[:80], errors[0].evalue)


def _defined_names(cell) -> list[str]:
    return [
        line.split("(")[0].split()[-1]
        for line in cell.source.splitlines()
        if line.startswith(("def ", "class "))
    ]
