"""The mechanism on the bundled SevenNet-0 Li3N run (one Li vacancy, 1200 K, 5 ps), cross-checked against GEMDAT
on the same file, and ``conductivity analyze --mechanism`` on an H5MD written by MDAnalysis' own writer."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from superionic.analysis import analyze_mechanism, read_trajectory, sites_from_structure
from superionic.analysis._frames import fractional_unwrapped, mobile_fractional
from superionic.analysis._jumps import RunJumps, jump_diffusivity, jump_rates, occupancies
from superionic.analysis._sites import assign_sites
from superionic.analysis._units import A2_PER_PS_TO_CM2_PER_S

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "li3n_vac_1200K.h5md"


def li3n_unit_cell() -> Structure:
    """α-Li3N, P6/mmm: N 1a, Li(1) 1b between the Li2N layers, Li(2) 2c in them (a = 3.648, c = 3.875 Å)."""
    return Structure(
        Lattice.hexagonal(3.648, 3.875),
        ["N", "Li", "Li", "Li"],
        [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0]],
    )


@pytest.fixture(scope="module")
def report():
    return analyze_mechanism([FIXTURE], species="Li")


def test_li3n_sites_occupancies_and_dominant_jump(report):
    sites = report.sites
    assert sites.space_group == "P6/mmm"
    assert dict(zip(sites.type_labels, sites.sites_per_type.tolist(), strict=True)) == {
        "Li 1b": 8,
        "Li 2c": 16,
    }
    res = report.results[0]
    occ = {o.site_type: o for o in res.occupancy}
    # 23 Li on 24 sites: the vacancy lives in the Li2N layers (2c), the 1b sites between them stay full
    assert occ["Li 1b"].ions_per_site > 0.99
    low, high = occ["Li 2c"].ions_per_site_ci95
    assert low <= 15 / 16 <= high
    assert 8 * occ["Li 1b"].ions_per_site + 16 * occ["Li 2c"].ions_per_site == pytest.approx(23, abs=0.05)
    dominant = res.dominant_jump
    assert dominant.name == "Li 2c -> Li 2c" and dominant.n_jumps >= 30
    assert dominant.hop_length_A == pytest.approx(3.648 / np.sqrt(3), abs=0.2)  # 2c–2c in-plane distance
    low, high = dominant.rate_per_ps_ci95
    assert 0 < low < dominant.rate_per_ps < high
    # the vacancy hops within the layers: the density percolates in 2D (a, b) but not along c
    by_dim = {p.dimension: p for p in res.percolation}
    assert by_dim[2].barrier_eV is not None and by_dim[3].barrier_eV is None
    assert all(d[2] == 0 for d in by_dim[2].directions)
    assert not res.framework_check.melted and res.warnings == []


def test_li3n_jump_and_msd_diffusivity_and_the_correlation_factor(report):
    res = report.results[0]
    d_jump_low, d_jump_high = res.jump_D.D_A2_per_ps_ci95
    d_msd_low, d_msd_high = res.msd_D_A2_per_ps_ci95
    assert d_jump_low < d_msd_high and d_msd_low < d_jump_high  # the two intervals overlap
    f_low, f_high = res.correlation_factor_ci95
    # tracer correlation factor of a vacancy on the 2c honeycomb: 1/3; the run cannot exclude 1 either
    assert f_low < 1 / 3 < f_high and f_low < res.correlation_factor < 1.0
    assert "agree within their intervals" in res.consistency() and "correlation factor" in res.consistency()
    out = report.to_dict()
    assert out["dominant_jump_type"] == "Li 2c -> Li 2c"
    assert out["results"][0]["D_jump_cm2_per_s"] == pytest.approx(
        res.jump_D.D_A2_per_ps * A2_PER_PS_TO_CM2_PER_S
    )
    json.dumps(out)  # strict JSON


def test_reference_cif_sites_give_the_same_jumps_as_discovered_sites(report):
    traj = read_trajectory(FIXTURE)
    from_cif = sites_from_structure(li3n_unit_cell(), traj, "Li")
    assert from_cif.type_labels == report.sites.type_labels
    assert from_cif.sites_per_type.tolist() == report.sites.sites_per_type.tolist()
    states = assign_sites(mobile_fractional(traj, 3), from_cif)
    from superionic.analysis import find_jumps

    run = RunJumps(find_jumps(states, 3), states, traj.timestep_ps, 10)
    rates = {r.name: r.n_jumps for r in jump_rates([run], from_cif, 1200.0)}
    assert abs(rates["Li 2c -> Li 2c"] - report.results[0].dominant_jump.n_jumps) <= 4


def test_jump_counts_occupancy_and_rates_match_gemdat_on_the_same_file(report):
    """GEMDAT (Azizi et al.) on the same positions and sites: same site states, same in-sphere occupancy, jump
    counts within 10 %; GEMDAT's rate divides by the time ions spend inside the site sphere, ours by the time they
    belong to the site (transit included) — after that conversion the rates agree within 10 %."""
    gemdat = pytest.importorskip("gemdat")
    from pymatgen.core import Element

    traj = read_trajectory(FIXTURE)
    sites = report.sites
    frac = fractional_unwrapped(traj, 3)
    lattice = Lattice(traj.cells_A.mean(axis=0))
    species = [Element("Li") if z == 3 else Element("N") for z in traj.atomic_numbers]
    theirs = gemdat.Trajectory(
        species=species,
        coords=frac - np.floor(frac),
        lattice=lattice,
        time_step=traj.timestep_ps * 1e-12,
        metadata={"temperature": 1200.0},
    )
    labels = [sites.type_labels[k] for k in sites.site_types]
    site_structure = Structure(lattice, ["Li"] * sites.n_sites, sites.frac_coords, labels=labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transitions = theirs.transitions_between_sites(
            sites=site_structure, floating_specie="Li", site_radius=sites.radius_A
        )
    states = assign_sites(mobile_fractional(traj, 3), sites)
    assert np.array_equal(transitions.states, states)  # identical site assignment, frame by frame

    res = report.results[0]
    for frames in (1, 3):
        gem_jumps = transitions.jumps(minimal_residence=frames)
        from superionic.analysis import find_jumps

        ours = find_jumps(states, frames).n_jumps
        print(f"minimal residence {frames} frames: GEMDAT {gem_jumps.n_jumps} jumps, ours {ours}")
        assert abs(gem_jumps.n_jumps - ours) <= 0.1 * ours
    gem_occ = transitions.occupancy_by_site_type()
    for o in res.occupancy:
        assert o.in_sphere_ions_per_site == pytest.approx(float(gem_occ[o.site_type]), rel=1e-9)
    gem = transitions.jumps(minimal_residence=res.min_residence_frames)
    n_gem = gem.counter()[("Li 2c", "Li 2c")]
    in_sphere_fraction = float(transitions.atom_locations()["Li 2c"])
    gem_rate = n_gem / (in_sphere_fraction * res.n_ions * gem.trajectory.total_time * 1e12)  # 1/ps
    dominant = res.dominant_jump
    ours_in_sphere = (
        dominant.rate_per_ps
        * dominant.exposure_ion_ps
        / (
            occupancies([RunJumps(find_jumps(states, 3), states, traj.timestep_ps, 10)], sites)[
                1
            ].in_sphere_ions_per_site
            * 16
            * (traj.n_frames * traj.timestep_ps)
        )
    )
    print(
        f"Li 2c -> Li 2c: GEMDAT {gem_rate:.3f}/ps, ours {dominant.rate_per_ps:.3f}/ps ({ours_in_sphere:.3f} per in-sphere time)"
    )
    assert ours_in_sphere == pytest.approx(gem_rate, rel=0.1)
    gem_d = float(gem.jump_diffusivity(dimensions=3)) * 1e4  # m²/s -> cm²/s
    ours_d = jump_diffusivity(
        [RunJumps(find_jumps(states, 3), states, traj.timestep_ps, 10)], sites
    ).D_A2_per_ps
    assert ours_d * A2_PER_PS_TO_CM2_PER_S == pytest.approx(gem_d, rel=0.1)


def test_conductivity_analyze_mechanism_on_an_h5md_written_by_mdanalysis(tmp_path, capsys):
    from superionic.cli.conductivity import main
    from tests.analysis.test_readers import _write_mdanalysis_h5md

    original = read_trajectory(FIXTURE)
    path = tmp_path / "mda_run.h5md"
    _write_mdanalysis_h5md(path, original.positions_A, original.cells_A, original.timestep_ps)
    # MDAnalysis' writer stores no species: without a topology the command fails in one line, writing nothing
    out = tmp_path / "out"
    assert (
        main(
            ["analyze", str(path), "--mechanism", "--temperature", "1200", "--charge", "1", "--out", str(out)]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "topology" in err and not out.exists()
    # with the topology beside it under the same stem (as MDAnalysis users keep them) it works
    shutil.copy(FIXTURE.with_suffix(".pdb"), path.with_suffix(".pdb"))
    code = main(
        ["analyze", str(path), "--mechanism", "--temperature", "1200", "--charge", "1", "--out", str(out)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "occupancy Li 2c" in printed and "Li 2c -> Li 2c" in printed
    report = json.loads((out / "report.json").read_text())
    mech = report["mechanism"]
    assert mech["sites"]["sites_per_type"] == {"Li 1b": 8, "Li 2c": 16}
    assert mech["dominant_jump_type"] == "Li 2c -> Li 2c"
    for name in mech["files"].values():
        assert (out / name).stat().st_size > 0
    assert report["settings"]["mechanism"] is True


def test_a_molten_framework_is_flagged_by_its_rdf():
    """Second melting criterion: give the N atoms a liquid-like random walk (D = 0.05 Å²/ps, the RMS criterion's
    borderline) and the framework RDF at the end of the run loses its shells (Wendt–Abraham ratio > 0.14)."""
    from dataclasses import replace

    from superionic.analysis._structure_checks import framework_rdf_check

    crystal = read_trajectory(FIXTURE)
    rng = np.random.default_rng(3)
    nitrogen = crystal.atomic_numbers == 7
    steps = rng.normal(scale=np.sqrt(2 * 0.05 * crystal.timestep_ps), size=(crystal.n_frames - 1, 8, 3))
    positions = crystal.positions_A.copy()
    positions[1:, nitrogen] += np.cumsum(steps, axis=0)
    molten = framework_rdf_check(replace(crystal, positions_A=positions), 3)
    solid = framework_rdf_check(crystal, 3)
    assert solid.pair == ("N", "N") and not solid.melted and solid.wendt_abraham_end < 0.1
    assert molten.melted and molten.wendt_abraham_end > 0.14 and molten.peak_height_ratio < 0.7
