"""The in-memory trajectory every reader returns and every estimator consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Trajectory:
    """Unwrapped MD trajectory of one run (one temperature, one replica).

    Attributes:
        positions_A: unwrapped Cartesian positions, Å, ``[F, N, 3]`` (continuous in time).
        cells_A: cell of every frame, Å, ``[F, 3, 3]``; rows are the lattice vectors a, b, c (ASE convention).
        times_ps: frame times, ps, ``[F]``, uniformly spaced.
        atomic_numbers: ``[N]`` int.
        charges_e: formal charges in units of e, ``[N]`` (NaN where unknown).
        temperature_K: target temperature of the run, or None when the file did not say.
        metadata: provenance (source path, format, file parameters); JSON-serialisable values.
    """

    positions_A: np.ndarray
    cells_A: np.ndarray
    times_ps: np.ndarray
    atomic_numbers: np.ndarray
    charges_e: np.ndarray
    temperature_K: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _n_frames, n_atoms = validate_shapes(self.positions_A, self.cells_A, self.times_ps)
        if self.atomic_numbers.shape != (n_atoms,) or self.charges_e.shape != (n_atoms,):
            raise ValueError(
                f"atomic_numbers {self.atomic_numbers.shape} and charges_e {self.charges_e.shape} must both be "
                f"[{n_atoms}] to match positions_A {self.positions_A.shape}"
            )
        if self.temperature_K is not None and not self.temperature_K > 0:
            raise ValueError(f"temperature_K={self.temperature_K} must be positive (or None if unknown)")

    @property
    def n_frames(self) -> int:
        return int(self.positions_A.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.positions_A.shape[1])

    @property
    def timestep_ps(self) -> float:
        """Time between consecutive frames, ps (mean spacing, robust to float32 jitter)."""
        return float((self.times_ps[-1] - self.times_ps[0]) / (self.n_frames - 1))

    @property
    def volumes_A3(self) -> np.ndarray:
        """Cell volume of every frame, Å³ ``[F]``."""
        return np.abs(np.linalg.det(self.cells_A))

    def species_mask(self, atomic_number: int) -> np.ndarray:
        """Boolean ``[N]`` mask of the atoms with this atomic number."""
        return self.atomic_numbers == atomic_number


def validate_shapes(positions_A: np.ndarray, cells_A: np.ndarray, times_ps: np.ndarray) -> tuple[int, int]:
    """Check the shapes and the uniform time grid; return (n_frames, n_atoms)."""
    if positions_A.ndim != 3 or positions_A.shape[2] != 3:
        raise ValueError(f"positions must be [frames, atoms, 3], got {positions_A.shape}")
    n_frames, n_atoms = positions_A.shape[:2]
    if n_frames < 3:
        raise ValueError(f"a trajectory needs at least 3 frames for an MSD fit, got {n_frames}")
    if cells_A.shape != (n_frames, 3, 3):
        raise ValueError(f"cells must be [{n_frames}, 3, 3] (rows = lattice vectors), got {cells_A.shape}")
    if times_ps.shape != (n_frames,):
        raise ValueError(f"times must be [{n_frames}], got {times_ps.shape}")
    steps = np.diff(times_ps)
    # 1e-4: files that store time in float32 (MDAnalysis) jitter at that level
    if not np.all(steps > 0) or not np.allclose(steps, steps.mean(), rtol=1e-4, atol=1e-9):
        raise ValueError(
            "frame times must be strictly increasing and uniformly spaced (the all-origins MSD needs a uniform "
            "grid); drop or resample the irregular frames first"
        )
    return n_frames, n_atoms
