"""One real MD trajectory (SevenNet-0, Li3N with a Li vacancy, 1200 K; see scripts/make_analysis_fixture.py):
our D against kinisi (McCluskey et al.) and pymatgen-analysis-diffusion (GNoME's tool)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from superionic.analysis import analyze, read_trajectory
from superionic.units import A2_PER_PS_TO_CM2_PER_S

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "li3n_vac_1200K.h5md"


@pytest.fixture(scope="module")
def fixture_run():
    traj = read_trajectory(FIXTURE)
    report = analyze([FIXTURE], species="Li")  # from the path: temperature and charges come from the file
    return traj, report.results[0]


def _ase_frames(traj) -> list[Atoms]:
    frames = []
    for positions, cell in zip(traj.positions_A, traj.cells_A, strict=True):
        atoms = Atoms(numbers=traj.atomic_numbers, positions=positions, cell=cell, pbc=True)
        atoms.wrap()  # the tools unwrap themselves
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def kinisi_samples(fixture_run) -> np.ndarray:
    """kinisi's posterior samples of D (cm²/s), started where our window starts (kinisi needs that choice)."""
    scipp = pytest.importorskip("scipp")
    kinisi_analyze = pytest.importorskip("kinisi.analyze")
    traj, res = fixture_run
    analyzer = kinisi_analyze.DiffusionAnalyzer.from_ase(
        _ase_frames(traj),
        specie="Li",
        time_step=scipp.scalar(traj.frame_interval_ps * 1000.0, unit="fs"),
        step_skip=scipp.scalar(1),
        progress=False,
    )
    start_fs = max(res.tracer.window_ps[0], traj.frame_interval_ps) * 1000.0
    analyzer.diffusion(
        start_dt=scipp.scalar(start_fs, unit="fs"), progress=False, random_state=np.random.RandomState(0)
    )
    return np.asarray(analyzer.D.values)


def test_our_estimate_is_physical(fixture_run):
    _, res = fixture_run
    assert res.diffusion_observed
    d = res.D_tracer_cm2_per_s
    low, high = res.D_tracer_cm2_per_s_ci95
    assert 1e-6 < d < 1e-3 and low < d < high  # a fast Li conductor near its melting point
    # Li3N conducts mostly within the Li2N planes (a, b), less along c
    d_x, d_y, d_z = res.to_dict()["D_tracer_xyz_cm2_per_s"]
    assert min(d_x, d_y) > d_z > 0
    assert res.temperature_K == 1200.0 and res.charge_e == 1.0 and res.n_mobile_ions == 23


def test_agrees_with_kinisi_within_its_interval(fixture_run, kinisi_samples):
    _, res = fixture_run
    low, high = np.percentile(kinisi_samples, [2.5, 97.5])
    print(
        f"ours {res.D_tracer_cm2_per_s:.3e} {res.D_tracer_cm2_per_s_ci95}; kinisi {np.mean(kinisi_samples):.3e} "
        f"[{low:.3e}, {high:.3e}]"
    )
    assert low <= res.D_tracer_cm2_per_s <= high
    # and the two intervals are of comparable width (neither is wildly over- or under-confident)
    ours_low, ours_high = res.D_tracer_cm2_per_s_ci95
    assert 0.25 < (ours_high - ours_low) / (high - low) < 4.0


def test_agrees_with_pymatgen_diffusion_analyzer(fixture_run, kinisi_samples):
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.io.ase import AseAtomsAdaptor

    traj, res = fixture_run
    structures = [AseAtomsAdaptor.get_structure(a) for a in _ase_frames(traj)]
    step_fs = traj.parameters["timestep_fs"]
    step_skip = round(traj.frame_interval_ps * 1000.0 / step_fs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pmg = DiffusionAnalyzer.from_structures(structures, "Li", 1200, step_fs, step_skip, smoothed="max")
    low, high = np.percentile(kinisi_samples, [2.5, 97.5])
    print(f"pymatgen (smoothed=max) {pmg.diffusivity:.3e} ± {pmg.diffusivity_std_dev:.1e} (its own std_dev)")
    assert low <= pmg.diffusivity <= high
    # pymatgen's conversion and ours agree on this structure
    assert pmg.conductivity == pytest.approx(
        pmg.diffusivity * res.conversion_mS_per_cm_per_cm2_per_s, rel=1e-3
    )
    assert res.D_tracer_cm2_per_s == pytest.approx(res.tracer.D_A2_per_ps * A2_PER_PS_TO_CM2_PER_S)


def test_a_melting_framework_is_detected():
    """The SevenNet-0 Li3N run keeps its N lattice (RMS ≈ 0.4 Å); give the N atoms a random walk as in a liquid
    (D = 0.5 Å²/ps over the 5 ps) and the report must say the structure melted."""
    from dataclasses import replace

    crystal = read_trajectory(FIXTURE)
    report = analyze(crystal)
    assert 0.2 < report.results[0].framework_rms_displacement_A < 0.8
    assert not any("framework" in w for w in report.warnings)

    rng = np.random.default_rng(7)
    nitrogen = crystal.atomic_numbers == 7
    dt = crystal.frame_interval_ps
    steps = rng.normal(scale=np.sqrt(2 * 0.5 * dt), size=(crystal.n_frames - 1, int(nitrogen.sum()), 3))
    walk = np.concatenate([np.zeros((1, int(nitrogen.sum()), 3)), np.cumsum(steps, axis=0)])
    positions = crystal.positions_A.copy()
    positions[:, nitrogen] += walk
    molten = analyze(replace(crystal, positions_A=positions))
    rms = molten.results[0].framework_rms_displacement_A
    assert rms > 2.5  # sqrt(6 D t) ≈ 3.9 Å expected
    assert any("framework" in w and "melted" in w for w in molten.warnings)
    assert molten.to_dict()["results"][0]["framework_rms_displacement_A"] == pytest.approx(rms)

    # a melted temperature stays out of the crystal's Arrhenius line: with one crystalline temperature left
    # there is no Ea or σ(300 K) at all, where two crystalline ones give both
    crystal_pair = analyze([crystal, crystal], temperatures_K=[1000.0, 1200.0])
    assert crystal_pair.arrhenius is not None and crystal_pair.sigma_300K_mS_per_cm is not None
    mixed = analyze([crystal, replace(crystal, positions_A=positions)], temperatures_K=[1000.0, 1200.0])
    assert mixed.results[1].diffusion_observed  # its D is still reported, with the melting warning
    assert mixed.arrhenius is None and mixed.sigma_300K_mS_per_cm is None
    assert any(w.startswith("1200 K left out of the Arrhenius fit") for w in mixed.warnings)
