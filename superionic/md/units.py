"""The one place where physical units (fs, ps, K, GPa, Å/ps) meet jax-md's internal units.

jax-md uses a consistent system built on eV (energy), Å (length) and amu (mass). Its time unit is therefore
``sqrt(amu Å² / eV)`` ≈ 10.1805 fs, temperatures enter as ``kT`` in eV, pressures as eV/Å³ and velocities as
Å per internal time unit. Every conversion in ``superionic.md`` goes through the functions below; nothing else
in the package multiplies by a unit factor.

>>> round(INTERNAL_TIME_FS, 4)
10.1805
>>> round(fs_to_internal(INTERNAL_TIME_FS), 12)
1.0
>>> round(kT_eV(300.0), 6)
0.025852
"""

from __future__ import annotations

import math

import numpy as np

# CODATA 2018 exact / recommended values.
_EV_J = 1.602176634e-19  # J per eV (exact)
_AMU_KG = 1.66053906660e-27  # kg per amu
_ANGSTROM_M = 1e-10
BOLTZMANN_EV_PER_K = 8.617333262e-5  # eV/K (exact by definition of the SI)

#: jax-md's internal time unit, sqrt(amu Å² / eV), in fs (≈ 10.1805 fs).
INTERNAL_TIME_FS = math.sqrt(_AMU_KG * _ANGSTROM_M**2 / _EV_J) * 1e15
#: 1 GPa expressed in eV/Å³ (≈ 6.2415e-3).
EV_PER_A3_PER_GPA = 1e9 * _ANGSTROM_M**3 / _EV_J


def fs_to_internal(t_fs: float) -> float:
    """A time in fs → jax-md time units."""
    return t_fs / INTERNAL_TIME_FS


def internal_to_fs(t: float) -> float:
    """A time in jax-md time units → fs."""
    return t * INTERNAL_TIME_FS


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
    return v * (1000.0 / INTERNAL_TIME_FS)


def velocity_A_per_ps_to_internal(v: np.ndarray) -> np.ndarray:
    """Velocity in Å/ps → Å per jax-md time unit."""
    return v * (INTERNAL_TIME_FS / 1000.0)


def friction_per_ps_to_internal(gamma_per_ps: float) -> float:
    """A rate in 1/ps → 1/(jax-md time unit)."""
    return gamma_per_ps * INTERNAL_TIME_FS / 1000.0
