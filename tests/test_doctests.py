"""Every docstring example of the package runs (style: docstrings that run), from the repository root so that
examples may use ``examples/`` and ``tests/data/`` files."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import superionic

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(m.name for m in pkgutil.walk_packages(superionic.__path__, "superionic."))
# Examples that need minutes or the teacher extra are marked ``# doctest: +SKIP`` in place; nothing is skipped here.


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, monkeypatch):
    monkeypatch.chdir(REPO)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"


def test_the_package_has_runnable_examples():
    examples = sum(
        len(test.examples)
        for name in MODULES
        for test in doctest.DocTestFinder().find(importlib.import_module(name))
    )
    assert examples >= 40
