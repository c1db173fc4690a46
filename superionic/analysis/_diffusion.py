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

from superionic.analysis._covariance import (
    anisotropy_ratio_of,
    fourth_cumulant_per_frame,
    msd_covariance_terms,
)
from superionic.analysis._msd import displacement_cumulants, mean_msd_per_axis

Z95 = float(stats.norm.ppf(0.975))
Z95_ONE_SIDED = float(stats.norm.ppf(0.95))

#: Window starts tried, as fractions of the run duration; the first whose linear fit is statistically
#: acceptable wins (later starts only lose precision).
DEFAULT_START_FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)

#: Batch means: the run is cut into this many consecutive blocks, D is fitted on each, and their scatter
#: checks the modelled variance. The model assumes walkers that step independently of each other and of their
#: own past; in a cell with one vacancy every hop is that vacancy's move, and rates can switch between
#: sublattices, so the model's interval under-covered (Li3N-vac, 900 K: 4 of 7 single-run intervals held the
#: six replicas' mean; a one-vacancy lattice gas: 85 %). Five blocks keep ≥ 2 ps each in a 10-ps run.
DEFAULT_BATCH_BLOCKS = 5

#: A window is accepted when the χ² p-value of its linear fit is at least this. Ballistic and caged
#: short-time MSD gives p far below it; a strict threshold keeps the choice from reacting to noise, which
#: would bias the interval of pure random walks.
ACCEPT_P_VALUE = 0.01


@dataclass(frozen=True)
class LineFit:
    """GLS fit MSD(t) = slope·t + intercept over one window, with the covariance model's parameters.

    Attributes:
        slope_per_ps: MSD unit per ps.
        intercept: MSD unit (2·dims·σ² for localisation noise σ² per axis).
        slope_variance_coeffs: ``(a, b, c)``: variance of the slope estimator if the true slope were s,
            a·s² + b·s + c (the GLS weights held fixed); this is what the interval inverts.
        param_cov: ``[2, 2]`` covariance of (slope, intercept) at the fitted values.
        lags: ``[L]`` fitted lags, frames.
        chi2: GLS χ² of the residuals; ``dof`` = L − 2; ``p_value`` its upper tail probability.
        msd_exponent: slope of log(MSD − offset) vs log t across the window, offset = the fitted intercept if
            positive (1 for diffusion, < 1 sub-diffusive; NaN when the MSD does not rise above the offset).
        hop_sq: K / tr(S) used (MSD unit; squared hop length for lattice hops, 0 for Gaussian steps).
        anisotropy_ratio: tr(S²)/tr(S)² used.
        noise_var: localisation-noise variance per axis used (MSD unit).
    """

    slope_per_ps: float
    intercept: float
    slope_variance_coeffs: tuple[float, float, float]
    param_cov: np.ndarray
    lags: np.ndarray
    chi2: float
    dof: int
    p_value: float
    msd_exponent: float
    hop_sq: float
    anisotropy_ratio: float
    noise_var: float

    @property
    def slope_se_per_ps(self) -> float:
        return float(np.sqrt(self.param_cov[0, 0]))


