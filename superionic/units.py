"""The package's one units module: constants from ``scipy.constants`` and every conversion between the units at
the interfaces (eV, Å, fs/ps, K, GPa, e, cm²/s, mS/cm) and jax-md's internal units.

jax-md uses a consistent system built on eV (energy), Å (length) and amu (mass). Its time unit is therefore
``sqrt(amu Å² / eV)`` ≈ 10.1805 fs, temperatures enter as ``kT`` in eV, pressures as eV/Å³ and velocities as
Å per internal time unit. Nothing else in the package multiplies by a unit factor. Importable without jax.

>>> round(INTERNAL_TIME_FS, 4)
10.1805
>>> round(fs_to_internal(INTERNAL_TIME_FS), 12)
1.0
>>> round(kT_eV(300.0), 6)
0.025852
>>> round(A2_PER_PS_TO_CM2_PER_S, 12)
0.0001
"""

from __future__ import annotations

import math

import numpy as np
from scipy import constants

__all__ = [
    "A2_PER_PS_TO_CM2_PER_S",
    "BOLTZMANN_EV_PER_K",
    "EV_PER_A3_PER_GPA",
    "INTERNAL_TIME_FS",
    "S_PER_M_TO_MS_PER_CM",
    "friction_per_ps_to_internal",
    "fs_to_internal",
    "gpa_to_internal",
    "internal_to_gpa",
    "kT_eV",
    "kT_to_K",
    "velocity_A_per_ps_to_internal",
    "velocity_internal_to_A_per_ps",
]

#: Boltzmann constant in eV/K (exact in the SI).
BOLTZMANN_EV_PER_K = constants.k / constants.e
#: 1 Å²/ps expressed in cm²/s (= 1e-4).
A2_PER_PS_TO_CM2_PER_S = (constants.angstrom / constants.centi) ** 2 / constants.pico
#: 1 S/m expressed in mS/cm (= 10).
S_PER_M_TO_MS_PER_CM = (1.0 / constants.milli) * constants.centi
#: jax-md's internal time unit, sqrt(amu Å² / eV), in fs (≈ 10.1805 fs).
INTERNAL_TIME_FS = math.sqrt(constants.atomic_mass * constants.angstrom**2 / constants.e) / constants.femto
#: 1 GPa expressed in eV/Å³ (≈ 6.2415e-3).
EV_PER_A3_PER_GPA = constants.giga * constants.angstrom**3 / constants.e


def fs_to_internal(t_fs: float) -> float:
    """A time in fs → jax-md time units."""
    return t_fs / INTERNAL_TIME_FS


def kT_eV(temperature_K: float | np.ndarray) -> float | np.ndarray:
    """Temperature in K → kT in eV (jax-md's temperature variable)."""
    return BOLTZMANN_EV_PER_K * temperature_K


def kT_to_K(kT: float | np.ndarray) -> float | np.ndarray:
    """kT in eV → temperature in K."""
    return kT / BOLTZMANN_EV_PER_K


def gpa_to_internal(pressure_GPa: float | np.ndarray) -> float | np.ndarray:
    """Pressure (or stress) in GPa → eV/Å³."""
    return pressure_GPa * EV_PER_A3_PER_GPA


def internal_to_gpa(pressure: float | np.ndarray) -> float | np.ndarray:
    """Pressure (or stress) in eV/Å³ → GPa."""
    return pressure / EV_PER_A3_PER_GPA


def velocity_internal_to_A_per_ps(v: np.ndarray) -> np.ndarray:
    """Velocity in Å per jax-md time unit → Å/ps."""
    return v * (constants.pico / constants.femto / INTERNAL_TIME_FS)


def velocity_A_per_ps_to_internal(v: np.ndarray) -> np.ndarray:
    """Velocity in Å/ps → Å per jax-md time unit."""
    return v * (INTERNAL_TIME_FS * constants.femto / constants.pico)


def friction_per_ps_to_internal(gamma_per_ps: float) -> float:
    """A rate (the Langevin friction) in 1/ps → 1/(jax-md time unit)."""
    return gamma_per_ps * INTERNAL_TIME_FS * constants.femto / constants.pico
