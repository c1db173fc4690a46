"""Symmetry, derivatives, extensivity and consistency of the NequIP potential (float64, random weights)."""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation

from superionic.potentials import (
    Potential,
    SuperionicCalculator,
    UnknownElementError,
    load,
    neighbor_pairs,
    save,
)
from superionic.potentials.checkpoint import CheckpointError
from superionic.structures import box_from_cell

from .conftest import li2o, small_potential, triclinic_lips


def energy(potential, atoms) -> float:
    return float(potential.evaluate(atoms)[0]["energy"])


def test_forces_are_nontrivial(potential):
    result = potential.evaluate(li2o())[0]
    assert np.abs(result["forces"]).max() > 1e-3  # otherwise the symmetry tests below prove nothing
    assert np.abs(result["stress"]).max() > 1e-5


@pytest.mark.parametrize("parity", [False, True])
def test_rotation_and_translation_invariance(x64, parity):
    potential = small_potential(parity=parity)
    atoms = triclinic_lips()
    reference = potential.evaluate(atoms)[0]
    rotation = Rotation.random(random_state=7).as_matrix()
    moved = atoms.copy()
    moved.set_cell(atoms.cell[:] @ rotation.T, scale_atoms=False)
    moved.positions = atoms.positions @ rotation.T + np.array([0.3, -1.2, 2.5])
    result = potential.evaluate(moved)[0]
    assert result["energy"] == pytest.approx(reference["energy"], abs=1e-10)
    np.testing.assert_allclose(result["forces"], reference["forces"] @ rotation.T, atol=1e-10)
    np.testing.assert_allclose(result["stress"], rotation @ reference["stress"] @ rotation.T, atol=1e-10)


def test_permutation_invariance(potential):
    atoms = triclinic_lips()
    order = np.random.default_rng(0).permutation(len(atoms))
    reference = potential.evaluate(atoms)[0]
    result = potential.evaluate(atoms[order])[0]
    assert result["energy"] == pytest.approx(reference["energy"], abs=1e-10)
    np.testing.assert_allclose(result["forces"], reference["forces"][order], atol=1e-10)


@pytest.mark.parametrize("parity", [False, True])
def test_inversion_behaviour_as_configured(x64, parity):
    """With parity the model is O(3)-invariant; without it (GNoME/SevenNet) only SO(3): inversion changes E.

    Three layers are needed: a pseudoscalar needs a triple product of edge vectors, (a x b) . c.
    """
    potential = small_potential(parity=parity, num_layers=3)
    atoms = triclinic_lips()
    inverted = atoms.copy()
    inverted.set_cell(-atoms.cell[:], scale_atoms=False)
    inverted.positions = -atoms.positions
    delta = abs(energy(potential, inverted) - energy(potential, atoms))
    if parity:
        assert delta < 1e-10
    else:
        assert delta > 1e-6


