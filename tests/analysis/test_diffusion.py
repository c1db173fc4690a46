"""D from synthetic random walks with known D: accuracy on long runs and calibration of the 95 % interval."""

from __future__ import annotations

import numpy as np
import pytest

from superionic.analysis import calibrated_interval, collective_displacement, fit_diffusion
from tests.analysis.analysis_walks import gaussian_walks, lattice_hop_walks, vacancy_walks

DT_PS = 0.05


def _coverage(walks: np.ndarray, true_d: float, **kwargs) -> tuple[float, np.ndarray]:
    hits, estimates = [], []
    for seed_walks in walks:
        fit = fit_diffusion(seed_walks, DT_PS, **kwargs)
        low, high = fit.D_A2_per_ps_ci95
        hits.append(low <= true_d <= high)
        estimates.append(fit.D_A2_per_ps)
    return float(np.mean(hits)), np.asarray(estimates)


@pytest.mark.parametrize(
    ("kind", "n_walkers", "n_frames"),
    [("gaussian", 8, 20000), ("gaussian", 64, 4000), ("lattice", 64, 8000), ("lattice", 256, 2000)],
)
def test_long_runs_recover_D_within_2_percent(kind, n_walkers, n_frames):
    rng = np.random.default_rng(n_walkers + n_frames)
    if kind == "gaussian":
        true_d = 0.3
        walks = gaussian_walks(rng, 1, n_frames, n_walkers, true_d, DT_PS)[0]
    else:  # about 50 000 hops in all
        hops_per_frame, hop = 0.1, 2.5
        true_d = hops_per_frame * hop**2 / (6 * DT_PS)
        walks = lattice_hop_walks(rng, 1, n_frames, n_walkers, hops_per_frame, hop)[0]
    fit = fit_diffusion(walks, DT_PS)
    assert fit.D_A2_per_ps == pytest.approx(true_d, rel=0.02)
    assert fit.relative_se < 0.0067  # the 2 % criterion is >= 3 standard errors here, not luck
    low, high = fit.D_A2_per_ps_ci95
    assert low < fit.D_A2_per_ps < high
    assert fit.window_accepted


def test_interval_covers_truth_95_percent_gaussian_steps():
    rng = np.random.default_rng(11)
    true_d = 0.2
    coverage, estimates = _coverage(gaussian_walks(rng, 400, 400, 16, true_d, DT_PS), true_d)
    print(f"gaussian coverage {coverage:.3f}, bias {estimates.mean() / true_d - 1:+.4f}")
    assert 0.92 <= coverage <= 0.98
    assert estimates.mean() == pytest.approx(true_d, rel=0.01)  # unbiased


def test_interval_covers_truth_95_percent_lattice_hops():
    rng = np.random.default_rng(12)
    hops_per_frame, hop = 0.05, 2.5
    true_d = hops_per_frame * hop**2 / (6 * DT_PS)
    walks = lattice_hop_walks(rng, 400, 600, 16, hops_per_frame, hop)
    coverage, estimates = _coverage(walks, true_d)
    print(f"lattice coverage {coverage:.3f}, bias {estimates.mean() / true_d - 1:+.4f}")
    assert 0.92 <= coverage <= 0.98
    assert estimates.mean() == pytest.approx(true_d, rel=0.02)


def test_collective_interval_is_calibrated_with_few_walkers():
    """One collective walker per replica, four replicas: relative errors of tens of % are still calibrated.

    As in ``analyze``, the collective fit takes its step anisotropy and noise from the tracer fit (here: an
    isotropic walk without noise), since one realisation per replica cannot estimate them."""
    rng = np.random.default_rng(13)
    true_d = 0.2
    walks = gaussian_walks(rng, 400, 300, 8, true_d, DT_PS)  # [S, F, 8, 3]
    charges = np.ones(2)
    # 4 replicas of 2 ions each -> 4 collective walkers; D_collective = 2·D for independent ions
    collective = np.stack(
        [
            np.stack([collective_displacement(s[:, 2 * r : 2 * r + 2], charges) for r in range(4)], 1)
            for s in walks
        ]
    )
    coverage, _ = _coverage(
        collective,
        2 * true_d,
        gaussian_steps=True,
        noise_var=0.0,
        anisotropy_ratio=1 / 3,
        window_ps=(DT_PS, 150 * DT_PS),
        n_blocks=0,
    )
    print(f"collective coverage {coverage:.3f}")
    assert 0.92 <= coverage <= 0.98


