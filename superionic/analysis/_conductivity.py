"""Conductivities (Nernst–Einstein from tracer D, and from the charge MSD), Haven ratio, formal charges."""

from __future__ import annotations

import warnings

import numpy as np
from pymatgen.core import Composition, Element
from scipy import constants

from superionic.analysis._diffusion import Z95
from superionic.analysis._units import A2_PER_PS_TO_CM2_PER_S, S_PER_M_TO_MS_PER_CM


def charge_msd_slope_to_sigma_mS_per_cm(volume_A3: float, temperature_K: float) -> float:
    """σ per unit slope of the charge MSD ⟨|Σ q_i Δr_i|²⟩ in (e·Å)²/ps:  σ = slope / (6 V kB T).

    Multiply a slope in (e·Å)²/ps by this to get σ in mS/cm.
    """
    slope_si = constants.e**2 * constants.angstrom**2 / constants.pico  # (C·m)²/s per (e·Å)²/ps
    return (
        slope_si
        / (6.0 * volume_A3 * constants.angstrom**3 * constants.k * temperature_K)
        * S_PER_M_TO_MS_PER_CM
    )


def tracer_D_to_cm2_per_s(d_A2_per_ps: float) -> float:
    """Å²/ps → cm²/s."""
    return d_A2_per_ps * A2_PER_PS_TO_CM2_PER_S


def ratio_interval_fieller(
    numerator: float, numerator_se: float, denominator: float, denominator_se: float, z: float = Z95
) -> tuple[float, float] | None:
    """Fieller's confidence interval for a / b with independent normal a, b.

    Returns None when b is not significantly non-zero (the interval is then unbounded).

    >>> [round(v, 3) for v in ratio_interval_fieller(1.0, 0.05, 2.0, 0.1)]
    [0.435, 0.575]
    """
    a, b = numerator, denominator
    quad = b * b - z * z * denominator_se**2
    if quad <= 0:
        return None
    lin = a * b
    const = a * a - z * z * numerator_se**2
    disc = lin * lin - quad * const
    root = np.sqrt(max(disc, 0.0))
    return float((lin - root) / quad), float((lin + root) / quad)


def guess_formal_charges(atomic_numbers: np.ndarray) -> np.ndarray:
    """Formal charges (e) per atom from pymatgen's oxidation-state guess for the composition.

    When no charge-balanced assignment exists (e.g. a cell with a vacancy), elements with a single common
    oxidation state (Li, Na, O, ...) get it and the others NaN; the caller must ask the user for missing ones.
    """
    symbols = [Element.from_Z(int(z)).symbol for z in atomic_numbers]
    composition = Composition(" ".join(symbols))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about the absent ICSD statistics for rare elements
        guesses = composition.oxi_state_guesses(max_sites=-1)
    if not guesses:
        unique = {s: Element(s).common_oxidation_states for s in set(symbols)}
        return np.array([float(unique[s][0]) if len(unique[s]) == 1 else np.nan for s in symbols])
    best = guesses[0]
    return np.array([float(best[s]) for s in symbols])
