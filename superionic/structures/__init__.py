"""Structures: reading and checking them, formal charges, supercells, ordering of disordered crystals, relaxation.

The layer under everything else (``potentials``, ``md``, ``estimate``, ``training`` and ``discovery`` use it; it
imports no other subpackage and no jax).

>>> from superionic import structures
>>> garnet = structures.read_structure("examples/garnet_LLTSO_disordered.cif")     # checked on reading
>>> charges = structures.formal_charges(garnet.composition)
>>> charges["Ta"], charges["Sm"]
(5.0, 3.0)
>>> (ordering,) = structures.order_structure(garnet, (1, 1, 1), charges)           # keeps the material
>>> ordering.counts, ordering.net_charge_e
({'Li': 44, 'La': 24, 'Ta': 14, 'Sm': 2, 'O': 96}, 0.0)

Units: Å, e, eV.
"""

from superionic.structures._errors import StructureError
from superionic.structures.cell import (
    box_from_cell,
    cell_from_box,
    perpendicular_widths,
    standard_orientation,
)
from superionic.structures.charges import (
    ChargeError,
    charge_balance_warning,
    formal_charges,
    net_charge_e,
    parse_charges,
)
from superionic.structures.io import (
    MIN_DISTANCE_A,
    STRUCTURE_FORMATS,
    as_structure,
    check_structure,
    mobile_species,
    read_structure,
)
from superionic.structures.ordering import Ordering, OrderingError, order_structure
from superionic.structures.relax import Relaxation, relax
from superionic.structures.supercell import SupercellError, choose_supercell, require_width
from superionic.structures.symmetry import primitive_cell, symmetrize

__all__ = [
    "MIN_DISTANCE_A",
    "STRUCTURE_FORMATS",
    "ChargeError",
    "Ordering",
    "OrderingError",
    "Relaxation",
    "StructureError",
    "SupercellError",
    "as_structure",
    "box_from_cell",
    "cell_from_box",
    "charge_balance_warning",
    "check_structure",
    "choose_supercell",
    "formal_charges",
    "mobile_species",
    "net_charge_e",
    "order_structure",
    "parse_charges",
    "perpendicular_widths",
    "primitive_cell",
    "read_structure",
    "relax",
    "require_width",
    "standard_orientation",
    "symmetrize",
]
