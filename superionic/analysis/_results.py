"""Result objects of the analysis: per-temperature transport and the whole report, with their JSON schema."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from superionic.analysis._arrhenius import ArrheniusFit
from superionic.analysis._conductivity import (
    charge_msd_slope_to_sigma_mS_per_cm,
    ratio_interval_fieller,
    tracer_D_to_cm2_per_s,
)
from superionic.analysis._diffusion import DiffusionFit
from superionic.analysis._units import (
    GNOME_THRESHOLD_MS_PER_CM,
    nernst_einstein_factor_mS_per_cm_per_cm2_per_s,
)

#: He et al. (npj Comput. Mater. 4, 18 (2018)): relative error of D ≈ 3.43/sqrt(N_jump) + 0.04. Below this many
#: hops that rule predicts > 38 % error, so the run is flagged as too short.
MIN_HOPS_RELIABLE = 100
#: Fewer hops than this (the Poisson 95 % upper limit for zero events is 3.0) count as "no diffusion observed":
#: D is then reported as an upper bound only.
MIN_HOPS_OBSERVED = 3.0
#: A window whose log-log MSD slope is below this is flagged sub-diffusive.
MIN_MSD_EXPONENT = 0.9

SCHEMA = "superionic.analysis.TransportReport/1"


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _json_clean(obj: Any) -> Any:
    """Recursively turn numpy scalars into Python numbers and non-finite floats into None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def _pair(pair: Sequence[float] | None) -> list[float | None] | None:
    return None if pair is None else [_finite_or_none(v) for v in pair]


