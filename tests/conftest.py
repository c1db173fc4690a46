"""Shared fixtures. Tests that need float64 use the ``x64`` fixture, which restores the previous setting."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SHARED = REPO.parent / "shared"


@pytest.fixture
def x64():
    """Enable float64 in JAX for one test, then restore the previous setting."""
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
