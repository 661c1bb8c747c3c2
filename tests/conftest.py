"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_cpu_thread():
    """Run a test on one CPU thread: the models of the unit tests are so small that a
    second thread only adds synchronisation, which costs dearly when the cores are busy
    (the same tests take ten times longer on two threads of a loaded machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
