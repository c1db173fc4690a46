"""``analyze``: trajectories → per-temperature D, σ, Haven ratio → Arrhenius → :class:`TransportReport`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers as symbol_to_z

from superionic.analysis._arrhenius import fit_arrhenius
from superionic.analysis._diffusion import Z95, DiffusionFit, fit_diffusion
from superionic.analysis._frames import remove_framework_drift
from superionic.analysis._msd import collective_displacement
from superionic.analysis._results import (
    FRAMEWORK_RMS_LIMIT_A,
    MIN_HOPS_OBSERVED,
    MIN_HOPS_RELIABLE,
    MIN_MSD_EXPONENT,
    TemperatureResult,
    TransportReport,
    framework_melted,
    he_rule_relative_error,
)
from superionic.trajectory import Trajectory, read_trajectory


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
        traj = item if isinstance(item, Trajectory) else read_trajectory(item)
        if temperatures_K is not None:
            traj = traj.with_temperature(float(temperatures_K[i]))
        label = traj.metadata.get("source", f"trajectory {i}")
        if traj.temperature_K is None:
            raise ValueError(f"{label} does not state its temperature; pass temperatures_K= (--temperatures)")
        check_msd_grid(traj.times_ps, label)
        trajs.append(traj)
    return trajs


def check_msd_grid(times_ps: np.ndarray, label: str = "trajectory") -> None:
    """An all-origins MSD needs at least 3 frames on a uniform time grid."""
    if len(times_ps) < 3:
        raise ValueError(f"{label} has {len(times_ps)} frame(s); an MSD fit needs at least 3")
    steps = np.diff(times_ps)
    # 1e-4: files that store time in float32 (MDAnalysis) jitter at that level
    if not np.all(steps > 0) or not np.allclose(steps, steps.mean(), rtol=1e-4, atol=1e-9):
        raise ValueError(
            f"{label}: frame times must be strictly increasing and uniformly spaced (the all-origins MSD needs a "
            "uniform grid); drop or resample the irregular frames first"
        )


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
    frame_interval_ps: float
    n_frames: int


def _carriers(replicas: list[Trajectory], mobile_z: int, species: str, charge_e: float | None) -> _Carriers:
    temperature = replicas[0].temperature_K
    dts = [r.frame_interval_ps for r in replicas]
    if not np.allclose(dts, dts[0], rtol=1e-6):
        raise ValueError(
            f"replicas at {temperature} K have different frame intervals {dts} ps; resample them"
        )
    n_frames = min(r.n_frames for r in replicas)
    tracer, collective, charges, volumes = [], [], [], []
    for r in replicas:
        mask = r.species_mask(mobile_z)
        if not mask.any():
            raise ValueError(
                f"{r.metadata.get('source', 'trajectory')} has no {species} atoms: name the mobile ion with --species"
            )
        pos = remove_framework_drift(r.positions_A[:n_frames], r.atomic_numbers, mobile_z)[:, mask]
        q = np.full(mask.sum(), charge_e) if charge_e is not None else r.charges_e[mask]
        if np.any(~np.isfinite(q)):
            raise ValueError(
                f"the charge of {species} is unknown; give it with --charges {species}=... (charge_e=)"
            )
        tracer.append(pos)
        collective.append(collective_displacement(pos, q))
        charges.append(q)
        volumes.append(r.volumes_A3[:n_frames].mean())
    q_all = np.concatenate(charges)
    if not np.allclose(q_all, q_all[0]):
        raise ValueError(
            f"{species} atoms carry different charges {np.unique(q_all)}; give one with --charges {species}=... "
            "(charge_e=)"
        )
    return _Carriers(
        tracer=np.concatenate(tracer, axis=1),  # replicas combined per particle, not concatenated in time
        collective=np.stack(collective, axis=1),
        charge_e=float(q_all[0]),
        sum_q2_per_replica=float(np.mean([np.sum(q**2) for q in charges])),
        n_ions_per_replica=float(np.mean([len(q) for q in charges])),
        n_ions_total=float(len(q_all)),
        volume_A3=float(np.mean(volumes)),
        frame_interval_ps=float(dts[0]),
        n_frames=n_frames,
    )


def framework_rms_displacement(
    positions_A: np.ndarray, atomic_numbers: np.ndarray, mobile_atomic_number: int, tail_fraction: float = 0.1
) -> float | None:
    """RMS displacement (Å) of the non-mobile atoms from the first frame, over the last ``tail_fraction``
    of the run, with the framework's centre-of-mass drift removed; None when every atom is mobile."""
    framework = atomic_numbers != mobile_atomic_number
    if not framework.any():
        return None
    pos = remove_framework_drift(positions_A, atomic_numbers, mobile_atomic_number)[:, framework]
    n_tail = max(1, round(tail_fraction * len(pos)))
    squared = np.sum((pos[-n_tail:] - pos[0]) ** 2, axis=-1)
    return float(np.sqrt(squared.mean()))


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
    # 2x: independent walkers' blocks scatter that much by chance in 0.3 % of runs (χ² with 4 dof > 16)
    if observed and tracer.batch_relative_se > 2.0 * tracer.model_relative_se:
        warnings.append(
            f"{label}: D of the run's {len(tracer.block_D_A2_per_ps)} consecutive blocks scatter "
            f"{tracer.batch_relative_se / tracer.model_relative_se:.1f}x more than independent random walkers "
            f"would (correlated hops, e.g. one vacancy, or a rate that changes during the run); the interval "
            "uses their scatter — replicas would give a firmer D"
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
    charge_e: float | None,
    hop_length_A: float,
    window_ps: tuple[float, float] | None,
    end_fraction: float,
) -> TemperatureResult:
    temperature = float(replicas[0].temperature_K)  # type: ignore[arg-type]
    label = f"{temperature:g} K"
    car = _carriers(replicas, mobile_z, species, charge_e)
    warnings: list[str] = []
    if any(r.n_frames != car.n_frames for r in replicas):
        warnings.append(f"{label}: replicas truncated to the shortest one ({car.n_frames} frames)")

    dt = car.frame_interval_ps
    tracer = fit_diffusion(car.tracer, dt, window_ps=window_ps, end_fraction=end_fraction)
    axes = tuple(fit_diffusion(car.tracer, dt, window_ps=tracer.window_ps, axis=a) for a in range(3))
    # One collective walker per replica cannot estimate its own step shape or vibration amplitude: take the
    # tracer's (independent vibrations add up: σ²_collective = σ²_tracer·Σq²); its steps, sums over many
    # ions, are taken as Gaussian. No batch means: its walkers (one per replica) are independent by
    # construction, and blocks of so few walkers scatter so much that the check only widens a calibrated
    # interval (measured: 99 % coverage with it, tests/analysis/test_diffusion.py).
    charge_fit = fit_diffusion(
        car.collective,
        dt,
        window_ps=tracer.window_ps,
        gaussian_steps=True,
        anisotropy_ratio=tracer.fit.anisotropy_ratio,
        noise_var=tracer.fit.noise_var * car.sum_q2_per_replica,
        n_blocks=0,
    )

    duration = (car.n_frames - 1) * dt
    n_jumps = max(0.0, car.n_ions_total * 6.0 * tracer.D_A2_per_ps * duration / hop_length_A**2)
    # resolved by the random-walk model's error; when batch means widens the interval beyond that, D is still
    # reported, with the wider interval (an upper bound of infinity rather than no value at all)
    observed = tracer.D_A2_per_ps > 0 and Z95 * tracer.model_relative_se < 1 and n_jumps >= MIN_HOPS_OBSERVED
    warnings += _quality_warnings(label, species, tracer, observed, n_jumps, hop_length_A)
    framework_values = [
        framework_rms_displacement(r.positions_A[: car.n_frames], r.atomic_numbers, mobile_z)
        for r in replicas
    ]
    framework_rms = None if framework_values[0] is None else float(np.max(framework_values))
    if framework_melted(framework_rms):
        warnings.append(
            f"{label}: the framework (non-{species} atoms) moved {framework_rms:.2f} Å RMS (limit "
            f"{FRAMEWORK_RMS_LIMIT_A} Å): the structure melted, amorphised or decomposed; {species} transport "
            "here is not that of the crystal — lower the temperature or check the structure and potential"
        )
    result = TemperatureResult(  # without its warnings: whether the Haven ratio is bounded is one of them
        temperature_K=temperature,
        species=species,
        charge_e=car.charge_e,
        n_replicas=len(replicas),
        n_frames=car.n_frames,
        frame_interval_ps=dt,
        n_mobile_ions=car.n_ions_per_replica,
        volume_A3=car.volume_A3,
        tracer=tracer,
        tracer_axes=axes,  # type: ignore[arg-type]
        charge_fit=charge_fit,
        diffusion_observed=bool(observed),
        n_jumps_estimate=n_jumps,
        hop_length_A=hop_length_A,
        framework_rms_displacement_A=framework_rms,
    )
    if observed and result.haven_ratio_ci95 is None:
        warnings.append(f"{label}: the charge MSD is too noisy to bound the Haven ratio; run more replicas")
    return dataclasses.replace(result, warnings=tuple(warnings))


