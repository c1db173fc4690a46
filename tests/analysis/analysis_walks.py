"""Synthetic trajectories with known diffusion coefficients, generated for many seeds at once."""

from __future__ import annotations

import numpy as np

from superionic.analysis import Trajectory


def gaussian_walks(
    rng: np.random.Generator, n_seeds: int, n_frames: int, n_walkers: int, d_A2_per_ps: float, dt_ps: float
) -> np.ndarray:
    """Brownian walkers, ``[S, F, W, 3]`` Å, with D per axis = d (MSD = 6 d t); frame 0 at the origin."""
    steps = rng.normal(scale=np.sqrt(2 * d_A2_per_ps * dt_ps), size=(n_seeds, n_frames - 1, n_walkers, 3))
    return np.concatenate([np.zeros((n_seeds, 1, n_walkers, 3)), np.cumsum(steps, axis=1)], axis=1)


def lattice_hop_walks(
    rng: np.random.Generator,
    n_seeds: int,
    n_frames: int,
    n_walkers: int,
    hops_per_frame: float,
    hop_A: float,
) -> np.ndarray:
    """Continuous-time hops on a simple cubic lattice sampled every frame, ``[S, F, W, 3]`` Å.

    Each walker makes Poisson(``hops_per_frame``) hops per frame, each to one of the 6 neighbours at
    ``hop_A``; D = hops_per_frame·hop_A² / (6·dt). Non-Gaussian at lags of a few hops (the hard case).
    """
    shape = (n_seeds, n_frames - 1, n_walkers)
    n_hops = rng.poisson(hops_per_frame, shape)
    steps = np.zeros((*shape, 3))
    for k in range(1, int(n_hops.max()) + 1 if n_hops.size else 1):
        axis = rng.integers(0, 3, shape)
        sign = rng.choice([-hop_A, hop_A], shape)
        hop = np.zeros((*shape, 3))
        np.put_along_axis(hop, axis[..., None], sign[..., None], axis=-1)
        steps += np.where((n_hops >= k)[..., None], hop, 0.0)
    return np.concatenate([np.zeros((n_seeds, 1, n_walkers, 3)), np.cumsum(steps, axis=1)], axis=1)


def vacancy_walks(
    rng: np.random.Generator, n_frames: int, n_cells: int, vacancy_hops_per_frame: float, hop_A: float
) -> np.ndarray:
    """A simple cubic lattice of ``n_cells``³ sites, every site but one occupied, ``[F, n_cells³ − 1, 3]`` Å.

    Only the vacancy moves: Poisson(``vacancy_hops_per_frame``) hops per frame, each swapping it with one of
    its 6 neighbours, whose ion moves the other way. Every ion's hop is the same vacancy's move, so the
    ions are not independent walkers (the tracer correlation factor of the infinite lattice is 0.653).
    """
    shape = (n_cells, n_cells, n_cells)
    n_sites = n_cells**3
    coords = np.array(np.unravel_index(np.arange(n_sites), shape)).T
    occupant = np.arange(n_sites)  # ion on each site; the vacancy starts on the last site
    vacancy = n_sites - 1
    occupant[vacancy] = -1
    directions = np.concatenate([np.eye(3, dtype=int), -np.eye(3, dtype=int)])
    displacement = np.zeros((n_sites - 1, 3))
    frames = np.zeros((n_frames, n_sites - 1, 3))
    for frame in range(1, n_frames):
        for _ in range(rng.poisson(vacancy_hops_per_frame)):
            step = directions[rng.integers(6)]
            target = int(np.ravel_multi_index(tuple((coords[vacancy] + step) % n_cells), shape))
            ion = occupant[target]
            displacement[ion] -= step * hop_A
            occupant[vacancy], occupant[target] = ion, -1
            vacancy = target
        frames[frame] = displacement
    return frames


def synthetic_trajectory(
    walkers_A: np.ndarray,
    dt_ps: float,
    temperature_K: float,
    *,
    n_framework: int = 8,
    box_A: float = 20.0,
    drift_A_per_ps: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Trajectory:
    """A Li (Z=3, +1) walker system plus a static S (Z=16, −2) framework that vibrates, all drifting together.

    ``drift_A_per_ps`` adds the same uniform drift to every atom (as a thermostat would); the analysis must
    remove it by referring displacements to the framework.
    """
    rng = rng or np.random.default_rng(0)
    n_frames, n_walkers, _ = walkers_A.shape
    sites = rng.uniform(0, box_A, (n_framework, 3))
    framework = sites + rng.normal(scale=0.1, size=(n_frames, n_framework, 3))
    times = np.arange(n_frames) * dt_ps
    drift = drift_A_per_ps * times[:, None, None] * np.array([1.0, 0.5, -0.3])
    positions = np.concatenate([walkers_A + 5.0, framework], axis=1) + drift
    return Trajectory(
        positions_A=positions,
        cells_A=np.broadcast_to(np.eye(3) * box_A, (n_frames, 3, 3)).copy(),
        times_ps=times,
        atomic_numbers=np.array([3] * n_walkers + [16] * n_framework),
        charges_e=np.array([1.0] * n_walkers + [-2.0] * n_framework),
        temperature_K=temperature_K,
        metadata={"source": "synthetic"},
    )
