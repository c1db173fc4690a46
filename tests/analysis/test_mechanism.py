"""Mechanism analysis against known answers: site walks with prescribed rates, occupancies and barriers; site
discovery and Wyckoff labels; percolation of an analytic landscape; volumetric files read back by their readers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from superionic.analysis import (
    assign_sites,
    find_jumps,
    mobile_ion_density,
    percolation_paths,
    poisson_rate_interval,
    sites_from_density,
    sites_from_structure,
)
from superionic.analysis._density import MobileIonDensity
from superionic.analysis._frames import mobile_fractional
from superionic.analysis._jumps import RunJumps, jump_rates
from tests.analysis import mechanism_sweep
from tests.analysis import site_walks as sw


def test_poisson_interval_is_exact_and_widens_for_overdispersion():
    low, high = poisson_rate_interval(0, 2.0)
    assert low == 0.0 and high == pytest.approx(3.689 / 2.0, rel=1e-3)  # Garwood upper limit of zero events
    plain = poisson_rate_interval(100, 10.0)
    wide = poisson_rate_interval(100, 10.0, dispersion=4.0)
    assert plain[0] < 10.0 < plain[1]
    assert (wide[1] - wide[0]) == pytest.approx(2.0 * (plain[1] - plain[0]), rel=0.05)  # sqrt(φ) wider
    assert poisson_rate_interval(100, 10.0, dispersion=0.5) == plain  # never narrower than Poisson


def test_a_few_seeds_recover_rates_occupancies_and_barriers():
    """The fast version of the slow sweep: three fixed seeds, 19 known answers each (rates at four temperatures,
    Arrhenius barriers, occupancies at two)."""
    rows = [mechanism_sweep.one_seed(seed) for seed in range(3)]
    required = [v for row in rows for k, v in row.items() if not k.startswith("D_jump")]
    missed = [(i, k) for i, row in enumerate(rows) for k, v in row.items() if v is False]
    assert len(required) == 3 * 19
    assert np.mean(required) >= 0.9, missed


def _walk(temperature_K=1100.0, **kwargs):
    return sw.walk_trajectory(np.random.default_rng(11), temperature_K, **kwargs)


def test_residence_filter_removes_rattles_that_would_double_the_rates():
    traj, truth = _walk(rattle_probability=0.01)
    sites = sites_from_structure(sw.reference_structure(), traj, "Li")
    states = assign_sites(mobile_fractional(traj, 3), sites)
    rates = {}
    for frames in (1, 3):
        run = RunJumps(find_jumps(states, frames), states, 0.01, 10)
        rates[frames] = {r.name: r for r in jump_rates([run], sites, 1100.0)}
    a_to_b = "Li 1a -> Li 3d"
    # without the filter every rattle toward a neighbour is two jumps: A->B counted ~10x too often
    assert rates[1][a_to_b].rate_per_ps > 5 * truth.escape_per_ps["A->B"]
    low, high = rates[3][a_to_b].rate_per_ps_ci95
    assert low <= truth.escape_per_ps["A->B"] <= high
    assert set(rates[3]) >= {"Li 1a -> Li 3d", "Li 3d -> Li 1a", "Li 3d -> Li 3d"}


def test_reference_sites_are_tiled_aligned_and_wyckoff_labelled():
    traj, _ = _walk(n_frames=50)
    shift = np.array([1.3, -0.7, 0.4])
    moved = replace(traj, positions_A=traj.positions_A + shift)  # the MD origin is not the CIF's
    sites = sites_from_structure(sw.reference_structure(), moved, "Li")
    assert sites.type_labels == ("Li 1a", "Li 3d")
    assert sites.sites_per_type.tolist() == [27, 81]
    assert sites.space_group == "Pm-3m"
    assert sites.radius_A == pytest.approx(0.8)  # 0.4 × the 2 Å A–B distance
    corner = (np.array([0.0, 0.0, 0.0]) * sw.A_A + shift) / (3 * sw.A_A)
    a_sites = sites.frac_coords[sites.site_types == 0]
    diff = (a_sites - corner + 0.5) % 1.0 - 0.5
    assert np.min(np.linalg.norm(diff * 3 * sw.A_A, axis=1)) < 0.1
    # a reference that does not tile the cell is refused with a one-line reason
    from pymatgen.core import Lattice, Structure

    wrong = Structure(Lattice.cubic(5.1), ["S", "Li"], [[0.5, 0.5, 0.5], [0, 0, 0]])
    with pytest.raises(ValueError, match="does not tile"):
        sites_from_structure(wrong, moved, "Li")


def test_sites_discovered_from_the_density_match_the_network():
    traj, _ = _walk(n_frames=1500, attempt_per_ps=40 * sw.ATTEMPT_PER_PS, rattle_probability=0.0)
    density = mobile_ion_density([traj], "Li")
    sites = sites_from_density(density, traj, "Li")
    assert sites.n_sites == 108
    # spglib standardises the origin on framework + sites; shifting it by (½, ½, ½) swaps 1a↔1b and 3c↔3d,
    # both correct names of the same two orbits
    assert sites.type_labels in {("Li 1a", "Li 3d"), ("Li 1b", "Li 3c")}
    assert sites.sites_per_type.tolist() == [27, 81]
    assert sites.space_group == "Pm-3m"
    reference = sites_from_structure(sw.reference_structure(), traj, "Li")
    diff = sites.frac_coords[:, None, :] - reference.frac_coords[None, :, :]
    dist = np.linalg.norm(((diff + 0.5) % 1.0 - 0.5) * 3 * sw.A_A, axis=-1)
    assert dist.min(axis=1).max() < 0.15  # every discovered site within 0.15 Å of a true one


def _cosine_landscape(shape=(40, 40, 40), heights_eV=(0.1, 0.25, 0.4)) -> np.ndarray:
    grids = np.meshgrid(*[(np.arange(n) + 0.5) / n for n in shape], indexing="ij")
    return sum(h * (1 - np.cos(2 * np.pi * g)) / 2 for h, g in zip(heights_eV, grids, strict=True))


def test_percolation_barriers_of_an_analytic_landscape():
    """F = Σ h_i (1 − cos 2π x_i)/2: the cheapest way across the cell is along a (0.1 eV), then the a–b plane
    (0.25 eV), then all three directions (0.4 eV); the grid misses the saddle by (π/n)² relative."""
    paths = percolation_paths(_cosine_landscape())
    by_dim = {p.dimension: p for p in paths}
    for dim, expected in ((1, 0.1), (2, 0.25), (3, 0.4)):
        assert by_dim[dim].barrier_eV == pytest.approx(expected, abs=0.005)
    assert by_dim[1].directions == [[1, 0, 0]]
    assert sorted(map(tuple, by_dim[2].directions)) == [(0, 1, 0), (1, 0, 0)]
    loop = by_dim[1].path_frac
    assert np.allclose(np.abs(loop[-1] - loop[0]), [1, 0, 0], atol=0.05)  # winds once along a
    assert by_dim[1].bottleneck_frac[0] == pytest.approx(0.5, abs=0.03)
    # an unvisited region (F = inf) blocks: cut the a channel and 1D needs the b direction (0.25 eV)
    landscape = _cosine_landscape()
    landscape[18:22] = np.inf
    assert percolation_paths(landscape)[0].barrier_eV == pytest.approx(0.25, abs=0.005)


def test_density_files_read_back_by_ase_and_pymatgen(tmp_path):
    from ase.io.cube import read_cube_data
    from pymatgen.io.vasp import Chgcar

    traj, _ = _walk(n_frames=200)
    density = mobile_ion_density([traj], "Li", spacing_A=0.4)
    assert isinstance(density, MobileIonDensity)
    assert density.ions_per_A3.sum() * density.voxel_volume_A3 == pytest.approx(64.0)  # all Li of the cell
    data, atoms = read_cube_data(str(density.write(tmp_path / "li.cube")))
    np.testing.assert_allclose(data, density.ions_per_A3, rtol=1e-4, atol=1e-9)
    assert (atoms.numbers == 16).sum() == 27
    chgcar = Chgcar.from_file(str(density.write(tmp_path / "CHGCAR")))
    volume = abs(np.linalg.det(density.cell_A))
    np.testing.assert_allclose(chgcar.data["total"] / volume, density.ions_per_A3, rtol=1e-4, atol=1e-9)
    free = density.free_energy_eV()
    assert (
        free.min() == 0.0 and np.isinf(free).any()
    )  # the S sites and the gaps between sites are never visited


def test_analyze_mechanism_over_temperatures_fits_barriers_and_writes_files(tmp_path):
    """End to end on three temperatures of the site walk: one shared site set, Arrhenius barriers per jump type
    with intervals in the JSON, a density file per temperature and the four plots."""
    import json

    from superionic.analysis import MechanismSettings, analyze_mechanism

    rng = np.random.default_rng(5)
    runs = [sw.walk_trajectory(rng, t, n_frames=2500)[0] for t in (800.0, 950.0, 1100.0)]
    settings = MechanismSettings(density_spacing_A=0.4)  # a coarser grid keeps this test fast
    report = analyze_mechanism(runs, species="Li", reference=sw.reference_structure(), settings=settings)
    assert [r.temperature_K for r in report.results] == [800.0, 950.0, 1100.0]
    files = report.write(tmp_path)
    out = json.loads(json.dumps(report.to_dict(files)))
    barriers = {b["jump_type"]: b for b in out["barriers"]}
    for key, name in mechanism_sweep.TYPE_NAMES.items():
        b = barriers[name]
        assert b["method"].startswith("Arrhenius") and b["temperatures_K"] == [800.0, 950.0, 1100.0]
        low, high = b["Ea_eV_ci95"]
        assert low < b["Ea_eV"] < high and high - low < 0.3
        assert abs(b["Ea_eV"] - sw.BARRIERS_EV[key]) < 0.15
    assert out["dominant_jump_type"] in mechanism_sweep.TYPE_NAMES.values()
    for name in files.values():
        assert (tmp_path / name).stat().st_size > 1000
    assert len([f for f in files.values() if f.endswith(".cube")]) == 3
    # non-interacting walkers: no more collective jumps than independent timing gives
    coll = report.results[-1].collective
    assert coll.fraction_ci95[0] <= coll.fraction_if_independent_ci95[1]


def test_analysis_imports_neither_jax_nor_the_rest_of_superionic():
    import subprocess
    import sys

    code = (
        "import sys, superionic.analysis; "
        "bad = [m for m in sys.modules if m == 'jax' or (m.startswith('superionic.') "
        "and not m.startswith('superionic.analysis'))]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