@dataclass(frozen=True)
class DiffusionFit:
    """D of one MSD quantity with its 95 % interval, the chosen window and the window diagnostic.

    Attributes:
        D_A2_per_ps: estimate, Å²/ps (for a collective walker: (e·Å)²/ps per walker).
        D_A2_per_ps_ci95: ``(low, high)``; high is inf when the data cannot bound D from above.
        D_A2_per_ps_upper95: one-sided 95 % upper bound (useful when no diffusion is resolved).
        relative_se: standard error / D at the estimate (inf if D <= 0).
        dimensions: 3 for |Δr|², 1 for one axis.
        fit: the chosen window's line fit.
        window_ps: ``(start, end)`` of the chosen window.
        candidates: one row per tried window, in order, up to the accepted one: start_ps, end_ps,
            D_A2_per_ps, relative_se, chi2_per_dof, p_value.
        window_accepted: whether the chosen window passed the χ² test (p >= ACCEPT_P_VALUE).
        time_ps: ``[F]`` lag times; msd: ``[F]`` walker-averaged MSD (the curve that was fitted).
        block_D_A2_per_ps: D fitted on each of the consecutive blocks of the run (batch means; empty when
            not done or the blocks are too short to fit).
        batch_relative_se: standard error of D from the blocks' scatter, relative to D (NaN when not done).
        model_relative_se: the random-walk model's relative standard error (``relative_se`` is the larger of
            the two).
        interval_source: ``"model"`` (the random-walk covariance) or ``"batch means"`` (the blocks scattered
            more than the model allows; the interval then uses their standard error and a Student-t quantile).
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
    block_D_A2_per_ps: tuple[float, ...] = ()
    batch_relative_se: float = float("nan")
    model_relative_se: float = float("nan")
    interval_source: str = "model"


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
    """Up to ``n_points`` distinct lags (frames) in [start, end], start >= 1, geometrically spaced.

    Geometric spacing keeps points at the short lags of the window, where a random walk's all-origins MSD
    carries most of its information about D; evenly spaced points waste most of them on long, strongly
    correlated lags (measured: 3x larger standard error for the same number of points).
    """
    start_frame = max(1, start_frame)
    return np.unique(np.geomspace(start_frame, end_frame, n_points).round().astype(np.int64))


def _gls_weights(design: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Rows of M with β̂ = M y for GLS with covariance ``cov``: ``[2, L]``."""
    jitter = 1e-12 * np.trace(cov) / len(cov)
    chol = np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
    white_x = np.linalg.solve(chol, design)
    return np.linalg.solve(white_x.T @ white_x, np.linalg.solve(chol, design).T @ np.linalg.inv(chol))


