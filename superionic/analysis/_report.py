"""``analyze``: trajectories → per-temperature D, σ, Haven ratio → Arrhenius → JSON-ready report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers as symbol_to_z

from superionic.analysis._arrhenius import ArrheniusFit, fit_arrhenius
from superionic.analysis._conductivity import (
    charge_msd_slope_to_sigma_mS_per_cm,
    ratio_interval_fieller,
    tracer_D_to_cm2_per_s,
)
from superionic.analysis._diffusion import Z95, DiffusionFit, fit_diffusion
from superionic.analysis._msd import collective_displacement
from superionic.analysis._readers import read_trajectory
from superionic.analysis._trajectory import Trajectory
from superionic.analysis._units import (
    GNOME_THRESHOLD_MS_PER_CM,
    nernst_einstein_factor_mS_per_cm_per_cm2_per_s,
)
from superionic.analysis._unwrap import remove_framework_drift

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


def _load(
    items: Sequence[str | Path | Trajectory] | str | Path | Trajectory,
    temperatures_K: Sequence[float] | float | None,
) -> list[Trajectory]:
    if isinstance(items, (str, Path, Trajectory)):
        items = [items]
    if temperatures_K is not None and not isinstance(temperatures_K, Sequence | np.ndarray):
        temperatures_K = [float(temperatures_K)] * len(items)
    if temperatures_K is not None and len(temperatures_K) != len(items):
        raise ValueError(f"temperatures_K has {len(temperatures_K)} entries for {len(items)} trajectories")
    trajs = []
    for i, item in enumerate(items):
        temp = None if temperatures_K is None else float(temperatures_K[i])
        if isinstance(item, Trajectory):
            traj = item if temp is None else Trajectory(**{**item.__dict__, "temperature_K": temp})
        else:
            traj = read_trajectory(item, temperature_K=temp)
        if traj.temperature_K is None:
            raise ValueError(
                f"trajectory {traj.metadata.get('source', i)} does not state its temperature; pass temperatures_K="
            )
        trajs.append(traj)
    return trajs


@dataclass(frozen=True)
class _Carriers:
    """The mobile ions of all replicas at one temperature, drift-removed, as MSD walkers."""

    tracer: np.ndarray  # [F, sum of N_replica, 3] Å
    collective: np.ndarray  # [F, R, 3] e·Å, one Σ q Δr per replica
    charge_e: float
    sum_q2_per_replica: float
    n_ions_per_replica: float
    n_ions_total: float
    volume_A3: float
    timestep_ps: float
    n_frames: int


def _carriers(replicas: list[Trajectory], mobile_z: int, species: str, charge: float | None) -> _Carriers:
    temperature = replicas[0].temperature_K
    dts = [r.timestep_ps for r in replicas]
    if not np.allclose(dts, dts[0], rtol=1e-6):
        raise ValueError(
            f"replicas at {temperature} K have different frame intervals {dts} ps; resample them"
        )
    n_frames = min(r.n_frames for r in replicas)
    tracer, collective, charges, volumes = [], [], [], []
    for r in replicas:
        mask = r.species_mask(mobile_z)
        if not mask.any():
            raise ValueError(f"{r.metadata.get('source', 'trajectory')} has no {species} atoms")
        pos = remove_framework_drift(r.positions_A[:n_frames], r.atomic_numbers, mobile_z)[:, mask]
        q = np.full(mask.sum(), charge) if charge is not None else r.charges_e[mask]
        if np.any(~np.isfinite(q)):
            raise ValueError(f"the charge of {species} is unknown; pass charge= (in e) to analyze")
        tracer.append(pos)
        collective.append(collective_displacement(pos, q))
        charges.append(q)
        volumes.append(r.volumes_A3[:n_frames].mean())
    q_all = np.concatenate(charges)
    if not np.allclose(q_all, q_all[0]):
        raise ValueError(
            f"{species} atoms carry different charges {np.unique(q_all)}; pass one charge= value"
        )
    return _Carriers(
        tracer=np.concatenate(tracer, axis=1),  # replicas combined per particle, not concatenated in time
        collective=np.stack(collective, axis=1),
        charge_e=float(q_all[0]),
        sum_q2_per_replica=float(np.mean([np.sum(q**2) for q in charges])),
        n_ions_per_replica=float(np.mean([len(q) for q in charges])),
        n_ions_total=float(len(q_all)),
        volume_A3=float(np.mean(volumes)),
        timestep_ps=float(dts[0]),
        n_frames=n_frames,
    )


def _quality_warnings(label: str, species: str, tracer: DiffusionFit, observed: bool, n_jumps: float,
                      hop_length_A: float) -> list[str]:  # fmt: skip
    """Plain-language warnings: no hops, too few hops (He et al.), no linear window, sub-diffusion."""
    warnings = []
    if not observed:
        warnings.append(
            f"{label}: no {species} diffusion resolved (≈{n_jumps:.1f} hops of {hop_length_A} Å); D is reported "
            "only as an upper bound (D_tracer_cm2_per_s_upper95). Run longer or hotter."
        )
    elif n_jumps < MIN_HOPS_RELIABLE:
        warnings.append(
            f"{label}: only ≈{n_jumps:.0f} {species} hops; He et al.'s rule predicts a relative error of "
            f"{he_rule_relative_error(n_jumps):.0%} — the run is short for a reliable D"
        )
    if not tracer.window_accepted:
        warnings.append(
            f"{label}: the MSD is not linear within its modelled noise in any tried window (best p = "
            f"{tracer.fit.p_value:.2g}); D may be biased — inspect plot_msd and consider a longer run"
        )
    exponent = tracer.fit.msd_exponent
    if observed and np.isfinite(exponent) and exponent < MIN_MSD_EXPONENT:
        warnings.append(
            f"{label}: sub-diffusive MSD in the fitting window (log-log slope {exponent:.2f} < "
            f"{MIN_MSD_EXPONENT}); the diffusive regime may not be reached"
        )
    return warnings


def _analyze_temperature(
    replicas: list[Trajectory],
    mobile_z: int,
    species: str,
    charge: float | None,
    hop_length_A: float,
    window_ps: tuple[float, float] | None,
    end_fraction: float,
) -> TemperatureResult:
    temperature = float(replicas[0].temperature_K)  # type: ignore[arg-type]
    label = f"{temperature:g} K"
    car = _carriers(replicas, mobile_z, species, charge)
    warnings: list[str] = []
    if any(r.n_frames != car.n_frames for r in replicas):
        warnings.append(f"{label}: replicas truncated to the shortest one ({car.n_frames} frames)")

    dt = car.timestep_ps
    tracer = fit_diffusion(car.tracer, dt, window_ps=window_ps, end_fraction=end_fraction)
    axes = tuple(fit_diffusion(car.tracer, dt, window_ps=tracer.window_ps, axis=a) for a in range(3))
    # One collective walker per replica cannot estimate its own step shape or vibration amplitude: take the
    # tracer's (independent vibrations add up: σ²_collective = σ²_tracer·Σq²); its steps, sums over many
    # ions, are taken as Gaussian.
    charge_fit = fit_diffusion(
        car.collective,
        dt,
        window_ps=tracer.window_ps,
        gaussian_steps=True,
        anisotropy_ratio=tracer.fit.anisotropy_ratio,
        noise_var=tracer.fit.noise_var * car.sum_q2_per_replica,
    )

    duration = (car.n_frames - 1) * dt
    n_jumps = max(0.0, car.n_ions_total * 6.0 * tracer.D_A2_per_ps * duration / hop_length_A**2)
    observed = tracer.D_A2_per_ps > 0 and Z95 * tracer.relative_se < 1 and n_jumps >= MIN_HOPS_OBSERVED
    warnings += _quality_warnings(label, species, tracer, observed, n_jumps, hop_length_A)
    result = TemperatureResult(
        temperature_K=temperature,
        species=species,
        charge_e=car.charge_e,
        n_replicas=len(replicas),
        n_frames=car.n_frames,
        timestep_ps=dt,
        n_mobile_ions=car.n_ions_per_replica,
        volume_A3=car.volume_A3,
        tracer=tracer,
        tracer_axes=axes,  # type: ignore[arg-type]
        charge=charge_fit,
        diffusion_observed=bool(observed),
        n_jumps_estimate=n_jumps,
        hop_length_A=hop_length_A,
        warnings=warnings,
    )
    if observed and result.haven_ratio_ci95 is None:
        warnings.append(f"{label}: the charge MSD is too noisy to bound the Haven ratio; run more replicas")
    return result


def analyze(
    paths_or_trajectories: Sequence[str | Path | Trajectory] | str | Path | Trajectory,
    *,
    species: str = "Li",
    charge: float | None = None,
    temperatures_K: Sequence[float] | float | None = None,
    hop_length_A: float = 3.0,
    window_ps: tuple[float, float] | None = None,
    end_fraction: float = 0.5,
    extrapolate_to_K: float = 300.0,
) -> TransportReport:
    """Diffusivity, conductivity, Haven ratio and Arrhenius extrapolation from MD trajectories.

    Trajectories at the same temperature are replicas and are combined per particle (each replica's ions are
    extra walkers of the same MSD; each replica's charge displacement is one collective walker).

    Args:
        paths_or_trajectories: files (see :func:`read_trajectory`) or :class:`Trajectory` objects.
        species: the diffusing element.
        charge: its charge in e (default: from the files, else pymatgen's oxidation-state guess).
        temperatures_K: one per input (or one for all), overriding the files' temperatures.
        hop_length_A: typical hop distance, for the hop count of He et al.'s rule and the detection limit.
        window_ps: fix the MSD fitting window (start, end) in ps instead of choosing it automatically.
        end_fraction: end of the automatic window as a fraction of the run.
        extrapolate_to_K: temperature of ``sigma_extrapolated_mS_per_cm`` (σ at 300 K is always reported).

    Returns:
        A :class:`TransportReport`; ``.to_dict()`` is JSON-ready.
    """
    if species not in symbol_to_z:
        raise ValueError(f"species={species!r} is not a chemical symbol (e.g. 'Li')")
    if hop_length_A <= 0 or not 0 < end_fraction <= 1:
        raise ValueError(
            f"need hop_length_A > 0 and 0 < end_fraction <= 1, got {hop_length_A}, {end_fraction}"
        )
    trajs = _load(paths_or_trajectories, temperatures_K)
    groups: dict[float, list[Trajectory]] = {}
    for t in trajs:
        groups.setdefault(round(float(t.temperature_K), 2), []).append(t)  # type: ignore[arg-type]
    results = [
        _analyze_temperature(
            groups[temp], symbol_to_z[species], species, charge, hop_length_A, window_ps, end_fraction
        )
        for temp in sorted(groups)
    ]
    warnings = [w for r in results for w in r.warnings]
    observed = [r for r in results if r.diffusion_observed]
    arrhenius = None
    if len({r.temperature_K for r in observed}) >= 2:
        arrhenius = fit_arrhenius(
            np.array([r.temperature_K for r in observed]),
            np.array([r.D_tracer_cm2_per_s for r in observed]),
            np.array([r.D_tracer_se_cm2_per_s for r in observed]),
        )
        if arrhenius.birge_ratio > 2:
            warnings.append(
                f"Arrhenius points scatter {arrhenius.birge_ratio:.1f}x more than their error bars; the "
                "intervals were widened (Birge ratio) — check for a change of mechanism or phase"
            )
    else:
        warnings.append(
            "fewer than two temperatures with resolved diffusion: no Arrhenius fit, Ea or σ(300 K)"
        )
    return TransportReport(
        species=species,
        results=results,
        arrhenius=arrhenius,
        extrapolation_temperature_K=float(extrapolate_to_K),
        warnings=warnings,
    )
