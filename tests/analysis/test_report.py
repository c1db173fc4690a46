"""analyze(): per-temperature transport, Haven ratio, Arrhenius extrapolation, JSON schema, warnings, plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from superionic.analysis import (
    GNOME_THRESHOLD_MS_PER_CM,
    Trajectory,
    analyze,
    nernst_einstein_factor_mS_per_cm_per_cm2_per_s,
    plot_arrhenius,
    plot_msd,
)
from superionic.units import A2_PER_PS_TO_CM2_PER_S, BOLTZMANN_EV_PER_K
from tests.analysis.analysis_walks import gaussian_walks, synthetic_trajectory

DT_PS = 0.05
EA_EV = 0.3
D0_A2_PER_PS = 60.0
BOX_A = 20.0


def _d_true(temperature_K: float) -> float:
    return D0_A2_PER_PS * np.exp(-EA_EV / (BOLTZMANN_EV_PER_K * temperature_K))


def _arrhenius_trajectories(rng, temperatures, n_li=24, n_frames=1500, replicas=1) -> list[Trajectory]:
    trajs = []
    for temp in temperatures:
        walks = gaussian_walks(rng, replicas, n_frames, n_li, _d_true(temp), DT_PS)
        for r in range(replicas):
            trajs.append(
                synthetic_trajectory(walks[r], DT_PS, temp, drift_A_per_ps=0.5, box_A=BOX_A, rng=rng)
            )
    return trajs


@pytest.fixture(scope="module")
def arrhenius_report():
    rng = np.random.default_rng(10)
    return analyze(_arrhenius_trajectories(rng, [600.0, 800.0, 1000.0, 1200.0], replicas=2), species="Li")


def test_per_temperature_D_and_sigma(arrhenius_report):
    for res in arrhenius_report.results:
        truth = _d_true(res.temperature_K) * A2_PER_PS_TO_CM2_PER_S
        low, high = res.D_tracer_cm2_per_s_ci95
        assert low < truth < high, res.temperature_K
        assert res.D_tracer_cm2_per_s == pytest.approx(truth, rel=0.1)
        factor = nernst_einstein_factor_mS_per_cm_per_cm2_per_s(24, BOX_A**3, 1.0, res.temperature_K)
        assert res.sigma_mS_per_cm == pytest.approx(factor * res.D_tracer_cm2_per_s, rel=1e-12)
        assert res.n_replicas == 2 and res.charge_e == 1.0


def test_haven_ratio_of_independent_ions_is_one(arrhenius_report):
    for res in arrhenius_report.results:
        ci = res.haven_ratio_ci95
        assert ci is not None and ci[0] < 1.0 < ci[1]


def test_arrhenius_recovers_activation_energy_and_extrapolates(arrhenius_report):
    out = arrhenius_report.to_dict()
    low, high = out["Ea_eV_ci95"]
    assert low < EA_EV < high and high - low < 0.05
    factor_300 = nernst_einstein_factor_mS_per_cm_per_cm2_per_s(24, BOX_A**3, 1.0, 300.0)
    sigma_300_true = factor_300 * _d_true(300.0) * A2_PER_PS_TO_CM2_PER_S
    s_low, s_high = out["sigma_300K_mS_per_cm_ci95"]
    assert s_low < sigma_300_true < s_high
    k_low, k_high = out["sigma_1000K_mS_per_cm_ci95"]
    assert np.log(s_high / s_low) > 3 * np.log(k_high / k_low)  # the band widens away from the data
    sigma_1000 = out["sigma_1000K_mS_per_cm"]
    assert out["gnome_superionic_1000K"] == (sigma_1000 > GNOME_THRESHOLD_MS_PER_CM)


def test_report_is_json_with_an_interval_beside_every_estimate(arrhenius_report):
    out = json.loads(json.dumps(arrhenius_report.to_dict(), allow_nan=False))
    estimates = ["Ea_eV", "sigma_300K_mS_per_cm", "sigma_1000K_mS_per_cm", "D0_cm2_per_s"]
    for key in estimates:
        assert out[key] is not None and len(out[f"{key}_ci95"]) == 2
    for res in out["results"]:
        for key in ["D_tracer_cm2_per_s", "sigma_mS_per_cm", "sigma_charge_mS_per_cm", "haven_ratio"]:
            assert res[key] is not None and f"{key}_ci95" in res
        assert res["temperature_K"] in out["temperatures_K"]
        assert len(res["fit_window_ps"]) == 2 and res["fit_window_candidates"]
    assert out["temperatures_K"] == [600.0, 800.0, 1000.0, 1200.0]


def test_python_and_json_use_the_same_names(arrhenius_report):
    """Every JSON key is an attribute of the result object holding the same value (one name per quantity)."""
    from superionic.records import json_safe

    out = arrhenius_report.to_dict()
    for key, value in out.items():
        if key not in ("schema", "results"):
            assert json_safe(getattr(arrhenius_report, key)) == value, key
    for res, res_out in zip(arrhenius_report.results, out["results"], strict=True):
        for key, value in res_out.items():
            assert json_safe(getattr(res, key)) == value, key
    assert isinstance(arrhenius_report.sigma_300K_mS_per_cm, float)  # a number, as in the JSON
    estimate = arrhenius_report.sigma_at(300.0)
    assert estimate.value == arrhenius_report.sigma_300K_mS_per_cm
    assert estimate.ci95[0] < estimate.value < estimate.ci95[1]
    assert arrhenius_report.Ea_eV == out["Ea_eV"] and arrhenius_report.Ea_eV_ci95[0] < arrhenius_report.Ea_eV


def test_correlated_ions_give_haven_ratio_one_half():
    """Ions that move in rigid pairs: the charge MSD is twice the tracer-based one, H = 0.5."""
    rng = np.random.default_rng(20)
    trajs = []
    for _ in range(12):  # replicas, so that the collective MSD is resolved
        walks = gaussian_walks(rng, 1, 800, 8, 0.2, DT_PS)[0]
        paired = np.concatenate([walks, walks + 0.8], axis=1)  # partner shifted by a fixed vector
        trajs.append(synthetic_trajectory(paired, DT_PS, 900.0, rng=rng))
    res = analyze(trajs, species="Li").results[0]
    low, high = res.haven_ratio_ci95
    assert low < 0.5 < high and high < 0.8
    assert res.haven_ratio == pytest.approx(0.5, rel=0.3)


@pytest.mark.parametrize(("n_li", "seed"), [(16, 30), (2, 0), (2, 4)])
def test_no_diffusion_gives_an_upper_bound_and_a_warning(n_li, seed):
    """Also with 2 Li (as in the 36-atom NASICON cell), where the MSD's variance model bounds nothing (these
    seeds gave an infinite bound): the bound is then the 3-hop detection limit."""
    rng = np.random.default_rng(seed)
    n_frames = 500
    sites = rng.uniform(0, BOX_A, (n_li, 3))
    vibrating = sites + rng.normal(scale=0.15, size=(n_frames, n_li, 3))  # Li rattle in their cages
    traj = synthetic_trajectory(vibrating - 5.0, DT_PS, 500.0, rng=rng)
    report = analyze(traj, species="Li")
    res = json.loads(json.dumps(report.to_dict(), allow_nan=False))["results"][0]  # strict JSON
    assert res["diffusion_observed"] is False
    assert res["D_tracer_cm2_per_s"] is None and res["sigma_mS_per_cm"] is None
    upper = res["D_tracer_cm2_per_s_upper95"]
    assert upper > 0 and res["sigma_mS_per_cm_upper95"] > 0
    # no fake precision: the bound is at least the 3-hop detection limit of this run
    assert upper >= 3 * 3.0**2 / (6 * n_li * (n_frames - 1) * DT_PS) * A2_PER_PS_TO_CM2_PER_S * (1 - 1e-12)
    assert any("no Li diffusion resolved" in w for w in report.warnings)
    assert report.to_dict()["Ea_eV"] is None


def test_short_run_warns_about_too_few_hops():
    rng = np.random.default_rng(40)
    walks = gaussian_walks(rng, 1, 400, 6, 0.3, DT_PS)[0]  # ≈ 6 ions·6·0.3·20 ps / (3 Å)² = 24 hops
    report = analyze(synthetic_trajectory(walks, DT_PS, 700.0, rng=rng), species="Li")
    assert report.results[0].diffusion_observed
    assert any("He et al." in w for w in report.warnings)


def test_inputs_are_validated():
    rng = np.random.default_rng(0)
    traj = _arrhenius_trajectories(rng, [800.0], n_frames=50)[0]
    with pytest.raises(ValueError, match="chemical symbol"):
        analyze(traj, species="Lithium")
    with pytest.raises(ValueError, match="has no Na atoms"):
        analyze(traj, species="Na")
    with pytest.raises(ValueError, match="temperatures_K has 2 entries"):
        analyze([traj], temperatures_K=[800.0, 900.0])
    unknown_t = Trajectory(**{**traj.__dict__, "temperature_K": None})
    with pytest.raises(ValueError, match="temperatures_K="):
        analyze(unknown_t)


def test_plots_are_written(arrhenius_report, tmp_path):
    import matplotlib.image

    msd_png = plot_msd(arrhenius_report, tmp_path / "msd.png")
    arr_png = plot_arrhenius(arrhenius_report, tmp_path / "arrhenius.png")
    single = plot_msd(arrhenius_report.results[0], tmp_path / "msd_600K.png")
    for path in (msd_png, arr_png, single):
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 300 and image.shape[1] > 500
        assert image[..., :3].std() > 0.05  # something was drawn
