"""``MDConfig``: every setting of a run, in physical units (fs, ps, K, GPa), validated once."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

__all__ = ["ENSEMBLES", "MDConfig"]

Ensemble = Literal["nve", "nvt_nose_hoover", "nvt_langevin", "npt_nose_hoover"]
ENSEMBLES: tuple[str, ...] = ("nve", "nvt_nose_hoover", "nvt_langevin", "npt_nose_hoover")


@dataclasses.dataclass(frozen=True)
class MDConfig:
    """Settings of one MD run (all members: temperatures x replicas of one structure, in one compiled program).

    Attributes:
      ensemble: "nvt_nose_hoover" (default, Nosé–Hoover chain), "nve", "nvt_langevin" (BAOAB) or
        "npt_nose_hoover" (isotropic cell fluctuations only).
      temperatures_K: target temperatures; each gets ``replicas`` independent members (different velocities).
      replicas: independent replicas per temperature.
      timestep_fs: integration time step.
      production_ps: length of the written production stage (frames at t = 0, save_every_fs, ...).
      equilibration_ps: length of the unwritten equilibration stage (velocity-Verlet with Berendsen velocity
        rescaling towards a target that ramps linearly from ``equilibration_start_K`` to the temperature over the
        first half of the stage; for NPT the barostat is already on).
      equilibration_start_K: start of the temperature ramp (None: no ramp, rescale towards the target).
      equilibration_tau_fs: time constant of the Berendsen rescaling during equilibration.
      thermostat_tau_fs: Nosé–Hoover chain oscillation period (absolute time; jax-md calls it ``tau``).
      thermostat_chain_length: Nosé–Hoover chain length.
      barostat_tau_fs: NPT barostat oscillation period.
      pressure_GPa: NPT target pressure.
      langevin_friction_per_ps: Langevin friction coefficient gamma.
      save_every_fs: interval between written frames (rounded to a whole number of steps).
      chunk_steps: steps per compiled chunk; Python runs only between chunks (I/O, checkpoint, checks). Rounded
        to a whole number of frames.
      skin_A: neighbour-list skin; the list is rebuilt when an atom moved > skin/2 (or the box strained).
      capacity_multiplier: neighbour-list head-room at allocation (overflow triggers reallocation anyway).
      seed: random seed; member (T, replica r) draws from fold_in(fold_in(seed, round(1000 T)), r), so a member's
        trajectory does not depend on which other members run beside it.
      precision: "float32" or "float64" (float64 needs ``jax.config.update("jax_enable_x64", True)``).
      write_velocities: also write velocities to the trajectory.
      trajectory_precision: storage precision of positions and velocities in the H5MD files ("float32" or
        "float64"; None: the simulation's ``precision``).
      max_temperature_factor: stop with an error when a member's kinetic temperature exceeds this multiple of
        its target (or 5000 K above it, whichever is larger): the dynamics exploded.
      progress: show a tqdm progress bar.
    """

    ensemble: Ensemble = "nvt_nose_hoover"
    temperatures_K: tuple[float, ...] = (1000.0,)
    replicas: int = 1
    timestep_fs: float = 2.0
    production_ps: float = 50.0
    equilibration_ps: float = 5.0
    equilibration_start_K: float | None = None
    equilibration_tau_fs: float = 100.0
    thermostat_tau_fs: float = 200.0
    thermostat_chain_length: int = 3
    barostat_tau_fs: float = 2000.0
    pressure_GPa: float = 0.0
    langevin_friction_per_ps: float = 5.0
    save_every_fs: float = 50.0
    chunk_steps: int = 2000
    skin_A: float = 1.0
    capacity_multiplier: float = 1.25
    seed: int = 0
    precision: Literal["float32", "float64"] = "float32"
    write_velocities: bool = False
    trajectory_precision: Literal["float32", "float64"] | None = None
    max_temperature_factor: float = 5.0
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures_K", tuple(float(t) for t in self.temperatures_K))
        if self.ensemble not in ENSEMBLES:
            raise ValueError(f"ensemble must be one of {ENSEMBLES}, got {self.ensemble!r}")
        if not self.temperatures_K or any(not (t > 0 and math.isfinite(t)) for t in self.temperatures_K):
            raise ValueError(f"temperatures_K must be positive finite numbers, got {self.temperatures_K}")
        if self.replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {self.replicas}")
        positive = {
            "timestep_fs": self.timestep_fs,
            "thermostat_tau_fs": self.thermostat_tau_fs,
            "barostat_tau_fs": self.barostat_tau_fs,
            "equilibration_tau_fs": self.equilibration_tau_fs,
            "save_every_fs": self.save_every_fs,
            "langevin_friction_per_ps": self.langevin_friction_per_ps,
            "capacity_multiplier": self.capacity_multiplier,
            "max_temperature_factor": self.max_temperature_factor,
        }
        for key, value in positive.items():
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{key} must be positive, got {value}")
        if self.timestep_fs > 10.0:
            raise ValueError(f"timestep_fs={self.timestep_fs} looks like a unit mix-up (fs expected, <= 10)")
        if self.production_ps < 0 or self.equilibration_ps < 0:
            raise ValueError("production_ps and equilibration_ps must be >= 0")
        if self.save_every_fs < self.timestep_fs:
            raise ValueError(f"save_every_fs={self.save_every_fs} must be >= timestep_fs={self.timestep_fs}")
        if self.chunk_steps < 1:
            raise ValueError(f"chunk_steps must be >= 1, got {self.chunk_steps}")
        if self.skin_A < 0:
            raise ValueError(f"skin_A must be >= 0, got {self.skin_A}")
        if self.thermostat_chain_length < 1:
            raise ValueError("thermostat_chain_length must be >= 1")
        if self.precision not in ("float32", "float64"):
            raise ValueError(f"precision must be 'float32' or 'float64', got {self.precision!r}")
        if self.trajectory_precision not in (None, "float32", "float64"):
            raise ValueError(
                f"trajectory_precision must be None, 'float32' or 'float64', got {self.trajectory_precision!r}"
            )

    # Derived step counts (what the engine uses) ---------------------------------------------------------------
    @property
    def save_every_steps(self) -> int:
        return max(1, round(self.save_every_fs / self.timestep_fs))

    @property
    def frames_per_chunk(self) -> int:
        return max(1, self.chunk_steps // self.save_every_steps)

    @property
    def steps_per_chunk(self) -> int:
        return self.frames_per_chunk * self.save_every_steps

    @property
    def production_steps(self) -> int:
        """Production steps, rounded up to a whole number of frames."""
        frames = math.ceil(round(self.production_ps * 1000.0 / self.timestep_fs, 6) / self.save_every_steps)
        return frames * self.save_every_steps

    @property
    def equilibration_steps(self) -> int:
        return math.ceil(round(self.equilibration_ps * 1000.0 / self.timestep_fs, 6))

    @property
    def members(self) -> list[tuple[int, float, int]]:
        """(member index, temperature_K, replica) in the order of the batch axis."""
        out = []
        for t in self.temperatures_K:
            for r in range(self.replicas):
                out.append((len(out), t, r))
        return out

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["temperatures_K"] = list(self.temperatures_K)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MDConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown MDConfig field(s) {unknown}")
        return cls(**{k: (tuple(v) if k == "temperatures_K" else v) for k, v in d.items()})
