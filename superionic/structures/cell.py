"""Cell geometry, and the one conversion between the two cell conventions of the package.

- ASE / pymatgen / H5MD: ``cell`` is a 3x3 matrix whose ROWS are the lattice vectors a, b, c.
- jax-md ``space.periodic_general(box, fractional_coordinates=True)``: ``box`` is a 3x3 matrix whose COLUMNS are
  the lattice vectors, so that ``r_cartesian = box @ s_fractional``; jax-md's cell lists further need ``box``
  upper triangular, i.e. the cell in the standard orientation (a along x, b in the xy plane, right-handed).

Host-side numpy only (float64), so it is importable without jax.
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_from_cell", "cell_from_box", "perpendicular_widths", "standard_orientation"]


def box_from_cell(cell) -> np.ndarray:
    """ASE/pymatgen cell (rows = lattice vectors) → jax-md box (columns = lattice vectors); works on stacks
    ``[..., 3, 3]``.

    >>> box_from_cell(np.array([[1.0, 0, 0], [0.5, 2.0, 0], [0, 0, 3.0]]))[:, 1].tolist()
    [0.5, 2.0, 0.0]
    """
    cell = np.asarray(cell, dtype=np.float64)
    if cell.shape[-2:] != (3, 3):
        raise ValueError(f"cell must be a 3x3 matrix of lattice vectors (rows), got shape {cell.shape}")
    return np.swapaxes(cell, -1, -2).copy()


def cell_from_box(box) -> np.ndarray:
    """jax-md box (columns) → ASE cell (rows); works on stacks ``[..., 3, 3]``.

    >>> cell_from_box(box_from_cell(np.diag([1.0, 2.0, 3.0]))).tolist()[1]
    [0.0, 2.0, 0.0]
    """
    return box_from_cell(box)  # the transpose is its own inverse


def perpendicular_widths(cell) -> np.ndarray:
    """Distances between opposite faces of the cell (Å), for lattice vectors given as rows.

    A minimum-image neighbour list within ``r`` is exact when every width is at least ``2 r``.

    >>> perpendicular_widths(np.array([[4.0, 0, 0], [2.0, 4.0, 0], [0, 0, 5.0]])).round(3).tolist()
    [3.578, 4.0, 5.0]
    """
    cell = np.asarray(cell, dtype=np.float64)
    volume = abs(np.linalg.det(cell))
    cross = [np.cross(cell[1], cell[2]), np.cross(cell[2], cell[0]), np.cross(cell[0], cell[1])]
    return np.array([volume / np.linalg.norm(c) for c in cross])


def standard_orientation(cell, fractional) -> tuple[np.ndarray, np.ndarray]:
    """The cell rotated into jax-md's orientation (rows lower triangular, positive diagonal), with the
    fractional coordinates that go with it (a and b swap labels when the input cell is left-handed).

    >>> cell, frac = standard_orientation(np.array([[0, 3.0, 0], [2.0, 0, 0], [0, 0, 1.0]]), np.zeros((1, 3)))
    >>> np.round(cell, 6).tolist()
    [[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]]
    """
    from ase.cell import Cell

    cell = np.asarray(cell, dtype=np.float64)
    frac = np.asarray(fractional, dtype=np.float64)
    if np.linalg.det(cell) < 0:
        cell, frac = cell[[1, 0, 2]], frac[:, [1, 0, 2]]
    rotated, _ = Cell(cell).standard_form()
    return np.array(rotated, dtype=np.float64), frac
