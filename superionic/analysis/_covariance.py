"""Covariance of all-origins MSD points of a random walk with independent increments and localisation noise.

Model (the random-walk-plus-noise covariance of Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116
(2020), generalised to non-Gaussian increments such as lattice hops): a walker's observed position is
x(t) = y(t) + ε(t), where y is a walk with independent per-frame increments of covariance S (3×3) and joint
fourth cumulant K = Σ_αβ κ_ααββ, and ε is independent Gaussian noise of variance σ² per axis (vibration about
a site). For two displacement windows a = [t, t+n], b = [s, s+m] sharing ``o`` frames,

    Cov(|Δa|², |Δb|²) = o·K + 2·o²·tr(S²) + 4·σ²·tr(S)·o·g + 2·dims·σ⁴·g²,

with g = [t+n = s+m] − [t+n = s] − [t = s+m] + [t = s] the signed coincidence of the windows' end points
(the only way the noise terms correlate). Averaging over all origins and over W independent walkers gives

    Cov[MSD(n), MSD(m)] = (K·A + 2 tr(S²)·B + 4 σ² tr(S)·C + 2·dims·σ⁴·E) / W,

where A, B, C, E are the origin-averaged sums of o, o², o·g and g². They depend only on the frame count and
the lags, and are computed exactly (no continuum approximation) and cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class OverlapBases:
    """Origin-averaged overlap sums for a set of lags, each ``[L, L]`` (see the module docstring)."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    e: np.ndarray


@lru_cache(maxsize=64)
def _overlap_bases_cached(n_frames: int, lags: tuple[int, ...]) -> OverlapBases:
    lag_arr = np.asarray(lags, dtype=np.int64)
    n_lags = lag_arr.size
    out = {k: np.zeros((n_lags, n_lags)) for k in "abce"}
    max_lag = int(lag_arr.max())
    for i, n in enumerate(lag_arr):
        m = lag_arr[i:, None]  # [K, 1], the upper triangle only
        d = np.arange(-max_lag, n + 1)[
            None, :
        ]  # s − t; windows overlap for −m < d < n, end points meet at −m, n
        count = np.clip(np.minimum(n_frames - n, n_frames - m - d) - np.maximum(0, -d), 0, None)
        overlap = np.clip(np.minimum(n, d + m) - np.maximum(0, d), 0, None)
        coincide = (d == n - m).astype(np.int64) - (d == n) - (d == -m) + (d == 0)
        norm = (n_frames - n) * (n_frames - m[:, 0]).astype(np.float64)
        out["a"][i, i:] = (count * overlap).sum(axis=1) / norm
        out["b"][i, i:] = (count * overlap**2).sum(axis=1) / norm
        out["c"][i, i:] = (count * overlap * coincide).sum(axis=1) / norm
        out["e"][i, i:] = (count * coincide**2).sum(axis=1) / norm
    for key, mat in out.items():
        out[key] = np.triu(mat) + np.triu(mat, 1).T
        out[key].setflags(write=False)
    return OverlapBases(**out)


def overlap_bases(n_frames: int, lags: np.ndarray) -> OverlapBases:
    """The sums A, B, C, E of the module docstring for these lags (frames, ``1 <= lag < F``); read-only."""
    lags = np.asarray(lags, dtype=np.int64)
    if lags.ndim != 1 or lags.size == 0 or lags.min() < 1 or lags.max() >= n_frames:
        raise ValueError(f"lags must be a non-empty 1-D array in [1, {n_frames}), got {lags}")
    return _overlap_bases_cached(int(n_frames), tuple(int(v) for v in lags))


