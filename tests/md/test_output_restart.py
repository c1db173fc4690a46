"""Trajectory files (layout, MDAnalysis, ASE/pymatgen readers), restart after a kill, neighbour-list overflow
recovery, batching, and the instability stop. Most tests compare against the package's reference run."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from superionic import md
from superionic.trajectory import read_trajectory

from .conftest import ARGON_A, CUTOFF_A, SKIN_A, reference_config, reference_dir

REPO = Path(__file__).resolve().parents[2]


def _assert_same_trajectory(path_a: Path, path_b: Path, atol: float) -> None:
    a, b = read_trajectory(path_a), read_trajectory(path_b)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_allclose(a.times_ps, b.times_ps, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.positions_A, b.positions_A, rtol=0, atol=atol)
    np.testing.assert_allclose(a.velocities_A_per_ps, b.velocities_A_per_ps, rtol=0, atol=100 * atol)
    for name in ("temperature", "potential_energy", "conserved_energy", "pressure"):
        np.testing.assert_allclose(a.observables[name], b.observables[name], rtol=1e-8, atol=1e-9)


def test_layout_matches_the_contract(reference_run, argon):
    path = reference_run.paths[1]
    with h5py.File(path, "r") as f:
        assert list(f["h5md"].attrs["version"]) == [1, 1]
        assert f["h5md/creator"].attrs["name"] == "superionic" and "name" in f["h5md/author"].attrs
        part = f["particles/all"]
        assert part["box"].attrs["dimension"] == 3
        assert [b.decode() for b in part["box"].attrs["boundary"]] == ["periodic"] * 3
        n_frames = part["position/value"].shape[0]
        assert part["position/value"].shape == (n_frames, argon.n_atoms, 3)
        assert part["box/edges/value"].shape == (n_frames, 3, 3)
        for group in ("box/edges", "position", "velocity"):
            assert part[f"{group}/time"].attrs["unit"] == "ps"
            assert part[f"{group}/step"].dtype == np.int64
        assert part["position/value"].attrs["unit"] == "Angstrom"
        assert part["box/edges/value"].attrs["unit"] == "Angstrom"
        assert part["velocity/value"].attrs["unit"] == "Angstrom ps-1"
        assert part["species"].dtype == np.int32 and set(part["species"][()]) == {18}
        assert part["charge"].attrs["unit"] == "e" and part["mass"].attrs["unit"] == "amu"
        units = {
            "temperature": "K",
            "potential_energy": "eV",
            "kinetic_energy": "eV",
            "conserved_energy": "eV",
            "pressure": "GPa",
            "stress": "GPa",
            "volume": "Angstrom^3",
        }
        for name, unit in units.items():
            assert f[f"observables/{name}/value"].attrs["unit"] == unit
            assert f[f"observables/{name}/time"].attrs["unit"] == "ps"
            assert f[f"observables/{name}/value"].shape[0] == n_frames
        params = dict(f["parameters"].attrs)
        assert params["temperature_K"] == 60.0 and params["ensemble"] == "nvt_nose_hoover"
        assert params["timestep_fs"] == 5.0 and params["replica"] == 0 and params["seed"] == 7
        assert params["equilibration_ps"] == 0.0 and params["potential_name"] == "lennard_jones"
        for key in ("potential_sha256", "superionic_version"):
            assert key in params
        # Frame times start at 0 and advance by save_every; the box (NVT) is the system's cell in every frame.
        np.testing.assert_allclose(part["position/time"][()], 0.025 * np.arange(n_frames), atol=1e-12)
        np.testing.assert_array_equal(part["position/step"][()], 5 * np.arange(n_frames))
        np.testing.assert_allclose(
            part["box/edges/value"][()], np.broadcast_to(argon.cell_A, (n_frames, 3, 3))
        )
    assert n_frames == 41  # frame 0 plus 1 ps / 25 fs


def test_positions_are_unwrapped(reference_run, argon):
    traj = read_trajectory(reference_run.paths[1])
    step = np.diff(traj.positions_A, axis=0)
    assert np.abs(step).max() < 1.0  # continuous in time (25 fs apart)
    wrapped = np.mod(traj.positions_A @ np.linalg.inv(argon.cell_A), 1.0)
    assert np.abs(np.diff(wrapped, axis=0)).max() > 0.5  # ... although atoms did cross the cell faces


def test_mdanalysis_reads_identical_positions_box_and_times(reference_run):
    import MDAnalysis as mda
    from MDAnalysis.lib.mdamath import triclinic_box

    for member in reference_run.members:
        u = mda.Universe(str(member.topology), str(member.trajectory))  # the documented one-liner
        ours = read_trajectory(member.trajectory)
        assert u.trajectory.n_frames == len(ours.steps) and len(u.atoms) == ours.positions_A.shape[1]
        assert set(u.atoms.elements) == {"Ar"}
        for ts in u.trajectory:
            i = ts.frame
            np.testing.assert_allclose(ts.positions, ours.positions_A[i], atol=2e-5)
            np.testing.assert_allclose(ts.dimensions, triclinic_box(*ours.cells_A[i]), atol=1e-4)
            assert ts.time == pytest.approx(ours.times_ps[i])
            np.testing.assert_allclose(ts.velocities, ours.velocities_A_per_ps[i], rtol=1e-5, atol=1e-4)
            assert ts.data["temperature"] == pytest.approx(ours.observables["temperature"][i])


def test_ase_and_pymatgen_readers(reference_run, argon):
    path = reference_run.paths[0]
    traj = read_trajectory(path)
    frames = traj.to_atoms()
    assert len(frames) == len(traj.steps)
    last = frames[-1]
    np.testing.assert_allclose(last.positions, traj.positions_A[-1])
    np.testing.assert_allclose(last.cell[:], traj.cells_A[-1])
    assert last.info["time_ps"] == pytest.approx(1.0) and last.info["step"] == 200
    # Velocity units: ASE's temperature (3N degrees of freedom) from our velocities equals ours x (3N-3)/3N.
    n = argon.n_atoms
    expected = traj.observables["temperature"][-1] * (3 * n - 3) / (3 * n)
    assert last.get_temperature() == pytest.approx(expected, rel=1e-6)  # ASE uses CODATA 2014 constants
    structures = traj.to_structures(slice(0, 3))
    assert len(structures) == 3 and structures[0].composition.reduced_formula == "Ar"


def test_batched_member_equals_the_same_member_run_alone(reference_run, argon, lj, tmp_path):
    alone = md.run(argon, lj, reference_config(temperatures_K=(60.0,)), tmp_path)
    _assert_same_trajectory(alone.paths[0], reference_run.paths[1], atol=1e-9)
    first = read_trajectory(reference_run.paths[0])
    second = read_trajectory(reference_run.paths[1])
    assert np.abs(first.positions_A[-1] - second.positions_A[-1]).max() > 1e-3  # members do differ


def test_neighbour_list_overflow_is_recovered_without_changing_the_trajectory(
    reference_run, argon, lj, tmp_path
):
    # capacity_multiplier 1.0: the list holds exactly the pairs of the perfect lattice (3 shells); when vibrations
    # bring 4th-shell pairs within cutoff + skin, it overflows in the middle of a chunk.
    assert reference_run.neighbor_reallocations == 0
    config = reference_config(capacity_multiplier=1.0)
    result = md.run(argon, lj, config, tmp_path)
    assert result.neighbor_reallocations >= 1
    for ours, ref in zip(result.paths, reference_run.paths, strict=True):
        _assert_same_trajectory(ours, ref, atol=1e-9)


_CHILD = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import jax
    jax.config.update("jax_enable_x64", True)
    from ase.build import bulk
    from superionic import md
    args = json.loads(sys.argv[1])
    system = md.prepare_system(bulk("Ar", "fcc", a=args["a"], cubic=True), args["cutoff"], args["skin"],
                               target_atoms=100)
    md.run(system, md.LennardJones(cutoff_A=args["cutoff"]), md.MDConfig.from_dict(args["config"]), args["out"])
    """
)


