"""What every report records, and how it is written: strict-JSON values, atomic files, the environment.

Importable without jax (the analysis package uses it); :func:`environment` imports jax only when called.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["dataclass_from_dict", "environment", "json_safe", "write_json_atomic"]


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers and lists, tuples as lists, paths as strings and
    non-finite floats as None (strict JSON has no NaN or infinity).

    >>> json_safe({"x": np.float32(0.5), "ci95": (1.0, float("inf")), "path": Path("a/b")})
    {'x': 0.5, 'ci95': [1.0, None], 'path': 'a/b'}
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    return value


def dataclass_from_dict(cls, data, what: str):
    """``cls(**data)`` for a dataclass, refusing unknown keys by name (a typo must not vanish).

    >>> import dataclasses
    >>> Point = dataclasses.make_dataclass("Point", ["x_A", "y_A"])
    >>> dataclass_from_dict(Point, {"x_A": 1.0, "y_A": 2.0}, "point")
    Point(x_A=1.0, y_A=2.0)
    >>> dataclass_from_dict(Point, {"x_A": 1.0, "z_A": 2.0}, "point")
    Traceback (most recent call last):
    ValueError: unknown point fields ['z_A']; known: ['x_A', 'y_A']
    """
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {what} fields {unknown}; known: {sorted(known)}")
    return cls(**dict(data))


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write ``json_safe(data)`` to ``path`` atomically: a file at ``path`` is always complete."""
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".partial", delete=False) as tmp:
        json.dump(json_safe(data), tmp, indent=2, allow_nan=False)
    os.replace(tmp.name, path)
    return path


def environment() -> dict[str, str]:
    """Python, JAX, the JAX device and the platform, for a report's provenance."""
    import jax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
    }
