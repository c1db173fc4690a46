"""Weighted Arrhenius fit of ln D vs 1/T, activation energy and extrapolation with propagated uncertainty."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from superionic.analysis._diffusion import Z95
from superionic.units import BOLTZMANN_EV_PER_K


@dataclass(frozen=True)
class ArrheniusFit:
    """ln D = ln D0 − Ea / (kB T), fitted by weighted least squares.

    Attributes:
        Ea_eV, Ea_eV_ci95: activation energy and its 95 % interval.
        ln_D0_cm2_per_s: intercept (ln of the prefactor in cm²/s); ``D0_cm2_per_s_ci95`` its 95 % interval.
        param_cov: ``[2, 2]`` covariance of (ln D0, −Ea/kB) in (1, K) after the Birge scaling below.
        birge_ratio: sqrt(χ²/dof) of the weighted fit (1 if dof = 0); the covariance is scaled by
            birge_ratio² when the points scatter more than their error bars allow (χ² test, p < 0.05).
        quantile: the two-sided 95 % quantile used (normal, or Student-t with dof when Birge-scaled).
        temperatures_K, ln_D, ln_D_se: the fitted points.
    """

    Ea_eV: float
    Ea_eV_ci95: tuple[float, float]
    ln_D0_cm2_per_s: float
    D0_cm2_per_s_ci95: tuple[float, float]
    param_cov: np.ndarray
    birge_ratio: float
    quantile: float
    temperatures_K: np.ndarray
    ln_D: np.ndarray
    ln_D_se: np.ndarray

    def ln_D_at(self, temperature_K: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ln D, its standard error) at ``temperature_K`` (D in cm²/s)."""
        inv_t = 1.0 / np.asarray(temperature_K, dtype=np.float64)
        design = np.stack([np.ones_like(inv_t), inv_t], axis=-1)
        beta = np.array([self.ln_D0_cm2_per_s, -self.Ea_eV / BOLTZMANN_EV_PER_K])
        mean = design @ beta
        se = np.sqrt(np.einsum("...i,ij,...j->...", design, self.param_cov, design))
        return mean, se

    def D_at(self, temperature_K: float) -> tuple[float, tuple[float, float]]:
        """D (cm²/s) at ``temperature_K`` with its 95 % interval (log-normal, from the fit covariance)."""
        mean, se = self.ln_D_at(temperature_K)
        return float(np.exp(mean)), (
            float(np.exp(mean - self.quantile * se)),
            float(np.exp(mean + self.quantile * se)),
        )


def fit_arrhenius(
    temperatures_K: np.ndarray, D_cm2_per_s: np.ndarray, D_se_cm2_per_s: np.ndarray
) -> ArrheniusFit:
    """Weighted least-squares fit of ln D vs 1/T (weights 1/σ²(ln D), σ(ln D) = σ_D / D).

    Args:
        temperatures_K: ``[T]``, at least two distinct.
        D_cm2_per_s: ``[T]`` positive estimates.
        D_se_cm2_per_s: ``[T]`` their standard errors.
    """
    temps = np.asarray(temperatures_K, dtype=np.float64)
    d = np.asarray(D_cm2_per_s, dtype=np.float64)
    d_se = np.asarray(D_se_cm2_per_s, dtype=np.float64)
    if len(np.unique(temps)) < 2:
        raise ValueError(f"an Arrhenius fit needs at least two distinct temperatures, got {temps.tolist()} K")
    if np.any(d <= 0) or np.any(d_se <= 0):
        raise ValueError("Arrhenius fit needs positive D and positive standard errors at every temperature")
    y = np.log(d)
    y_se = d_se / d
    design = np.stack([np.ones_like(temps), 1.0 / temps], axis=1)
    weights = 1.0 / y_se**2
    normal = design.T @ (design * weights[:, None])
    cov = np.linalg.inv(normal)
    beta = cov @ (design.T @ (weights * y))
    dof = len(temps) - 2
    chi2 = float(np.sum(weights * (y - design @ beta) ** 2))
    birge2 = chi2 / dof if dof > 0 else 1.0
    # Trust the error bars unless the scatter contradicts them (χ² test at 5 %); widening on every χ² > dof
    # would make correct error bars over-cover.
    if dof > 0 and stats.chi2.sf(chi2, dof) < 0.05:
        cov = cov * birge2
        quantile = float(stats.t.ppf(0.975, dof))
    else:
        quantile = Z95
    ea = -beta[1] * BOLTZMANN_EV_PER_K
    ea_se = np.sqrt(cov[1, 1]) * BOLTZMANN_EV_PER_K
    d0_se = np.sqrt(cov[0, 0])
    return ArrheniusFit(
        Ea_eV=float(ea),
        Ea_eV_ci95=(float(ea - quantile * ea_se), float(ea + quantile * ea_se)),
        ln_D0_cm2_per_s=float(beta[0]),
        D0_cm2_per_s_ci95=(
            float(np.exp(beta[0] - quantile * d0_se)),
            float(np.exp(beta[0] + quantile * d0_se)),
        ),
        param_cov=cov,
        birge_ratio=float(np.sqrt(birge2)),
        quantile=quantile,
        temperatures_K=temps,
        ln_D=y,
        ln_D_se=y_se,
    )
