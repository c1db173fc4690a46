"""Result objects of the analysis: transport at one temperature and the whole report.

Every attribute is named with its unit, and ``to_dict`` (the JSON schema) uses exactly the attribute names, so a
quantity has one name in Python and JSON. Results are built once and not changed afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from superionic.analysis._arrhenius import ArrheniusFit
from superionic.analysis._conductivity import (
    GNOME_THRESHOLD_MS_PER_CM,
    charge_msd_slope_to_sigma_mS_per_cm,
    nernst_einstein_factor_mS_per_cm_per_cm2_per_s,
    ratio_interval_fieller,
    tracer_D_to_cm2_per_s,
)
from superionic.analysis._diffusion import DiffusionFit
from superionic.records import json_safe

# Framework atoms of a crystal vibrate (RMS displacement from a starting frame ~0.2–0.6 Å even at 1300 K) and
# hop rarely; an RMS above this, averaged over all non-mobile atoms, means the host lattice itself is flowing
# (melting, amorphisation, decomposition) — a Lindemann-style test on the framework, not on the mobile ions.
FRAMEWORK_RMS_LIMIT_A = 1.5


def framework_melted(framework_rms_A: float | None) -> bool:
    """Whether a framework RMS displacement (Å; None when every atom is mobile) means the host lattice flowed.

    >>> framework_melted(0.6), framework_melted(2.2), framework_melted(None)
    (False, True, False)
    """
    return framework_rms_A is not None and framework_rms_A > FRAMEWORK_RMS_LIMIT_A


#: He et al. (npj Comput. Mater. 4, 18 (2018)): relative error of D ≈ 3.43/sqrt(N_jump) + 0.04. Below this many
#: hops that rule predicts > 38 % error, so the run is flagged as too short.
MIN_HOPS_RELIABLE = 100
#: Fewer hops than this (the Poisson 95 % upper limit for zero events is 3.0) count as "no diffusion observed":
#: D is then reported as an upper bound only.
MIN_HOPS_OBSERVED = 3.0
#: A window whose log-log MSD slope is below this is flagged sub-diffusive.
MIN_MSD_EXPONENT = 0.9

SCHEMA = "superionic.analysis.TransportReport/2"


@dataclass(frozen=True)
class Estimate:
    """A value with its 95 % interval (``ci95`` None where the data cannot bound it), in the unit its source
    names (e.g. ``sigma_at`` → mS/cm)."""

    value: float
    ci95: tuple[float, float] | None


def _scaled(pair: tuple[float, float] | None, factor: float) -> tuple[float, float] | None:
    return None if pair is None else (pair[0] * factor, pair[1] * factor)


@dataclass(frozen=True)
class TemperatureResult:
    """Transport at one temperature (replicas combined). Units are in the names; ``to_dict`` uses the same names.

    Attributes:
      tracer: the MSD fit of the mobile ions; tracer_axes: of each Cartesian axis (same window).
      charge_fit: the fit of the charge MSD ⟨|Σ q Δr|²⟩ (one collective walker per replica).
      diffusion_observed: enough hops (>= 3) and a D significantly above zero; otherwise D is only bounded.
    """

    temperature_K: float
    species: str
    charge_e: float
    n_replicas: int
    n_frames: int
    frame_interval_ps: float
    n_mobile_ions: float
    volume_A3: float
    tracer: DiffusionFit
    tracer_axes: tuple[DiffusionFit, DiffusionFit, DiffusionFit]
    charge_fit: DiffusionFit
    diffusion_observed: bool
    n_jumps_estimate: float
    hop_length_A: float
    warnings: tuple[str, ...] = ()
    framework_rms_displacement_A: float | None = None  # None when every atom is mobile

    @property
    def framework_melted(self) -> bool:
        """The framework moved more than :data:`FRAMEWORK_RMS_LIMIT_A` RMS: this is a liquid's transport."""
        return framework_melted(self.framework_rms_displacement_A)

    @property
    def duration_ps(self) -> float:
        return (self.n_frames - 1) * self.frame_interval_ps

    @property
    def conversion_mS_per_cm_per_cm2_per_s(self) -> float:
        """Nernst–Einstein σ/D (pymatgen-analysis-diffusion's ``get_conversion_factor``)."""
        return nernst_einstein_factor_mS_per_cm_per_cm2_per_s(
            self.n_mobile_ions, self.volume_A3, self.charge_e, self.temperature_K
        )

    @property
    def D_tracer_cm2_per_s(self) -> float | None:
        return tracer_D_to_cm2_per_s(self.tracer.D_A2_per_ps) if self.diffusion_observed else None

    @property
    def D_tracer_cm2_per_s_ci95(self) -> tuple[float, float] | None:
        if not self.diffusion_observed:
            return None
        return _scaled(self.tracer.D_A2_per_ps_ci95, tracer_D_to_cm2_per_s(1.0))

    @property
    def D_tracer_cm2_per_s_upper95(self) -> float:
        """One-sided 95 % upper bound; when no hops were seen, at least the 3-hop Poisson detection limit
        (and that limit alone when the MSD gives no finite bound)."""
        detection_limit_A2_per_ps = (
            MIN_HOPS_OBSERVED
            * self.hop_length_A**2
            / (6.0 * self.n_mobile_ions * self.n_replicas * self.duration_ps)
        )
        bound = self.tracer.D_A2_per_ps_upper95
        if not self.diffusion_observed:
            # With few ions the MSD's variance model may bound nothing (inf); the hop count still does.
            bound = max(bound, detection_limit_A2_per_ps) if np.isfinite(bound) else detection_limit_A2_per_ps
        return tracer_D_to_cm2_per_s(bound)

    @property
    def D_tracer_relative_se(self) -> float:
        return self.tracer.relative_se

    @property
    def D_tracer_se_cm2_per_s(self) -> float | None:
        d = self.D_tracer_cm2_per_s
        return None if d is None else d * self.tracer.relative_se

    @property
    def D_tracer_xyz_cm2_per_s(self) -> list[float] | None:
        if not self.diffusion_observed:
            return None
        return [tracer_D_to_cm2_per_s(a.D_A2_per_ps) for a in self.tracer_axes]

    @property
    def D_tracer_xyz_cm2_per_s_ci95(self) -> list[tuple[float, float] | None] | None:
        if not self.diffusion_observed:
            return None
        return [_scaled(a.D_A2_per_ps_ci95, tracer_D_to_cm2_per_s(1.0)) for a in self.tracer_axes]

    @property
    def sigma_mS_per_cm(self) -> float | None:
        d = self.D_tracer_cm2_per_s
        return None if d is None else d * self.conversion_mS_per_cm_per_cm2_per_s

    @property
    def sigma_mS_per_cm_ci95(self) -> tuple[float, float] | None:
        return _scaled(self.D_tracer_cm2_per_s_ci95, self.conversion_mS_per_cm_per_cm2_per_s)

    @property
    def sigma_mS_per_cm_upper95(self) -> float:
        return self.D_tracer_cm2_per_s_upper95 * self.conversion_mS_per_cm_per_cm2_per_s

    @property
    def sigma_charge_mS_per_cm(self) -> float | None:
        """σ from the charge MSD (includes ion–ion correlations); None when no diffusion was observed."""
        if not self.diffusion_observed:
            return None
        return self.charge_fit.fit.slope_per_ps * self._charge_factor

    @property
    def sigma_charge_mS_per_cm_ci95(self) -> tuple[float, float] | None:
        if not self.diffusion_observed:
            return None
        return _scaled(self.charge_fit.D_A2_per_ps_ci95, 6.0 * self._charge_factor)  # D-like value = slope/6

    @property
    def _charge_factor(self) -> float:
        # charge walkers are averaged over replicas, so the slope is per replica = per cell of volume V
        return charge_msd_slope_to_sigma_mS_per_cm(self.volume_A3, self.temperature_K)

    @property
    def haven_ratio(self) -> float | None:
        sigma, sigma_charge = self.sigma_mS_per_cm, self.sigma_charge_mS_per_cm
        if sigma is None or sigma_charge is None or sigma_charge <= 0:
            return None
        return sigma / sigma_charge

    @property
    def haven_ratio_ci95(self) -> tuple[float, float] | None:
        """Fieller interval for σ_NE / σ_charge (independent errors); None when σ_charge is not resolved."""
        sigma, sigma_charge = self.sigma_mS_per_cm, self.sigma_charge_mS_per_cm
        if sigma is None or sigma_charge is None:
            return None
        return ratio_interval_fieller(
            sigma,
            sigma * self.tracer.relative_se,
            sigma_charge,
            abs(sigma_charge) * self.charge_fit.relative_se,
        )

    # Fit diagnostics, named as in the JSON.
    @property
    def fit_window_ps(self) -> tuple[float, float]:
        return self.tracer.window_ps

    @property
    def fit_window_accepted(self) -> bool:
        return self.tracer.window_accepted

    @property
    def fit_chi2_per_dof(self) -> float:
        return self.tracer.fit.chi2 / max(self.tracer.fit.dof, 1)

    @property
    def fit_window_candidates(self) -> list[dict]:
        return self.tracer.candidates

    @property
    def D_tracer_interval_source(self) -> str:
        """``"model"`` or ``"batch means"`` (the run's blocks scattered more than the model allows)."""
        return self.tracer.interval_source

    @property
    def D_tracer_blocks_cm2_per_s(self) -> list[float]:
        """D fitted on each consecutive block of the run (batch means), cm²/s."""
        return [d * tracer_D_to_cm2_per_s(1.0) for d in self.tracer.block_D_A2_per_ps]

    @property
    def charge_fit_window_ps(self) -> tuple[float, float]:
        return self.charge_fit.window_ps

    @property
    def msd_exponent(self) -> float:
        return self.tracer.fit.msd_exponent

    @property
    def he_rule_relative_error(self) -> float | None:
        return he_rule_relative_error(self.n_jumps_estimate)

    @property
    def msd_time_ps(self) -> np.ndarray:
        """The tracer MSD's lag times (at most ~200 of them, for the report)."""
        return self.tracer.time_ps[:: max(1, self.n_frames // 200)]

    @property
    def msd_tracer_A2(self) -> np.ndarray:
        return self.tracer.msd[:: max(1, self.n_frames // 200)]

    _JSON = (
        "temperature_K", "species", "charge_e", "n_replicas", "n_frames", "frame_interval_ps", "duration_ps",
        "n_mobile_ions", "volume_A3", "diffusion_observed", "D_tracer_cm2_per_s", "D_tracer_cm2_per_s_ci95",
        "D_tracer_cm2_per_s_upper95", "D_tracer_relative_se", "D_tracer_xyz_cm2_per_s",
        "D_tracer_xyz_cm2_per_s_ci95", "sigma_mS_per_cm", "sigma_mS_per_cm_ci95", "sigma_mS_per_cm_upper95",
        "sigma_charge_mS_per_cm", "sigma_charge_mS_per_cm_ci95", "haven_ratio", "haven_ratio_ci95",
        "conversion_mS_per_cm_per_cm2_per_s", "fit_window_ps", "fit_window_accepted", "fit_chi2_per_dof",
        "fit_window_candidates", "D_tracer_interval_source", "D_tracer_blocks_cm2_per_s", "charge_fit_window_ps",
        "msd_exponent", "n_jumps_estimate",
        "framework_rms_displacement_A", "he_rule_relative_error", "hop_length_A", "msd_time_ps", "msd_tracer_A2",
        "warnings",
    )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the attributes above; every estimate has its ``_ci95`` beside it (None where the
        data cannot bound it)."""
        return json_safe({name: getattr(self, name) for name in self._JSON})


def he_rule_relative_error(n_jumps: float) -> float | None:
    """He et al. 2018 rule of thumb for the relative standard deviation of D: 3.43/√N_jump + 0.04."""
    return None if n_jumps <= 0 else 3.43 / math.sqrt(n_jumps) + 0.04


@dataclass(frozen=True)
class TransportReport:
    """Transport at every temperature, the Arrhenius fit and the extrapolations. Units are in the names;
    ``to_dict`` (the schema) uses the same names."""

    species: str
    results: tuple[TemperatureResult, ...]
    arrhenius: ArrheniusFit | None
    extrapolation_temperature_K: float
    warnings: tuple[str, ...]

    def sigma_at(self, temperature_K: float) -> Estimate | None:
        """σ (mS/cm, Nernst–Einstein, Haven ratio 1) at ``temperature_K`` with its 95 % interval: from the
        Arrhenius fit of tracer D when there is one, else from a run at that temperature; None when neither."""
        if self.arrhenius is None:
            matching = [r for r in self.results if abs(r.temperature_K - temperature_K) < 0.5]
            if matching and matching[0].sigma_mS_per_cm is not None:
                return Estimate(matching[0].sigma_mS_per_cm, matching[0].sigma_mS_per_cm_ci95)
            return None
        d, (low, high) = self.arrhenius.D_at(temperature_K)
        observed = [r for r in self.results if r.diffusion_observed]
        factor = nernst_einstein_factor_mS_per_cm_per_cm2_per_s(
            float(np.mean([r.n_mobile_ions for r in observed])),
            float(np.mean([r.volume_A3 for r in observed])),
            observed[0].charge_e,
            temperature_K,
        )
        return Estimate(d * factor, (low * factor, high * factor))

    @property
    def temperatures_K(self) -> list[float]:
        return [r.temperature_K for r in self.results]

    @property
    def Ea_eV(self) -> float | None:
        return None if self.arrhenius is None else self.arrhenius.Ea_eV

    @property
    def Ea_eV_ci95(self) -> tuple[float, float] | None:
        return None if self.arrhenius is None else self.arrhenius.Ea_eV_ci95

    @property
    def D0_cm2_per_s(self) -> float | None:
        return None if self.arrhenius is None else float(np.exp(self.arrhenius.ln_D0_cm2_per_s))

    @property
    def D0_cm2_per_s_ci95(self) -> tuple[float, float] | None:
        return None if self.arrhenius is None else self.arrhenius.D0_cm2_per_s_ci95

    @property
    def arrhenius_birge_ratio(self) -> float | None:
        return None if self.arrhenius is None else self.arrhenius.birge_ratio

    @property
    def D_tracer_300K_cm2_per_s(self) -> float | None:
        return None if self.arrhenius is None else self.arrhenius.D_at(300.0)[0]

    @property
    def D_tracer_300K_cm2_per_s_ci95(self) -> tuple[float, float] | None:
        return None if self.arrhenius is None else self.arrhenius.D_at(300.0)[1]

    @property
    def sigma_300K_mS_per_cm(self) -> float | None:
        """σ(300 K), mS/cm, from the Arrhenius extrapolation of tracer D (Haven ratio 1)."""
        estimate = self.sigma_at(300.0)
        return None if estimate is None else estimate.value

    @property
    def sigma_300K_mS_per_cm_ci95(self) -> tuple[float, float] | None:
        estimate = self.sigma_at(300.0)
        return None if estimate is None else estimate.ci95

    @property
    def sigma_extrapolated_mS_per_cm(self) -> float | None:
        """σ at ``extrapolation_temperature_K``, mS/cm."""
        estimate = self.sigma_at(self.extrapolation_temperature_K)
        return None if estimate is None else estimate.value

    @property
    def sigma_extrapolated_mS_per_cm_ci95(self) -> tuple[float, float] | None:
        estimate = self.sigma_at(self.extrapolation_temperature_K)
        return None if estimate is None else estimate.ci95

    @property
    def sigma_1000K_mS_per_cm(self) -> float | None:
        estimate = self.sigma_at(1000.0)
        return None if estimate is None else estimate.value

    @property
    def sigma_1000K_mS_per_cm_ci95(self) -> tuple[float, float] | None:
        estimate = self.sigma_at(1000.0)
        return None if estimate is None else estimate.ci95

    @property
    def gnome_threshold_mS_per_cm(self) -> float:
        return GNOME_THRESHOLD_MS_PER_CM

    @property
    def gnome_superionic_1000K(self) -> bool | None:
        """GNoME's classification: σ(1000 K) > 10^1.18 mS/cm (None when σ(1000 K) is not known)."""
        sigma = self.sigma_1000K_mS_per_cm
        return None if sigma is None else bool(sigma > GNOME_THRESHOLD_MS_PER_CM)

    _JSON = (
        "species", "temperatures_K", "Ea_eV", "Ea_eV_ci95", "D0_cm2_per_s", "D0_cm2_per_s_ci95",
        "arrhenius_birge_ratio", "sigma_300K_mS_per_cm", "sigma_300K_mS_per_cm_ci95",
        "extrapolation_temperature_K", "sigma_extrapolated_mS_per_cm", "sigma_extrapolated_mS_per_cm_ci95",
        "sigma_1000K_mS_per_cm", "sigma_1000K_mS_per_cm_ci95", "gnome_threshold_mS_per_cm",
        "gnome_superionic_1000K", "D_tracer_300K_cm2_per_s", "D_tracer_300K_cm2_per_s_ci95", "warnings",
    )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (strict JSON: non-finite numbers become None)."""
        return json_safe(
            {"schema": SCHEMA, **{name: getattr(self, name) for name in self._JSON},
             "results": [r.to_dict() for r in self.results]}
        )  # fmt: skip