def fit_line_window(
    msd: np.ndarray,
    frame_interval_ps: float,
    lags: np.ndarray,
    *,
    fourth_cumulant: float,
    anisotropy_ratio: float,
    n_walkers: float,
    dims: int,
    noise_var: float | None = None,
    n_iterations: int = 3,
) -> LineFit:
    """GLS fit of a walker-averaged MSD curve ``[F]`` over ``lags`` with the random-walk-plus-noise covariance.

    The covariance depends on the slope (tr(S)) and the intercept (noise σ²) being fitted, so the fit is
    iterated from ordinary least squares; it converges in two or three passes.

    Args:
        fourth_cumulant: K per frame (MSD² unit), measured from the displacements (0 for Gaussian steps).
        noise_var: fix σ² per axis instead of taking it from the fitted intercept (intercept = 2·dims·σ²).
    """
    n_frames = msd.shape[0]
    t = lags * frame_interval_ps
    y = msd[lags]
    design = np.stack([t, np.ones_like(t)], axis=1)
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    param_cov = np.full((2, 2), np.inf)  # nothing resolved before the first GLS pass
    # A non-positive slope (no diffusion) still needs a scale: the apparent MSD/t keeps the bound conservative.
    floor_per_ps = max(float(y[-1] / t[-1]), np.finfo(float).tiny)
    for _ in range(n_iterations):
        trace_s = max(float(beta[0]), floor_per_ps) * frame_interval_ps
        # Localisation noise only when the offset is resolved (> 2 standard errors): for a pure walk a noisy
        # positive intercept would otherwise add spurious variance (measured: 97 % coverage, 1 walker).
        resolved = beta[1] > 2.0 * np.sqrt(max(param_cov[1, 1], 0.0))
        sigma2 = (float(beta[1]) / (2 * dims) if resolved else 0.0) if noise_var is None else noise_var
        # K + 2 tr(S²) >= 0 for any real walk; clipping keeps a noisy K estimate from breaking positivity
        hop_sq = max(fourth_cumulant / trace_s, -2.0 * anisotropy_ratio * trace_s)
        terms = msd_covariance_terms(
            n_frames,
            lags,
            hop_sq=hop_sq,
            anisotropy_ratio=anisotropy_ratio,
            noise_var=sigma2,
            dims=dims,
            n_walkers=n_walkers,
        )
        cov = terms.at(trace_s)
        beta, param_cov, _, white_res = gls_line(t, y, cov)
    weights = _gls_weights(design, cov)[0]
    coeffs = (
        float(weights @ terms.quadratic @ weights) * frame_interval_ps**2,
        float(weights @ terms.linear @ weights) * frame_interval_ps,
        float(weights @ terms.constant @ weights),
    )
    chi2 = float(white_res @ white_res)
    dof = len(lags) - 2
    # log-log slope after removing the vibrational offset (a plateau would otherwise read as sub-diffusion)
    above = y - max(float(beta[1]), 0.0)
    positive = above > 0
    exponent = (
        float(np.polyfit(np.log(t[positive]), np.log(above[positive]), 1)[0])
        if positive.sum() >= max(3, len(y) // 2)
        else np.nan
    )
    return LineFit(
        slope_per_ps=float(beta[0]),
        intercept=float(beta[1]),
        slope_variance_coeffs=coeffs,
        param_cov=param_cov,
        lags=lags,
        chi2=chi2,
        dof=dof,
        p_value=float(stats.chi2.sf(chi2, dof)) if dof > 0 else 1.0,
        msd_exponent=exponent,
        hop_sq=hop_sq,
        anisotropy_ratio=anisotropy_ratio,
        noise_var=sigma2,
    )


def variance_interval(
    estimate: float, coeffs: tuple[float, float, float], z: float = Z95
) -> tuple[float, float]:
    """{s >= 0 : (ŝ − s)² <= z²·(a s² + b s + c)}: the interval for an estimator whose variance depends on
    the true value s. Inverting the test at each hypothesised s (rather than using the variance at ŝ) keeps
    the coverage right when the relative error is large. Returns ``(nan, nan)`` if no s >= 0 is compatible.

    >>> [round(v, 4) for v in variance_interval(1.0, (0.01, 0.0, 0.0))]
    [0.8361, 1.2438]
    """
    a, b, c = coeffs
    qa = 1.0 - z * z * a
    qb = -(2.0 * estimate + z * z * b)
    qc = estimate * estimate - z * z * c
    disc = qb * qb - 4.0 * qa * qc
    if qa > 0:
        if disc < 0:
            return float("nan"), float("nan")
        root = float(np.sqrt(disc))
        low, high = (-qb - root) / (2 * qa), (-qb + root) / (2 * qa)
        if high < 0:
            return float("nan"), float("nan")
        return max(low, 0.0), high
    # the variance grows faster than (s − ŝ)²: no upper bound
    if disc <= 0 or qa == 0:
        return 0.0, float("inf")
    roots = sorted([(-qb - float(np.sqrt(disc))) / (2 * qa), (-qb + float(np.sqrt(disc))) / (2 * qa)])
    below = [r for r in roots if r <= estimate]
    return max(below[-1], 0.0) if below else 0.0, float("inf")


def calibrated_interval(estimate: float, relative_se: float, z: float = Z95) -> tuple[float, float]:
    """Interval {D : |D̂ − D| <= z·c·D} for an estimator whose standard deviation is c·D.

    >>> [round(v, 4) for v in calibrated_interval(1.0, 0.1)]
    [0.8361, 1.2438]
    """
    return variance_interval(estimate, (relative_se**2, 0.0, 0.0), z)


def _relative(se: float, value: float) -> float:
    return se / value if value > 0 else float("inf")


def fit_diffusion(
    walkers: np.ndarray,
    frame_interval_ps: float,
    *,
    window_ps: tuple[float, float] | None = None,
    end_fraction: float = 0.5,
    n_points: int = 40,
    start_fractions: tuple[float, ...] = DEFAULT_START_FRACTIONS,
    gaussian_steps: bool = False,
    anisotropy_ratio: float | None = None,
    axis: int | None = None,
    noise_var: float | None = None,
    n_blocks: int = DEFAULT_BATCH_BLOCKS,
) -> DiffusionFit:
    """D from the displacements of independent walkers, with the window chosen automatically.

    Args:
        walkers: ``[F, W, 3]`` unwrapped positions of W walkers (particles of all replicas side by side, or one
            collective displacement per replica), Å or e·Å.
        frame_interval_ps: time between frames, ps.
        window_ps: fix the fitting window (start, end) instead of choosing it.
        end_fraction: end of the window as a fraction of the run (longer lags have few independent origins).
        n_points: number of MSD points fitted.
        start_fractions: window starts tried (fractions of the run), in order; the first accepted one wins.
        gaussian_steps: take the steps as Gaussian (fourth cumulant 0) instead of estimating it; used for
            collective displacements, which are sums of many particles' steps.
        anisotropy_ratio: tr(S²)/tr(S)² to use instead of estimating it (e.g. the tracer's value for the
            collective walker, whose single realisation cannot estimate it).
        axis: fit one Cartesian axis (0, 1, 2), MSD = 2·D·t, instead of |Δr|², MSD = 6·D·t.
        noise_var: localisation-noise variance per axis to use instead of estimating it from the intercept
            (for the collective walker, whose intercept is too noisy: the tracer's σ² times Σ q²).
        n_blocks: batch means over this many consecutive blocks of the run (0: off). When the blocks' D
            scatter more than the model allows, the interval is widened to theirs (see ``DiffusionFit``).

    Returns:
        A :class:`DiffusionFit`.
    """
    n_frames, n_walkers, _ = walkers.shape
    duration_ps = (n_frames - 1) * frame_interval_ps
    per_axis = mean_msd_per_axis(walkers)  # [F, 3]
    msd = per_axis.sum(axis=1) if axis is None else per_axis[:, axis]
    dimensions = 3 if axis is None else 1

    def step_shape(lags: np.ndarray) -> tuple[float, float]:
        """(K per frame, tr(S²)/tr(S)²). K from the window's first lag, where the walk's non-Gaussian part is
        best resolved (Gaussian vibrations add nothing to it). The anisotropy from the per-axis MSD growth
        between the first and the geometric-middle lag: the difference cancels the isotropic vibrational
        offset, and the middle lag still has many origins (at the last lag a single walker's per-axis MSD
        is so noisy that the ratio, a sum of squares, is biased high). Principal axes taken along x, y, z."""
        start_lag = int(lags[0])
        second, fourth_norm, fourth_axis = displacement_cumulants(walkers, start_lag)
        if axis is not None:
            k = fourth_cumulant_per_frame(second[axis, axis], fourth_axis[axis], start_lag)
            aniso = 1.0
        else:
            k = fourth_cumulant_per_frame(second, fourth_norm, start_lag)
            mid_lag = int(lags[len(lags) // 2])
            growth = per_axis[mid_lag] - per_axis[start_lag] if mid_lag > start_lag else per_axis[start_lag]
            aniso = (
                anisotropy_ratio
                if anisotropy_ratio is not None
                else anisotropy_ratio_of(
                    np.diag(np.clip(growth, 0.0, None)) if growth.max() > 0 else np.eye(3)
                )
            )
        return (0.0 if gaussian_steps else k), aniso

    if window_ps is not None:
        start, end = window_ps
        if not 0 <= start < end <= duration_ps:
            raise ValueError(f"window_ps={window_ps} must satisfy 0 <= start < end <= {duration_ps:.6g} ps")
        windows = [(round(start / frame_interval_ps), round(end / frame_interval_ps))]
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
        k, aniso = step_shape(lags)
        fit = fit_line_window(
            msd,
            frame_interval_ps,
            lags,
            fourth_cumulant=k,
            anisotropy_ratio=aniso,
            n_walkers=n_walkers,
            dims=dimensions,
            noise_var=noise_var,
        )
        fits.append(fit)
        candidates.append(
            {
                "start_ps": float(lags[0] * frame_interval_ps),
                "end_ps": float(lags[-1] * frame_interval_ps),
                "D_A2_per_ps": fit.slope_per_ps / (2 * dimensions),
                "relative_se": _relative(fit.slope_se_per_ps, fit.slope_per_ps),
                "chi2_per_dof": fit.chi2 / max(fit.dof, 1),
                "p_value": fit.p_value,
            }
        )
        if fit.p_value >= ACCEPT_P_VALUE:
            break  # later starts only lose precision; the rows so far document why this one was chosen
    accepted = [i for i, f in enumerate(fits) if f.p_value >= ACCEPT_P_VALUE]
    chosen = accepted[0] if accepted else int(np.argmax([f.p_value for f in fits]))
    fit = fits[chosen]
    to_d = 1.0 / (2 * dimensions)  # MSD = 2·dims·D·t
    low, high = variance_interval(fit.slope_per_ps, fit.slope_variance_coeffs)
    upper = variance_interval(fit.slope_per_ps, fit.slope_variance_coeffs, Z95_ONE_SIDED)[1]
    if not np.isfinite(low) or np.isnan(upper):
        # No positive slope is compatible (ŝ well below 0), by the two-sided test or only by the narrower
        # one-sided one (caged ions: the two-sided interval can be (0, inf) while the one-sided finds no s):
        # bound it with the variance at the apparent MSD/t.
        apparent = float(msd[fit.lags[-1]] / (fit.lags[-1] * frame_interval_ps))
        a, b, c = fit.slope_variance_coeffs
        apparent_se = np.sqrt(a * apparent**2 + b * apparent + c)
        upper = Z95_ONE_SIDED * apparent_se
        if not np.isfinite(low):
            low, high = 0.0, Z95 * apparent_se
    model_relative_se = relative_se = _relative(fit.slope_se_per_ps, fit.slope_per_ps)
    block_d = _block_diffusion(
        walkers,
        frame_interval_ps,
        n_blocks,
        end_fraction=end_fraction,
        n_points=n_points,
        start_fractions=start_fractions,
        gaussian_steps=gaussian_steps,
        anisotropy_ratio=anisotropy_ratio,
        axis=axis,
        noise_var=noise_var,
    )
    batch_rel = (
        float(np.std(block_d, ddof=1) / np.sqrt(len(block_d)) / (fit.slope_per_ps * to_d))
        if len(block_d) >= 2 and fit.slope_per_ps > 0
        else float("nan")
    )
    source = "model"
    if batch_rel > relative_se:
        # The blocks disagree more than the model allows: their scatter is the honest error. Five blocks
        # estimate a standard error with 4 degrees of freedom, hence Student's t (measured on a one-vacancy
        # lattice gas: 85 % → 94 % coverage; independent walkers 96–98 %, tests/analysis).
        dof = len(block_d) - 1
        b_low, b_high = calibrated_interval(fit.slope_per_ps, batch_rel, float(stats.t.ppf(0.975, dof)))
        low, high = min(low, b_low), max(high, b_high)
        upper = max(upper, calibrated_interval(fit.slope_per_ps, batch_rel, float(stats.t.ppf(0.95, dof)))[1])
        relative_se, source = batch_rel, "batch means"
    return DiffusionFit(
        D_A2_per_ps=fit.slope_per_ps * to_d,
        D_A2_per_ps_ci95=(low * to_d, high * to_d),
        D_A2_per_ps_upper95=upper * to_d,
        relative_se=relative_se,
        dimensions=dimensions,
        fit=fit,
        window_ps=(float(fit.lags[0] * frame_interval_ps), float(fit.lags[-1] * frame_interval_ps)),
        candidates=candidates,
        window_accepted=bool(accepted),
        time_ps=np.arange(n_frames) * frame_interval_ps,
        msd=msd,
        block_D_A2_per_ps=tuple(float(d) for d in block_d),
        batch_relative_se=batch_rel,
        model_relative_se=model_relative_se,
        interval_source=source,
    )


#: Fewer frames per block than this and batch means is skipped (a block's MSD needs a window of its own).
MIN_BLOCK_FRAMES = 20


def _block_diffusion(
    walkers: np.ndarray, frame_interval_ps: float, n_blocks: int, **fit_options
) -> np.ndarray:
    """D (Å²/ps) fitted on each of ``n_blocks`` consecutive, non-overlapping blocks of the run; empty when
    the blocks are too short. Each block chooses its own window, as the whole run does."""
    n_frames = walkers.shape[0]
    block = (n_frames - 1) // n_blocks if n_blocks >= 2 else 0
    if block < MIN_BLOCK_FRAMES:
        return np.zeros(0)
    values = []
    for b in range(n_blocks):
        try:
            fit = fit_diffusion(
                walkers[b * block : (b + 1) * block + 1], frame_interval_ps, n_blocks=0, **fit_options
            )
        except ValueError:
            return np.zeros(0)
        values.append(fit.D_A2_per_ps)
    return np.asarray(values)
