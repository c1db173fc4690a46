"""Unwrapping of periodic positions, correct under NPT box fluctuations."""

from __future__ import annotations

import numpy as np


def unwrap_positions(wrapped_A: np.ndarray, cells_A: np.ndarray) -> np.ndarray:
    """Continuous trajectories from positions wrapped into a (possibly time-dependent) periodic cell.

    Uses the scheme of von Bülow, Bullerjahn & Hummer (J. Chem. Phys. 153, 021101 (2020)), which stays
    correct under NPT box fluctuations: u(t+1) = u(t) + Δw − n·L(t+1) with Δw = w(t+1) − w(t) and n the
    nearest-integer lattice image of Δw in the cell of frame t+1. Unwrapping the naive way (accumulating
    fractional jumps and multiplying by the current box) inflates the MSD with the box fluctuations.

    Already-continuous input is returned unchanged as long as no atom moves more than half a cell between
    frames, so applying this to unwrapped data is harmless.

    Args:
        wrapped_A: Cartesian positions, Å ``[F, N, 3]``.
        cells_A: lattice vectors as rows, Å ``[F, 3, 3]``.

    Returns:
        Unwrapped positions, Å ``[F, N, 3]``, equal to the input at frame 0.
    """
    steps_A = np.diff(wrapped_A, axis=0)  # [F-1, N, 3]
    inv_cells = np.linalg.inv(cells_A[1:])  # [F-1, 3, 3]; fractional = cartesian @ inv(cell) for row vectors
    images = np.rint(np.einsum("fni,fij->fnj", steps_A, inv_cells))
    corrected_A = steps_A - np.einsum("fnj,fjk->fnk", images, cells_A[1:])
    unwrapped = np.empty_like(wrapped_A, dtype=np.float64)
    unwrapped[0] = wrapped_A[0]
    unwrapped[1:] = wrapped_A[0] + np.cumsum(corrected_A, axis=0)
    return unwrapped
