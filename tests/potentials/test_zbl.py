"""The optional ZBL pair repulsion of the NequIP model: the right energy in close contacts, none beyond the sum
of covalent radii, the same through every evaluation path, and kept by checkpoints (float64)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ase import Atoms
from ase.data import covalent_radii
from scipy import constants

from superionic.potentials import SuperionicCalculator, load, save

from .conftest import small_potential, triclinic_lips
from .test_nequip import _jax_md_energy_forces


def with_zbl(potential):
    config = dataclasses.replace(potential.config, pair_repulsion="zbl")
    return dataclasses.replace(potential, config=config, name="small-test-zbl")


def zbl_reference_eV(r: float, z1: int, z2: int) -> float:
    """ZBL from its published form (Ziegler, Biersack & Littmark 1985), constants from CODATA via scipy, times
    the p = 6 polynomial envelope to the sum of covalent radii."""
    coulomb = constants.e / (4 * np.pi * constants.epsilon_0) / constants.angstrom  # e^2/(4 pi eps0) in eV Å
    a = 0.46850 / (z1**0.23 + z2**0.23)  # 0.8854 a0, as LAMMPS' pair_style zbl rounds it
    x = r / a
    phi = (
        0.18175 * np.exp(-3.1998 * x)
        + 0.50986 * np.exp(-0.94229 * x)
        + 0.28022 * np.exp(-0.4029 * x)
        + 0.02817 * np.exp(-0.20162 * x)
    )
    u = r / (covalent_radii[z1] + covalent_radii[z2])
    envelope = 1 - 28 * u**6 + 48 * u**7 - 21 * u**8 if u < 1 else 0.0
    return coulomb * z1 * z2 / r * phi * envelope


def dimer(r: float) -> Atoms:
    return Atoms("LiS", positions=[[5.0, 5.0, 5.0], [5.0 + r, 5.0, 5.0]], cell=[12.0, 12.0, 12.0], pbc=True)


@pytest.mark.parametrize("r", [0.8, 1.2, 1.6, 2.0, 2.6, 3.5])
def test_zbl_adds_the_screened_nuclear_repulsion_in_close_contacts_only(x64, r):
    plain = small_potential()
    zbl = with_zbl(plain)
    added = float(zbl.evaluate(dimer(r))[0]["energy"] - plain.evaluate(dimer(r))[0]["energy"])
    expected = zbl_reference_eV(r, 3, 16)
    assert added == pytest.approx(expected, rel=1e-6, abs=1e-10)
    if r < 1.0:
        assert added > 10.0  # tens of eV: what keeps a Li–S pair apart
    if r > covalent_radii[3] + covalent_radii[16]:
        assert added == 0.0  # nothing at bonding distances: the network's energy is untouched there


def test_zbl_is_the_same_through_the_md_ase_and_batched_paths(x64, tmp_path):
    potential = with_zbl(small_potential())
    atoms = triclinic_lips()
    atoms.positions[1] = atoms.positions[0] + [1.1, 0.3, 0.0]  # one close contact, inside the ZBL range
    e_jaxmd, forces_jaxmd, _ = _jax_md_energy_forces(potential, atoms)
    atoms.calc = SuperionicCalculator(potential, dtype="float64")
    assert e_jaxmd == pytest.approx(atoms.get_potential_energy(), abs=1e-9)
    np.testing.assert_allclose(forces_jaxmd, atoms.get_forces(), atol=1e-8)
    plain = small_potential().evaluate(atoms)[0]
    assert atoms.get_potential_energy() - float(plain["energy"]) > 1.0  # the contact is repelled
    path = save(potential, tmp_path / "zbl.npz")
    again = load(path)
    assert again.config.pair_repulsion == "zbl"
    # (loaded in float32)
    assert float(again.evaluate(atoms)[0]["energy"]) == pytest.approx(atoms.get_potential_energy(), rel=1e-5)
