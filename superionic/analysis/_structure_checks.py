"""Structure checks along a trajectory: partial radial distribution functions (with the framework's RDF at the
start and at the end of the run, a second melting criterion besides the framework RMS) and the self part of
the van Hove correlation function of the mobile ions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import vesin
from ase.data import chemical_symbols

from superionic.analysis._frames import frame_interval_ps
from superionic.analysis._trajectory import Trajectory

#: Wendt & Abraham (Phys. Rev. Lett. 41, 1244 (1978)): g(r_first min) / g(r_first max) rises above ~0.14 when a
#: solid becomes liquid or glassy; a crystal's framework stays well below it.
WENDT_ABRAHAM_LIQUID = 0.14


@dataclass(frozen=True)
class PartialRDF:
    """g_ab(r) averaged over a set of frames.

    Attributes:
        pair: ("Li", "N") etc.; r_A: bin centres ``[B]``; g: ``[B]``.
        frames: (first, last) frame index averaged.
    """

    pair: tuple[str, str]
    r_A: np.ndarray
    g: np.ndarray
    frames: tuple[int, int]

    def smoothed(self, sigma_A: float = 0.1) -> np.ndarray:
        """g convolved with a Gaussian of ``sigma_A`` (a few-atom framework gives a spiky histogram)."""
        from scipy.ndimage import gaussian_filter1d

        return gaussian_filter1d(self.g, sigma_A / (self.r_A[1] - self.r_A[0]), mode="nearest")

    def first_peak(self) -> tuple[float, float]:
        """(r, g) of the first maximum of the smoothed g above 1 (nan when it never exceeds 1)."""
        g = self.smoothed()
        above = g > 1.0
        if not above.any():
            return float("nan"), float("nan")
        start = int(np.argmax(above))
        below = ~above[start:]
        stop = start + int(np.argmax(below)) if below.any() else len(g)
        peak = start + int(np.argmax(g[start:stop]))
        return float(self.r_A[peak]), float(g[peak])

    def wendt_abraham_ratio(self) -> float:
        """Smoothed g at the first minimum after the first peak over g at that peak (nan without a peak)."""
        r_peak, g_peak = self.first_peak()
        if not np.isfinite(g_peak):
            return float("nan")
        after = self.smoothed()[self.r_A > r_peak]
        interior = np.flatnonzero((after[1:-1] <= after[:-2]) & (after[1:-1] <= after[2:])) + 1
        if interior.size == 0:
            return float("nan")
        return float(after[interior[0]]) / g_peak


def partial_rdfs(
    traj: Trajectory,
    pairs: list[tuple[str, str]],
    *,
    frames: tuple[int, int] | None = None,
    r_max_A: float = 6.0,
    bin_A: float = 0.05,
    max_frames: int = 200,
) -> list[PartialRDF]:
    """Time-averaged partial RDFs g_ab(r), with vesin's neighbour list (any cell shape, any cutoff).

    g_ab(r) = V / (N_a N_b) · ⟨number of (i ∈ a, j ∈ b, j ≠ i) pairs at distance in [r, r+dr)⟩ / (4π r² dr).

    Args:
        pairs: element pairs, e.g. [("Li", "Li"), ("Li", "N"), ("N", "N")].
        frames: (first, last) frame range (default: all); at most ``max_frames`` evenly spaced are used.
    """
    first, last = frames if frames is not None else (0, traj.n_frames - 1)
    chosen = np.unique(np.linspace(first, last, min(max_frames, last - first + 1)).round().astype(int))
    edges = np.arange(0.0, r_max_A + bin_A, bin_A)
    centres = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    symbols = np.array([chemical_symbols[z] for z in traj.atomic_numbers])
    hist = {p: np.zeros(len(centres)) for p in pairs}
    volume = 0.0
    calculator = vesin.NeighborList(cutoff=float(r_max_A), full_list=True)
    for f in chosen:
        i, j, d = calculator.compute(traj.positions_A[f], traj.cells_A[f], periodic=True, quantities="ijd")
        volume += abs(np.linalg.det(traj.cells_A[f]))
        for a, b in pairs:
            mask = (symbols[i] == a) & (symbols[j] == b)
            hist[(a, b)] += np.histogram(d[mask], bins=edges)[0]
    volume /= len(chosen)
    out = []
    for a, b in pairs:
        n_a, n_b = int(np.sum(symbols == a)), int(np.sum(symbols == b))
        n_pairs = n_a * (n_b - 1) if a == b else n_a * n_b
        density = n_pairs / volume if n_pairs else np.inf
        g = hist[(a, b)] / len(chosen) / (density * shell) if n_pairs else np.zeros_like(centres)
        out.append(PartialRDF((a, b), centres, g, (int(chosen[0]), int(chosen[-1]))))
    return out


@dataclass(frozen=True)
class FrameworkRDFCheck:
    """The framework's RDF at the start and at the end of the run, as a melting criterion.

    Attributes:
        pair: the framework element pair compared.
        start, end: RDFs over the first and the last ``fraction`` of the frames.
        wendt_abraham_start, wendt_abraham_end: g_min/g_max of each (liquid-like above WENDT_ABRAHAM_LIQUID).
        peak_height_ratio: first-peak height at the end over at the start (a melting framework loses its peaks).
        l1_difference: ∫|g_end − g_start| dr / ∫ g_start dr.
        melted: the end RDF is liquid-like by the Wendt–Abraham ratio.
    """

    pair: tuple[str, str]
    start: PartialRDF
    end: PartialRDF
    wendt_abraham_start: float
    wendt_abraham_end: float
    peak_height_ratio: float
    l1_difference: float
    melted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "pair": list(self.pair),
            "wendt_abraham_ratio_start": _finite(self.wendt_abraham_start),
            "wendt_abraham_ratio_end": _finite(self.wendt_abraham_end),
            "wendt_abraham_liquid_above": WENDT_ABRAHAM_LIQUID,
            "first_peak_height_ratio_end_over_start": _finite(self.peak_height_ratio),
            "l1_difference": _finite(self.l1_difference),
            "melted": self.melted,
        }


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def framework_rdf_check(
    traj: Trajectory, mobile_z: int, *, fraction: float = 0.2, r_max_A: float = 6.0
) -> FrameworkRDFCheck | None:
    """Compare the RDF of the most abundant framework element with itself at the start and end of the run
    (None when there is no framework)."""
    framework = traj.atomic_numbers[traj.atomic_numbers != mobile_z]
    if framework.size < 2:
        return None
    element = chemical_symbols[int(np.bincount(framework).argmax())]
    n_part = max(2, round(fraction * traj.n_frames))
    pair = (element, element)
    (start,) = partial_rdfs(traj, [pair], frames=(0, n_part - 1), r_max_A=r_max_A)
    (end,) = partial_rdfs(traj, [pair], frames=(traj.n_frames - n_part, traj.n_frames - 1), r_max_A=r_max_A)
    wa_start, wa_end = start.wendt_abraham_ratio(), end.wendt_abraham_ratio()
    peak_ratio = end.first_peak()[1] / start.first_peak()[1]
    l1 = float(np.sum(np.abs(end.g - start.g)) / max(np.sum(start.g), 1e-12))
    return FrameworkRDFCheck(
        pair=pair,
        start=start,
        end=end,
        wendt_abraham_start=wa_start,
        wendt_abraham_end=wa_end,
        peak_height_ratio=peak_ratio,
        l1_difference=l1,
        melted=bool(np.isfinite(wa_end) and wa_end > WENDT_ABRAHAM_LIQUID),
    )


@dataclass(frozen=True)
class SelfVanHove:
    """Self part of the van Hove function, 4πr² G_s(r, t): the distribution of the distance an ion travels in t.

    Attributes:
        times_ps: ``[L]`` lags; r_A: ``[B]`` bin centres; four_pi_r2_Gs: ``[L, B]`` (each row integrates to 1
            over r, in 1/Å).
    """

    times_ps: np.ndarray
    r_A: np.ndarray
    four_pi_r2_Gs: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "times_ps": self.times_ps.tolist(),
            "r_A": np.round(self.r_A, 4).tolist(),
            "four_pi_r2_Gs_per_A": np.round(self.four_pi_r2_Gs, 5).tolist(),
        }


def self_van_hove(
    traj: Trajectory,
    mobile_z: int,
    *,
    times_ps: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0),
    r_max_A: float = 8.0,
    bin_A: float = 0.1,
) -> SelfVanHove:
    """4πr² G_s(r, t) of the mobile ions from unwrapped positions, all time origins (lags beyond half the run
    are skipped: too few independent origins)."""
    from superionic.analysis._unwrap import remove_framework_drift

    dt = frame_interval_ps(traj)
    positions = remove_framework_drift(traj.positions_A, traj.atomic_numbers, mobile_z)[
        :, traj.atomic_numbers == mobile_z
    ]
    edges = np.arange(0.0, r_max_A + bin_A, bin_A)
    rows, used = [], []
    for t in times_ps:
        lag = round(t / dt)
        if lag < 1 or lag > (traj.n_frames - 1) // 2:
            continue
        dist = np.linalg.norm(positions[lag:] - positions[:-lag], axis=-1).ravel()
        hist = np.histogram(dist, bins=edges)[0]
        rows.append(hist / (dist.size * bin_A))
        used.append(lag * dt)
    return SelfVanHove(np.array(used), 0.5 * (edges[1:] + edges[:-1]), np.array(rows).reshape(len(used), -1))
