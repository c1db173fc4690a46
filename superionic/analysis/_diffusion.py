"""Diffusion coefficients from MSDs: generalised least squares with the modelled random-walk covariance,
automatic choice of the fitting window, and intervals calibrated under that model.

Why this estimator: ordinary least squares on an all-origins MSD ignores the strong correlation between MSD
points and underestimates the error by orders of magnitude (pymatgen-analysis-diffusion's ``std_dev``). Here
the covariance of the MSD points is modelled (``_covariance``), the line MSD = 2d·D·t + c is fitted by GLS,
and because that covariance scales as D², the 95 % interval is obtained by inverting
|D̂ − D| ≤ 1.96·c·D (c = relative standard error, the same at every D) instead of using the plug-in D̂,
which keeps it calibrated when the relative error is large (few walkers, collective MSD).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from superionic.analysis._covariance import msd_covariance, step_shape_ratios
from superionic.analysis._msd import displacement_cumulants, msd_all_origins

Z95 = float(stats.norm.ppf(0.975))
Z95_ONE_SIDED = float(stats.norm.ppf(0.95))

#: Window starts tried, as fractions of the run duration; the first whose linear fit is statistically
#: acceptable wins (later starts only lose precision).
DEFAULT_START_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)

#: A window is accepted when the χ² p-value of its linear fit is at least this. Ballistic and caged
#: short-time MSD gives p far below it; a strict threshold keeps the choice from reacting to noise, which
#: would bias the interval of pure random walks.
ACCEPT_P_VALUE = 0.01


@dataclass(frozen=True)
class LineFit:
    """GLS fit MSD(t) = slope·t + intercept over one window.

    Attributes:
        slope_per_ps: MSD unit per ps.
        intercept: MSD unit.
        slope_relative_se: standard error of the slope divided by the true slope under the model (constant c).
        param_cov: ``[2, 2]`` covariance of (slope, intercept) evaluated at the fitted slope.
        lags: ``[L]`` fitted lags, frames.
        chi2: GLS χ² of the residuals; ``dof`` = L − 2; ``p_value`` its upper tail probability.
        msd_exponent: slope of log MSD vs log t across the window (1 for diffusion, < 1 sub-diffusive).
        kurtosis_ratio, anisotropy_ratio: the step-shape parameters of the covariance model used.
    """

    slope_per_ps: float
    intercept: float
    slope_relative_se: float
    param_cov: np.ndarray
    lags: np.ndarray
    chi2: float
    dof: int
    p_value: float
    msd_exponent: float
    kurtosis_ratio: float
    anisotropy_ratio: float


@dataclass(frozen=True)
class DiffusionFit:
    """D of one MSD quantity with its 95 % interval, the chosen window and the window diagnostic.

    Attributes:
        D_A2_per_ps: estimate, Å²/ps (for a collective walker: (e·Å)²/ps per walker).
        D_A2_per_ps_ci95: ``(low, high)``; high is inf when the data cannot bound D from above.
        D_A2_per_ps_upper95: one-sided 95 % upper bound (useful when no diffusion is resolved).
        relative_se: standard error / D under the model.
        dimensions: 3 for |Δr|², 1 for one axis.
        fit: the chosen window's line fit.
        window_ps: ``(start, end)`` of the chosen window.
        candidates: one row per tried window: start_ps, end_ps, D_A2_per_ps, relative_se, chi2_per_dof, p_value.
        window_accepted: whether the chosen window passed the χ² test (p >= ACCEPT_P_VALUE).
        time_ps: ``[F]`` lag times; msd: ``[F]`` walker-averaged MSD (the curve that was fitted).
    """

    D_A2_per_ps: float
    D_A2_per_ps_ci95: tuple[float, float]
    D_A2_per_ps_upper95: float
    relative_se: float
    dimensions: int
    fit: LineFit
    window_ps: tuple[float, float]
    candidates: list[dict[str, float]]
    window_accepted: bool
    time_ps: np.ndarray
    msd: np.ndarray


def gls_line(
    t: np.ndarray, y: np.ndarray, cov: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generalised least squares y = β0·t + β1 with covariance ``cov`` of y.

    Returns:
        ``(beta [2], beta_cov [2, 2], residuals [L], whitened residuals [L])``.
    """
    design = np.stack([t, np.ones_like(t)], axis=1)
    jitter = 1e-12 * np.trace(cov) / len(t)  # the correlation of adjacent lags approaches 1
    chol = np.linalg.cholesky(cov + jitter * np.eye(len(t)))
    white_x = np.linalg.solve(chol, design)
    white_y = np.linalg.solve(chol, y)
    beta, *_ = np.linalg.lstsq(white_x, white_y, rcond=None)
    beta_cov = np.linalg.inv(white_x.T @ white_x)
    return beta, beta_cov, y - design @ beta, white_y - white_x @ beta


