"""Per-frame views of a :class:`Trajectory` that the transport and mechanism analyses share: positions with the
framework's drift removed, fractional coordinates of the mobile ions, the framework's mean structure, the mean
cell."""

from __future__ import annotations

import numpy as np
from ase.data import atomic_masses

from superionic.trajectory import Trajectory


def remove_framework_drift(
    positions_A: np.ndarray, atomic_numbers: np.ndarray, mobile_atomic_number: int
) -> np.ndarray:
    """Subtract the mass-weighted centre-of-mass displacement of the framework (all non-mobile atoms).

    Thermostats and integrators let the whole cell drift slowly; measured relative to the framework, the
    mobile ions' displacements are what carries current. When every atom is mobile there is no framework to
    refer to and the positions are returned unchanged (removing their own centre of mass would erase the
    collective displacement).

    Args:
        positions_A: unwrapped positions, Å ``[F, N, 3]``.
        atomic_numbers: ``[N]``.
        mobile_atomic_number: Z of the diffusing species.

    Returns:
        Positions with the framework's COM displacement since frame 0 removed, Å ``[F, N, 3]``.
    """
    framework = atomic_numbers != mobile_atomic_number
    if not framework.any():
        return positions_A
    masses = atomic_masses[atomic_numbers[framework]]
    com_A = np.einsum("fni,n->fi", positions_A[:, framework], masses) / masses.sum()  # [F, 3]
    return positions_A - (com_A - com_A[0])[:, None, :]


def frame_interval_ps(traj: Trajectory) -> float:
    """Time between frames, ps (the one place that knows the attribute's name)."""
    return float(traj.frame_interval_ps)


def mean_cell_A(traj: Trajectory) -> np.ndarray:
    """Time-averaged cell, Å ``[3, 3]`` (rows = lattice vectors)."""
    return traj.cells_A.mean(axis=0)


def fractional_unwrapped(traj: Trajectory, mobile_z: int) -> np.ndarray:
    """Unwrapped fractional coordinates of every atom, ``[F, N, 3]``, each frame in its own cell, after removing
    the framework's centre-of-mass drift (so sites stay put under a drifting thermostat and under NPT)."""
    positions = remove_framework_drift(traj.positions_A, traj.atomic_numbers, mobile_z)
    return np.einsum("fni,fij->fnj", positions, np.linalg.inv(traj.cells_A))


def framework_mean(traj: Trajectory, mobile_z: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean fractional positions (wrapped to [0, 1)) ``[M, 3]`` and atomic numbers ``[M]`` of the framework
    (every atom that is not of the mobile species)."""
    framework = traj.atomic_numbers != mobile_z
    frac = fractional_unwrapped(traj, mobile_z)[:, framework].mean(axis=0)
    return frac - np.floor(frac), traj.atomic_numbers[framework]


def mobile_fractional(traj: Trajectory, mobile_z: int) -> np.ndarray:
    """Fractional coordinates of the mobile ions wrapped to [0, 1), ``[F, N_mobile, 3]``."""
    frac = fractional_unwrapped(traj, mobile_z)[:, traj.atomic_numbers == mobile_z]
    return frac - np.floor(frac)
