"""Simulation set-up: structure → periodic supercell in jax-md's box convention, masses and formal charges.

Two cell conventions meet here, and only here:

- ASE / pymatgen / H5MD: ``cell`` is a 3x3 matrix whose ROWS are the lattice vectors a, b, c.
- jax-md ``space.periodic_general(box, fractional_coordinates=True)``: ``box`` is a 3x3 matrix whose COLUMNS are
  the lattice vectors, so that ``r_cartesian = box @ s_fractional``; jax-md's cell lists further need ``box``
  upper triangular, i.e. the cell in the standard orientation (a along x, b in the xy plane, right-handed).

:func:`prepare_system` rotates the cell into that orientation once; :func:`box_from_cell` / :func:`cell_from_box`
are the only conversions between the two conventions.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.cell import Cell
from ase.data import atomic_masses, chemical_symbols

__all__ = [
    "System",
    "box_from_cell",
    "cell_from_box",
    "choose_supercell",
    "perpendicular_widths",
    "prepare_system",
]


# One conversion and one width rule for the whole package (see superionic.potentials.jaxmd).
from superionic.potentials.jaxmd import cell_from_box, perpendicular_widths


def box_from_cell(cell: np.ndarray) -> np.ndarray:
    """ASE/pymatgen cell (rows = lattice vectors) → jax-md box (columns = lattice vectors).

    >>> box_from_cell(np.array([[1.0, 0, 0], [0.5, 2.0, 0], [0, 0, 3.0]]))[:, 1].tolist()
    [0.5, 2.0, 0.0]
    """
    from superionic.potentials.jaxmd import box_from_cell as _box_from_cell  # the package's one conversion

    cell = np.asarray(cell, dtype=np.float64)
    if cell.shape != (3, 3):
        raise ValueError(f"cell must be a 3x3 matrix of lattice vectors (rows), got shape {cell.shape}")
    return np.array(_box_from_cell(cell), dtype=np.float64)


def choose_supercell(
    cell: np.ndarray, n_atoms_cell: int, min_width_A: float, target_atoms: int, max_atoms: int | None = None
) -> tuple[int, int, int]:
    """Smallest diagonal repetition with every perpendicular width >= ``min_width_A``, then grown (always along the
    currently narrowest direction, so the supercell stays compact) until it holds at least ``target_atoms``.

    >>> choose_supercell(np.eye(3) * 4.0, 8, min_width_A=10.0, target_atoms=0)
    (3, 3, 3)
    >>> choose_supercell(np.eye(3) * 4.0, 8, min_width_A=10.0, target_atoms=300)
    (4, 4, 3)
    """
    widths = perpendicular_widths(cell)
    reps = [max(1, math.ceil(min_width_A / w - 1e-9)) for w in widths]
    while n_atoms_cell * math.prod(reps) < target_atoms:
        i = int(np.argmin([r * w for r, w in zip(reps, widths, strict=True)]))
        reps[i] += 1
    n = n_atoms_cell * math.prod(reps)
    if max_atoms is not None and n > max_atoms:
        raise ValueError(
            f"the supercell {tuple(reps)} needed for width >= {min_width_A:.2f} Å and >= {target_atoms} atoms has "
            f"{n} atoms > max_atoms={max_atoms}; lower cutoff/skin/target_atoms or raise max_atoms"
        )
    return (reps[0], reps[1], reps[2])


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
    """

    numbers: np.ndarray
    fractional: np.ndarray
    cell_A: np.ndarray
    masses_amu: np.ndarray
    charges_e: np.ndarray
    supercell: tuple[int, int, int] = (1, 1, 1)
    name: str = "system"

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


def _load(source) -> tuple[Atoms, str, np.ndarray | None]:
    """Structure-like input → (Atoms, name, per-site oxidation states or None)."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"structure file {path} does not exist")
        try:
            source_obj = Structure.from_file(path)
        except Exception:  # formats pymatgen does not read: let ASE try
            import ase.io

            source_obj = ase.io.read(path)
        name = path.stem
    else:
        source_obj, name = source, None

    if isinstance(source_obj, Structure):
        if not source_obj.is_ordered:
            raise ValueError(
                "the structure has partially occupied sites; order it first (e.g. pymatgen's "
                "OrderDisorderedStructureTransformation) and pass the ordered structure"
            )
        oxi = None
        if all(hasattr(s.specie, "oxi_state") and s.specie.oxi_state is not None for s in source_obj):
            oxi = np.array([float(s.specie.oxi_state) for s in source_obj])
        structure = source_obj.copy()
        structure.remove_oxidation_states()
        atoms = AseAtomsAdaptor.get_atoms(structure)
        return atoms, name or structure.composition.reduced_formula, oxi
    if isinstance(source_obj, Atoms):
        atoms = source_obj.copy()
        atoms.calc = None
        if not all(atoms.pbc):
            raise ValueError("the Atoms object must be periodic in all three directions (atoms.pbc all True)")
        return atoms, name or atoms.get_chemical_formula(mode="reduce"), None
    raise TypeError(
        f"cannot build a system from {type(source_obj).__name__}; pass ASE Atoms, a pymatgen Structure or a file path"
    )


def _guess_charges(atoms: Atoms) -> np.ndarray:
    from pymatgen.core import Composition

    comp = Composition(atoms.get_chemical_formula(mode="reduce"))
    guesses = comp.oxi_state_guesses(max_sites=-1)
    if not guesses:
        raise ValueError(
            f"pymatgen could not guess oxidation states for {comp.reduced_formula}; pass charges_e explicitly, "
            "e.g. charges_e={'Li': 1, 'P': 5, 'S': -2}"
        )
    best = guesses[0]
    return np.array([float(best[s]) for s in atoms.get_chemical_symbols()])


def _standard_orientation(cell: np.ndarray, frac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate the cell into jax-md's upper-triangular orientation; fractional coordinates are unchanged except
    for a relabelling of a and b when the input cell is left-handed."""
    if np.linalg.det(cell) < 0:
        cell = cell[[1, 0, 2]]
        frac = frac[:, [1, 0, 2]]
    rcell, _ = Cell(cell).standard_form()
    return np.array(rcell, dtype=np.float64), frac