def analyze(
    paths_or_trajectories: Sequence[str | Path | Trajectory] | str | Path | Trajectory,
    *,
    species: str = "Li",
    charge_e: float | None = None,
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
        charge_e: its charge in e (default: from the files, else the guess of
            :func:`superionic.structures.formal_charges`).
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
            groups[temp], symbol_to_z[species], species, charge_e, hop_length_A, window_ps, end_fraction
        )
        for temp in sorted(groups)
    ]
    warnings = [w for r in results for w in r.warnings]
    # A melted framework's transport is a liquid's, not the crystal's: it does not belong on the crystal's
    # Arrhenius line (OBELiX Li2SiS3 and Li3PS4 gave σ(300 K) 10^4-10^6 x the measured value from
    # temperatures that had all melted). Its per-temperature numbers stay in the report, with their warning.
    melted = [r for r in results if r.diffusion_observed and r.framework_melted]
    if melted:
        warnings.append(
            f"{', '.join(f'{r.temperature_K:g} K' for r in melted)} left out of the Arrhenius fit: the framework "
            f"moved more than {FRAMEWORK_RMS_LIMIT_A} Å RMS there"
        )
    observed = [r for r in results if r.diffusion_observed and all(r is not m for m in melted)]
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
            "fewer than two temperatures with resolved diffusion"
            + (" and a framework that held" if melted else "")
            + ": no Arrhenius fit, Ea or σ(300 K)"
        )
    return TransportReport(
        species=species,
        results=tuple(results),
        arrhenius=arrhenius,
        extrapolation_temperature_K=float(extrapolate_to_K),
        warnings=tuple(warnings),
    )
