"""Named potentials: what each is, where its file lives, ``load(name_or_path)`` and ``import_potential(name)``.

Shipped potentials live inside the package (``superionic/data/potentials``); imported ones (converted from
other packages' weights on the user's machine) live in the user cache: ``$SUPERIONIC_CACHE_DIR``, else
``$XDG_CACHE_HOME/superionic``, else ``~/.cache/superionic``. The table is data: nothing registers itself at
import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from superionic.potentials.checkpoint import load_file
from superionic.potentials.potential import Potential

__all__ = ["REGISTRY", "RegistryEntry", "available", "cache_dir", "import_potential", "load", "resolve"]

PACKAGE_POTENTIALS = Path(__file__).resolve().parents[1] / "data" / "potentials"
_TEACHER_EXTRA = "pip install 'superionic[teacher]'"


@dataclass(frozen=True)
class RegistryEntry:
    """A named potential.

    Attributes:
      name: the registry name (lower case).
      description: one line for ``superionic potentials list``.
      shipped: inside the package (True) or created by an importer in the user cache (False).
      sevenn_name: for a SevenNet checkpoint bundled in the ``sevenn`` wheel, its name there (imported on first
        use by :func:`load`).
      aliases: other names that resolve to this entry.
    """

    name: str
    description: str
    shipped: bool
    sevenn_name: str | None = None
    aliases: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        folder = PACKAGE_POTENTIALS if self.shipped else cache_dir() / "potentials"
        return folder / f"{self.name}.npz"

    @property
    def how_to_get(self) -> str:
        if self.shipped:
            return "the file is missing from this installation: reinstall superionic, or choose --potential sevennet-0"
        return f"run `superionic potentials import {self.name}` (needs the teacher extra: {_TEACHER_EXTRA})"


def cache_dir() -> Path:
    """The user cache folder for imported potentials."""
    if os.environ.get("SUPERIONIC_CACHE_DIR"):
        return Path(os.environ["SUPERIONIC_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "superionic"


REGISTRY = MappingProxyType(
    {
        entry.name: entry
        for entry in (
            RegistryEntry(
                "default",
                "small distilled NequIP specialist for Li solid electrolytes (shipped)",
                shipped=True,
            ),
            RegistryEntry(
                "sevennet-0",
                "SevenNet-0 (11 Jul 2024), MPtrj, GNoME hyper-parameters (imported from the sevenn package)",
                shipped=False,
                sevenn_name="7net-0",
                aliases=("7net-0",),
            ),
            RegistryEntry(
                "sevennet-0-22may2024",
                "SevenNet-0 (22 May 2024), MPtrj (imported from the sevenn package)",
                shipped=False,
                sevenn_name="7net-0_22May2024",
                aliases=("7net-0_22may2024",),
            ),
            RegistryEntry(
                "sevennet-l3i5",
                "SevenNet-l3i5: l_max 3, 5 layers, polynomial cutoff (imported from the sevenn package)",
                shipped=False,
                sevenn_name="7net-l3i5",
                aliases=("7net-l3i5",),
            ),
        )
    }
)
#: Names users ask for that cannot be imported, and why.
UNSUPPORTED = MappingProxyType(
    {
        "sevennet-mf-0": (
            "SevenNet-MF-0 is multi-fidelity: its linear layers take a one-hot modality input (a per-modality bias "
            "on scalar channels) and its shift is modality-wise; superionic's NequIP has no such bias terms yet"
        ),
    }
)
_ALIASES = MappingProxyType({alias: e.name for e in REGISTRY.values() for alias in e.aliases})


def resolve(name: str) -> RegistryEntry:
    """The registry entry of ``name`` (or an alias), else a ``ValueError`` listing the known names."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key in UNSUPPORTED:
        raise ValueError(f"{name}: {UNSUPPORTED[key]}")
    if key not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown potential {name!r}: give a checkpoint path (.npz) or one of: {known}")
    return REGISTRY[key]


def available() -> dict[str, bool]:
    """Every registered name and whether its file is present on this machine."""
    return {name: entry.path.is_file() for name, entry in sorted(REGISTRY.items())}


def import_potential(name: str, destination: str | os.PathLike | None = None) -> Path:
    """Convert an importable potential's weights (SevenNet, from the installed ``sevenn`` package) into a
    superionic checkpoint at ``destination`` (default: where :func:`load` finds it); return the path.

    Raises:
      ValueError: ``name`` is not importable.
      FileNotFoundError: the ``sevenn``/``torch`` packages needed for the import are missing.
    """
    entry = resolve(name)
    if entry.sevenn_name is None:
        raise ValueError(
            f"{entry.name!r} is not importable; importable: {', '.join(n for n, e in REGISTRY.items() if e.sevenn_name)}"
        )
    from superionic.potentials.sevennet import TeacherMissingError, import_sevennet

    try:
        return import_sevennet(
            entry.sevenn_name, entry.path if destination is None else destination, entry.name
        )
    except TeacherMissingError as err:
        raise FileNotFoundError(
            f"potential {entry.name} is not imported yet and importing it needs sevenn and torch: {_TEACHER_EXTRA}"
        ) from err


def load(
    name_or_path: str | os.PathLike | Potential, dtype: str = "float32", *, auto_import: bool = True
) -> Potential:
    """A potential by registered name (e.g. ``"sevennet-0"``) or checkpoint path, with ``dtype`` weights.

    With ``auto_import`` an importable potential that is not on this machine yet is imported on first use (once;
    later loads read the converted file). A missing file is an error naming what to do — never a silent switch to
    another model.
    """
    if isinstance(name_or_path, Potential):
        return name_or_path if name_or_path.dtype == dtype else name_or_path.astype(dtype)
    text = os.fspath(name_or_path)
    if text.endswith(".npz") or os.sep in text or Path(text).is_file():
        return load_file(text, dtype=dtype)
    entry = resolve(text)
    if not entry.path.is_file():
        if not (auto_import and entry.sevenn_name):
            raise FileNotFoundError(
                f"potential '{entry.name}' is not available on this machine: {entry.how_to_get}"
            )
        import_potential(entry.name)
    return load_file(entry.path, dtype=dtype)