def prepare_system(
    source,
    cutoff_A: float,
    skin_A: float,
    *,
    target_atoms: int = 100,
    max_atoms: int | None = 20000,
    supercell: Sequence[int] | None = None,
    charges_e: Mapping[str, float] | Sequence[float] | None = None,
    masses_amu: Mapping[str, float] | None = None,
    reduce_cell: bool = True,
    name: str | None = None,
) -> System:
    """Build an MD-ready periodic supercell from ASE ``Atoms``, a pymatgen ``Structure`` or a structure file.

    Args:
      source: ``Atoms``, ``Structure`` or a path to any file pymatgen or ASE reads (CIF, POSCAR, extxyz, ...).
      cutoff_A: the potential's cutoff radius (Å).
      skin_A: the neighbour-list skin (Å). A supercell chosen here has every perpendicular width
        >= 2 (cutoff_A + skin_A), so no atom interacts with its own periodic image.
      target_atoms: grow the supercell (along its narrowest direction) until it has at least this many atoms.
      max_atoms: refuse supercells larger than this (a guard against a unit mix-up); ``None`` for no limit.
      supercell: force this diagonal repetition instead of choosing one (any size: cells narrower than
        2 (cutoff + skin) run too, with atoms that see their own periodic images).
      charges_e: formal charges, either per element (``{"Li": 1, "N": -3}``) or per site of the input cell; by
        default the oxidation states carried by a pymatgen ``Structure``, else pymatgen's guess.
      masses_amu: per-element mass overrides (e.g. isotopes), default standard atomic weights.
      reduce_cell: Niggli-reduce the input cell first (most compact supercell for a given width).
      name: label for output files (default: file stem or reduced formula).
    """
    if cutoff_A <= 0 or skin_A < 0:
        raise ValueError(f"need cutoff_A > 0 and skin_A >= 0, got cutoff_A={cutoff_A}, skin_A={skin_A}")
    atoms, default_name, oxi = _load(source)
    n_cell = len(atoms)

    # Charges are attached per site of the input cell before any reduction or repetition.
    if charges_e is None:
        q = oxi if oxi is not None else _guess_charges(atoms)
    elif isinstance(charges_e, Mapping):
        missing = sorted(set(atoms.get_chemical_symbols()) - set(charges_e))
        if missing:
            raise ValueError(f"charges_e has no charge for element(s) {missing}; give one for every element")
        q = np.array([float(charges_e[s]) for s in atoms.get_chemical_symbols()])
    else:
        q = np.asarray(charges_e, dtype=np.float64)
        if q.shape != (n_cell,):
            raise ValueError(
                f"charges_e per site must have {n_cell} entries (one per input site), got {q.shape}"
            )
    if abs(q.sum()) > 1e-6:
        warnings.warn(f"formal charges sum to {q.sum():+.3f} e per cell, not 0", stacklevel=2)
    atoms.set_initial_charges(q)

    if reduce_cell:  # ASE's reduction keeps per-atom arrays (charges) attached to their atoms
        from ase.build import niggli_reduce

        niggli_reduce(atoms)

    cell = np.array(atoms.cell, dtype=np.float64)
    min_width = 2.0 * (cutoff_A + skin_A)
    if supercell is None:
        reps = choose_supercell(cell, n_cell, min_width, target_atoms, max_atoms)
    else:
        # A chosen supercell may be narrower than 2 (cutoff + skin): superionic's neighbour table resolves every
        # periodic image (small cells for reference MD and specialist training); jax-md's minimum-image lists
        # (e.g. LennardJones) refuse such a box themselves.
        reps = tuple(int(r) for r in supercell)
        if len(reps) != 3 or min(reps) < 1:
            raise ValueError(f"supercell must be three positive integers, got {supercell}")
    big = atoms.repeat(reps)
    frac = np.mod(big.get_scaled_positions(wrap=True), 1.0)
    cell_std, frac = _standard_orientation(np.array(big.cell, dtype=np.float64), frac)

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
        name=name or default_name,
    )
