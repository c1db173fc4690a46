"""The engine with superionic's own NequIP potential (small, random weights): the real model code path
(``Potential.cutoff_A``, ``jax_md_neighbor_energy``, sparse neighbour lists) conserves energy under NVE."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk

from superionic import md
from superionic.potentials import NequIPConfig, Potential, init_params


def _small_nequip() -> Potential:
    config = NequIPConfig(
        species=("Li", "O"),
        num_layers=2,
        hidden_irreps="8x0e+4x1e+2x2e",
        parity=False,
        cutoff_A=4.0,
        cutoff_inner_A=3.5,
        cutoff_function="xplor",
        radial_mlp=(16,),
        conv_denominator=8.0,
    )
    params = init_params(config, jax.random.PRNGKey(0), jnp.float64)
    return Potential(config, params, name="small-random-nequip")


def _tiny_nequip() -> Potential:
    config = NequIPConfig(
        species=("Li", "O"),
        num_layers=1,
        hidden_irreps="4x0e+2x1e",
        sh_lmax=1,
        cutoff_A=3.5,
        cutoff_inner_A=3.0,
        cutoff_function="xplor",
        num_radial_basis=4,
        radial_mlp=(8,),
        conv_denominator=8.0,
    )
    params = init_params(config, jax.random.PRNGKey(1), jnp.float64)
    params["species_scale_eV"] = params["species_scale_eV"] * 3.0  # stiff enough to hold the crystal
    return Potential(config, params, name="tiny-random-nequip")


def _li2o_unit_cell() -> md.System:
    """The 12-atom conventional Li2O cell, 4.61 Å wide: narrower than 2 x (cutoff + skin), so an atom's own
    periodic images are among its neighbours (a minimum-image list could not run it)."""
    atoms = bulk("OLi2", "fluorite", a=4.61, cubic=True)
    system = md.prepare_system(atoms, 3.5, 0.5, supercell=(1, 1, 1))
    assert system.n_atoms == 12
    return system


def _tiny_config(**changes) -> md.MDConfig:
    base = dict(
        ensemble="nve",
        temperatures_K=(600.0, 900.0),
        timestep_fs=1.0,
        production_ps=0.3,
        equilibration_ps=0.0,
        save_every_fs=10.0,
        chunk_steps=50,
        skin_A=0.5,
        capacity_multiplier=2.0,
        precision="float64",
        progress=False,
        seed=3,
    )
    return md.MDConfig(**(base | changes))


def test_nve_in_a_cell_narrower_than_the_cutoff_conserves_energy_and_recovers_overflows(tmp_path):
    """Forces from the image-resolved table are the gradient of its energy across rebuilds and wraps (NVE
    conserves energy), and a table too narrow for the pairs within the cutoff is grown and the chunk redone
    without changing the trajectory."""
    potential, system = _tiny_nequip(), _li2o_unit_cell()
    ample = md.run(system, potential, _tiny_config(), tmp_path / "ample")
    assert ample.neighbor_reallocations == 0
    # 1.0: the tables hold exactly the perfect lattice's pairs; thermal motion overflows them mid-chunk.
    tight = md.run(system, potential, _tiny_config(capacity_multiplier=1.0), tmp_path / "tight")
    assert tight.neighbor_reallocations >= 1
    for ours, ref, member in zip(tight.trajectories, ample.trajectories, ample.members, strict=True):
        a, b = md.read_trajectory(ours), md.read_trajectory(ref)
        np.testing.assert_allclose(a.positions_A, b.positions_A, atol=1e-9)
        ke, e = b.observables["kinetic_energy"], b.observables["conserved_energy"]
        assert np.ptp(ke) / system.n_atoms > 5e-3  # energy does flow between kinetic and potential
        assert np.ptp(e) < 0.02 * np.ptp(ke)
        assert abs(member.conserved_drift_eV_per_atom_per_ps) < 1e-3
        moved = np.linalg.norm(b.positions_A[-1] - b.positions_A[0], axis=-1)
        assert moved.max() > 0.1  # atoms moved far enough to wrap or need a rebuild


def test_md_compiles_once_per_shape_however_many_chunks(tmp_path, compile_counter):
    """A longer run of the same shapes compiles nothing more than a shorter one: no chunk retraces."""
    potential, system = _tiny_nequip(), _li2o_unit_cell()
    short = _tiny_config(production_ps=0.1, equilibration_ps=0.1)
    long = _tiny_config(production_ps=0.6, equilibration_ps=0.1)
    md.run(system, potential, short, tmp_path / "warm")  # jax's caches of eager operations fill here
    with compile_counter:
        md.run(system, potential, short, tmp_path / "short")
    compiles_short = compile_counter.count
    with compile_counter:
        result = md.run(system, potential, long, tmp_path / "long")
    assert result.steps_run >= 7 * 50  # several chunks
    assert result.neighbor_reallocations == 0
    assert compile_counter.count == compiles_short


@pytest.mark.slow
def test_nve_with_nequip_conserves_energy(tmp_path):
    potential = _small_nequip()
    atoms = bulk("OLi2", "fluorite", a=4.61, cubic=True)
    system = md.prepare_system(atoms, potential.cutoff_A, 0.5, target_atoms=90)
    config = md.MDConfig(
        ensemble="nve",
        temperatures_K=(600.0,),
        timestep_fs=1.0,
        production_ps=0.2,
        equilibration_ps=0.0,
        save_every_fs=5.0,
        chunk_steps=100,
        skin_A=0.5,
        precision="float64",
        progress=False,
    )
    result = md.run(system, potential, config, tmp_path)
    traj = md.read_trajectory(result.trajectories[0])
    n = system.n_atoms
    ke, e = traj.observables["kinetic_energy"], traj.observables["conserved_energy"]
    assert np.ptp(ke) / n > 1e-3  # the model does move the atoms (energy flows between KE and PE)
    assert np.ptp(e) / n < 0.02 * np.ptp(ke) / n
    assert abs(result.members[0].conserved_drift_eV_per_atom_per_ps) < 1e-4
    assert result.members[0].n_frames == 41


@pytest.mark.slow
@pytest.mark.teacher
def test_nve_with_sevennet0_conserves_energy(tmp_path):
    """NVE of Li3N (192 atoms, 1 fs, 60 fs) with the imported SevenNet-0: a real, trained potential."""
    pytest.importorskip("sevenn")
    from superionic.potentials import load
    from superionic.potentials.sevennet import import_sevennet

    potential = load(import_sevennet("sevennet-0", tmp_path / "sevennet-0.npz"))
    system = md.prepare_system(_examples() / "Li3N.cif", potential.cutoff_A, 0.5, target_atoms=150)
    config = md.MDConfig(
        ensemble="nve",
        temperatures_K=(800.0,),
        timestep_fs=1.0,
        production_ps=0.06,
        equilibration_ps=0.0,
        save_every_fs=5.0,
        chunk_steps=30,
        skin_A=0.5,
        progress=False,
    )
    result = md.run(system, potential, config, tmp_path / "run")
    traj = md.read_trajectory(result.trajectories[0])
    n = system.n_atoms
    ke, e = traj.observables["kinetic_energy"], traj.observables["conserved_energy"]
    assert np.ptp(ke) / n > 5e-3  # atoms exchange kinetic and potential energy
    # float32 model: the conserved energy fluctuates far less than the kinetic energy and does not drift
    assert np.ptp(e) / n < 0.05 * np.ptp(ke) / n
    assert abs(result.members[0].conserved_drift_eV_per_atom_per_ps) < 5e-3


def _examples():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "examples"