def test_batch_means_restores_the_interval_of_correlated_walkers():
    """One vacancy in a 27-site lattice: all 26 ions' hops are that vacancy's moves, so they are far from the
    independent walkers the MSD covariance model assumes, and its interval under-covers (as measured in MD of
    Li3N with one vacancy). The batch-means check must widen it back to about 95 %."""
    rng = np.random.default_rng(21)
    hop = 2.5
    # the true D: 4 long runs of 200 000 vacancy hops each (±1.5 %), from the MSD at a lag of 20 000 hops,
    # far beyond the correlated back-hops
    lag = 200
    long_runs = [vacancy_walks(rng, 2001, 3, 100.0, hop) for _ in range(4)]
    d_per_vacancy_hop = np.mean(
        [np.mean(np.sum((w[lag:] - w[:-lag]) ** 2, axis=-1)) / (6 * lag * 100.0) for w in long_runs]
    )
    n_frames, vacancy_hops = 500, 200.0  # about 8 hops per ion, as in a 10-ps run at 900 K
    true_d = d_per_vacancy_hop * vacancy_hops / (n_frames * DT_PS)
    model_hits, checked_hits = [], []
    for _ in range(400):
        walks = vacancy_walks(rng, n_frames, 3, vacancy_hops / n_frames, hop)
        model = fit_diffusion(walks, DT_PS, n_blocks=0).D_A2_per_ps_ci95
        checked = fit_diffusion(walks, DT_PS)
        model_hits.append(model[0] <= true_d <= model[1])
        checked_hits.append(checked.D_A2_per_ps_ci95[0] <= true_d <= checked.D_A2_per_ps_ci95[1])
        assert checked.D_A2_per_ps_ci95[0] <= model[0] and model[1] <= checked.D_A2_per_ps_ci95[1]
    print(
        f"one-vacancy coverage: model {np.mean(model_hits):.3f}, with batch means {np.mean(checked_hits):.3f}"
    )
    assert np.mean(model_hits) < 0.91  # the problem is real here ...
    assert 0.92 <= np.mean(checked_hits) <= 0.98  # ... and batch means fixes it


def test_per_axis_D_of_anisotropic_walk():
    rng = np.random.default_rng(3)
    d_axes = np.array([0.4, 0.1, 0.0])  # fast in x, slow in y, frozen in z
    steps = rng.normal(size=(3000, 32, 3)) * np.sqrt(2 * d_axes * DT_PS)
    walks = np.concatenate([np.zeros((1, 32, 3)), steps.cumsum(0)])
    total = fit_diffusion(walks, DT_PS)
    assert total.D_A2_per_ps == pytest.approx(d_axes.sum() / 3, rel=0.03)
    assert total.fit.anisotropy_ratio == pytest.approx((0.4**2 + 0.1**2) / 0.5**2, rel=0.05)
    for axis in range(2):
        fit = fit_diffusion(walks, DT_PS, axis=axis, window_ps=total.window_ps)
        assert fit.D_A2_per_ps == pytest.approx(d_axes[axis], rel=0.05)


def test_window_skips_non_diffusive_short_times():
    """Walkers caged for the first 50 frames of every lag (vibration + drift in a cage) then diffusing:
    the chosen window must start after the curvature and recover D."""
    rng = np.random.default_rng(4)
    true_d = 0.2
    walks = gaussian_walks(rng, 1, 2000, 64, true_d, DT_PS)[0]
    vibration = rng.normal(scale=0.7, size=walks.shape)  # localisation noise: MSD offset, no slope
    fit = fit_diffusion(walks + vibration, DT_PS)
    assert fit.D_A2_per_ps == pytest.approx(true_d, rel=0.05)
    assert fit.fit.intercept == pytest.approx(6 * 0.7**2, rel=0.3)


def test_calibrated_interval_properties():
    low, high = calibrated_interval(2.0, 0.05)
    assert low < 2.0 < high and high - 2.0 > 2.0 - low  # asymmetric: wider above, where σ grows with D
    assert calibrated_interval(1.0, 0.6)[1] == float("inf")  # not bounded above when z·c >= 1


def test_too_short_trajectory_is_refused_with_a_clear_message():
    walks = gaussian_walks(np.random.default_rng(0), 1, 4, 3, 0.1, DT_PS)[0]
    with pytest.raises(ValueError, match="too short"):
        fit_diffusion(walks, DT_PS)


def test_caged_walkers_get_an_upper_bound_that_is_a_number():
    """Two walkers caged in place (no diffusion; this seed's fitted slope is negative): the one-sided bound
    is a number or inf, never NaN (it was NaN while the two-sided interval was (0, inf))."""
    rng = np.random.default_rng(1)
    walkers = np.zeros((1001, 2, 3))
    for t in range(1, len(walkers)):  # an Ornstein–Uhlenbeck rattle about fixed sites
        walkers[t] = 0.7 * walkers[t - 1] + rng.normal(0.0, 0.2, (2, 3))
    fit = fit_diffusion(walkers, 0.02)
    assert fit.D_A2_per_ps < 0
    assert not np.isnan(fit.D_A2_per_ps_upper95) and fit.D_A2_per_ps_upper95 > 0
