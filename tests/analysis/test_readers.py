"""Readers: NPT-safe unwrapping, drift removal, and each file format (ours, MDAnalysis-written H5MD, ASE)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from superionic.analysis import read_trajectory, remove_framework_drift
from superionic.trajectory import unwrap_positions
from tests.analysis.analysis_walks import gaussian_walks, synthetic_trajectory

LI3N_FIXTURE = Path(__file__).resolve().parents[1] / "data" / "li3n_vac_1200K.h5md"


def _fluctuating_triclinic_cells(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    base = np.array([[6.0, 0.0, 0.0], [-3.0, 5.2, 0.0], [0.5, 0.3, 6.5]])  # hexagonal-like, tilted c
    scale = 1.0 + 0.03 * np.sin(np.arange(n_frames) / 7.0)[:, None, None]  # ±3 % NPT breathing
    return base * scale + rng.normal(scale=0.02, size=(n_frames, 3, 3))


def _wrap(positions: np.ndarray, cells: np.ndarray) -> np.ndarray:
    frac = np.einsum("fni,fij->fnj", positions, np.linalg.inv(cells))
    return np.einsum("fni,fij->fnj", frac - np.floor(frac), cells)


def test_unwrap_recovers_physical_displacements_under_npt_box_fluctuations():
    """Atoms take small physical steps δ; positions are wrapped into a breathing triclinic cell each frame.
    The unwrapped trajectory must be u(0) + Σδ exactly; the naive scheme (accumulated fractional jumps
    times the current box) is off by whole-cell multiples of the box fluctuation."""
    rng = np.random.default_rng(0)
    n_frames, n_atoms = 400, 6
    cells = _fluctuating_triclinic_cells(n_frames, rng)
    steps = rng.normal(scale=0.4, size=(n_frames - 1, n_atoms, 3))
    wrapped = np.empty((n_frames, n_atoms, 3))
    wrapped[0] = _wrap(rng.uniform(0, 4, (1, n_atoms, 3)), cells[:1])[0]
    for f in range(1, n_frames):
        wrapped[f] = _wrap((wrapped[f - 1] + steps[f - 1])[None], cells[f : f + 1])[0]
    truth = wrapped[0] + np.concatenate([np.zeros((1, n_atoms, 3)), steps.cumsum(0)])
    assert np.abs(np.diff(wrapped, axis=0)).max() > 3.0  # atoms did cross the boundaries
    np.testing.assert_allclose(unwrap_positions(wrapped, cells), truth, atol=1e-9)

    frac = np.einsum("fni,fij->fnj", wrapped, np.linalg.inv(cells))
    jumps = np.concatenate([np.zeros((1, n_atoms, 3)), np.cumsum(np.rint(np.diff(frac, axis=0)), axis=0)])
    naive = np.einsum("fni,fij->fnj", frac - jumps, cells)
    assert np.abs(naive - truth).max() > 0.5  # the trap the scheme avoids


def test_unwrap_is_a_no_op_on_continuous_positions():
    rng = np.random.default_rng(1)
    cells = _fluctuating_triclinic_cells(50, rng)
    positions = rng.normal(scale=0.3, size=(50, 4, 3)).cumsum(0) + 20.0  # outside the cell, continuous
    np.testing.assert_allclose(unwrap_positions(positions, cells), positions, atol=1e-12)


def test_framework_drift_is_removed():
    rng = np.random.default_rng(2)
    walks = gaussian_walks(rng, 1, 200, 4, 0.1, 0.05)[0]
    traj = synthetic_trajectory(walks, 0.05, 1000.0, drift_A_per_ps=3.0, rng=rng)
    corrected = remove_framework_drift(traj.positions_A, traj.atomic_numbers, 3)
    li = traj.atomic_numbers == 3
    # the framework vibrates about fixed sites again, and Li displacements are the walks' (± framework noise)
    np.testing.assert_allclose(
        corrected[:, li] - corrected[0, li], walks - walks[0], atol=0.25
    )  # COM noise 0.05
    assert np.abs(traj.positions_A[-1, li] - traj.positions_A[0, li] - (walks[-1] - walks[0])).max() > 10


def test_reads_our_layout_fixture():
    traj = read_trajectory(LI3N_FIXTURE)
    assert traj.metadata["format"] == "superionic-h5md"
    assert traj.temperature_K == pytest.approx(1200.0)
    assert traj.n_atoms == 31 and traj.n_frames == 251
    assert traj.frame_interval_ps == pytest.approx(0.02)
    assert sorted(set(traj.atomic_numbers.tolist())) == [3, 7]
    np.testing.assert_array_equal(traj.charges_e[traj.atomic_numbers == 3], 1.0)
    np.testing.assert_array_equal(traj.charges_e[traj.atomic_numbers == 7], -3.0)
    assert traj.parameters["ensemble"] == "nvt_langevin"
    step = np.linalg.norm(np.diff(traj.positions_A, axis=0), axis=-1)
    assert step.max() < 1.5  # continuous (unwrapped)
    displacement = np.linalg.norm(traj.positions_A[-1] - traj.positions_A[0], axis=-1)
    assert displacement.max() > 2.0  # some Li moved at least one hop: a real diffusion fixture


def test_our_layout_through_the_generic_mdanalysis_reader_gives_the_same_trajectory():
    ours = read_trajectory(LI3N_FIXTURE)
    generic = read_trajectory(LI3N_FIXTURE, format="h5md", temperature_K=1200.0)  # species from the file
    np.testing.assert_array_equal(generic.atomic_numbers, ours.atomic_numbers)
    np.testing.assert_allclose(generic.positions_A, ours.positions_A, atol=1e-4)  # MDAnalysis reads float32
    np.testing.assert_allclose(generic.times_ps, ours.times_ps, atol=1e-6)


def _write_mdanalysis_h5md(path, positions, cells, dt_ps):
    import MDAnalysis as mda
    from MDAnalysis.coordinates.H5MD import H5MDWriter
    from MDAnalysis.coordinates.memory import MemoryReader
    from MDAnalysis.lib.mdamath import triclinic_box, triclinic_vectors

    dims = np.array([triclinic_box(*c) for c in cells])
    mda_cells = np.array([triclinic_vectors(d) for d in dims])  # MDAnalysis' standard orientation
    frac = np.einsum("fni,fij->fnj", positions, np.linalg.inv(cells))
    wrapped = np.einsum("fni,fij->fnj", frac - np.floor(frac), mda_cells).astype(np.float32)
    universe = mda.Universe.empty(positions.shape[1], trajectory=False)
    universe.load_new(wrapped, format=MemoryReader, dimensions=dims, dt=dt_ps)
    with H5MDWriter(
        str(path),
        universe.atoms.n_atoms,
        velocities=False,
        forces=False,
        lengthunit="Angstrom",
        timeunit="ps",
    ) as writer:
        for _ in universe.trajectory:
            writer.write(universe.atoms)
    return wrapped


def test_h5md_written_by_mdanalysis_is_analysed_like_the_original(tmp_path):
    from superionic.analysis import analyze

    original = read_trajectory(LI3N_FIXTURE)
    path = tmp_path / "mda.h5md"
    wrapped = _write_mdanalysis_h5md(path, original.positions_A, original.cells_A, original.frame_interval_ps)
    assert np.abs(np.diff(wrapped, axis=0)).max() > 2.0  # the file is wrapped: the reader must unwrap

    symbols = ["Li" if z == 3 else "N" for z in original.atomic_numbers]
    with pytest.raises(ValueError, match="species="):
        read_trajectory(path)
    theirs = read_trajectory(path, species=symbols, temperature_K=1200.0)
    assert theirs.metadata["format"] == "h5md"
    np.testing.assert_allclose(theirs.times_ps, original.times_ps, atol=1e-6)
    np.testing.assert_allclose(theirs.volumes_A3, original.volumes_A3, rtol=1e-5)
    disp_theirs = np.linalg.norm(theirs.positions_A - theirs.positions_A[0], axis=-1)
    disp_ours = np.linalg.norm(original.positions_A - original.positions_A[0], axis=-1)
    np.testing.assert_allclose(disp_theirs, disp_ours, atol=2e-3)  # float32 file

    report_theirs = analyze(theirs, species="Li", charge_e=1.0).results[0]
    report_ours = analyze(original, species="Li").results[0]
    assert report_theirs.tracer.D_A2_per_ps == pytest.approx(report_ours.tracer.D_A2_per_ps, rel=1e-3)
    assert report_theirs.tracer.D_A2_per_ps > 0


def test_ase_extxyz_and_xdatcar_readers(tmp_path):
    rng = np.random.default_rng(3)
    n_frames, cell = 30, np.diag([7.0, 7.5, 8.0])
    positions = rng.uniform(0, 7, (1, 5, 3)) + rng.normal(scale=0.5, size=(n_frames, 5, 3)).cumsum(0)
    frames = [
        Atoms("Li3S2", positions=p, cell=cell, pbc=True, info={"time_ps": 0.1 * i})
        for i, p in enumerate(positions)
    ]
    for a in frames:
        a.wrap()
    write(tmp_path / "run.extxyz", frames)
    write(tmp_path / "XDATCAR", frames, format="vasp-xdatcar")

    extxyz = read_trajectory(tmp_path / "run.extxyz", temperature_K=800.0)
    assert extxyz.metadata["format"] == "ase"
    np.testing.assert_allclose(extxyz.times_ps, 0.1 * np.arange(n_frames), atol=1e-12)
    np.testing.assert_allclose(
        extxyz.positions_A - extxyz.positions_A[0], positions - positions[0], atol=1e-6
    )
    # no charges in the file: pymatgen's charge-balanced guess (Li+, S at an average −1.5)
    np.testing.assert_array_equal(extxyz.charges_e[:3], 1.0)
    assert extxyz.charges_e.sum() == pytest.approx(0.0)

    with pytest.raises(ValueError, match="frame_interval_ps"):
        read_trajectory(tmp_path / "XDATCAR")
    xdatcar = read_trajectory(tmp_path / "XDATCAR", frame_interval_ps=0.1, charges_e={"Li": 1.0, "S": -1.5})
    assert xdatcar.metadata["format"] == "xdatcar"
    np.testing.assert_allclose(
        xdatcar.positions_A - xdatcar.positions_A[0], positions - positions[0], atol=1e-5
    )
    np.testing.assert_array_equal(xdatcar.charges_e, [1, 1, 1, -1.5, -1.5])


def test_bad_inputs_give_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_trajectory(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="format="):
        read_trajectory(LI3N_FIXTURE, format="lammps")
    with pytest.raises(ValueError, match="species has 2 atoms"):
        read_trajectory(LI3N_FIXTURE, species=["Li", "N"])


def test_npt_trajectory_from_file_gives_the_diffusivity_of_the_physical_steps(tmp_path):
    """End to end under NPT: walkers with known D, wrapped into a breathing cell frame by frame, written as
    extended XYZ, read back and analysed: D equals the D of the unwrapped truth."""
    from superionic.analysis import Trajectory, analyze

    rng = np.random.default_rng(5)
    n_frames, n_li, dt_ps, true_d = 600, 12, 0.05, 0.4
    cells = _fluctuating_triclinic_cells(n_frames, rng)
    steps = np.concatenate(
        [
            rng.normal(scale=np.sqrt(2 * true_d * dt_ps), size=(n_frames - 1, n_li, 3)),
            np.zeros((n_frames - 1, 2, 3)),
        ],
        axis=1,
    )  # two immobile S atoms as the framework
    wrapped = np.empty((n_frames, n_li + 2, 3))
    wrapped[0] = _wrap(rng.uniform(0, 4, (1, n_li + 2, 3)), cells[:1])[0]
    for f in range(1, n_frames):
        wrapped[f] = _wrap((wrapped[f - 1] + steps[f - 1])[None], cells[f : f + 1])[0]
    frames = [
        Atoms(["Li"] * n_li + ["S"] * 2, positions=p, cell=c, pbc=True, info={"time_ps": dt_ps * i})
        for i, (p, c) in enumerate(zip(wrapped, cells, strict=True))
    ]
    write(tmp_path / "npt.extxyz", frames)

    from_file = analyze(read_trajectory(tmp_path / "npt.extxyz", temperature_K=900.0), charge_e=1.0).results[
        0
    ]
    truth = wrapped[0] + np.concatenate([np.zeros((1, n_li + 2, 3)), steps.cumsum(0)])
    reference = Trajectory(
        positions_A=truth,
        cells_A=cells,
        times_ps=dt_ps * np.arange(n_frames),
        atomic_numbers=np.array([3] * n_li + [16] * 2),
        charges_e=np.array([1.0] * n_li + [-2.0] * 2),
        temperature_K=900.0,
    )
    expected = analyze(reference).results[0]
    assert from_file.tracer.D_A2_per_ps == pytest.approx(expected.tracer.D_A2_per_ps, rel=1e-6)
    low, high = from_file.tracer.D_A2_per_ps_ci95
    assert low < true_d < high
