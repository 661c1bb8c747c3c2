"""gptcourse.glue: myst-nb's glue where it is installed, and a pass-through where it is not."""

from __future__ import annotations

import sys

import pytest

from gptcourse.glue import glue


def test_glue_returns_its_value_and_records_it_for_the_book(capsys):
    pytest.importorskip("myst_nb")
    assert glue("loss", "1.234") == "1.234"


def test_without_myst_nb_glue_only_returns_the_value(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # as in Colab
    assert glue("loss", "1.234") == "1.234"


def test_a_name_must_be_a_string():
    with pytest.raises(TypeError, match="a glue name must be a non-empty str, got 3"):
        glue(3, "x")
