"""The superionic checkpoint: one ``.npz`` file holding config, weights, species, units and provenance.

Layout (format version 1): every parameter array under its pytree path joined by ``/`` (e.g.
``layers/0/radial_mlp/2``), plus ``__meta__``: a JSON string with ``format``, ``format_version``, ``name``,
``config`` (:meth:`NequIPConfig.to_dict`), ``units`` and ``provenance``. Read with ``allow_pickle=False``:
a checkpoint is data, never code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from superionic.potentials.config import NequIPConfig
from superionic.potentials.potential import Potential, _jax_dtype

FORMAT = "superionic-potential"
FORMAT_VERSION = 1
UNITS = {"energy": "eV", "length": "Angstrom", "forces": "eV/Angstrom", "stress": "eV/Angstrom^3"}


class CheckpointError(ValueError):
    """The file is not a readable superionic checkpoint."""


def _flatten(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_flatten(v, f"{prefix}{k}/"))
        return out
    if isinstance(tree, list | tuple):
        out = {}
        for i, v in enumerate(tree):
            out.update(_flatten(v, f"{prefix}{i}/"))
        return out
    return {prefix[:-1]: np.asarray(tree)}


def _unflatten(flat: dict[str, np.ndarray]) -> Any:
    root: dict = {}
    for key, value in flat.items():
        node = root
        parts = key.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def listify(node):
        if not isinstance(node, dict):
            return node
        node = {k: listify(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[str(i)] for i in range(len(node))]
        return node

    return listify(root)


def save(potential: Potential, path: str | os.PathLike) -> Path:
    """Write ``potential`` to ``path`` (``.npz``) atomically: a crash never leaves a half-written file."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": potential.name,
        "config": potential.config.to_dict(),
        "units": UNITS,
        "provenance": dict(potential.provenance),
        "params_sha256": potential.fingerprint(),
    }
    arrays = _flatten(potential.params)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz.partial", delete=False) as tmp:
        np.savez(tmp, __meta__=np.array(json.dumps(meta)), **arrays)
    # Temporary files are created private (0600); give the checkpoint the usual permissions of a new file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp.name, 0o666 & ~umask)
    os.replace(tmp.name, path)
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``__meta__`` record of a checkpoint, without loading the weights."""
    with _open(path) as data:
        return _meta(data, path)


def _open(path: str | os.PathLike):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no potential file at {path}")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as err:  # numpy raises several types for corrupt zips
        raise CheckpointError(f"{path} is not a superionic checkpoint (.npz): {err}") from err


def _meta(data, path) -> dict[str, Any]:
    if "__meta__" not in data.files:
        raise CheckpointError(f"{path} has no __meta__ record: not a superionic checkpoint")
    meta = json.loads(str(data["__meta__"]))
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} uses checkpoint format version {meta['format_version']}; this superionic reads up to "
            f"{FORMAT_VERSION}: upgrade superionic"
        )
    return meta


def load_file(path: str | os.PathLike, dtype: str = "float32") -> Potential:
    """Load a checkpoint file as a :class:`Potential` with parameters of ``dtype``."""
    dtype = _jax_dtype(dtype)
    with _open(path) as data:
        meta = _meta(data, path)
        flat = {k: data[k] for k in data.files if k != "__meta__"}
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), _unflatten(flat))
    config = NequIPConfig.from_dict(meta["config"])
    return Potential(
        config=config,
        params=params,
        name=meta.get("name", Path(path).stem),
        provenance=meta.get("provenance", {}),
    )
