"""Synthetic lattice walks with known mechanism: non-interacting ions hopping on a two-site-type network with
prescribed rates per jump type (Arrhenius in T), sampled with vibrations and short rattles toward neighbours.

Network (cubic cell a = 4 Å, repeated ``n_cells``³): type A sites at the cell corners (Wyckoff 1a of Pm-3m),
type B sites at the edge midpoints (3d), a static S framework atom at the body centre (1b). In doubled integer
coordinates (unit a/2 = 2 Å): A has all coordinates even, B exactly one odd. Jumps: A→B (6 neighbours, 2 Å),
B→A (2 neighbours, 2 Å), B→B (8 neighbours, 2√2 Å). With per-neighbour rates k_AB, k_BA, k_BB the walk is a
continuous-time Markov chain, simulated exactly by uniformisation, with stationary weights 1 (A) and
k_AB/k_BA (B) per site.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Lattice, Structure

from superionic.analysis import Trajectory
from superionic.analysis._units import KB_EV_PER_K

A_A = 4.0  # cubic cell edge, Å
HALF_A = A_A / 2  # unit of the doubled integer coordinates
AXES = np.eye(3, dtype=np.int64)

#: Per-neighbour barriers (eV) and attempt frequency (1/ps) of the Arrhenius model.
BARRIERS_EV = {"A->B": 0.30, "B->A": 0.20, "B->B": 0.25}
ATTEMPT_PER_PS = 0.5


def reference_structure() -> Structure:
    """The unit cell with its Li sites (A at 1a, B at 3d) and the S framework atom (1b)."""
    return Structure(
        Lattice.cubic(A_A),
        ["S", "Li", "Li", "Li", "Li"],
        [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
    )


@dataclass(frozen=True)
class Truth:
    """Known answers of one model: escape rates per jump type (1/ps, per occupied site, summed over the
    neighbours of that type), mean ions per site per type, jump D (Å²/ps) and per-neighbour barriers (eV)."""

    escape_per_ps: dict[str, float]
    ions_per_site: dict[str, float]
    D_A2_per_ps: float


def per_neighbour_rates(temperature_K: float, attempt_per_ps: float = ATTEMPT_PER_PS) -> dict[str, float]:
    kt = KB_EV_PER_K * temperature_K
    return {name: attempt_per_ps * np.exp(-e / kt) for name, e in BARRIERS_EV.items()}


def truth(rates: dict[str, float], n_walkers: int, n_cells: int) -> Truth:
    ratio = rates["A->B"] / rates["B->A"]
    n_a, n_b = n_cells**3, 3 * n_cells**3
    z = n_a + n_b * ratio
    frac_a, frac_b = n_a / z, n_b * ratio / z
    escape = {"A->B": 6 * rates["A->B"], "B->A": 2 * rates["B->A"], "B->B": 8 * rates["B->B"]}
    d = (
        frac_a * escape["A->B"] * HALF_A**2
        + frac_b * (escape["B->A"] * HALF_A**2 + escape["B->B"] * 2 * HALF_A**2)
    ) / 6
    return Truth(escape, {"A": n_walkers / z, "B": n_walkers * ratio / z}, float(d))


def _moves_from_b() -> tuple[np.ndarray, np.ndarray]:
    """Moves of a B walker by its odd axis o: the 2 to A (±e_o), ``[3, 2, 3]``, and the 8 to B
    (±e_o ± e_p, p ≠ o), ``[3, 8, 3]``."""
    to_a = np.stack([np.stack([AXES[o], -AXES[o]]) for o in range(3)])
    to_b = np.stack(
        [
            np.stack(
                [s1 * AXES[o] + s2 * AXES[(o + k) % 3] for s1 in (1, -1) for k in (1, 2) for s2 in (1, -1)]
            )
            for o in range(3)
        ]
    )
    return to_a, to_b


B_TO_A, B_TO_B = _moves_from_b()
A_TO_B = np.concatenate([AXES, -AXES])  # [6, 3]


def simulate_states(
    rng: np.random.Generator,
    rates: dict[str, float],
    n_walkers: int,
    n_frames: int,
    dt_ps: float,
    n_cells: int,
) -> np.ndarray:
    """Exact CTMC sampled every ``dt_ps``: unwrapped doubled integer coordinates ``[F, W, 3]``.

    Uniformisation: potential events arrive at rate Λ = the largest escape rate; each is the move to one
    neighbour j with probability k_j/Λ, otherwise nothing happens.
    """
    k_ab, k_ba, k_bb = rates["A->B"], rates["B->A"], rates["B->B"]
    lam = max(6 * k_ab, 2 * k_ba + 8 * k_bb)
    # stationary start: a type with probability ∝ sites × weight, then a uniform site of that type
    ratio = k_ab / k_ba
    start_b = rng.uniform(size=n_walkers) < 3 * ratio / (1 + 3 * ratio)
    coords = 2 * rng.integers(0, n_cells, (n_walkers, 3))
    coords[start_b, rng.integers(0, 3, int(start_b.sum()))] += 1
    out = np.empty((n_frames, n_walkers, 3), dtype=np.int64)
    out[0] = coords
    for f in range(1, n_frames):
        n_events = rng.poisson(lam * dt_ps, n_walkers)
        for k in range(1, int(n_events.max()) + 1 if n_walkers else 1):
            active = n_events >= k
            u = rng.uniform(0.0, lam, n_walkers)
            odd = coords % 2
            is_b = odd.sum(axis=1) == 1
            step = np.zeros((n_walkers, 3), dtype=np.int64)
            # A: six moves of rate k_ab
            a_move = active & ~is_b & (u < 6 * k_ab)
            idx = np.minimum((u / k_ab).astype(np.int64), 5)
            step[a_move] = A_TO_B[idx[a_move]]
            # B: two moves to A (rate k_ba each), then eight to B (rate k_bb each)
            odd_axis = np.argmax(odd, axis=1)
            b_to_a = active & is_b & (u < 2 * k_ba)
            b_to_b = active & is_b & ~b_to_a & (u < 2 * k_ba + 8 * k_bb)
            ia = np.minimum((u / k_ba).astype(np.int64), 1)
            ib = np.clip(((u - 2 * k_ba) / k_bb).astype(np.int64), 0, 7)
            step[b_to_a] = B_TO_A[odd_axis[b_to_a], ia[b_to_a]]
            step[b_to_b] = B_TO_B[odd_axis[b_to_b], ib[b_to_b]]
            coords = coords + step
        out[f] = coords
    return out


def walk_trajectory(
    rng: np.random.Generator,
    temperature_K: float,
    *,
    n_walkers: int = 64,
    n_frames: int = 4000,
    dt_ps: float = 0.01,
    n_cells: int = 3,
    noise_A: float = 0.15,
    rattle_probability: float = 0.01,
    attempt_per_ps: float = ATTEMPT_PER_PS,
) -> tuple[Trajectory, Truth]:
    """A Li walk on the network at ``temperature_K`` plus the S framework, as a :class:`Trajectory`.

    Every frame each ion vibrates (Gaussian, ``noise_A`` per axis) and with ``rattle_probability`` is seen for
    that one frame 70 % of the way toward a random neighbour site, inside that site's sphere (a rattle across
    the boundary, which the residence-time filter must not count as two jumps). ``attempt_per_ps`` scales all
    rates: the default keeps the fastest escape below 0.005 per frame (so the residence filter misses almost no
    real stay); ×40 gives many exchanges per run (occupancies well sampled).
    """
    rates = per_neighbour_rates(temperature_K, attempt_per_ps)
    coords = simulate_states(rng, rates, n_walkers, n_frames, dt_ps, n_cells)
    positions = coords * HALF_A + rng.normal(scale=noise_A, size=coords.shape)
    rattle = rng.uniform(size=coords.shape[:2]) < rattle_probability
    is_b = (coords % 2).sum(axis=-1) == 1
    # toward a neighbour: for A any ±axis (a B site); for B the ±odd axis (an A site) — both 2 Å away
    direction = rng.integers(0, 3, coords.shape[:2])
    direction = np.where(is_b, np.argmax(coords % 2, axis=-1), direction)
    sign = rng.choice([-1.0, 1.0], coords.shape[:2])
    push = 0.7 * HALF_A * sign[..., None] * np.eye(3)[direction]
    positions = positions + np.where(rattle[..., None], push, 0.0)
    box = n_cells * A_A
    framework = (
        np.stack(np.meshgrid(*[np.arange(n_cells)] * 3, indexing="ij"), -1).reshape(-1, 3) + 0.5
    ) * A_A
    framework = framework[None] + rng.normal(scale=0.05, size=(n_frames, len(framework), 3))
    n_fw = framework.shape[1]
    traj = Trajectory(
        positions_A=np.concatenate([positions, framework], axis=1),
        cells_A=np.broadcast_to(np.eye(3) * box, (n_frames, 3, 3)).copy(),
        times_ps=np.arange(n_frames) * dt_ps,
        atomic_numbers=np.array([3] * n_walkers + [16] * n_fw),
        charges_e=np.array(
            [1.0] * n_walkers + [-2.0] * n_fw
        ),  # not neutral; the mechanism does not use charges
        temperature_K=temperature_K,
        metadata={"source": f"site walk {temperature_K:g} K"},
    )
    return traj, truth(rates, n_walkers, n_cells)
