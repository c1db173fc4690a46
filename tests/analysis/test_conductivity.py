"""Nernst–Einstein conversion anchored on pymatgen-analysis-diffusion, Haven-ratio interval."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.diffusion.analyzer import get_conversion_factor
from pymatgen.util.testing import MatSciTest

from superionic.analysis import (
    nernst_einstein_factor_mS_per_cm_per_cm2_per_s,
    ratio_interval_fieller,
)
from superionic.analysis._conductivity import charge_msd_slope_to_sigma_mS_per_cm


def test_conversion_factor_matches_pymatgen_for_LiFePO4_at_600K():
    structure = MatSciTest.get_structure("LiFePO4")
    ours = nernst_einstein_factor_mS_per_cm_per_cm2_per_s(
        structure.composition["Li"], structure.volume, 1.0, 600.0
    )
    assert ours == pytest.approx(41_370_704, abs=20)  # the published anchor
    assert ours == pytest.approx(get_conversion_factor(structure, "Li", 600), rel=1e-9)


def test_charge_msd_conversion_equals_nernst_einstein_for_uncorrelated_ions():
    """For independent ions ⟨|Σ q Δr|²⟩ = N q² ⟨|Δr|²⟩, so both routes give the same σ."""
    n_ions, volume, charge, temperature = 12, 800.0, 1.0, 900.0
    d_a2_per_ps = 0.05
    tracer_route = nernst_einstein_factor_mS_per_cm_per_cm2_per_s(n_ions, volume, charge, temperature) * (
        d_a2_per_ps * 1e-4
    )
    charge_slope = n_ions * charge**2 * 6 * d_a2_per_ps  # (e·Å)²/ps
    charge_route = charge_msd_slope_to_sigma_mS_per_cm(volume, temperature) * charge_slope
    assert charge_route == pytest.approx(tracer_route, rel=1e-12)
    assert tracer_route > 0


def test_fieller_interval_for_ratio():
    low, high = ratio_interval_fieller(2.0, 0.1, 4.0, 0.2)
    assert low < 0.5 < high
    assert high - 0.5 > 0.5 - low  # skewed upward, as the ratio's distribution is
    assert ratio_interval_fieller(1.0, 0.1, 0.1, 0.2) is None  # denominator not resolved → unbounded
    # coverage of Fieller's interval by simulation
    rng = np.random.default_rng(0)
    a = rng.normal(1.0, 0.1, 4000)
    b = rng.normal(2.0, 0.5, 4000)
    intervals = [ratio_interval_fieller(x, 0.1, y, 0.5) for x, y in zip(a, b, strict=True)]
    hits = [iv is not None and iv[0] <= 0.5 <= iv[1] for iv in intervals]
    assert np.mean(hits) == pytest.approx(0.95, abs=0.015)
