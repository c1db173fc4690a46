"""``Trajectory``: the one in-memory trajectory type of the package (md writes what it holds, analysis reads it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Trajectory"]


@dataclass(frozen=True)
class Trajectory:
    """An unwrapped MD trajectory of one run (one temperature, one replica), numpy, in the units of its names.

    Attributes:
      positions_A: unwrapped Cartesian positions, Å ``[F, N, 3]`` (continuous in time).
      cells_A: cell of every frame, Å ``[F, 3, 3]``; rows are the lattice vectors a, b, c (ASE convention).
      times_ps: frame times, ps ``[F]``, increasing.
      atomic_numbers: ``[N]`` int.
      charges_e: formal charges, e ``[N]`` (NaN where unknown).
      temperature_K: target temperature of the run, or None when unknown.
      metadata: provenance (source path, format); JSON-serialisable values.
      steps: MD step of every frame ``[F]``, when known.
      masses_amu: ``[N]``, when known.
      observables: per-frame thermodynamics ``{name: [F, ...]}`` in the units of ``docs/h5md_layout.md``
        (temperature K, energies eV, pressure and stress GPa, volume Å³), when the run recorded them.
      parameters: the run's settings (timestep_fs, ensemble, seed, potential, ...), when known.
      velocities_A_per_ps: ``[F, N, 3]``, when recorded.
    """

    positions_A: np.ndarray
    cells_A: np.ndarray
    times_ps: np.ndarray
    atomic_numbers: np.ndarray
    charges_e: np.ndarray
    temperature_K: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    steps: np.ndarray | None = None
    masses_amu: np.ndarray | None = None
    observables: Mapping[str, np.ndarray] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    velocities_A_per_ps: np.ndarray | None = None

    def __post_init__(self) -> None:
        positions = self.positions_A
        if positions.ndim != 3 or positions.shape[2] != 3:
            raise ValueError(f"positions_A must be [frames, atoms, 3], got {positions.shape}")
        n_frames, n_atoms = positions.shape[:2]
        shapes = {
            "cells_A": (self.cells_A, (n_frames, 3, 3)),
            "times_ps": (self.times_ps, (n_frames,)),
            "atomic_numbers": (self.atomic_numbers, (n_atoms,)),
            "charges_e": (self.charges_e, (n_atoms,)),
            "steps": (self.steps, (n_frames,)),
            "masses_amu": (self.masses_amu, (n_atoms,)),
            "velocities_A_per_ps": (self.velocities_A_per_ps, (n_frames, n_atoms, 3)),
        }
        for name, (value, shape) in shapes.items():
            if value is not None and np.shape(value) != shape:
                raise ValueError(f"{name} must have shape {list(shape)}, got {list(np.shape(value))}")
        for name, value in self.observables.items():
            if len(value) != n_frames:
                raise ValueError(f"observable {name!r} has {len(value)} frames, positions {n_frames}")
        if n_frames >= 2 and not np.all(np.diff(self.times_ps) > 0):
            raise ValueError("times_ps must be strictly increasing")
        if self.temperature_K is not None and not self.temperature_K > 0:
            raise ValueError(f"temperature_K={self.temperature_K} must be positive (or None if unknown)")

    @property
    def n_frames(self) -> int:
        return int(self.positions_A.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.positions_A.shape[1])

    @property
    def frame_interval_ps(self) -> float:
        """Time between consecutive frames, ps (mean spacing, robust to float32 jitter)."""
        if self.n_frames < 2:
            raise ValueError("a single frame has no frame interval")
        return float((self.times_ps[-1] - self.times_ps[0]) / (self.n_frames - 1))

    @property
    def volumes_A3(self) -> np.ndarray:
        """Cell volume of every frame, Å³ ``[F]``."""
        return np.abs(np.linalg.det(self.cells_A))

    @property
    def symbols(self) -> list[str]:
        from ase.data import chemical_symbols

        return [chemical_symbols[z] for z in self.atomic_numbers]

    def species_mask(self, atomic_number: int) -> np.ndarray:
        """Boolean ``[N]`` mask of the atoms with this atomic number."""
        return self.atomic_numbers == atomic_number

    def with_temperature(self, temperature_K: float) -> Trajectory:
        """The same trajectory with its temperature set (for files that do not state it)."""
        import dataclasses

        return dataclasses.replace(self, temperature_K=float(temperature_K))

    def to_atoms(self, index: int | slice = slice(None)) -> list:
        """Frames as ASE ``Atoms`` (unwrapped positions, cell, charges, masses; ``info`` has step and time_ps;
        velocities in ASE units when recorded)."""
        from ase import Atoms
        from ase import units as ase_units

        frames = range(self.n_frames)[index] if isinstance(index, slice) else [range(self.n_frames)[index]]
        out = []
        for i in frames:
            atoms = Atoms(
                numbers=self.atomic_numbers, positions=self.positions_A[i], cell=self.cells_A[i], pbc=True
            )
            if self.masses_amu is not None:
                atoms.set_masses(self.masses_amu)
            atoms.set_initial_charges(self.charges_e)
            if self.velocities_A_per_ps is not None:
                atoms.set_velocities(self.velocities_A_per_ps[i] / (1000.0 * ase_units.fs))
            atoms.info["time_ps"] = float(self.times_ps[i])
            if self.steps is not None:
                atoms.info["step"] = int(self.steps[i])
            out.append(atoms)
        return out

    def to_structures(self, index: int | slice = slice(None)) -> list:
        """Frames as pymatgen ``Structure`` objects (positions unwrapped, so sites may lie outside the cell)."""
        from pymatgen.io.ase import AseAtomsAdaptor

        return [AseAtomsAdaptor.get_structure(a) for a in self.to_atoms(index)]
