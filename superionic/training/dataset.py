"""Labelled datasets: composition-grouped splits and the statistics that initialise a model.

A dataset is a list of ``ase.Atoms`` carrying energy (eV), forces (eV/Å) and stress (eV/Å^3) through a
``SinglePointCalculator`` (what :mod:`superionic.training.labelling` writes and extxyz reads).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import ase
import numpy as np
from ase.data import chemical_symbols

from superionic.potentials.config import NequIPConfig
from superionic.potentials.graph import neighbor_pairs


def reduced_formula(atoms: ase.Atoms) -> str:
    """Reduced formula with elements in alphabetical order, e.g. ``Li3N``, ``Li2S`` (same for any supercell)."""
    symbols, counts = np.unique(atoms.get_chemical_symbols(), return_counts=True)
    divisor = int(np.gcd.reduce(counts))
    return "".join(
        f"{s}{c // divisor if c // divisor > 1 else ''}" for s, c in zip(symbols, counts, strict=True)
    )


def composition_fraction(formula: str, seed: int = 0) -> float:
    """A number in [0, 1) fixed by the formula (SHA-256), so splits are stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}:{formula}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def composition_split(
    formulas: Sequence[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> list[str]:
    """``"train"``/``"val"``/``"test"`` per entry, grouped by composition (GNoME: a hash of the formula).

    A composition holding an element that no training composition would otherwise contain goes to train, so
    the model sees every element; entries with the same formula always share a split.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    unique = sorted(set(formulas))
    split = {}
    for f in unique:
        x = composition_fraction(f, seed)
        split[f] = "train" if x < fractions[0] else "val" if x < fractions[0] + fractions[1] else "test"
    covered = {e for f in unique if split[f] == "train" for e in _elements(f)}
    for f in sorted(unique, key=lambda f: composition_fraction(f, seed)):
        if split[f] != "train" and not set(_elements(f)) <= covered:
            split[f] = "train"
            covered |= set(_elements(f))
    return [split[f] for f in formulas]


def _elements(formula: str) -> list[str]:
    import re

    return re.findall(r"[A-Z][a-z]?", formula)


@dataclass(frozen=True)
class DatasetStatistics:
    """What initialises a model's normalisation, from training data only.

    Attributes:
        species: elements in model order.
        reference_energies_eV: per-species energies from a least-squares fit E ≈ Σ_s n_s e_s.
        force_rms_eV_per_A: root mean square of force components.
        residual_energy_rms_eV_per_atom: RMS per atom of the energy the reference fit leaves.
        mean_neighbors: average number of neighbours within the cutoff.
    """

    species: tuple[str, ...]
    reference_energies_eV: np.ndarray
    force_rms_eV_per_A: float
    residual_energy_rms_eV_per_atom: float
    mean_neighbors: float


def reference_energies(
    counts: np.ndarray, energies: np.ndarray, ridge: float = 1.0, prior: np.ndarray | None = None
) -> np.ndarray:
    """Per-species energies e minimising |C e - E|^2 + ridge |e - prior|^2 (prior: the mean energy per atom).

    ``counts`` [S, species] are atom counts, ``energies`` [S] in eV. The ridge pulls species that the data
    cannot separate (an element present in one or two compositions) towards the prior instead of letting
    them take absurd values that cancel out (e.g. +65 and -177 eV).
    """
    if prior is None:
        prior = np.full(counts.shape[1], float(energies.sum() / counts.sum()))
    gram = counts.T @ counts + ridge * np.eye(counts.shape[1])
    return np.linalg.solve(gram, counts.T @ energies + ridge * np.asarray(prior))


def composition_counts(dataset: Sequence[ase.Atoms], species: Sequence[str]) -> np.ndarray:
    """[S, species] atom counts; raises if a structure holds an element outside ``species``."""
    index = {s: i for i, s in enumerate(species)}
    counts = np.zeros((len(dataset), len(species)))
    for k, atoms in enumerate(dataset):
        for z in atoms.numbers:
            symbol = chemical_symbols[z]
            if symbol not in index:
                raise ValueError(f"structure {k} contains {symbol}, which is not in the model species")
            counts[k, index[symbol]] += 1
    return counts


def dataset_statistics(
    dataset: Sequence[ase.Atoms], species: Sequence[str], cutoff_A: float, ridge: float = 1.0
) -> DatasetStatistics:
    """Reference energies (see :func:`reference_energies`), force RMS and mean neighbour count."""
    counts = composition_counts(dataset, species)
    energies = np.array([atoms.get_potential_energy() for atoms in dataset])
    forces, neighbors, atoms_total = [], 0, 0
    for atoms in dataset:
        forces.append(atoms.get_forces().ravel())
        i, _, _ = neighbor_pairs(atoms.positions, atoms.cell[:], atoms.pbc, cutoff_A)
        neighbors += len(i)
        atoms_total += len(atoms)
    reference = reference_energies(counts, energies, ridge)
    residual = (energies - counts @ reference) / counts.sum(axis=1)
    return DatasetStatistics(
        species=tuple(species),
        reference_energies_eV=reference,
        force_rms_eV_per_A=float(np.sqrt(np.mean(np.concatenate(forces) ** 2))),
        residual_energy_rms_eV_per_atom=float(np.sqrt(np.mean(residual**2))),
        mean_neighbors=float(neighbors / atoms_total),
    )


def initialise_normalisation(
    config: NequIPConfig, params: dict, stats: DatasetStatistics
) -> tuple[NequIPConfig, dict]:
    """Config and params with conv_denominator = sqrt(mean neighbours) (NequIP's normalisation of summed
    messages), shift = reference energies, scale = force RMS."""
    if tuple(stats.species) != tuple(config.species):
        raise ValueError("statistics were computed for different species than the model's")
    dtype = params["species_shift_eV"].dtype
    params = dict(params)
    params["species_shift_eV"] = np.asarray(stats.reference_energies_eV, dtype)
    params["species_scale_eV"] = np.full(len(config.species), stats.force_rms_eV_per_A, dtype)
    return dataclasses.replace(config, conv_denominator=float(np.sqrt(stats.mean_neighbors))), params


def drop_force_outliers(dataset: Sequence[ase.Atoms], max_force_eV_per_A: float) -> list[ase.Atoms]:
    """Structures whose largest force component is at most ``max_force_eV_per_A`` (e.g. drop clashes)."""
    return [a for a in dataset if float(np.abs(a.get_forces()).max()) <= max_force_eV_per_A]
