"""Twenty-odd varied, slightly rattled crystals for comparing potentials (oxides, sulfides, halides, metals,
a triclinic cell, cells smaller than twice the cutoff, Li conductors from examples/)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.io import read
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from tests.conftest import EXAMPLES


def _from_spacegroup(group, lattice, species, coords) -> Atoms:
    return AseAtomsAdaptor.get_atoms(Structure.from_spacegroup(group, lattice, species, coords))


def comparison_structures() -> dict[str, Atoms]:
    structures = {
        "Li2O": bulk("OLi2", "fluorite", a=4.61, cubic=True),
        "Li2S": bulk("SLi2", "fluorite", a=5.71, cubic=True),
        "MgO": bulk("MgO", "rocksalt", a=4.21),
        "LiF": bulk("LiF", "rocksalt", a=4.03),
        "NaCl": bulk("NaCl", "rocksalt", a=5.64),
        "CsCl": bulk("CsCl", "cesiumchloride", a=4.12),
        "CaF2": bulk("CaF2", "fluorite", a=5.46),
        "ZnS": bulk("ZnS", "zincblende", a=5.41),
        "GaAs": bulk("GaAs", "zincblende", a=5.65),
        "Si": bulk("Si", "diamond", a=5.43),
        "Cu": bulk("Cu", "fcc", a=3.61),
        "Al": bulk("Al", "fcc", a=4.05, cubic=True),
        "Li-bcc": bulk("Li", "bcc", a=3.44, cubic=True),
        "Fe-bcc": bulk("Fe", "bcc", a=2.87),
        "Ti-hcp": bulk("Ti", "hcp", a=2.95, c=4.68),
        "LiCoO2": _from_spacegroup(
            "R-3m", Lattice.hexagonal(2.82, 14.05), ["Li", "Co", "O"], [[0, 0, 0], [0, 0, 0.5], [0, 0, 0.24]]
        ),
        "Li3YCl6-like LiCl": bulk("LiCl", "rocksalt", a=5.13),
        "Li3N": read(EXAMPLES / "Li3N.cif"),
        "Li3PS4-gamma": read(EXAMPLES / "Li3PS4_gamma.cif"),
        "Li2O-supercell": bulk("OLi2", "fluorite", a=4.61, cubic=True).repeat((2, 1, 1)),
    }
    rng = np.random.default_rng(42)
    triclinic = Atoms(
        "Li3PS3O",
        scaled_positions=rng.random((8, 3)),
        cell=[[5.6, 0.0, 0.0], [1.4, 5.9, 0.0], [-1.1, 1.2, 6.3]],
        pbc=True,
    )
    structures["triclinic Li3PS3O"] = triclinic
    out = {}
    for i, (name, atoms) in enumerate(structures.items()):
        atoms = atoms.copy()
        atoms.rattle(0.05, seed=i)
        strain = np.eye(3) + 0.01 * rng.normal(size=(3, 3))
        atoms.set_cell(atoms.cell[:] @ strain, scale_atoms=True)
        out[name] = atoms
    return out