def test_restart_after_kill_reproduces_the_uninterrupted_run(reference_run, argon, lj, tmp_path):
    # One frame per chunk, so that the child is killed somewhere in the middle of production.
    config = reference_config(chunk_steps=5)
    out = tmp_path / "killed"
    args = dict(a=ARGON_A, cutoff=CUTOFF_A, skin=SKIN_A, config=config.to_dict(), out=str(out))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(args)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    checkpoint = out / f"{argon.name}.checkpoint.npz"
    killed_at = None
    deadline = time.time() + 300
    while time.time() < deadline and child.poll() is None:
        if checkpoint.exists():
            try:
                with np.load(checkpoint) as z:
                    frames = json.loads(str(z["meta"]))["frames_written"]
            except (OSError, ValueError, KeyError):  # being replaced right now
                frames = 0
            if frames >= 8:
                child.send_signal(signal.SIGKILL)
                child.wait()
                killed_at = frames
                break
        time.sleep(0.01)
    assert killed_at is not None, (
        f"child finished or failed before it could be killed: {child.stderr.read()[-2000:]}"
    )
    assert killed_at < 41
    # The killed run left readable files holding at least the checkpointed frames.
    partial = read_trajectory(out / reference_run.paths[0].name)
    assert killed_at <= len(partial.steps) < 41

    result = md.run(argon, lj, config, out, restart=True)
    assert result.steps_run < 200  # it continued, it did not start over
    for ours, ref in zip(result.paths, reference_run.paths, strict=True):
        _assert_same_trajectory(ours, ref, atol=1e-10)


