"""Unit conversions of the analysis package, from scipy.constants (no hand-typed numbers).

Internal units: Å, ps, e, K. Conversions happen once, at the boundary (result objects, conductivities).
"""

from __future__ import annotations

from scipy import constants

#: 1 Å²/ps expressed in cm²/s (= 1e-4).
A2_PER_PS_TO_CM2_PER_S = (constants.angstrom / constants.centi) ** 2 / constants.pico

#: 1 S/m expressed in mS/cm (= 10).
S_PER_M_TO_MS_PER_CM = (1.0 / constants.milli) * constants.centi

#: Boltzmann constant in eV/K.
KB_EV_PER_K = constants.k / constants.e

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