@dataclass(frozen=True)
class CovarianceTerms:
    """Cov[MSD] = q²·quadratic + q·linear + constant, q = tr(S) (MSD per frame), at fixed step shape.

    Splitting by powers of tr(S) lets the interval be inverted over the true D (``_diffusion``): the Gaussian
    spread of a walk grows as D², the hop (fourth-cumulant) and noise cross terms as D, the noise term not at
    all. ``K`` is taken proportional to tr(S) (a fixed hop length at a varying hop rate).
    """

    quadratic: np.ndarray
    linear: np.ndarray
    constant: np.ndarray

    def at(self, trace_step_cov: float) -> np.ndarray:
        return trace_step_cov**2 * self.quadratic + trace_step_cov * self.linear + self.constant


def msd_covariance_terms(
    n_frames: int,
    lags: np.ndarray,
    *,
    hop_sq: float,
    anisotropy_ratio: float,
    noise_var: float,
    dims: int,
    n_walkers: float,
) -> CovarianceTerms:
    """The covariance model's terms for the walker-averaged MSD at ``lags``.

    Args:
        n_frames: frames per walker.
        lags: ``[L]`` lags in frames.
        hop_sq: K / tr(S), MSD unit (for lattice hops of length h: h²; 0 for Gaussian steps).
        anisotropy_ratio: tr(S²) / tr(S)²: 1/3 for isotropic steps in 3-D, 1 along one axis.
        noise_var: σ², localisation-noise variance per axis (MSD unit).
        dims: number of axes summed in the MSD (3 or 1).
        n_walkers: independent walkers averaged.
    """
    bases = overlap_bases(n_frames, lags)
    return CovarianceTerms(
        quadratic=2.0 * anisotropy_ratio * bases.b / n_walkers,
        linear=(hop_sq * bases.a + 4.0 * noise_var * bases.c) / n_walkers,
        constant=2.0 * dims * noise_var**2 * bases.e / n_walkers,
    )


def msd_covariance(
    n_frames: int,
    lags: np.ndarray,
    trace_step_cov: float,
    kurtosis_ratio: float,
    anisotropy_ratio: float,
    n_walkers: float,
    *,
    noise_var: float = 0.0,
    dims: int = 3,
) -> np.ndarray:
    """Modelled covariance ``[L, L]`` of the walker-averaged MSD (convenience form).

    Args:
        trace_step_cov: tr(S), the MSD added per frame.
        kurtosis_ratio: K / tr(S)², dimensionless (0 for Gaussian steps, 1/λ for λ lattice hops per frame).
        anisotropy_ratio, n_walkers, noise_var, dims: as in :func:`msd_covariance_terms`.
    """
    terms = msd_covariance_terms(
        n_frames,
        lags,
        hop_sq=kurtosis_ratio * trace_step_cov,
        anisotropy_ratio=anisotropy_ratio,
        noise_var=noise_var,
        dims=dims,
        n_walkers=n_walkers,
    )
    return terms.at(trace_step_cov)


def fourth_cumulant_per_frame(second_moment: np.ndarray, fourth_moment: float, lag: int) -> float:
    """K from displacement moments at ``lag`` frames: K·lag = ⟨|Δr|⁴⟩ − tr(C)² − 2 tr(C²), C = ⟨Δr Δrᵀ⟩.

    Gaussian localisation noise adds nothing to it (cumulants of independent parts add, a Gaussian's
    fourth cumulant is 0), so it can be measured at short lags. For one axis pass a 1×1 ``second_moment``.
    """
    second_moment = np.atleast_2d(second_moment)
    trace_c = float(np.trace(second_moment))
    trace_c2 = float(np.trace(second_moment @ second_moment))
    return (fourth_moment - trace_c**2 - 2.0 * trace_c2) / lag


def anisotropy_ratio_of(second_moment: np.ndarray) -> float:
    """tr(C²)/tr(C)² of a displacement second-moment matrix (1/3 isotropic, 1 for motion along one axis)."""
    second_moment = np.atleast_2d(second_moment)
    trace_c = float(np.trace(second_moment))
    if trace_c <= 0:
        return 1.0 / second_moment.shape[0]
    return float(np.trace(second_moment @ second_moment)) / trace_c**2
