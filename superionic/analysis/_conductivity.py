"""Conductivities (Nernst–Einstein from tracer D, and from the charge MSD), Haven ratio, GNoME's threshold."""

from __future__ import annotations

import numpy as np
from scipy import constants

from superionic.analysis._diffusion import Z95
from superionic.units import A2_PER_PS_TO_CM2_PER_S, S_PER_M_TO_MS_PER_CM

#: GNoME's superionic threshold at 1000 K (Merchant et al. 2023, after Jun et al. 2022): log10 σ/(mS/cm) > 1.18.
GNOME_THRESHOLD_MS_PER_CM = 10.0**1.18


def nernst_einstein_factor_mS_per_cm_per_cm2_per_s(
    n_ions: float, volume_A3: float, charge_e: float, temperature_K: float
) -> float:
    """σ/D for ``n_ions`` carriers of charge ``charge_e`` in ``volume_A3`` at ``temperature_K`` (Haven ratio 1).

    σ = n q² D / (kB T); multiply a tracer D in cm²/s by this factor to get σ in mS/cm. Equal to
    pymatgen-analysis-diffusion's ``get_conversion_factor`` for the same structure, species and temperature.

    >>> round(nernst_einstein_factor_mS_per_cm_per_cm2_per_s(4, 291.4, 1.0, 600.0) / 1e6, 2)
    42.54
    """
    if volume_A3 <= 0 or temperature_K <= 0:
        raise ValueError(f"volume_A3={volume_A3} and temperature_K={temperature_K} must both be positive")
    density_per_m3 = n_ions / (volume_A3 * constants.angstrom**3)
    sigma_per_d_si = (
        density_per_m3 * (charge_e * constants.e) ** 2 / (constants.k * temperature_K)
    )  # S/m per m²/s
    return sigma_per_d_si * (constants.centi**2) * S_PER_M_TO_MS_PER_CM


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
