"""Weighted Arrhenius fit: recovers Ea, propagates errors to the extrapolation with calibrated intervals."""

from __future__ import annotations

import numpy as np
import pytest

from superionic.analysis import fit_arrhenius
from superionic.units import BOLTZMANN_EV_PER_K

EA_EV, D0 = 0.25, 3e-3
TEMPS = np.array([700.0, 800.0, 900.0, 1000.0, 1200.0])


def _true_d(temps):
    return D0 * np.exp(-EA_EV / (BOLTZMANN_EV_PER_K * temps))


def test_exact_points_give_exact_parameters():
    d = _true_d(TEMPS)
    fit = fit_arrhenius(TEMPS, d, 0.05 * d)
    assert fit.Ea_eV == pytest.approx(EA_EV, rel=1e-10)
    assert np.exp(fit.ln_D0_cm2_per_s) == pytest.approx(D0, rel=1e-10)
    d300, (low, high) = fit.D_at(300.0)
    assert d300 == pytest.approx(_true_d(300.0), rel=1e-9)
    assert low < d300 < high
    # a 5 % error at each point becomes a much wider band 3x below the fitted range (lever arm)
    assert high / low > 1.5


def test_intervals_of_Ea_and_extrapolation_are_calibrated():
    rng = np.random.default_rng(0)
    rel_err = 0.08
    hits_ea, hits_300 = [], []
    for _ in range(1000):
        d = _true_d(TEMPS) * np.exp(rng.normal(0, rel_err, TEMPS.size))
        fit = fit_arrhenius(TEMPS, d, rel_err * d)
        hits_ea.append(fit.Ea_eV_ci95[0] <= EA_EV <= fit.Ea_eV_ci95[1])
        _, (low, high) = fit.D_at(300.0)
        hits_300.append(low <= _true_d(300.0) <= high)
    assert np.mean(hits_ea) == pytest.approx(0.95, abs=0.02)
    assert np.mean(hits_300) == pytest.approx(0.95, abs=0.02)


def test_scatter_beyond_error_bars_widens_the_interval():
    d = _true_d(TEMPS) * np.array([1.3, 0.7, 1.3, 0.7, 1.3])
    fit = fit_arrhenius(TEMPS, d, 0.01 * d)
    assert fit.birge_ratio > 10
    half_width = (fit.Ea_eV_ci95[1] - fit.Ea_eV_ci95[0]) / 2
    assert half_width > 0.05  # not the 0.003 eV the 1 % error bars alone would claim


def test_single_temperature_is_refused():
    with pytest.raises(ValueError, match="two distinct temperatures"):
        fit_arrhenius(np.array([800.0, 800.0]), np.array([1e-5, 1.1e-5]), np.array([1e-6, 1e-6]))
