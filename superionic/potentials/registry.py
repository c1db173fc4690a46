"""Named potentials: where each lives, and ``load(name_or_path)``.

Shipped potentials live inside the package (``superionic/data/potentials``); imported ones (converted from
other packages' weights on the user's machine) live in the user cache: ``$SUPERIONIC_CACHE_DIR``, else
``$XDG_CACHE_HOME/superionic``, else ``~/.cache/superionic``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from superionic.potentials.checkpoint import load_file
from superionic.potentials.potential import Potential

PACKAGE_POTENTIALS = Path(__file__).resolve().parents[1] / "data" / "potentials"


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    description: str
    shipped: bool  # inside the package (True) or created by an importer in the user cache (False)
    how_to_get: str  # what to run when the file is missing

    @property
    def path(self) -> Path:
        folder = PACKAGE_POTENTIALS if self.shipped else cache_dir() / "potentials"
        return folder / f"{self.name}.npz"


def cache_dir() -> Path:
    """The user cache folder for imported potentials and other downloads-free artefacts."""
    if os.environ.get("SUPERIONIC_CACHE_DIR"):
        return Path(os.environ["SUPERIONIC_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "superionic"


_IMPORT_HINT = (
    "run `superionic potentials import {name}` (needs the teacher extra: pip install 'superionic[teacher]')"
)

REGISTRY: dict[str, RegistryEntry] = {}
ALIASES: dict[str, str] = {}


def register(entry: RegistryEntry, aliases: tuple[str, ...] = ()) -> None:
    """Add a named potential (used by this module and by importers)."""
    REGISTRY[entry.name] = entry
    for alias in aliases:
        ALIASES[alias] = entry.name


register(
    RegistryEntry(
        "default",
        "small distilled NequIP specialist for Li solid electrolytes (shipped in the package)",
        shipped=True,
        how_to_get="the default potential file is missing from this installation (reinstall superionic) or use 'sevennet-0'",
    )
)


def resolve(name: str) -> RegistryEntry:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown potential {name!r}: give a checkpoint path (.npz) or one of: {known}")
    return REGISTRY[key]


def available() -> dict[str, bool]:
    """Every registered name and whether its file is present on this machine."""
    return {name: entry.path.is_file() for name, entry in sorted(REGISTRY.items())}


def load(name_or_path: str | os.PathLike | Potential, dtype: str = "float32") -> Potential:
    """Load a potential by registered name (e.g. ``"sevennet-0"``) or checkpoint path, with ``dtype`` weights."""
    if isinstance(name_or_path, Potential):
        return name_or_path if name_or_path.dtype == dtype else name_or_path.astype(dtype)
    text = os.fspath(name_or_path)
    if text.endswith(".npz") or os.sep in text or Path(text).is_file():
        return load_file(text, dtype=dtype)
    entry = resolve(text)
    if not entry.path.is_file():
        hint = entry.how_to_get.format(name=entry.name)
        raise FileNotFoundError(f"potential '{entry.name}' is not available on this machine: {hint}")
    return load_file(entry.path, dtype=dtype)


# Importers register the names they can create; importing them here makes every name known to load().
from superionic.potentials import sevennet as _sevennet  # noqa: E402, F401