def window_lags(n_frames: int, start_frame: int, end_frame: int, n_points: int) -> np.ndarray:
    """Up to ``n_points`` distinct, evenly spaced lags (frames) in [start, end], start >= 1."""
    start_frame = max(1, start_frame)
    return np.unique(np.linspace(start_frame, end_frame, n_points).round().astype(np.int64))


def fit_line_window(
    msd: np.ndarray,
    timestep_ps: float,
    lags: np.ndarray,
    kurtosis_ratio: float,
    anisotropy_ratio: float,
    n_walkers: float,
) -> LineFit:
    """GLS fit of a walker-averaged MSD curve ``[F]`` over ``lags`` with the random-walk covariance."""
    n_frames = msd.shape[0]
    t = lags * timestep_ps
    y = msd[lags]
    unit_cov = msd_covariance(n_frames, lags, 1.0, kurtosis_ratio, anisotropy_ratio, n_walkers)
    beta, beta_cov_unit, _, _ = gls_line(t, y, unit_cov)
    slope = float(beta[0])
    # The covariance scales as tr(S)² = (slope·Δt)²; for a non-positive slope use the apparent MSD/t so the
    # resulting bound stays conservative.
    scale_per_ps = max(slope, float(y[-1] / t[-1]), np.finfo(float).tiny)
    scale = (scale_per_ps * timestep_ps) ** 2
    _, _, _, white_res = gls_line(t, y, unit_cov * scale)
    chi2 = float(white_res @ white_res)
    dof = len(lags) - 2
    positive = y > 0
    exponent = (
        float(np.polyfit(np.log(t[positive]), np.log(y[positive]), 1)[0]) if positive.sum() >= 2 else np.nan
    )
    return LineFit(
        slope_per_ps=slope,
        intercept=float(beta[1]),
        slope_relative_se=float(np.sqrt(beta_cov_unit[0, 0]) * timestep_ps),
        param_cov=beta_cov_unit * scale,
        lags=lags,
        chi2=chi2,
        dof=dof,
        p_value=float(stats.chi2.sf(chi2, dof)) if dof > 0 else 1.0,
        msd_exponent=exponent,
        kurtosis_ratio=kurtosis_ratio,
        anisotropy_ratio=anisotropy_ratio,
    )


def calibrated_interval(estimate: float, relative_se: float, z: float = Z95) -> tuple[float, float]:
    """Interval {D : |D̂ − D| <= z·c·D} for an estimator whose standard deviation is c·D.

    >>> [round(v, 4) for v in calibrated_interval(1.0, 0.1)]
    [0.8361, 1.2438]
    """
    if estimate <= 0:
        return 0.0, 0.0 if relative_se * z < 1 else float("inf")
    low = estimate / (1.0 + z * relative_se)
    high = estimate / (1.0 - z * relative_se) if z * relative_se < 1 else float("inf")
    return low, high


