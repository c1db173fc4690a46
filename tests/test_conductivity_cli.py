"""`conductivity estimate|analyze`: argument handling and every error path (one line, non-zero exit, no report)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest

from superionic.cli import conductivity
from superionic.cli._common import temperatures_K, time_ps, timestep_fs
from superionic.potentials import NequIPConfig, Potential, init_params, save

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "li3n_vac_1200K.h5md"


@pytest.fixture(scope="module")
def tiny_potential(tmp_path_factory) -> Path:
    """A small random-weight potential for Li, N (fast; errors are about plumbing, not physics)."""
    config = NequIPConfig(
        species=("Li", "N"),
        num_layers=1,
        hidden_irreps="8x0e+4x1e",
        sh_lmax=1,
        cutoff_A=3.5,
        cutoff_inner_A=3.0,
        radial_mlp=(8,),
        conv_denominator=10.0,
    )
    params = init_params(config, jax.random.PRNGKey(0))
    return save(Potential(config, params, name="tiny"), tmp_path_factory.mktemp("pot") / "tiny.npz")


def run(argv, capsys):
    code = conductivity.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, pattern):
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "error:" in lines[0]
    assert pattern in lines[0], lines[0]


def test_time_and_temperature_parsing():
    assert time_ps("50ps") == 50.0
    assert time_ps("2fs") == pytest.approx(0.002)
    assert time_ps("0.1ns") == pytest.approx(100.0)
    assert timestep_fs("2") == 2.0  # a bare timestep is fs, not ps
    assert timestep_fs("0.002ps") == pytest.approx(2.0)
    assert temperatures_K("700:1300:200") == (700.0, 900.0, 1100.0, 1300.0)
    assert temperatures_K("800K") == (800.0,)


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--time", "fifty"], "invalid time"),
        (["--supercell", "2x2"], "invalid supercell"),
    ],
)
def test_bad_arguments_exit_nonzero(argv, pattern, capsys, tmp_path):
    code = conductivity.main(["estimate", str(REPO / "examples" / "Li3N.cif"), *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert pattern in err


def test_bad_temperature_range(capsys, tmp_path):
    code, _, err = run(
        ["estimate", REPO / "examples" / "Li3N.cif", "--temperatures", "900:700:100", "--out", tmp_path],
        capsys,
    )
    assert_one_line_error(code, err, "invalid range")


def test_missing_empty_corrupt_and_unknown_files(capsys, tmp_path, tiny_potential):
    empty = tmp_path / "empty.cif"
    empty.write_text("")
    corrupt = tmp_path / "corrupt.cif"
    corrupt.write_text("data_x\n_cell_length_a 3\nthis is not a cif\n")
    unknown = tmp_path / "structure.pdf"
    unknown.write_text("%PDF")
    cases = [
        (tmp_path / "missing.cif", "not found"),
        (empty, "is empty"),
        (corrupt, "cannot read"),
        (unknown, "unknown structure format"),
    ]
    for path, pattern in cases:
        out = tmp_path / f"out-{path.stem}"
        code, _, err = run(["estimate", path, "--potential", tiny_potential, "--out", out], capsys)
        assert_one_line_error(code, err, pattern)
        assert not (out / "report.json").exists()


def test_element_not_covered_by_potential(capsys, tmp_path, tiny_potential):
    code, _, err = run(
        ["estimate", REPO / "examples" / "Li2O.cif", "--potential", tiny_potential, "--out", tmp_path], capsys
    )
    assert_one_line_error(code, err, "does not cover element(s) O")
    assert not (tmp_path / "report.json").exists()


def test_no_mobile_species(capsys, tmp_path, tiny_potential):
    code, _, err = run(
        [
            "estimate",
            REPO / "examples" / "Li3N.cif",
            "--species",
            "Na",
            "--potential",
            tiny_potential,
            "--out",
            tmp_path,
        ],
        capsys,
    )
    assert_one_line_error(code, err, "mobile species Na is not in Li3N")


def test_cell_too_small(capsys, tmp_path, tiny_potential):
    code, _, err = run(
        [
            "estimate",
            REPO / "examples" / "Li3N.cif",
            "--supercell",
            "1x1x1",
            "--potential",
            tiny_potential,
            "--out",
            tmp_path,
        ],
        capsys,
    )
    assert_one_line_error(code, err, "its own periodic image")
    assert not (tmp_path / "report.json").exists()


def _exploding_potential(provenance=None) -> Potential:
    """A tiny Li-N model whose energies are scaled 10^4: its MD blows up within steps."""
    config = NequIPConfig(
        species=("Li", "N"),
        num_layers=1,
        hidden_irreps="8x0e",
        sh_lmax=1,
        cutoff_A=3.5,
        cutoff_inner_A=3.0,
        radial_mlp=(8,),
        conv_denominator=1.0,
    )
    params = init_params(config, jax.random.PRNGKey(1))
    params["species_scale_eV"] = params["species_scale_eV"] * 1e4
    return Potential(config, params, name="exploding", provenance=provenance or {})


def test_md_blow_up_is_reported_with_temperature(capsys, tmp_path):
    """A potential with absurd forces: the MD must stop with a clear error and leave no report."""
    path = save(_exploding_potential(), tmp_path / "exploding.npz")
    code, _, err = run(
        [
            "estimate",
            REPO / "examples" / "Li3N.cif",
            "--potential",
            path,
            "--engine",
            "direct",
            "--no-relax",
            "--temperatures",
            "1000",
            "--time",
            "0.2ps",
            "--equilibration",
            "0ps",
            "--no-progress",
            "--out",
            tmp_path / "out",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "MD blew up")
    assert "1000" in err
    assert not (tmp_path / "out" / "report.json").exists()


def test_specialist_blow_up_names_the_specialist_and_what_to_do(capsys, tmp_path):
    """A specialist's blow-up means its data missed what its MD reached: the error says so, names its
    checkpoint and the ways out, and leaves no report."""
    card = {"kind": "superionic specialist", "material": ["Li3N"]}
    path = save(_exploding_potential({"specialist_card": card}), tmp_path / "specialist.npz")
    code, _, err = run(
        ["estimate", REPO / "examples" / "Li3N.cif", "--potential", path, "--no-relax", "--temperatures", "1000",
         "--time", "0.2ps", "--equilibration", "0ps", "--no-progress", "--out", tmp_path / "out"],
        capsys,
    )  # fmt: skip
    assert_one_line_error(code, err, "MD with the specialist")
    assert str(path) in err and "--engine direct" in err and "--seed" in err
    assert "Check the structure" not in err  # the generic advice does not apply to a specialist
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_specialist_that_blows_up_is_refitted_and_its_md_started_again(tiny_potential, tmp_path):
    """The estimate's MD step: a specialist's blow-up hands the configurations before it to the refit, and the
    MD starts again from the beginning with what the refit returns; when the refit gives up, the error says
    how many refits came before."""
    from ase.io import read

    from superionic import md
    from superionic.estimate import EstimateError, _run_md
    from superionic.potentials import load

    card = {"specialist_card": {"kind": "superionic specialist", "material": ["Li3N"]}}
    sane = load(tiny_potential)
    sane = Potential(sane.config, sane.params, "specialist", card)
    system = md.prepare_system(
        read(REPO / "examples" / "Li3N.cif"), 3.5, 0.5, supercell=(2, 2, 2), charges_e={"Li": 1, "N": -3}
    )
    config = md.MDConfig(
        temperatures_K=(600.0,), production_ps=0.1, equilibration_ps=0.02, save_every_fs=10.0, progress=False
    )  # it blows up in the equilibration, whose frames are not written: the error carries them
    handed = []

    def refit(err):
        handed.append(err)
        return sane

    result, used = _run_md(
        system, _exploding_potential(card), config, tmp_path / "md", tmp_path / "s.npz", refit
    )
    assert used is sane and len(handed) == 1
    assert handed[0].failure.startswith("equilibration:")
    before = handed[0].frames_before
    assert (
        before and set(before[-1].get_chemical_symbols()) == {"Li", "N"} and len(before[-1]) == system.n_atoms
    )
    (trajectory,) = result.trajectories  # the whole run again, with the refitted potential
    assert len(trajectory.steps) == 11 and np.isfinite(trajectory.positions_A).all()

    outcomes = iter([_exploding_potential(card), None])
    with pytest.raises(EstimateError, match=r"blew up after 1 refit\(s\) on the configurations"):
        _run_md(
            system,
            _exploding_potential(card),
            config,
            tmp_path / "md2",
            tmp_path / "s.npz",
            lambda e: next(outcomes),
        )


def test_analyze_writes_report_and_table(capsys, tmp_path):
    code, out, _ = run(["analyze", FIXTURE, "--out", tmp_path], capsys)
    assert code == 0
    assert "1200.0" in out and "Haven" in out
    report = json.loads((tmp_path / "report.json").read_text())
    result = report["transport"]["results"][0]
    low, high = result["D_tracer_cm2_per_s_ci95"]
    assert low < result["D_tracer_cm2_per_s"] < high
    assert (tmp_path / "msd.png").stat().st_size > 1000


def test_analyze_json_matches_file_schema(capsys, tmp_path):
    code, out, _ = run(["analyze", FIXTURE, "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["schema"] == "superionic.conductivity.analyze/1"
    for key in ("D_tracer_cm2_per_s", "D_tracer_cm2_per_s_ci95", "sigma_mS_per_cm", "sigma_mS_per_cm_ci95"):
        assert key in report["transport"]["results"][0]


def test_analyze_errors(capsys, tmp_path):
    code, _, err = run(["analyze", tmp_path / "nope.h5md"], capsys)
    assert_one_line_error(code, err, "not found")
    empty = tmp_path / "empty.h5md"
    empty.write_bytes(b"")
    code, _, err = run(["analyze", empty], capsys)
    assert_one_line_error(code, err, "empty")
    garbage = tmp_path / "garbage.h5md"
    garbage.write_bytes(b"\x00" * 100)
    code, _, err = run(["analyze", garbage], capsys)
    assert code != 0 and "error:" in err
    copy = tmp_path / "copy.h5md"
    shutil.copy(FIXTURE, copy)
    code, _, err = run(["analyze", copy, "--species", "Xx"], capsys)
    assert_one_line_error(code, err, "Xx")


def test_potential_missing_its_accuracy_target_is_flagged(tiny_potential):
    from dataclasses import replace

    from superionic.potentials import load

    potential = load(tiny_potential)
    assert potential.accuracy_warning() is None  # no held-out metrics recorded: nothing to judge
    poor = replace(potential, provenance={"heldout_test_metrics": {"forces_mae_meV_per_A": 452.0}})
    assert "misses its accuracy target (held-out force MAE 452 meV/Å" in poor.accuracy_warning()
    good = replace(potential, provenance={"heldout_test_metrics": {"forces_mae_meV_per_A": 25.0}})
    assert good.accuracy_warning() is None


def test_temperature_drift_is_flagged():
    from superionic.md import MDResult, MemberSummary

    def member(target, mean):
        return MemberSummary(target, 0, Path("t.h5md"), Path("t.pdb"), 100, mean, 30.0, 0.0, 0.0, 1000.0)

    def warnings(members):
        return MDResult(tuple(members), (), None, 100, 1.0, 100, 1.0, 1.0).warnings

    assert warnings([member(1000.0, 1008.0), member(700.0, 690.0)]) == []
    (warning,) = warnings([member(1000.0, 1008.0), member(1300.0, 1500.0)])
    assert warning.startswith("1300 K replica 0: mean temperature 1500 K is +15% off target")
