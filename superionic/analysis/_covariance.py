"""Covariance of all-origins MSD points of a random walk with independent increments.

Model (the random-walk covariance of Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116 (2020),
generalised to non-Gaussian increments such as lattice hops): each walker's displacement over frames
[t, t+n] is a sum of independent per-frame increments with covariance S (3×3) and joint fourth cumulant
K = Σ_αβ κ_ααββ. For two windows sharing ``o`` frames, Cov(|Δr_a|², |Δr_b|²) = o·K + 2·o²·tr(S²) (the shared
part is the only correlated one). Averaging over all origins of the MSD estimator and over ``W`` independent
walkers gives

    Cov[MSD(n), MSD(m)] = (K · A_nm + 2 tr(S²) · B_nm) / W,
    A_nm = Σ_{t,s} o / ((F−n)(F−m)),   B_nm = Σ_{t,s} o² / ((F−n)(F−m)),

with t, s running over the F−n and F−m origins. A and B depend only on the frame count and the lags, so they
are computed once (exactly, no continuum approximation) and cached.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _overlap_bases_cached(n_frames: int, lags: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    lag_arr = np.asarray(lags, dtype=np.int64)
    n_lags = lag_arr.size
    basis_a = np.zeros((n_lags, n_lags))
    basis_b = np.zeros((n_lags, n_lags))
    max_lag = int(lag_arr.max())
    for i, n in enumerate(lag_arr):
        m = lag_arr[i:, None]  # [K, 1], only the upper triangle
        d = np.arange(-max_lag + 1, n)[None, :]  # s - t; the windows overlap only for -m < d < n
        count = np.clip(np.minimum(n_frames - n, n_frames - m - d) - np.maximum(0, -d), 0, None)
        overlap = np.clip(np.minimum(n, d + m) - np.maximum(0, d), 0, None)
        norm = (n_frames - n) * (n_frames - m[:, 0]).astype(np.float64)
        weighted = count * overlap
        basis_a[i, i:] = weighted.sum(axis=1) / norm
        basis_b[i, i:] = (weighted * overlap).sum(axis=1) / norm
    basis_a = np.triu(basis_a) + np.triu(basis_a, 1).T
    basis_b = np.triu(basis_b) + np.triu(basis_b, 1).T
    basis_a.setflags(write=False)
    basis_b.setflags(write=False)
    return basis_a, basis_b


def overlap_bases(n_frames: int, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The matrices A and B of the module docstring for these lags (frames, ascending, ``1 <= lag < F``).

    Returns:
        ``(A, B)``, each ``[L, L]``, read-only.
    """
    lags = np.asarray(lags, dtype=np.int64)
    if lags.ndim != 1 or lags.size == 0 or lags.min() < 1 or lags.max() >= n_frames:
        raise ValueError(f"lags must be a non-empty 1-D array in [1, {n_frames}), got {lags}")
    return _overlap_bases_cached(int(n_frames), tuple(int(v) for v in lags))


def msd_covariance(
    n_frames: int,
    lags: np.ndarray,
    trace_step_cov: float,
    kurtosis_ratio: float,
    anisotropy_ratio: float,
    n_walkers: float,
) -> np.ndarray:
    """Modelled covariance of the walker-averaged MSD at ``lags`` (squared MSD unit).

    Args:
        n_frames: frames per walker (the same for all).
        lags: ``[L]`` lags in frames.
        trace_step_cov: tr(S), the MSD added per frame (MSD unit per frame).
        kurtosis_ratio: K / tr(S)², dimensionless (0 for Gaussian steps, > 0 for rare hops).
        anisotropy_ratio: tr(S²) / tr(S)², 1/3 for isotropic 3-D steps, 1 for one axis.
        n_walkers: number of independent walkers averaged (particles × replicas).

    Returns:
        ``[L, L]`` covariance matrix.
    """
    basis_a, basis_b = overlap_bases(n_frames, lags)
    return trace_step_cov**2 * (kurtosis_ratio * basis_a + 2.0 * anisotropy_ratio * basis_b) / n_walkers


def step_shape_ratios(
    second_moment: np.ndarray, fourth_moment: float, lag: int, *, min_kurtosis_ratio: float | None = None
) -> tuple[float, float]:
    """Estimate (kurtosis_ratio, anisotropy_ratio) from displacement moments measured at ``lag`` frames.

    With C = ⟨Δr Δrᵀ⟩ = lag·S: K·lag = ⟨|Δr|⁴⟩ − tr(C)² − 2 tr(C²). For one axis pass a 1×1 ``second_moment``.
    The kurtosis ratio is clipped from below at −anisotropy so that the modelled variance stays positive.
    """
    second_moment = np.atleast_2d(second_moment)
    trace_c = float(np.trace(second_moment))
    if trace_c <= 0:
        return 0.0, 1.0 / second_moment.shape[0]
    trace_c2 = float(np.trace(second_moment @ second_moment))
    anisotropy = trace_c2 / trace_c**2
    kurtosis = (fourth_moment - trace_c**2 - 2.0 * trace_c2) * lag / trace_c**2
    floor = -anisotropy if min_kurtosis_ratio is None else min_kurtosis_ratio
    return max(kurtosis, floor), anisotropy
