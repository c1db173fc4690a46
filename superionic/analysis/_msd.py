"""Mean squared displacements averaged over all time origins (FFT, O(F log F)), tracer and collective."""

from __future__ import annotations

import numpy as np


def msd_all_origins(x: np.ndarray) -> np.ndarray:
    """Per-component MSD over all time origins of a series whose first axis is time.

    MSD(n) = 1/(F−n) Σ_{t<F−n} (x[t+n] − x[t])², for every lag n in [0, F), computed with the
    FFT autocorrelation (Calandrini et al., École thématique de la Société Française de la Neutronique 12,
    201 (2011)): the squared terms from cumulative sums, the cross term from one zero-padded FFT.

    Args:
        x: ``[F, ...]`` (e.g. positions ``[F, N, 3]``), any unit.

    Returns:
        ``[F, ...]`` MSD per lag and per trailing component (squared unit of x).

    >>> msd_all_origins(np.arange(4.0)[:, None])[:, 0].round(12).tolist()
    [0.0, 1.0, 4.0, 9.0]
    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x[0]  # reduces cancellation in the sums below; MSD is translation invariant
    n_frames = x.shape[0]
    squares = x**2
    # Σ_{t<F-n} x[t]² + Σ_{t>=n} x[t]²
    head = np.cumsum(squares, axis=0)  # head[k] = Σ_{t<=k}
    total = head[-1]
    lags = np.arange(n_frames)
    head_part = head[n_frames - 1 - lags]  # Σ_{t <= F-1-n}
    tail_part = total - np.concatenate([np.zeros_like(total)[None], head[:-1]], axis=0)[lags]  # Σ_{t >= n}
    spectrum = np.fft.rfft(x, n=2 * n_frames, axis=0)
    autocorr = np.fft.irfft(spectrum * spectrum.conj(), n=2 * n_frames, axis=0)[:n_frames]
    counts = (n_frames - lags).reshape((-1,) + (1,) * (x.ndim - 1))
    msd = (head_part + tail_part - 2.0 * autocorr) / counts
    msd[0] = 0.0
    return np.maximum(msd, 0.0)  # FFT round-off can leave -1e-16 at tiny lags


def collective_displacement(positions_A: np.ndarray, charges_e: np.ndarray) -> np.ndarray:
    """Σ_i q_i (r_i(t) − r_i(0)), e·Å ``[F, 3]``, of the atoms given (its MSD gives the charge conductivity).

    Args:
        positions_A: unwrapped positions of the carriers, Å ``[F, N, 3]``.
        charges_e: their charges, e ``[N]``.
    """
    return np.einsum("fni,n->fi", positions_A - positions_A[0], charges_e)


def displacement_cumulants(x: np.ndarray, lag: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Second and fourth moments of the lag-``lag`` displacements, pooled over origins and walkers.

    Args:
        x: ``[F, W, 3]`` positions of W walkers (Å, or e·Å for a collective walker).
        lag: in frames, ``1 <= lag < F``.

    Returns:
        ``(second_moment [3, 3], fourth_moment_of_norm, fourth_moment_per_axis [3])``: ⟨Δr Δrᵀ⟩, ⟨|Δr|⁴⟩
        and ⟨Δr_α⁴⟩, the inputs of the random-walk covariance model (see ``_covariance``).
    """
    if not 1 <= lag < x.shape[0]:
        raise ValueError(f"lag={lag} must be in [1, {x.shape[0]})")
    steps = (x[lag:] - x[:-lag]).reshape(-1, 3)
    second = steps.T @ steps / steps.shape[0]
    norm2 = np.einsum("ki,ki->k", steps, steps)
    return second, float(np.mean(norm2**2)), np.mean(steps**4, axis=0)


def mean_msd_per_axis(walkers: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Walker-averaged all-origins MSD per axis, ``[F, 3]``, from ``[F, W, 3]`` (chunked over walkers so a
    long trajectory of many ions never needs a second full-size complex array)."""
    total = np.zeros((walkers.shape[0], walkers.shape[2]))
    for start in range(0, walkers.shape[1], chunk):
        total += msd_all_origins(walkers[:, start : start + chunk]).sum(axis=1)
    return total / walkers.shape[1]
