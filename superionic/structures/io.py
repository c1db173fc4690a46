"""Reading structures, and the input checks that every structure passes before anything expensive runs.

One reader for the whole package: CIF, POSCAR/CONTCAR (``.vasp``), extended XYZ, pymatgen or ASE JSON and ASE
``.traj`` files become a pymatgen ``Structure`` (disordered ones keep their occupancies); ASE ``Atoms`` and
pymatgen ``Structure`` objects pass through :func:`as_structure`. :func:`check_structure` refuses what would
only fail minutes later: non-finite coordinates, a degenerate cell, non-elements, impossible occupancies and
atoms closer than :data:`MIN_DISTANCE_A` (overlaps are common in generated CIFs).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np

from superionic.structures._errors import StructureError

__all__ = [
    "MIN_DISTANCE_A",
    "STRUCTURE_FORMATS",
    "as_structure",
    "check_structure",
    "mobile_species",
    "read_structure",
]

STRUCTURE_FORMATS = ".cif, POSCAR/CONTCAR (.vasp), .extxyz/.xyz, .json (pymatgen or ASE), .traj"
_SUFFIXES = {".cif", ".vasp", ".poscar", ".json", ".extxyz", ".xyz", ".traj"}

#: Closest approach of two atoms accepted in an input structure (Å). The shortest real bonds (O–H 0.96 Å) are
#: well above it; two atoms this close are a duplicated or mis-generated site, and MD would explode on them.
MIN_DISTANCE_A = 0.5
#: Largest total occupancy of a site (rounding in CIFs gives 1.0002 and the like).
_MAX_OCCUPANCY = 1.0 + 1e-3


def read_structure(path: str | os.PathLike):
    """A checked pymatgen ``Structure`` (possibly disordered) from a structure file.

    Raises:
      StructureError: missing, empty, unknown or unreadable file, or a structure :func:`check_structure` refuses.
    """
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    path = Path(path)
    if path.is_dir():
        raise StructureError(f"{path} is a folder: give a structure file")
    if not path.is_file():
        raise StructureError(f"structure file not found: {path}")
    if path.stat().st_size == 0:
        raise StructureError(f"structure file is empty: {path}")
    name, suffix = path.name.lower(), path.suffix.lower()
    if suffix not in _SUFFIXES and not any(key in name for key in ("poscar", "contcar")):
        raise StructureError(f"unknown structure format {path.name!r}; use one of: {STRUCTURE_FORMATS}")
    if suffix != ".traj":
        _check_text(path, suffix)
    # pymatgen warns about CIF rounding (harmless) and about sites it dropped (not): recorded, then judged
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if suffix in {".extxyz", ".xyz", ".traj"}:
                from ase.io import read

                structure = AseAtomsAdaptor.get_structure(_periodic(read(path), path.name))
            elif suffix == ".json":
                structure = _from_json(path)
            else:
                structure = Structure.from_file(path)
        except StructureError:
            raise
        except Exception as err:  # each reader fails in its own way on a corrupt file: one line for all
            message = f"{type(err).__name__}: {err}".strip().splitlines()
            raise StructureError(
                f"cannot read {path.name}: {message[0] if message else 'unreadable'}"
            ) from err
    for warning in caught:
        text = " ".join(str(warning.message).split())
        if "Incorrect stoichiometry" in text or "is not a valid Element" in text:
            raise StructureError(
                f"{path.name}: pymatgen dropped or misread atom sites ({text}); fix the file"
            )
    return check_structure(structure, path.name)


def _check_text(path: Path, suffix: str) -> None:
    """What the text readers accept silently but a structure file must not hold: binary bytes, and (CIF) cell
    lengths that are not positive or angles outside (0°, 180°)."""
    data = path.read_bytes()
    if b"\x00" in data:
        raise StructureError(f"{path.name} holds binary (NUL) bytes: not a text structure file")
    if suffix != ".cif":
        return
    text = data.decode(errors="replace")
    for key, low, high in (("_cell_length_", 0.0, math.inf), ("_cell_angle_", 0.0, 180.0)):
        for name, value in re.findall(rf"^\s*({key}\w+)\s+(\S+)", text, flags=re.MULTILINE):
            try:
                number = float(
                    re.sub(r"\(\d+\)$", "", value)
                )  # CIF numbers may carry an uncertainty: 5.12(4)
            except ValueError:
                number = math.nan
            if not low < number < high:
                raise StructureError(f"{path.name}: {name} {value} is not a valid cell parameter")


def _from_json(path: Path):
    from ase.io import read
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise StructureError(f"{path.name} is not valid JSON: {err}") from err
    if isinstance(data, dict) and "lattice" in data and "sites" in data:
        return Structure.from_dict(data)
    return AseAtomsAdaptor.get_structure(_periodic(read(path, format="json"), path.name))


def _periodic(atoms, label: str):
    """ASE ``Atoms`` that pymatgen can take: periodic, with a usable cell (checked before pymatgen inverts it)."""
    if not all(atoms.pbc):
        raise StructureError(
            f"{label} is not periodic in all three directions (pbc={atoms.pbc.tolist()}): give a crystal cell"
        )
    _check_cell(np.asarray(atoms.cell[:], dtype=np.float64), label)
    return atoms


def _check_cell(matrix: np.ndarray, label: str) -> None:
    if not np.all(np.isfinite(matrix)):
        raise StructureError(f"{label} has a non-finite cell (NaN or infinite lattice vectors)")
    volume = abs(float(np.linalg.det(matrix)))
    if not volume >= 1.0:
        raise StructureError(
            f"{label} has no usable periodic cell (volume {volume:.3g} Å^3): give the lattice vectors"
        )


def as_structure(source, label: str | None = None):
    """A checked pymatgen ``Structure`` from a structure file path, ASE ``Atoms`` or a pymatgen ``Structure``.

    ``Atoms`` keep their initial charges as oxidation states only if they are non-zero (ASE's default is 0 for
    every atom, which means "not set").
    """
    from ase import Atoms
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    if isinstance(source, str | os.PathLike):
        return read_structure(source)
    if isinstance(source, Structure):
        return check_structure(source.copy(), label or source.composition.reduced_formula)
    if isinstance(source, Atoms):
        atoms = _periodic(source.copy(), label or source.get_chemical_formula(mode="reduce"))
        atoms.calc = None
        charges = atoms.get_initial_charges()
        if not np.any(charges):
            atoms.set_initial_charges(None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = AseAtomsAdaptor.get_structure(atoms)
        return check_structure(structure, label or atoms.get_chemical_formula(mode="reduce"))
    raise TypeError(
        f"cannot use {type(source).__name__} as a structure; pass ASE Atoms, a pymatgen Structure or a file path"
    )


def _symbol(species) -> str | None:
    """The element symbol of a pymatgen species (Element, Species), or None for a dummy species."""
    from pymatgen.core.periodic_table import DummySpecies, Element

    element = getattr(species, "element", species)
    if isinstance(species, DummySpecies) or not isinstance(element, Element):
        return None
    return element.symbol


def check_structure(structure, label: str = "structure"):
    """Refuse a structure that cannot be simulated, naming the problem; return it unchanged otherwise.

    Checks: at least one site; finite lattice and coordinates; a cell of positive volume; real elements only;
    occupancies in (0, 1] per site; no two atoms closer than :data:`MIN_DISTANCE_A` (pairs of partially
    occupied sites are exempt: split sites are close by design, and ordering keeps them apart).
    """
    if len(structure) == 0:
        raise StructureError(f"{label} contains no atoms")
    _check_cell(np.asarray(structure.lattice.matrix, dtype=np.float64), label)
    if not np.all(np.isfinite(structure.frac_coords)):
        bad = int(np.flatnonzero(~np.isfinite(structure.frac_coords).all(axis=1))[0])
        raise StructureError(f"{label}: atom {bad} has a non-finite position (NaN or infinite coordinates)")
    for i, site in enumerate(structure):
        for species, occupancy in site.species.items():
            if _symbol(species) is None:
                raise StructureError(
                    f"{label}: site {i} holds {species!s}, which is not a chemical element; replace it"
                )
            if not 0.0 < occupancy <= _MAX_OCCUPANCY:
                raise StructureError(
                    f"{label}: site {i} has occupancy {occupancy:g} of {species!s}; need 0 < occupancy <= 1"
                )
        if site.species.num_atoms > _MAX_OCCUPANCY:
            raise StructureError(
                f"{label}: the occupancies of site {i} sum to {site.species.num_atoms:.4g} > 1; fix the occupancies"
            )
    _check_distances(structure, label)
    return structure


def _check_distances(structure, label: str) -> None:
    full = np.array([site.species.num_atoms >= 1.0 - 1e-3 for site in structure])
    centres, neighbours, _images, distances = structure.get_neighbor_list(MIN_DISTANCE_A)
    close = full[centres] & full[neighbours]
    if not close.any():
        return
    k = int(np.argmin(np.where(close, distances, np.inf)))
    i, j = sorted((int(centres[k]), int(neighbours[k])))

    def name(index: int) -> str:
        return f"{index} ({structure[index].species.elements[0].symbol})"

    pair = f"atom {name(i)} and its periodic image" if i == j else f"atoms {name(i)} and {name(j)}"
    raise StructureError(
        f"{label}: {pair} are {distances[k]:.3g} Å apart (minimum {MIN_DISTANCE_A} Å): "
        "overlapping or duplicated atoms; remove them from the file"
    )


def mobile_species(structure, species: str | None) -> str:
    """The mobile ion: ``species`` if the structure has it, else Li when present; a one-line error otherwise."""
    present = sorted({el.symbol for el in structure.composition.elements})
    formula = structure.composition.reduced_formula
    if species is None and "Li" in present:
        return "Li"
    if species is None:
        raise StructureError(
            f"no Li in {formula}: name the mobile ion with --species (one of {', '.join(present)})"
        )
    if species not in present:
        raise StructureError(f"mobile species {species} is not in {formula} (elements: {', '.join(present)})")
    return species
