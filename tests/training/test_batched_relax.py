"""Batched FIRE + Fréchet cell relaxation in JAX against ASE's FIRE(FrechetCellFilter) on the same potential.

The shipped ``default`` potential is real (LiCl is in its training set) and fast; LiCl rock salt has one
minimum that the relaxation must find from a strained, rattled start.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE

from superionic.potentials import SuperionicCalculator, UnknownElementError, load
from superionic.training.batched_relax import relax_structures


@pytest.fixture(scope="module")
def potential():
    return load("default")


def strained_rattled_licl(seed: int, a_A: float = 5.4):
    atoms = bulk("ClLi", "rocksalt", a=a_A, cubic=True)
    rng = np.random.default_rng(seed)
    atoms.rattle(0.08, seed=seed)
    strain = rng.normal(0.0, 0.02, (3, 3))
    atoms.set_cell(atoms.cell[:] @ (np.eye(3) + 0.5 * (strain + strain.T)), scale_atoms=True)
    return atoms


def ase_relax(atoms, potential, fmax, steps):
    atoms = atoms.copy()
    atoms.calc = SuperionicCalculator(potential)
    optimizer = FIRE(FrechetCellFilter(atoms), logfile=None)
    optimizer.run(fmax=fmax, steps=steps)
    return atoms, optimizer.nsteps


def test_same_path_as_ase_fire_frechet(potential):
    starts = [strained_rattled_licl(1), bulk("ClLi", "rocksalt", a=5.0)]  # 8-atom cubic, 2-atom primitive
    results = relax_structures(potential, starts, fmax_eV_per_A=0.02, max_steps=300)
    for start, result in zip(starts, results, strict=True):
        reference, ase_steps = ase_relax(start, potential, 0.02, 300)
        assert result.converged and result.fmax_eV_per_A < 0.02
        assert result.steps == pytest.approx(ase_steps, abs=2)
        assert result.energy_per_atom_eV == pytest.approx(
            reference.get_potential_energy() / len(reference), abs=2e-5
        )
        np.testing.assert_allclose(result.atoms.cell.cellpar(), reference.cell.cellpar(), atol=2e-3)
        np.testing.assert_allclose(result.atoms.positions, reference.positions, atol=2e-3)


def test_converges_to_the_potentials_minimum(potential):
    start = strained_rattled_licl(2)
    initial = potential.evaluate(start)[0]
    assert np.abs(initial["forces"]).max() > 0.3  # far from the minimum, so the test can fail
    (result,) = relax_structures(potential, [start], fmax_eV_per_A=0.005, max_steps=600)
    assert result.converged
    # An independent evaluation of the final geometry: forces and stress vanish there.
    final = potential.evaluate(result.atoms)[0]
    assert np.abs(final["forces"]).max() < 0.01
    assert np.abs(final["stress"]).max() * 160.2 < 0.05  # GPa
    assert final["energy"] == pytest.approx(result.energy_eV, abs=1e-4)
    assert result.energy_eV < result.initial_energy_eV - 0.05
    assert result.initial_energy_eV == pytest.approx(float(initial["energy"]), abs=1e-4)
    # The rattle and strain are gone: rock salt symmetry comes back.
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    structure = AseAtomsAdaptor.get_structure(result.atoms)
    assert SpacegroupAnalyzer(structure, symprec=0.01).get_space_group_symbol() == "Fm-3m"
    # Labels on the returned atoms are the final ones.
    assert result.atoms.get_potential_energy() == pytest.approx(result.energy_eV)


def test_batching_queue_and_rebuilds_do_not_change_results(potential):
    starts = [strained_rattled_licl(seed, a_A=5.1 + 0.05 * seed) for seed in range(5)]
    alone = [relax_structures(potential, [s], fmax_eV_per_A=0.02, max_steps=200)[0] for s in starts[:2]]
    # Two at a time (a queue refills the batch) with a small skin (many graph rebuilds).
    batched = relax_structures(
        potential,
        starts,
        fmax_eV_per_A=0.02,
        max_steps=200,
        max_structures_per_batch=2,
        skin_A=0.5,
        steps_per_chunk=7,
        record_frames=True,
    )
    assert all(r.converged for r in batched)
    for one, many in zip(alone, batched[:2], strict=True):
        assert many.steps == one.steps
        assert many.energy_eV == pytest.approx(one.energy_eV, abs=1e-4)
        np.testing.assert_allclose(many.atoms.positions, one.atoms.positions, atol=1e-3)
    frames = batched[0].frames
    assert len(frames) >= 3 and frames[0].get_potential_energy() == pytest.approx(
        batched[0].initial_energy_eV
    )
    assert frames[-1].get_potential_energy() == pytest.approx(batched[0].energy_eV)


def test_pressure_shrinks_the_cell_to_the_applied_stress(potential):
    start = bulk("ClLi", "rocksalt", a=5.15, cubic=True)
    free, squeezed = (
        relax_structures(potential, [start], fmax_eV_per_A=0.002, max_steps=400, pressure_GPa=p)[0]
        for p in (0.0, 5.0)
    )
    assert squeezed.atoms.get_volume() < 0.95 * free.atoms.get_volume()
    pressure_GPa = -np.trace(potential.evaluate(squeezed.atoms)[0]["stress"]) / 3 * 160.21766208
    assert pressure_GPa == pytest.approx(5.0, abs=0.1)


def test_bad_input_fails_before_any_work(potential):
    molecule = bulk("ClLi", "rocksalt", a=5.1)
    molecule.pbc = False
    with pytest.raises(ValueError, match="not fully periodic"):
        relax_structures(potential, [molecule])
    with pytest.raises(UnknownElementError):
        relax_structures(potential, [bulk("Og", "fcc", a=5.0)])
    with pytest.raises(ValueError, match="skin_A"):
        relax_structures(potential, [bulk("ClLi", "rocksalt", a=5.1)], skin_A=0.2)
    assert relax_structures(potential, []) == []
