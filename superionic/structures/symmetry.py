"""Symmetrisation of experimental structures whose positions carry noise."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["primitive_cell", "symmetrize"]


def symmetrize(structure, symprecs_A: Sequence[float] = (0.1, 0.2, 0.3)):
    """The primitive standard cell with idealised (symmetrised) positions, or ``structure`` if none is found.

    Experimental CIFs with positional noise (OBELiX adds σ = 0.01 in fractional coordinates) give very short
    bonds; spglib's idealisation averages the noise over each symmetry orbit. Occupancies are kept.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    for symprec in symprecs_A:
        try:
            return SpacegroupAnalyzer(structure, symprec=symprec).get_primitive_standard_structure()
        except Exception:  # spglib finds no consistent symmetry at this tolerance: try a looser one
            continue
    return structure


def primitive_cell(structure, symprec_A: float = 1e-3):
    """The primitive cell of ``structure`` (ordered or not), positions and occupancies unchanged; the structure
    itself when it is primitive already or spglib finds no symmetry.

    pymatgen's ``Structure.get_primitive_structure`` keeps e.g. OBELiX's 144-site hexagonal NASICON cell whole;
    spglib, through ``SpacegroupAnalyzer`` (which types each distinct occupancy as its own species), finds the
    48-site rhombohedral cell. The tight default tolerance keeps positions as given.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        primitive = SpacegroupAnalyzer(structure, symprec=symprec_A).find_primitive()
    except Exception:  # spglib finds no consistent symmetry: the cell stays as it is
        return structure
    if primitive is None or len(primitive) >= len(structure):
        return structure
    return primitive
