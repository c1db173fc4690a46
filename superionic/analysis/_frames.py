"""Per-frame views of a :class:`Trajectory` that the mechanism analysis shares: fractional coordinates of the
mobile ions with the framework's drift removed, the framework's mean structure, the mean cell."""

from __future__ import annotations

import numpy as np

from superionic.analysis._trajectory import Trajectory
from superionic.analysis._unwrap import remove_framework_drift


def frame_interval_ps(traj: Trajectory) -> float:
    """Time between frames, ps (the one place that knows the attribute's name)."""
    return float(traj.timestep_ps)


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
