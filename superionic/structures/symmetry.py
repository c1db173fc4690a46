"""Symmetrisation of experimental structures whose positions carry noise."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["symmetrize"]


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
