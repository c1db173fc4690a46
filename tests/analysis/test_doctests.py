"""The docstring examples of superionic.analysis run (style: docstrings that run)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["_conductivity", "_diffusion", "_jumps", "_msd", "_units"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"superionic.analysis.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
