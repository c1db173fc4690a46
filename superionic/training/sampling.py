"""Structures to label: rattles, strains, substitutions, MD snapshots (ordering and symmetrisation of input
structures: :mod:`superionic.structures`).

Every helper takes a ``numpy.random.Generator`` so a sampling run is reproducible from one seed.
Lengths in Å, temperatures in K, strains dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import ase
import numpy as np
from ase.data import atomic_numbers


def rattle(
    atoms: ase.Atoms, stdev_A: float, rng: np.random.Generator, symbols: Sequence[str] | None = None
) -> ase.Atoms:
    """Copy with Gaussian displacements (stdev ``stdev_A`` per Cartesian component) of all atoms, or only of
    the elements in ``symbols`` (e.g. ``["Li"]`` to sample mobile-ion environments off their sites)."""
    out = atoms.copy()
    moved = np.ones(len(out), bool) if symbols is None else np.isin(out.get_chemical_symbols(), list(symbols))
    out.positions = out.positions + moved[:, None] * rng.normal(0.0, stdev_A, size=out.positions.shape)
    return out


def strain(atoms: ase.Atoms, stdev: float, rng: np.random.Generator) -> ase.Atoms:
    """Copy under a random symmetric strain (components ~ N(0, stdev)), atoms moving with the cell."""
    eps = rng.normal(0.0, stdev, size=(3, 3))
    eps = 0.5 * (eps + eps.T)
    out = atoms.copy()
    out.set_cell(out.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
    return out


def substitute(
    atoms: ase.Atoms, replacements: Mapping[str, str], fraction: float, rng: np.random.Generator
) -> ase.Atoms:
    """Copy with a random ``fraction`` of each element ``a`` in ``replacements`` turned into ``replacements[a]``."""
    out = atoms.copy()
    symbols = out.get_chemical_symbols()
    for old, new in replacements.items():
        if new not in atomic_numbers:
            raise ValueError(f"substitute: unknown element {new!r}")
        sites = [i for i, s in enumerate(symbols) if s == old]
        n = math.ceil(fraction * len(sites)) if sites else 0
        for i in rng.choice(sites, size=n, replace=False) if n else []:
            symbols[int(i)] = new
    out.set_chemical_symbols(symbols)
    return out


def md_snapshots(
    atoms: ase.Atoms,
    calculator,
    temperatures_K: Sequence[float],
    num_snapshots: int,
    interval_steps: int,
    rng: np.random.Generator,
    timestep_fs: float = 2.0,
    friction_per_fs: float = 0.02,
) -> list[ase.Atoms]:
    """Snapshots of ASE Langevin MD driven by ``calculator`` (teacher or student), cycling through temperatures.

    Each temperature starts from ``atoms`` with Maxwell–Boltzmann velocities; returns copies without calculator.
    """
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    snapshots: list[ase.Atoms] = []
    per_temperature = math.ceil(num_snapshots / len(temperatures_K))
    for temperature_K in temperatures_K:
        system = atoms.copy()
        system.calc = calculator
        MaxwellBoltzmannDistribution(system, temperature_K=temperature_K, rng=rng)
        dyn = Langevin(
            system,
            timestep=timestep_fs * units.fs,
            temperature_K=temperature_K,
            friction=friction_per_fs / units.fs,
            rng=rng,
        )
        for _ in range(per_temperature):
            dyn.run(interval_steps)
            snap = system.copy()
            snap.calc = None
            snap.info["temperature_K"] = float(temperature_K)
            snapshots.append(snap)
    return snapshots[:num_snapshots]
