"""Supercell choice: wide enough for a minimum-image neighbour list, large enough for the statistics, and — for a
disordered structure — large enough that ordering cannot round the mobile ion away."""

from __future__ import annotations

import math

import numpy as np

from superionic.structures._errors import StructureError
from superionic.structures.cell import perpendicular_widths

__all__ = ["MOBILE_ROUNDING_LIMIT", "SupercellError", "choose_supercell", "require_width"]

#: Largest relative change of the mobile-ion count that rounding the occupancies of a disordered structure on the
#: supercell may cause (10 %: Li0.56 per cell needs 5 cells, 2.8 → 3 Li).
MOBILE_ROUNDING_LIMIT = 0.1


class SupercellError(StructureError):
    """No supercell within the size limit meets the width and composition requirements."""


def _mobile_ok(mobile_per_cell: float | None, n_cells: int) -> bool:
    if mobile_per_cell is None:
        return True
    expected = mobile_per_cell * n_cells
    return round(expected) >= 1 and abs(round(expected) - expected) <= MOBILE_ROUNDING_LIMIT * expected


def choose_supercell(
    cell,
    atoms_per_cell: float,
    *,
    min_width_A: float,
    target_atoms: int = 0,
    max_atoms: int | None = None,
    mobile_per_cell: float | None = None,
) -> tuple[int, int, int]:
    """The smallest diagonal repetition with every perpendicular width >= ``min_width_A``, grown (always along the
    currently narrowest direction, so the supercell stays compact) until it holds at least ``target_atoms`` and,
    when ``mobile_per_cell`` (the mobile ion's expected count per cell of a disordered structure) is given, a
    whole number of mobile ions within :data:`MOBILE_ROUNDING_LIMIT`.

    Raises:
      SupercellError: the supercell would exceed ``max_atoms`` (the message says why it is that large).

    >>> choose_supercell(np.eye(3) * 4.0, 8, min_width_A=10.0)
    (3, 3, 3)
    >>> choose_supercell(np.eye(3) * 4.0, 8, min_width_A=10.0, target_atoms=300)
    (4, 4, 3)
    >>> choose_supercell(np.eye(3) * 12.0, 20, min_width_A=10.0, mobile_per_cell=0.56)  # 6.72 -> 7 Li
    (3, 2, 2)
    """
    widths = perpendicular_widths(cell)
    start = [max(1, math.ceil(min_width_A / w - 1e-9)) for w in widths]
    limit = math.inf if max_atoms is None else max_atoms

    def big_enough(n_cells: int) -> bool:
        return atoms_per_cell * n_cells >= target_atoms

    reps = _grow(
        widths, start, lambda n: big_enough(n) and _mobile_ok(mobile_per_cell, n), atoms_per_cell, limit
    )
    if reps is not None:
        return reps
    if mobile_per_cell is not None and _grow(widths, start, big_enough, atoms_per_cell, limit) is not None:
        raise SupercellError(
            f"{mobile_per_cell:.3g} mobile ions per cell: an ordered supercell that holds a whole number of them "
            f"(within {MOBILE_ROUNDING_LIMIT:.0%}) needs more than max_atoms={max_atoms} atoms; give a supercell "
            "explicitly (--supercell AxBxC) or order the structure yourself"
        )
    raise SupercellError(
        f"a supercell with widths >= {min_width_A:.2f} Å and >= {target_atoms} atoms needs more than "
        f"max_atoms={max_atoms} atoms ({atoms_per_cell:.4g} per cell); lower the target (--target-atoms) or give a "
        "supercell (--supercell AxBxC)"
    )


def _grow(widths, start, done, atoms_per_cell: float, limit: float) -> tuple[int, int, int] | None:
    """Grow ``start`` along the narrowest direction until ``done(n_cells)``; None once past ``limit`` atoms."""
    reps = list(start)
    while atoms_per_cell * math.prod(reps) <= limit:
        if done(math.prod(reps)):
            return (reps[0], reps[1], reps[2])
        i = int(np.argmin([r * w for r, w in zip(reps, widths, strict=True)]))
        reps[i] += 1
    return None


def require_width(cell, supercell, *, min_width_A: float) -> None:
    """Refuse a supercell narrower than ``min_width_A`` (for transport: 2 x cutoff, so that no ion interacts
    with its own periodic image).

    >>> require_width(np.eye(3) * 4.0, (3, 3, 3), min_width_A=11.0)
    >>> try:
    ...     require_width(np.eye(3) * 4.0, (2, 3, 3), min_width_A=11.0)
    ... except SupercellError as err:
    ...     print(str(err)[:47])
    supercell 2x3x3 is 8 Å wide, narrower than 11 Å
    """
    widths = perpendicular_widths(cell) * np.asarray(supercell)
    if np.min(widths) < min_width_A - 1e-9:
        raise SupercellError(
            f"supercell {'x'.join(map(str, supercell))} is {np.min(widths):.3g} Å wide, narrower than "
            f"{min_width_A:.3g} Å (2 x cutoff): an ion would interact with its own periodic image; give "
            "a larger --supercell or leave it to auto"
        )
