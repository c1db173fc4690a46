"""Simulation set-up: structure → periodic supercell in jax-md's box convention, masses and formal charges.

The cell conventions (ASE rows vs jax-md columns) are converted only by :mod:`superionic.structures.cell`;
:func:`prepare_system` rotates the cell into jax-md's upper-triangular orientation once.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, chemical_symbols

from superionic.structures import (
    as_structure,
    box_from_cell,
    charge_balance_warning,
    choose_supercell,
    formal_charges,
    standard_orientation,
)

__all__ = ["System", "prepare_system"]


@dataclasses.dataclass(frozen=True)
class System:
    """A periodic simulation cell ready for MD (host-side numpy, float64).

    Attributes:
      numbers: atomic numbers Z [N].
      fractional: fractional coordinates in [0, 1) [N, 3].
      cell_A: lattice vectors as ROWS in the standard orientation (lower-triangular rows, positive diagonal) [3, 3].
      masses_amu: [N].
      charges_e: formal charges (oxidation states) used for conductivity [N].
      supercell: the diagonal repetition of the input cell.
      name: a short label (file stem or formula), used to name output files.
      skin_A: the neighbour-list skin MD uses with this cell (set once, by :func:`prepare_system`): a pair is
        listed up to cutoff + skin, and the list is rebuilt when an atom moved more than skin/2.
    """

    numbers: np.ndarray
    fractional: np.ndarray
    cell_A: np.ndarray
    masses_amu: np.ndarray
    charges_e: np.ndarray
    supercell: tuple[int, int, int] = (1, 1, 1)
    name: str = "system"
    skin_A: float = 1.0

    def __post_init__(self) -> None:
        n = len(self.numbers)
        for field, shape in (
            ("fractional", (n, 3)),
            ("cell_A", (3, 3)),
            ("masses_amu", (n,)),
            ("charges_e", (n,)),
        ):
            if np.shape(getattr(self, field)) != shape:
                raise ValueError(
                    f"System.{field} must have shape {shape}, got {np.shape(getattr(self, field))}"
                )
        if not (self.skin_A >= 0 and np.isfinite(self.skin_A)):
            raise ValueError(f"System.skin_A must be >= 0, got {self.skin_A}")
        box = box_from_cell(self.cell_A)
        if not np.allclose(box, np.triu(box), atol=1e-9) or np.any(np.diag(box) <= 0):
            raise ValueError(
                "System.cell_A must be in the standard orientation (a along x, b in the xy plane, right-handed); "
                "build systems with superionic.md.prepare_system"
            )

    @property
    def n_atoms(self) -> int:
        return len(self.numbers)

    @property
    def box(self) -> np.ndarray:
        """jax-md box, columns = lattice vectors, upper triangular [3, 3] (Å)."""
        return box_from_cell(self.cell_A)

    @property
    def positions_A(self) -> np.ndarray:
        """Cartesian positions [N, 3] (Å)."""
        return self.fractional @ self.cell_A

    @property
    def symbols(self) -> list[str]:
        return [chemical_symbols[z] for z in self.numbers]

    @property
    def volume_A3(self) -> float:
        return float(abs(np.linalg.det(self.cell_A)))

    def to_atoms(self) -> Atoms:
        """The cell as ASE ``Atoms`` (masses and formal charges attached)."""
        atoms = Atoms(numbers=self.numbers, scaled_positions=self.fractional, cell=self.cell_A, pbc=True)
        atoms.set_masses(self.masses_amu)
        atoms.set_initial_charges(self.charges_e)
        return atoms


def _site_charges(structure, charges_e) -> np.ndarray:
    """Formal charges per site of an ordered structure: given per element or per site, else the oxidation states
    the structure carries, else guessed (:func:`superionic.structures.formal_charges`, which raises when it cannot)."""
    symbols = [site.specie.symbol for site in structure]
    if charges_e is not None and not isinstance(charges_e, Mapping):
        q = np.asarray(charges_e, dtype=np.float64)
        if q.shape != (len(structure),):
            raise ValueError(
                f"charges_e per site must have {len(structure)} entries (one per input site), got {q.shape}"
            )
        return q
    oxi = [getattr(site.specie, "oxi_state", None) for site in structure]
    if charges_e is None and all(q is not None for q in oxi):
        return np.asarray(oxi, dtype=np.float64)
    per_element = formal_charges(structure.composition.element_composition, charges_e)
    return np.array([per_element[s] for s in symbols])


def prepare_system(
    source,
    cutoff_A: float,
    skin_A: float = 1.0,
    *,
    target_atoms: int = 100,
    max_atoms: int | None = 20000,
    supercell: Sequence[int] | None = None,
    min_width_A: float | None = None,
    charges_e: Mapping[str, float] | Sequence[float] | None = None,
    masses_amu: Mapping[str, float] | None = None,
    reduce_cell: bool = True,
    name: str | None = None,
) -> System:
    """Build an MD-ready periodic supercell from ASE ``Atoms``, an ordered pymatgen ``Structure`` or a structure
    file (checked first: see :func:`superionic.structures.check_structure`).

    Args:
      source: ``Atoms``, ``Structure`` or a structure file path (CIF, POSCAR, extxyz, JSON, ...).
      cutoff_A: the potential's cutoff radius (Å).
      skin_A: the neighbour-list skin (Å) of every MD run of this system (the one place it is set).
      target_atoms: grow the supercell (along its narrowest direction) until it has at least this many atoms.
      max_atoms: refuse supercells larger than this (a guard against a unit mix-up); ``None`` for no limit.
      supercell: force this diagonal repetition instead of choosing one (any size: cells narrower than
        ``min_width_A`` run too, with atoms that see their own periodic images).
      min_width_A: every perpendicular width of a supercell chosen here is at least this (Å). Default
        2 x cutoff_A, the minimum-image convention: no atom meets its own image within the cutoff, nor two images
        of another. The skin does not enter, since superionic's neighbour table keeps each periodic image within
        cutoff + skin as its own neighbour; a jax-md minimum-image potential (:class:`LennardJones`) needs
        2 (cutoff_A + skin_A).
      charges_e: formal charges, per element (``{"Li": 1, "N": -3}``; elements left out are guessed) or per site of
        the input cell; by default the oxidation states carried by a pymatgen ``Structure``, else the guess of
        :func:`superionic.structures.formal_charges` (an error when it cannot guess).
      masses_amu: per-element mass overrides (e.g. isotopes), default standard atomic weights.
      reduce_cell: Niggli-reduce the input cell first (most compact supercell for a given width).
      name: label for output files (default: file stem or reduced formula).
    """
    from ase.build import niggli_reduce
    from pymatgen.io.ase import AseAtomsAdaptor

    if not (cutoff_A > 0 and skin_A >= 0):
        raise ValueError(f"need cutoff_A > 0 and skin_A >= 0, got cutoff_A={cutoff_A}, skin_A={skin_A}")
    structure = as_structure(source)
    if not structure.is_ordered:
        raise ValueError(
            "the structure has partially occupied sites; order it first (superionic.structures.order_structure, "
            "as conductivity estimate does)"
        )
    default_name = Path(source).stem if isinstance(source, str | os.PathLike) else None
    q = _site_charges(structure, charges_e)
    balance = charge_balance_warning(
        structure.composition.element_composition,
        {site.specie.symbol: float(c) for site, c in zip(structure, q, strict=True)},
    )
    if balance is not None:
        warnings.warn(balance, stacklevel=2)
    bare = structure.copy()
    bare.remove_oxidation_states()
    atoms = AseAtomsAdaptor.get_atoms(bare)
    atoms.set_initial_charges(q)
    n_cell = len(atoms)
    if reduce_cell:  # ASE's reduction keeps per-atom arrays (charges) attached to their atoms
        niggli_reduce(atoms)

    cell = np.array(atoms.cell, dtype=np.float64)
    min_width = 2.0 * cutoff_A if min_width_A is None else float(min_width_A)
    if supercell is None:
        reps = choose_supercell(
            cell, n_cell, min_width_A=min_width, target_atoms=target_atoms, max_atoms=max_atoms
        )
    else:
        # A chosen supercell may be narrower than min_width: superionic's neighbour table resolves every
        # periodic image (small cells for reference MD and specialist training); jax-md's minimum-image lists
        # (e.g. LennardJones) refuse such a box themselves.
        reps = tuple(int(r) for r in supercell)
        if len(reps) != 3 or min(reps) < 1:
            raise ValueError(f"supercell must be three positive integers, got {supercell}")
    big = atoms.repeat(reps)
    frac = np.mod(big.get_scaled_positions(wrap=True), 1.0)
    cell_std, frac = standard_orientation(np.array(big.cell, dtype=np.float64), frac)

    numbers = big.numbers.astype(np.int64)
    masses = atomic_masses[numbers].astype(np.float64)
    if masses_amu is not None:
        for i, s in enumerate(big.get_chemical_symbols()):
            if s in masses_amu:
                masses[i] = float(masses_amu[s])
    return System(
        numbers=numbers,
        fractional=frac,
        cell_A=cell_std,
        masses_amu=masses,
        charges_e=np.asarray(big.get_initial_charges(), dtype=np.float64),
        supercell=(reps[0], reps[1], reps[2]),
        name=name or default_name or structure.composition.reduced_formula,
        skin_A=float(skin_A),
    )
