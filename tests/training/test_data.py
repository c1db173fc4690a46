"""Datasets, splits, statistics, sampling helpers, resumable labelling."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from conftest import structures

from superionic.training.dataset import (
    composition_split,
    dataset_statistics,
    reduced_formula,
    reference_energies,
)
from superionic.training.labelling import PotentialTeacher, attach_labels, label_structures, read_labelled
from superionic.training.sampling import rattle, strain, substitute


def test_reduced_formula_is_supercell_invariant():
    li2s = bulk("Li2S", "fluorite", a=5.7)
    assert reduced_formula(li2s) == reduced_formula(li2s * (2, 1, 3)) == "Li2S"


def test_composition_split_groups_formulas_and_covers_every_element():
    formulas = [f"Li{k}S" for k in range(1, 40)] * 2 + ["LiXe"]
    splits = composition_split(formulas, (0.6, 0.2, 0.2), seed=3)
    by_formula = {}
    for f, s in zip(formulas, splits, strict=True):
        assert by_formula.setdefault(f, s) == s  # one split per composition
    assert {"train", "val", "test"} <= set(splits)
    assert by_formula["LiXe"] == "train"  # Xe occurs nowhere else
    assert splits == composition_split(formulas, (0.6, 0.2, 0.2), seed=3)  # stable
    with pytest.raises(ValueError, match="summing to 1"):
        composition_split(formulas, (0.5, 0.2, 0.2))


def test_statistics_recover_reference_energies_and_neighbours():
    # Energies exactly linear in composition: the least-squares references are exact, the residual zero.
    reference = {"Li": -1.9, "S": -4.1, "N": -8.3}
    data = []
    rng = np.random.default_rng(1)
    for atoms in structures(6, seed=1):
        atoms = substitute(atoms, {"Li": "S"}, float(rng.uniform(0.1, 0.5)), rng)  # varied compositions
        energy = sum(reference[s] for s in atoms.get_chemical_symbols())
        forces = np.full((len(atoms), 3), 0.5)
        data.append(attach_labels(atoms, {"energy": energy, "forces": forces, "stress": np.zeros((3, 3))}))
    stats = dataset_statistics(data, ("Li", "N", "S"), cutoff_A=3.0, ridge=1e-9)
    np.testing.assert_allclose(stats.reference_energies_eV, [-1.9, -8.3, -4.1], atol=1e-5)
    assert stats.residual_energy_rms_eV_per_atom < 1e-6
    assert stats.force_rms_eV_per_A == pytest.approx(0.5)
    # fcc Cu (a = 3.61 Å): 12 nearest neighbours at 2.55 Å, next shell at 3.61 Å.
    cu = attach_labels(
        bulk("Cu", "fcc", a=3.61), {"energy": 0.0, "forces": np.zeros((1, 3)), "stress": np.zeros((3, 3))}
    )
    assert dataset_statistics([cu], ("Cu",), cutoff_A=3.0).mean_neighbors == 12.0


def test_reference_energies_stay_bounded_when_elements_are_collinear():
    # K and Fe only ever appear together (KFeO2-like): the data fix only e_K + e_Fe; the ridge splits it evenly
    # around the mean energy per atom instead of returning +-100 eV.
    counts = np.array([[1, 1, 2], [0, 0, 2], [2, 2, 4]], float)  # columns K, Fe, O
    energies = counts @ np.array([-3.0, -9.0, -5.0])
    e = reference_energies(counts, energies, ridge=1e-3)
    assert e[0] + e[1] == pytest.approx(-12.0, abs=1e-3) and abs(e[0] - e[1]) < 1e-3
    np.testing.assert_allclose(counts @ e, energies, atol=1e-3)


def test_rattle_strain_substitute():
    rng = np.random.default_rng(0)
    base = bulk("Li2S", "fluorite", a=5.7, cubic=True)
    moved = rattle(base, 0.1, rng)
    assert 0.05 < np.std(moved.positions - base.positions) < 0.2
    strained = strain(base, 0.02, rng)
    np.testing.assert_allclose(strained.get_scaled_positions(), base.get_scaled_positions(), atol=1e-12)
    assert not np.allclose(strained.cell[:], base.cell[:])
    swapped = substitute(base, {"Li": "Na"}, 0.5, rng)
    assert swapped.get_chemical_symbols().count("Na") == 4
    with pytest.raises(ValueError, match="unknown element"):
        substitute(base, {"Li": "Qq"}, 0.5, rng)


def test_labelling_resumes_and_matches_direct_evaluation(teacher, tmp_path):
    atoms = structures(5, seed=2)
    paths = label_structures(atoms, PotentialTeacher(teacher), tmp_path, chunk_size=2, progress=False)
    assert [p.name for p in paths] == ["chunk_00000.extxyz", "chunk_00001.extxyz", "chunk_00002.extxyz"]
    first = read_labelled(tmp_path)
    paths[1].unlink()  # an interrupted run: chunk 1 missing
    label_structures(atoms, PotentialTeacher(teacher), tmp_path, chunk_size=2, progress=False)
    resumed = read_labelled(tmp_path)
    direct = teacher.evaluate(atoms)
    assert len(first) == len(resumed) == 5
    for a, b, d in zip(first, resumed, direct, strict=True):
        assert a.get_potential_energy() == b.get_potential_energy()
        np.testing.assert_allclose(a.get_forces(), d["forces"], atol=1e-5)
        np.testing.assert_allclose(a.get_stress(voigt=False), d["stress"], atol=1e-6)
    assert np.abs(first[0].get_forces()).max() > 0.05  # non-trivial labels
    with pytest.raises(ValueError, match="different inputs"):
        label_structures(atoms[:4], PotentialTeacher(teacher), tmp_path, chunk_size=2, progress=False)


def test_md_snapshots_move_atoms_and_record_temperature(teacher):
    from superionic.potentials import SuperionicCalculator
    from superionic.training.sampling import md_snapshots

    start = structures(1, seed=3)[0]
    snaps = md_snapshots(
        start,
        SuperionicCalculator(teacher),
        (300.0, 1200.0),
        4,
        interval_steps=5,
        rng=np.random.default_rng(0),
    )
    assert [s.info["temperature_K"] for s in snaps] == [300.0, 300.0, 1200.0, 1200.0]
    assert all(s.calc is None for s in snaps)
    assert np.abs(snaps[0].positions - start.positions).max() > 1e-3
