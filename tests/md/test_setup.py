"""Units, cell conventions, supercell choice, charges and initial velocities."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from pymatgen.core import Structure

from superionic import md, units
from superionic.md.driver import _maxwell_boltzmann, _member_keys
from superionic.structures import box_from_cell, cell_from_box, perpendicular_widths


def test_units_against_independent_values():
    # jax-md time unit sqrt(amu Å^2 / eV) = 10.1805 fs (e.g. ASE: units.fs = 0.098227 in the same system).
    from ase import units as ase_units

    assert units.fs_to_internal(1.0) == pytest.approx(ase_units.fs, rel=1e-6)
    assert units.kT_eV(1000.0) == pytest.approx(1000.0 * ase_units.kB, rel=1e-6)
    assert units.gpa_to_internal(1.0) == pytest.approx(ase_units.GPa, rel=1e-6)
    assert units.velocity_internal_to_A_per_ps(1.0) == pytest.approx(1000.0 * ase_units.fs, rel=1e-6)  # Å/ps
    assert units.velocity_A_per_ps_to_internal(units.velocity_internal_to_A_per_ps(3.7)) == pytest.approx(3.7)
    assert units.internal_to_gpa(units.gpa_to_internal(2.5)) == pytest.approx(2.5)


def test_box_and_cell_are_transposes_and_positions_agree():
    cell = np.array([[4.0, 0.0, 0.0], [1.0, 5.0, 0.0], [0.5, -0.7, 6.0]])  # rows: a, b, c
    box = box_from_cell(cell)
    np.testing.assert_allclose(box[:, 1], cell[1])  # columns are lattice vectors
    np.testing.assert_allclose(cell_from_box(box), cell)
    frac = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(box @ frac, frac @ cell)  # jax-md's r = box s equals ASE's r = s cell


def test_triclinic_structure_is_rotated_not_deformed():
    from ase.neighborlist import neighbor_list

    cell = [[3.9, 0.4, 0.2], [0.7, 4.1, -0.3], [0.3, 0.5, 4.4]]
    atoms = Atoms("LiCl", scaled_positions=[[0, 0, 0], [0.4, 0.45, 0.55]], cell=cell, pbc=True)
    system = md.prepare_system(
        atoms, cutoff_A=3.0, skin_A=0.5, target_atoms=40, charges_e={"Li": 1, "Cl": -1}
    )
    box = system.box
    assert np.allclose(box, np.triu(box)) and np.all(np.diag(box) > 0)  # jax-md's cell-list orientation
    assert np.all(perpendicular_widths(system.cell_A) >= 7.0 - 1e-9)
    assert system.n_atoms >= 40
    n_cells = system.n_atoms // 2
    assert system.volume_A3 == pytest.approx(abs(np.linalg.det(cell)) * n_cells)
    # Same crystal: every interatomic distance up to 6 Å occurs n_cells times as often as in the input cell.
    d_in = np.sort(np.repeat(neighbor_list("d", atoms, 6.0), n_cells))
    d_out = np.sort(neighbor_list("d", system.to_atoms(), 6.0))
    np.testing.assert_allclose(d_out, d_in, atol=1e-9)


def test_supercell_rule_and_target(examples_dir):
    system = md.prepare_system(examples_dir / "Li3N.cif", cutoff_A=5.0, skin_A=1.0, target_atoms=300)
    widths = perpendicular_widths(system.cell_A)
    assert np.all(widths >= 10.0 - 1e-9)
    assert system.n_atoms >= 300
    # Widths >= 2 x cutoff (the skin does not count: the neighbour table resolves periodic images). Hexagonal
    # a = 3.648 Å: width 3.159 Å -> 4 repeats; c = 3.875 Å -> 3 (11.6 Å): 192 atoms.
    small = md.prepare_system(examples_dir / "Li3N.cif", cutoff_A=5.0, skin_A=1.0, target_atoms=0)
    assert small.supercell == (4, 4, 3) and small.n_atoms == 192
    # A minimum-image potential (jax-md's lists) asks for 2 (cutoff + skin) = 12 Å: c needs 4 repeats.
    minimum_image = md.prepare_system(
        examples_dir / "Li3N.cif", cutoff_A=5.0, skin_A=1.0, target_atoms=0, min_width_A=12.0
    )
    assert minimum_image.supercell == (4, 4, 4)


def test_charges_guessed_and_given(examples_dir):
    system = md.prepare_system(examples_dir / "Li3N.cif", cutoff_A=4.0, skin_A=1.0, target_atoms=50)
    charges = dict(zip(system.symbols, system.charges_e, strict=True))
    assert charges == {"Li": 1.0, "N": -3.0}
    assert system.charges_e.sum() == pytest.approx(0.0)
    structure = Structure.from_file(examples_dir / "Li2O.cif")
    structure.add_oxidation_state_by_element({"Li": 1, "O": -2})
    s2 = md.prepare_system(structure, cutoff_A=4.0, skin_A=1.0, target_atoms=10)
    assert set(zip(s2.symbols, s2.charges_e, strict=True)) == {("Li", 1.0), ("O", -2.0)}
    with pytest.warns(UserWarning, match="not charge-neutral"):
        s3 = md.prepare_system(examples_dir / "Li2O.cif", cutoff_A=4.0, skin_A=1.0, charges_e={"Li": 0.8})
    assert set(zip(s3.symbols, s3.charges_e, strict=True)) == {("Li", 0.8), ("O", -2.0)}  # O guessed


def test_bad_inputs_say_what_to_do(examples_dir, tmp_path):
    with pytest.raises(ValueError, match=r"partially occupied.*order it first"):
        md.prepare_system(examples_dir / "Li6PS5Cl_disordered.cif", cutoff_A=5.0, skin_A=1.0)
    with pytest.raises(ValueError, match="not found"):
        md.prepare_system(tmp_path / "missing.cif", cutoff_A=5.0, skin_A=1.0)
    with pytest.raises(ValueError, match="max_atoms"):
        md.prepare_system(bulk("Ar", "fcc", a=5.3, cubic=True), 7.0, 0.5, target_atoms=5000, max_atoms=1000)
    with pytest.raises(ValueError, match="supercell must be three positive integers"):
        md.prepare_system(bulk("Ar", "fcc", a=5.3, cubic=True), 7.0, 0.5, supercell=(2, 0, 2))
    # A chosen supercell narrower than 2 (cutoff + skin) is built (superionic's potentials run it), but a
    # jax-md minimum-image potential refuses it before any MD.
    narrow = md.prepare_system(bulk("Ar", "fcc", a=5.3, cubic=True), 7.0, 0.5, supercell=(2, 2, 2))
    with pytest.raises(ValueError, match="box too small for a minimum-image neighbour list"):
        md.run(narrow, md.LennardJones(cutoff_A=7.0), md.MDConfig(progress=False), tmp_path)
    with pytest.raises(ValueError, match="timestep_fs"):
        md.MDConfig(timestep_fs=20.0)
    with pytest.raises(ValueError, match="ensemble"):
        md.MDConfig(ensemble="nvt_berendsen")
    with pytest.raises(ValueError, match="temperatures_K"):
        md.MDConfig(temperatures_K=(-5.0,))


def test_config_round_trip():
    config = md.MDConfig(temperatures_K=(600, 800.0), replicas=2, pressure_GPa=0.1)
    assert md.MDConfig.from_dict(config.to_dict()) == config
    assert [(t, r) for _, t, r in config.members] == [(600.0, 0), (600.0, 1), (800.0, 0), (800.0, 1)]
    with pytest.raises(ValueError, match="unknown"):
        md.MDConfig.from_dict({"temperature": 300})


def test_maxwell_boltzmann_momenta(argon):
    config = md.MDConfig(temperatures_K=(300.0, 1200.0), replicas=20, precision="float64")
    keys = jnp.asarray(_member_keys(0, config))
    kT = jnp.asarray([units.kT_eV(t) for _, t, _ in config.members])
    masses = jnp.asarray(argon.masses_amu)
    p = np.asarray(_maxwell_boltzmann(keys, masses, kT, jnp.float64))
    np.testing.assert_allclose(p.sum(axis=1), 0.0, atol=1e-10)  # zero total momentum, every member
    dof = 3 * argon.n_atoms - 3
    temps = units.kT_to_K((p**2 / np.asarray(masses)[None, :, None]).sum(axis=(1, 2)) / dof)
    for target, block in ((300.0, temps[:20]), (1200.0, temps[20:])):
        # 20 independent draws of T: mean within 4 standard errors of the target (sd(T)/T = sqrt(2/dof)).
        assert abs(block.mean() - target) < 4 * target * np.sqrt(2 / dof) / np.sqrt(20)
    assert len({tuple(np.round(x[:2, 0], 12)) for x in p}) == len(p)  # members are independent
    # A member's stream depends on its own (T, replica) only.
    alone = _member_keys(0, md.MDConfig(temperatures_K=(1200.0,), replicas=20))
    np.testing.assert_array_equal(np.asarray(keys)[20:], alone)