def fit_diffusion(
    walkers: np.ndarray,
    timestep_ps: float,
    *,
    window_ps: tuple[float, float] | None = None,
    end_fraction: float = 0.5,
    n_points: int = 40,
    start_fractions: tuple[float, ...] = DEFAULT_START_FRACTIONS,
    gaussian_steps: bool = False,
    anisotropy_ratio: float | None = None,
    axis: int | None = None,
) -> DiffusionFit:
    """D from the displacements of independent walkers, with the window chosen automatically.

    Args:
        walkers: ``[F, W, 3]`` unwrapped positions of W walkers (particles of all replicas side by side, or one
            collective displacement per replica), Å or e·Å.
        timestep_ps: time between frames, ps.
        window_ps: fix the fitting window (start, end) instead of choosing it.
        end_fraction: end of the window as a fraction of the run (longer lags have few independent origins).
        n_points: number of MSD points fitted.
        start_fractions: window starts tried (fractions of the run), in order; the first accepted one wins.
        gaussian_steps: take the steps as Gaussian (fourth cumulant 0) instead of estimating it; used for
            collective displacements, which are sums of many particles' steps.
        anisotropy_ratio: tr(S²)/tr(S)² to use instead of estimating it (e.g. the tracer's value for the
            collective walker, whose single realisation cannot estimate it).
        axis: fit one Cartesian axis (0, 1, 2), MSD = 2·D·t, instead of |Δr|², MSD = 6·D·t.

    Returns:
        A :class:`DiffusionFit`.
    """
    n_frames, n_walkers, _ = walkers.shape
    duration_ps = (n_frames - 1) * timestep_ps
    per_axis = msd_all_origins(walkers).mean(axis=1)  # [F, 3]
    msd = per_axis.sum(axis=1) if axis is None else per_axis[:, axis]
    dimensions = 3 if axis is None else 1

    def shape_at(lag: int) -> tuple[float, float]:
        second, fourth_norm, fourth_axis = displacement_cumulants(walkers, lag)
        if axis is not None:
            kurt, aniso = step_shape_ratios(second[axis : axis + 1, axis : axis + 1], fourth_axis[axis], lag)
        else:
            kurt, aniso = step_shape_ratios(second, fourth_norm, lag)
        if gaussian_steps:
            kurt = 0.0
        if anisotropy_ratio is not None and axis is None:
            aniso = anisotropy_ratio
        return kurt, aniso

    if window_ps is not None:
        start, end = window_ps
        if not 0 <= start < end <= duration_ps:
            raise ValueError(f"window_ps={window_ps} must satisfy 0 <= start < end <= {duration_ps:.6g} ps")
        windows = [(round(start / timestep_ps), round(end / timestep_ps))]
    else:
        end_frame = round(end_fraction * (n_frames - 1))
        windows = [(round(f * (n_frames - 1)), end_frame) for f in start_fractions]
        windows = [w for w in windows if w[1] - max(w[0], 1) >= 2]
    if not windows or window_lags(n_frames, *windows[0], n_points).size < 3:
        raise ValueError(
            f"trajectory too short to fit a line to its MSD ({n_frames} frames); write more frames or run longer"
        )

    candidates: list[dict[str, float]] = []
    fits: list[LineFit] = []
    for start_frame, end_frame in windows:
        lags = window_lags(n_frames, start_frame, end_frame, n_points)
        if lags.size < 3:
            break
        fit = fit_line_window(msd, timestep_ps, lags, *shape_at(int(lags[0])), n_walkers)
        fits.append(fit)
        candidates.append(
            {
                "start_ps": float(lags[0] * timestep_ps),
                "end_ps": float(lags[-1] * timestep_ps),
                "D_A2_per_ps": fit.slope_per_ps / (2 * dimensions),
                "relative_se": fit.slope_relative_se,
                "chi2_per_dof": fit.chi2 / max(fit.dof, 1),
                "p_value": fit.p_value,
            }
        )
    accepted = [i for i, f in enumerate(fits) if f.p_value >= ACCEPT_P_VALUE]
    chosen = accepted[0] if accepted else int(np.argmax([f.p_value for f in fits]))
    fit = fits[chosen]
    d_hat = fit.slope_per_ps / (2 * dimensions)
    rel = fit.slope_relative_se
    scale = max(d_hat, float(msd[fit.lags[-1]] / (fit.lags[-1] * timestep_ps)) / (2 * dimensions))
    return DiffusionFit(
        D_A2_per_ps=d_hat,
        D_A2_per_ps_ci95=calibrated_interval(d_hat, rel),
        D_A2_per_ps_upper95=max(d_hat, 0.0) + Z95_ONE_SIDED * rel * scale,
        relative_se=rel,
        dimensions=dimensions,
        fit=fit,
        window_ps=(float(fit.lags[0] * timestep_ps), float(fit.lags[-1] * timestep_ps)),
        candidates=candidates,
        window_accepted=bool(accepted),
        time_ps=np.arange(n_frames) * timestep_ps,
        msd=msd,
    )
