"""MSD over all time origins, collective displacement, and the random-walk covariance model."""

from __future__ import annotations

import numpy as np
import pytest

from superionic.analysis import collective_displacement, msd_all_origins
from superionic.analysis._covariance import msd_covariance, overlap_bases
from tests.analysis.analysis_walks import lattice_hop_walks


def test_fft_msd_equals_direct_average_over_origins():
    x = np.random.default_rng(0).normal(size=(60, 5, 3)).cumsum(axis=0) + 100.0  # offset: cancellation check
    direct = np.array([np.mean((x[n:] - x[: len(x) - n]) ** 2, axis=0) for n in range(len(x))])
    np.testing.assert_allclose(msd_all_origins(x), direct, rtol=1e-9, atol=1e-9)
    assert direct[10].mean() > 1.0  # non-trivial data


def test_collective_displacement_is_charge_weighted_sum():
    x = np.random.default_rng(1).normal(size=(7, 4, 3))
    q = np.array([1.0, 1.0, -2.0, 0.5])
    expected = np.einsum("fni,n->fi", x - x[0], q)
    np.testing.assert_allclose(collective_displacement(x, q), expected)


def test_overlap_bases_match_brute_force_sums():
    n_frames, lags = 13, np.array([1, 3, 4, 9])
    bases = overlap_bases(n_frames, lags)
    for i, n in enumerate(lags):
        for j, m in enumerate(lags):
            pairs = [(t, s) for t in range(n_frames - n) for s in range(n_frames - m)]
            overlap = np.array([max(0, min(t + n, s + m) - max(t, s)) for t, s in pairs])
            ends = np.array(
                [int(t + n == s + m) - int(t + n == s) - int(t == s + m) + int(t == s) for t, s in pairs]
            )
            norm = (n_frames - n) * (n_frames - m)
            assert bases.a[i, j] == pytest.approx(overlap.sum() / norm)
            assert bases.b[i, j] == pytest.approx((overlap**2).sum() / norm)
            assert bases.c[i, j] == pytest.approx((overlap * ends).sum() / norm)
            assert bases.e[i, j] == pytest.approx((ends**2).sum() / norm)


def test_modelled_msd_covariance_matches_monte_carlo_for_lattice_hops():
    """Non-Gaussian steps: the fourth-cumulant term is needed to get the variance right."""
    rng = np.random.default_rng(2)
    hops_per_frame, hop = 0.2, 1.0
    walks = lattice_hop_walks(rng, 1, 30, 40000, hops_per_frame, hop)[0]  # [F, W, 3]
    lags = np.array([1, 4, 10, 20])
    per_walker = msd_all_origins(walks).sum(axis=-1)[lags]  # [L, W]
    empirical = np.cov(per_walker)
    # Compound Poisson steps: cumulants are λ × moments of one jump J (|J| = h, along a random axis), so
    # tr(S) = λh², tr(S²) = λ²h⁴/3 and K = λ E|J|⁴ = λh⁴, i.e. kurtosis ratio K/tr(S)² = 1/λ.
    trace_s = hops_per_frame * hop**2
    model = msd_covariance(30, lags, trace_s, 1.0 / hops_per_frame, 1 / 3, 1)
    np.testing.assert_allclose(np.diag(model), np.diag(empirical), rtol=0.05)
    np.testing.assert_allclose(model, empirical, rtol=0.08)
    gaussian_only = msd_covariance(30, lags, trace_s, 0.0, 1 / 3, 1)
    assert gaussian_only[0, 0] < 0.5 * empirical[0, 0]  # without it the short-lag variance is far too small


def test_modelled_msd_covariance_matches_monte_carlo_with_localisation_noise():
    """Gaussian walk plus vibration about the walk (σ² per axis): the end-point noise terms are needed."""
    rng = np.random.default_rng(5)
    n_frames, trace_s, noise_var = 25, 0.1, 0.5
    steps = rng.normal(scale=np.sqrt(trace_s / 3), size=(n_frames - 1, 40000, 3))
    walk = np.concatenate([np.zeros((1, 40000, 3)), steps.cumsum(0)])
    observed = walk + rng.normal(scale=np.sqrt(noise_var), size=walk.shape)
    lags = np.array([1, 2, 5, 12, 20])
    empirical = np.cov(msd_all_origins(observed).sum(axis=-1)[lags])
    model = msd_covariance(n_frames, lags, trace_s, 0.0, 1 / 3, 1, noise_var=noise_var, dims=3)
    np.testing.assert_allclose(model, empirical, rtol=0.06)
    without_noise_terms = msd_covariance(n_frames, lags, trace_s, 0.0, 1 / 3, 1)
    assert without_noise_terms[0, 0] < 0.1 * empirical[0, 0]
