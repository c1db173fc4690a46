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


class CompileCounter:
    """Counts XLA compilations (jax's backend-compile events) while active: ``with counter: ...``."""

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self) -> None:
        self.count = 0

    def _listen(self, event: str, duration: float, **kwargs) -> None:
        del duration, kwargs
        if event == self.EVENT:
            self.count += 1

    def __enter__(self) -> CompileCounter:
        self.count = 0
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        return self

    def __exit__(self, *exc) -> None:
        from jax._src import monitoring  # jax has no public unregister for duration listeners

        monitoring.unregister_event_duration_listener(self._listen)


@pytest.fixture
def compile_counter() -> CompileCounter:
    return CompileCounter()


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