def test_existing_run_needs_restart_or_overwrite_and_same_settings(reference_run, argon, lj):
    out = reference_dir(reference_run)
    with pytest.raises(FileExistsError, match="restart=True"):
        md.run(argon, lj, reference_config(), out)
    with pytest.raises(ValueError, match="timestep_fs"):
        md.run(argon, lj, reference_config(timestep_fs=4.0), out, restart=True)


def test_finished_run_can_be_extended(reference_run, argon, lj, tmp_path):
    import shutil

    out = tmp_path / "extended"
    shutil.copytree(reference_dir(reference_run), out)
    result = md.run(argon, lj, reference_config(production_ps=1.25), out, restart=True)
    assert result.steps_run == 50
    traj = result.trajectories[0]
    ref = read_trajectory(reference_run.paths[0])
    assert len(traj.steps) == 51 and traj.times_ps[-1] == pytest.approx(1.25)
    np.testing.assert_array_equal(traj.positions_A[:41], ref.positions_A)


def test_explosion_stops_with_a_clear_error_and_keeps_the_file(argon, lj, tmp_path):
    frac = argon.fractional.copy()
    frac[1] = frac[0] + np.array([0.9, 0.0, 0.0]) / argon.cell_A[0, 0]  # two atoms 0.9 Å apart
    bad = dataclasses.replace(argon, fractional=frac, name="clash")
    config = reference_config(temperatures_K=(40.0,), chunk_steps=50)
    with pytest.raises(md.MDInstabilityError, match=r"T=40 K replica 0 became unstable at step \d+") as info:
        md.run(bad, lj, config, tmp_path)
    assert "clash_T40K_r0.h5md" in str(info.value)
    traj = read_trajectory(tmp_path / "clash_T40K_r0.h5md")
    assert len(traj.steps) >= 1 and np.isfinite(traj.positions_A).all()  # what was written is intact
    # The error carries the configurations that led into the failure (the last chunk's start and good
    # frames): the same as the file's last frames.
    before = info.value.frames_before
    assert 1 <= len(before) <= len(traj.steps)
    np.testing.assert_allclose(
        np.array([a.get_scaled_positions(wrap=True) for a in before]),
        np.array([a.get_scaled_positions(wrap=True) for a in traj.to_atoms()][-len(before) :]),
        atol=1e-5,
    )
    assert before[-1].get_chemical_symbols() == ["Ar"] * argon.n_atoms
    assert "Check the structure" in info.value.advice and info.value.failure in str(info.value)


def test_capacity_of_a_restart_file_written_before_the_packed_table_still_loads():
    """Restart files of earlier versions list six capacities (a total of pairs within the cutoff that the model's
    packed table no longer needs); they restart with the same table sizes."""
    from superionic.md.neighbors import Capacity

    now = Capacity(82, 12, 55, (0, 0, 0), (3, 3, 3))
    assert Capacity.from_list(now.to_list()) == now
    assert Capacity.from_list([82, 12, 55, 5010, [0, 0, 0], [3, 3, 3]]) == now