@dataclass(frozen=True)
class TemperatureResult:
    """Transport at one temperature (replicas combined). Field units are in the names; see ``to_dict``."""

    temperature_K: float
    species: str
    charge_e: float
    n_replicas: int
    n_frames: int
    timestep_ps: float
    n_mobile_ions: float
    volume_A3: float
    tracer: DiffusionFit
    tracer_axes: tuple[DiffusionFit, DiffusionFit, DiffusionFit]
    charge: DiffusionFit
    diffusion_observed: bool
    n_jumps_estimate: float
    hop_length_A: float
    warnings: list[str] = field(default_factory=list)
    framework_rms_displacement_A: float | None = None  # None when every atom is mobile

    @property
    def duration_ps(self) -> float:
        return (self.n_frames - 1) * self.timestep_ps

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
        low, high = self.tracer.D_A2_per_ps_ci95
        return tracer_D_to_cm2_per_s(low), tracer_D_to_cm2_per_s(high)

    @property
    def D_tracer_cm2_per_s_upper95(self) -> float:
        """One-sided 95 % upper bound; when no hops were seen, at least the 3-hop Poisson detection limit."""
        detection_limit_A2_per_ps = (
            MIN_HOPS_OBSERVED
            * self.hop_length_A**2
            / (6.0 * self.n_mobile_ions * self.n_replicas * self.duration_ps)
        )
        bound = self.tracer.D_A2_per_ps_upper95
        if not self.diffusion_observed:
            bound = max(bound, detection_limit_A2_per_ps)
        return tracer_D_to_cm2_per_s(bound)

    @property
    def D_tracer_se_cm2_per_s(self) -> float | None:
        d = self.D_tracer_cm2_per_s
        return None if d is None else d * self.tracer.relative_se

    @property
    def sigma_mS_per_cm(self) -> float | None:
        d = self.D_tracer_cm2_per_s
        return None if d is None else d * self.conversion_mS_per_cm_per_cm2_per_s

    @property
    def sigma_mS_per_cm_ci95(self) -> tuple[float, float] | None:
        ci = self.D_tracer_cm2_per_s_ci95
        return None if ci is None else (ci[0] * self.conversion_mS_per_cm_per_cm2_per_s,
                                        ci[1] * self.conversion_mS_per_cm_per_cm2_per_s)  # fmt: skip

    @property
    def sigma_charge_mS_per_cm(self) -> float | None:
        """σ from the charge MSD (includes ion–ion correlations); None when no diffusion was observed."""
        if not self.diffusion_observed:
            return None
        return self.charge.fit.slope_per_ps * self._charge_factor

    @property
    def sigma_charge_mS_per_cm_ci95(self) -> tuple[float, float] | None:
        if not self.diffusion_observed:
            return None
        low, high = self.charge.D_A2_per_ps_ci95
        factor = 6.0 * self._charge_factor  # D-like value = slope/6
        return low * factor, high * factor

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
            sigma, sigma * self.tracer.relative_se, sigma_charge, abs(sigma_charge) * self.charge.relative_se
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; every estimate has its ``_ci95`` beside it (None where not bounded)."""
        conv = self.conversion_mS_per_cm_per_cm2_per_s
        axes = [
            tracer_D_to_cm2_per_s(a.D_A2_per_ps) if self.diffusion_observed else None
            for a in self.tracer_axes
        ]
        axes_ci = [
            _pair([tracer_D_to_cm2_per_s(v) for v in a.D_A2_per_ps_ci95]) if self.diffusion_observed else None
            for a in self.tracer_axes
        ]
        stride = max(1, self.n_frames // 200)
        return _json_clean(
            {
                "temperature_K": self.temperature_K,
                "species": self.species,
                "charge_e": self.charge_e,
                "n_replicas": self.n_replicas,
                "n_frames": self.n_frames,
                "timestep_ps": self.timestep_ps,
                "duration_ps": self.duration_ps,
                "n_mobile_ions": self.n_mobile_ions,
                "volume_A3": self.volume_A3,
                "diffusion_observed": self.diffusion_observed,
                "D_tracer_cm2_per_s": _finite_or_none(self.D_tracer_cm2_per_s),
                "D_tracer_cm2_per_s_ci95": _pair(self.D_tracer_cm2_per_s_ci95),
                "D_tracer_cm2_per_s_upper95": _finite_or_none(self.D_tracer_cm2_per_s_upper95),
                "D_tracer_relative_se": self.tracer.relative_se,
                "D_tracer_xyz_cm2_per_s": axes,
                "D_tracer_xyz_cm2_per_s_ci95": axes_ci,
                "sigma_mS_per_cm": _finite_or_none(self.sigma_mS_per_cm),
                "sigma_mS_per_cm_ci95": _pair(self.sigma_mS_per_cm_ci95),
                "sigma_mS_per_cm_upper95": _finite_or_none(self.D_tracer_cm2_per_s_upper95 * conv),
                "sigma_charge_mS_per_cm": _finite_or_none(self.sigma_charge_mS_per_cm),
                "sigma_charge_mS_per_cm_ci95": _pair(self.sigma_charge_mS_per_cm_ci95),
                "haven_ratio": _finite_or_none(self.haven_ratio),
                "haven_ratio_ci95": _pair(self.haven_ratio_ci95),
                "conversion_mS_per_cm_per_cm2_per_s": conv,
                "fit_window_ps": list(self.tracer.window_ps),
                "fit_window_accepted": self.tracer.window_accepted,
                "fit_chi2_per_dof": self.tracer.fit.chi2 / max(self.tracer.fit.dof, 1),
                "fit_window_candidates": self.tracer.candidates,
                "charge_fit_window_ps": list(self.charge.window_ps),
                "msd_exponent": _finite_or_none(self.tracer.fit.msd_exponent),
                "n_jumps_estimate": self.n_jumps_estimate,
                "framework_rms_displacement_A": _finite_or_none(self.framework_rms_displacement_A),
                "he_rule_relative_error": he_rule_relative_error(self.n_jumps_estimate),
                "hop_length_A": self.hop_length_A,
                "msd_time_ps": self.tracer.time_ps[::stride].tolist(),
                "msd_tracer_A2": self.tracer.msd[::stride].tolist(),
                "warnings": list(self.warnings),
            }
        )


def he_rule_relative_error(n_jumps: float) -> float | None:
    """He et al. 2018 rule of thumb for the relative standard deviation of D: 3.43/√N_jump + 0.04."""
    return None if n_jumps <= 0 else 3.43 / math.sqrt(n_jumps) + 0.04


@dataclass(frozen=True)
class TransportReport:
    """Transport at every temperature, the Arrhenius fit and the extrapolations. ``to_dict`` is the schema."""

    species: str
    results: list[TemperatureResult]
    arrhenius: ArrheniusFit | None
    extrapolation_temperature_K: float
    warnings: list[str]

    def _sigma_at(self, temperature_K: float) -> tuple[float, tuple[float, float]] | None:
        if self.arrhenius is None:
            matching = [r for r in self.results if abs(r.temperature_K - temperature_K) < 0.5]
            if matching and matching[0].sigma_mS_per_cm is not None:
                return matching[0].sigma_mS_per_cm, matching[0].sigma_mS_per_cm_ci95  # type: ignore[return-value]
            return None
        d, (low, high) = self.arrhenius.D_at(temperature_K)
        observed = [r for r in self.results if r.diffusion_observed]
        factor = nernst_einstein_factor_mS_per_cm_per_cm2_per_s(
            float(np.mean([r.n_mobile_ions for r in observed])),
            float(np.mean([r.volume_A3 for r in observed])),
            observed[0].charge_e,
            temperature_K,
        )
        return d * factor, (low * factor, high * factor)

    @property
    def sigma_300K_mS_per_cm(self) -> tuple[float, tuple[float, float]] | None:
        """σ(300 K) with its 95 % interval, from the Arrhenius extrapolation of tracer D (Haven ratio 1)."""
        return self._sigma_at(300.0)

    @property
    def gnome_superionic_1000K(self) -> bool | None:
        """GNoME's classification: σ(1000 K) > 10^1.18 mS/cm; σ(1000 K) from the Arrhenius fit when there is
        one, else from a run at 1000 K (None when neither exists)."""
        value = self._sigma_at(1000.0)
        return None if value is None else bool(value[0] > GNOME_THRESHOLD_MS_PER_CM)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (``json.dumps`` works on it; infinities become None)."""
        arr = self.arrhenius
        s300 = self._sigma_at(300.0)
        s1000 = self._sigma_at(1000.0)
        sx = self._sigma_at(self.extrapolation_temperature_K)
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "species": self.species,
            "temperature_K": [r.temperature_K for r in self.results],
            "results": [r.to_dict() for r in self.results],
            "Ea_eV": None if arr is None else arr.Ea_eV,
            "Ea_eV_ci95": None if arr is None else _pair(arr.Ea_eV_ci95),
            "D0_cm2_per_s": None if arr is None else float(np.exp(arr.ln_D0_cm2_per_s)),
            "D0_cm2_per_s_ci95": None if arr is None else _pair(arr.D0_cm2_per_s_ci95),
            "arrhenius_birge_ratio": None if arr is None else arr.birge_ratio,
            "sigma_300K_mS_per_cm": None if s300 is None else s300[0],
            "sigma_300K_mS_per_cm_ci95": None if s300 is None else _pair(s300[1]),
            "extrapolation_temperature_K": self.extrapolation_temperature_K,
            "sigma_extrapolated_mS_per_cm": None if sx is None else sx[0],
            "sigma_extrapolated_mS_per_cm_ci95": None if sx is None else _pair(sx[1]),
            "sigma_1000K_mS_per_cm": None if s1000 is None else s1000[0],
            "sigma_1000K_mS_per_cm_ci95": None if s1000 is None else _pair(s1000[1]),
            "gnome_superionic_1000K": None if s1000 is None else bool(s1000[0] > GNOME_THRESHOLD_MS_PER_CM),
            "warnings": list(self.warnings),
        }
        if arr is not None:
            d300, d300_ci = arr.D_at(300.0)
            out["D_tracer_300K_cm2_per_s"] = d300
            out["D_tracer_300K_cm2_per_s_ci95"] = _pair(d300_ci)
        return _json_clean(out)
