"""Build the seed structures Li3InCl6 and Li3ScCl6 (C2/m, Li3InCl6 type) and relax them with SevenNet-0.

The cells start from the layered rock-salt description of the Li3InCl6 type (Schmidt et al., Chem. Mater. 2020;
the same C2/m frame as Li2MnO3): Cl on 4i + 8j (cubic close packing), the trivalent cation on 2b with the two
4g octahedral sites of its layer empty, Li on 2c + 4h filling the next layer; lattice a ≈ 6.4 Å, b ≈ 11.1 Å,
c ≈ 6.4 Å, β ≈ 109.8°. The coordinates here are idealised, so the cells are relaxed (positions and cell) with
SevenNet-0 before they are written as primitive cells (10 atoms).

    python examples/discovery/make_seeds.py        # writes Li3InCl6.cif and Li3ScCl6.cif beside this file
"""

from __future__ import annotations

from pathlib import Path

from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.cif import CifWriter

HERE = Path(__file__).resolve().parent

# (a, b, c in Å, beta in degrees): measured lattices of the two compounds, rounded.
LATTICES = {"In": (6.44, 11.16, 6.44, 109.8), "Sc": (6.38, 11.03, 6.36, 109.9)}


def idealised(metal: str) -> Structure:
    a, b, c, beta = LATTICES[metal]
    return Structure.from_spacegroup(
        "C2/m",
        Lattice.monoclinic(a, b, c, beta),
        [metal, "Li", "Li", "Cl", "Cl"],
        [
            [0.0, 0.5, 0.0],
            [0.0, 0.0, 0.5],
            [0.0, 0.6667, 0.5],
            [0.2187, 0.0, 0.2275],
            [0.2540, 0.3213, 0.2233],
        ],
    )


def main() -> None:
    from superionic.potentials import load
    from superionic.training.batched_relax import relax_structures

    potential = load("sevennet-0")
    starts = [idealised(m).get_primitive_structure() for m in LATTICES]
    results = relax_structures(
        potential, [AseAtomsAdaptor.get_atoms(s) for s in starts], fmax_eV_per_A=0.02, max_steps=400
    )
    for metal, result in zip(LATTICES, results, strict=True):
        structure = AseAtomsAdaptor.get_structure(result.atoms)
        path = HERE / f"Li3{metal}Cl6.cif"
        CifWriter(structure, symprec=0.05).write_file(path)
        print(
            f"{path.name}: {len(structure)} atoms, {result.steps} FIRE steps, converged {result.converged}, "
            f"E = {result.energy_per_atom_eV:.4f} eV/atom, volume change {result.volume_change_percent:+.1f} %"
        )


if __name__ == "__main__":
    main()