def test_forces_equal_finite_differences(potential):
    atoms = triclinic_lips()
    forces = potential.evaluate(atoms)[0]["forces"]
    step = 1e-5
    for atom, axis in [(0, 0), (3, 1), (5, 2), (8, 0)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[atom, axis] += step
        minus.positions[atom, axis] -= step
        numeric = -(energy(potential, plus) - energy(potential, minus)) / (2 * step)
        assert forces[atom, axis] == pytest.approx(numeric, abs=1e-7)


def test_stress_equals_strain_derivative(potential):
    atoms = triclinic_lips()
    stress = potential.evaluate(atoms)[0]["stress"]
    volume = atoms.get_volume()
    step = 1e-6
    for i, j in [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (0, 2)]:
        strain = np.zeros((3, 3))
        strain[i, j] = strain[j, i] = step / (1 if i == j else 2)
        values = []
        for sign in (1, -1):
            deformed = atoms.copy()
            deformed.set_cell(atoms.cell[:] @ (np.eye(3) + sign * strain), scale_atoms=True)
            values.append(energy(potential, deformed))
        numeric = (values[0] - values[1]) / (2 * step) / volume
        assert stress[i, j] == pytest.approx(numeric, abs=1e-8)


@pytest.mark.parametrize("make", [li2o, triclinic_lips])
def test_extensivity_of_supercells(potential, make):
    atoms = make()
    assert min(atoms.cell.cellpar()[:3]) < 2 * potential.cutoff_A  # multiple images of one neighbour
    single = energy(potential, atoms)
    double = energy(potential, atoms.repeat((2, 2, 2)))
    assert double == pytest.approx(8 * single, rel=1e-9)


def test_neighbor_pairs_match_brute_force():
    atoms = triclinic_lips()
    cutoff = 4.0
    i, j, shifts = neighbor_pairs(atoms.positions, atoms.cell[:], atoms.pbc, cutoff)
    found = {(a, b, *s) for a, b, s in zip(i, j, shifts.tolist(), strict=True)}
    expected = set()
    for image in itertools.product(range(-3, 4), repeat=3):
        offset = np.array(image) @ atoms.cell[:]
        for a, b in itertools.product(range(len(atoms)), repeat=2):
            if a == b and image == (0, 0, 0):
                continue
            if np.linalg.norm(atoms.positions[b] + offset - atoms.positions[a]) < cutoff:
                expected.add((a, b, *image))
    assert found == expected
    assert len(found) > 10 * len(atoms)  # several images per pair: the small-cell case


def test_batched_equals_individual(potential):
    structures = [li2o(), triclinic_lips(), bulk("Li", "bcc", a=3.44).repeat((2, 1, 1))]
    batched = potential.evaluate(structures)
    for atoms, result in zip(structures, batched, strict=True):
        alone = potential.evaluate(atoms)[0]
        assert result["energy"] == pytest.approx(alone["energy"], abs=1e-10)
        np.testing.assert_allclose(result["forces"], alone["forces"], atol=1e-10)
        np.testing.assert_allclose(result["stress"], alone["stress"], atol=1e-12)


def _jax_md_energy_forces(potential, atoms, skin_A=0.5, **options):
    """Energy (eV), forces (eV/Å) and the table of ``atoms`` through the JAX-MD binding."""
    box = box_from_cell(atoms.cell[:])
    neighbor_fn, energy_fn = potential.jax_md_neighbor_energy(box, atoms.numbers, skin_A=skin_A, **options)
    fractional = jnp.asarray(atoms.get_scaled_positions())
    nbrs = neighbor_fn.allocate(fractional)
    e, grad_fractional = jax.value_and_grad(energy_fn)(fractional, nbrs)
    # jax-md's periodic_general convention: the gradient w.r.t. fractional positions is the real-space one
    return float(e), -np.asarray(grad_fractional), nbrs


@pytest.mark.parametrize(
    "make",
    [lambda: li2o().repeat((3, 3, 3)), lambda: li2o().repeat((2, 2, 2)), li2o, triclinic_lips],
    ids=["13.8A-cube-cell-list", "9.2A-cube", "4.6A-cube", "triclinic"],
)
def test_jax_md_ase_and_batched_paths_agree(potential, make):
    """The MD binding handles any cell, including cells narrower than twice the cutoff (several images of one
    atom are neighbours), and gives the graph path's energy and forces."""
    atoms = make()
    e_jaxmd, forces_jaxmd, nbrs = _jax_md_energy_forces(potential, atoms)
    assert (nbrs.cell_grid is not None) == (len(atoms) > 100)  # cells >= 3 x (cutoff + skin) use a cell list
    atoms.calc = SuperionicCalculator(potential, dtype="float64")
    batched = potential.evaluate([atoms, li2o()])[0]
    assert np.abs(atoms.get_forces()).max() > 1e-3  # a real test: the forces are not zero by symmetry
    assert e_jaxmd == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
    assert batched["energy"] == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(forces_jaxmd, atoms.get_forces(), atol=1e-9)
    np.testing.assert_allclose(batched["forces"], atoms.get_forces(), atol=1e-10)
    # The model's packed table is as wide as the most pairs within the cutoff of one atom (with spare room), not
    # as the candidate table (pairs within cutoff + skin).
    graph = potential.graph_batch([atoms])
    most_pairs = np.bincount(np.asarray(graph.receivers)[np.asarray(graph.edge_mask)]).max()
    assert most_pairs <= nbrs.edge_capacity <= 1.25 * most_pairs + 1 < nbrs.max_occupancy
    assert int(nbrs.error.code) == 0


def test_empty_table_slots_add_nothing_whatever_the_radial_activation(x64):
    """With a radial activation that is not zero at zero (softplus), the radial MLP of an empty slot is not zero:
    the MD path's packed table (whose empty slots run through the MLP) must still give the graph path's energy
    and forces."""
    base = small_potential()
    config = dataclasses.replace(base.config, radial_activation="softplus")
    potential = Potential(config, base.params, name="small-test-softplus")
    atoms = li2o()
    e_jaxmd, forces_jaxmd, nbrs = _jax_md_energy_forces(potential, atoms)
    graph = potential.graph_batch([atoms])
    fewest_pairs = np.bincount(np.asarray(graph.receivers)[np.asarray(graph.edge_mask)]).min()
    assert fewest_pairs < nbrs.edge_capacity  # the packed table has empty slots
    expected = potential.evaluate(atoms)[0]
    assert e_jaxmd == pytest.approx(expected["energy"], abs=1e-10)
    np.testing.assert_allclose(forces_jaxmd, expected["forces"], atol=1e-10)


def test_jax_md_table_survives_wrapping_and_flags_a_too_narrow_packed_table(potential):
    """Atoms that cross a cell face after the build (positions wrapped into [0, 1)) keep their neighbours'
    images; a packed table narrower than an atom's pairs within the cutoff raises EDGE_OVERFLOW."""
    from superionic.potentials.jaxmd import EDGE_OVERFLOW, check_edges

    atoms = li2o()
    box = box_from_cell(atoms.cell[:])
    neighbor_fn, energy_fn = potential.jax_md_neighbor_energy(box, atoms.numbers, skin_A=1.0)
    start = atoms.get_scaled_positions()
    nbrs = neighbor_fn.allocate(jnp.asarray(start))
    moved = atoms.copy()
    moved.positions[0] -= [0.3, 0.2, 0.1]  # atom 0 sits at the origin: it leaves the cell
    moved.positions[1] += [0.1, -0.2, 0.2]
    wrapped = moved.get_scaled_positions(wrap=True)
    assert np.any(wrapped[0] > 0.5)  # it was wrapped to the far side
    expected = potential.evaluate(moved)[0]
    e = energy_fn(jnp.asarray(wrapped), nbrs)  # the table of the start positions, no rebuild
    assert float(e) == pytest.approx(expected["energy"], abs=1e-9)

    _, _, tight = _jax_md_energy_forces(potential, atoms, capacity_multiplier=1.0)
    assert int(check_edges(neighbor_fn, jnp.asarray(start), tight, box).error.code) == 0
    narrow = tight.set(edge_capacity=tight.edge_capacity - 1)
    assert int(check_edges(neighbor_fn, jnp.asarray(start), narrow, box).error.code) & EDGE_OVERFLOW


def test_ase_calculator_drives_an_optimiser(potential):
    from ase.optimize import BFGS

    atoms = li2o()
    atoms.calc = SuperionicCalculator(potential, dtype="float64")
    start = atoms.get_potential_energy()
    BFGS(atoms, logfile=None).run(fmax=0.05, steps=30)
    assert atoms.get_potential_energy() < start
    assert atoms.get_stress().shape == (6,)


def test_unknown_element_names_element_and_species(potential):
    atoms = Atoms("LiCl", positions=[[0, 0, 0], [2.5, 0, 0]], cell=[5, 5, 5], pbc=True)
    with pytest.raises(UnknownElementError, match=r"Cl.*Li N O P S"):
        potential.evaluate(atoms)


def test_checkpoint_round_trip(potential, tmp_path):
    path = save(potential, tmp_path / "model.npz")
    again = load(path, dtype="float64")
    assert again.config == potential.config
    atoms = triclinic_lips()
    assert energy(again, atoms) == energy(potential, atoms)
    assert again.fingerprint() == potential.fingerprint()


def test_checkpoint_errors(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a superionic checkpoint"):
        load(bad)
    with pytest.raises(CheckpointError, match="no potential file"):
        load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="unknown potential 'nope'"):
        load("nope")


def test_float64_without_x64_is_a_clear_error():
    if jax.config.jax_enable_x64:
        pytest.skip("x64 already enabled in this process")
    with pytest.raises(ValueError, match="jax_enable_x64"):
        small_potential(dtype=jnp.float32).astype("float64")


def test_polynomial_cutoff_is_smooth_and_zero_beyond(x64):
    potential = small_potential(cutoff_function="polynomial")
    dimer = Atoms("LiO", positions=[[0, 0, 0], [0, 0, 3.9999]], cell=[20, 20, 20], pbc=False)
    far = Atoms("LiO", positions=[[0, 0, 0], [0, 0, 4.5]], cell=[20, 20, 20], pbc=False)
    isolated = float(potential.params["species_shift_eV"][0] + potential.params["species_shift_eV"][2])
    e_far = energy(potential, far)
    # beyond the cutoff only the isolated-atom terms remain; at the cutoff the interaction vanishes smoothly
    assert abs(energy(potential, dimer) - e_far) < 1e-8
    assert np.abs(potential.evaluate(dimer)[0]["forces"]).max() < 1e-6
    assert np.isfinite(e_far) and abs(e_far - isolated) < 10.0


def test_jax_md_pressure_uses_the_perturbation(potential):
    """jax-md's quantity.pressure strains the displacement through ``perturbation``; it must reach the model."""
    from jax_md import quantity

    from superionic.md.ensembles import shield_energy_fn
    from superionic.potentials.jaxmd import neighbor_energy_fns

    atoms = li2o().repeat((2, 2, 2))
    box = box_from_cell(atoms.cell[:])
    neighbor_fn, energy_fn = neighbor_energy_fns(potential, box, atoms.numbers, skin_A=0.5)
    fractional = jnp.asarray(atoms.get_scaled_positions())
    nbrs = neighbor_fn.allocate(fractional)
    pressure = quantity.pressure(
        shield_energy_fn(energy_fn), fractional, box, kinetic_energy=0.0, neighbor=nbrs
    )
    expected = -np.trace(potential.evaluate(atoms)[0]["stress"]) / 3.0
    assert float(pressure) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_fingerprint_is_the_same_in_every_process():
    """The sha256 recorded in reports identifies the weights: it must not depend on the process (dict order of
    the config, PYTHONHASHSEED)."""
    import os
    import subprocess
    import sys

    code = "from superionic.potentials import load; print(load('default').fingerprint())"
    prints = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed, "JAX_PLATFORMS": "cpu"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(prints) == 1 and len(next(iter(prints))) == 64


def _matrix_product_precisions(lowered) -> set[str]:
    """The precision of every dot_general in a lowered program (StableHLO text)."""
    import re

    return set(re.findall(r"dot_general .*precision = \[(\w+), \w+\]", lowered.as_text()))


def test_matrix_products_are_true_float32_also_on_gpus(potential):
    """JAX's default on Ampere-and-later GPUs is TensorFloat32, which put SevenNet-0's forces 1.7 meV/Å off on an
    H200; importing superionic asks for HIGHEST in every product, of the model and of the MD step around it."""
    from jax_md import simulate, space

    atoms = li2o()
    batch = potential.graph_batch([atoms])
    assert _matrix_product_precisions(potential._evaluate_jit.lower(potential.params, batch=batch)) == {
        "HIGHEST"
    }
    box = jnp.asarray(box_from_cell(atoms.cell[:]), jnp.float32)
    _, shift = space.periodic_general(box, fractional_coordinates=True)
    neighbor_fn, energy_fn = potential.jax_md_neighbor_energy(box, atoms.numbers)
    position = jnp.asarray(atoms.get_scaled_positions(), jnp.float32)
    nbrs = neighbor_fn.allocate(position)
    init, apply = simulate.nvt_nose_hoover(energy_fn, shift, 1e-3, 0.1)
    state = init(jax.random.PRNGKey(0), position, mass=7.0, neighbor=nbrs)
    lowered = jax.jit(lambda s, n: apply(s, neighbor=n)).lower(state, nbrs)
    assert _matrix_product_precisions(lowered) == {"HIGHEST"}
