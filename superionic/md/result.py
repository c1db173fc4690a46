"""What ``md.run`` returns: one summary per member, the trajectories, throughput; and its one error type."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from superionic.trajectory import Trajectory

__all__ = ["MDInstabilityError", "MDResult", "MemberSummary", "summarise_member"]

# The mean kinetic temperature of a thermostatted run of ~100 atoms over >= 1 ps sits within ~1 % of its target;
# a larger offset means the thermostat could not hold it (heating by a bad potential, too long a timestep).
TEMPERATURE_DRIFT_LIMIT = 0.05


class MDInstabilityError(RuntimeError):
    """The dynamics became non-finite or exploded; frames before the failure are kept in the trajectory files.

    Attributes:
      failure: what happened (phase, member, step, kinetic temperature, where the frames before it are).
      advice: what to do about it; a caller that knows better (e.g. MD of a specialist) gives its own advice
        with ``failure``.
      frames_before: the failed member's configurations (ASE atoms, Å) that led into the failure, oldest
        first: the start of the chunk in which it failed and that chunk's saved frames before it, in either
        phase (a specialist is refitted on them).
    """

    def __init__(
        self,
        failure: str,
        advice: str = "Check the structure and potential, or lower the timestep",
        frames_before: tuple = (),
    ):
        self.failure = failure
        self.advice = advice
        self.frames_before = tuple(frames_before)
        super().__init__(f"{failure} {advice}" if advice else failure)

    def __reduce__(self):  # pickling (e.g. from a worker process) keeps the parts apart
        return type(self), (self.failure, self.advice, self.frames_before)


@dataclasses.dataclass(frozen=True)
class MemberSummary:
    """One member (temperature, replica) of a run, from its trajectory.

    Attributes:
      trajectory, topology: its H5MD file and PDB topology (None for a run kept in memory).
    """

    temperature_K: float
    replica: int
    trajectory: Path | None
    topology: Path | None
    n_frames: int
    mean_temperature_K: float
    std_temperature_K: float
    conserved_drift_eV_per_atom_per_ps: float
    mean_pressure_GPa: float
    mean_volume_A3: float


def summarise_member(
    traj: Trajectory, replica: int, path: Path | None, topology: Path | None
) -> MemberSummary:
    """Mean and spread of the temperature (frame 0, the starting point, left out), conserved-energy drift."""
    obs, times = traj.observables, traj.times_ps
    drift = float("nan")
    if len(times) >= 2:
        drift = float(np.polyfit(times, obs["conserved_energy"], 1)[0]) / traj.n_atoms
    temps = obs["temperature"][1:] if len(times) > 1 else obs["temperature"]
    return MemberSummary(
        temperature_K=float(traj.temperature_K),  # type: ignore[arg-type]
        replica=replica,
        trajectory=path,
        topology=topology,
        n_frames=traj.n_frames,
        mean_temperature_K=float(np.mean(temps)),
        std_temperature_K=float(np.std(temps)),
        conserved_drift_eV_per_atom_per_ps=drift,
        mean_pressure_GPa=float(np.mean(obs["pressure"])),
        mean_volume_A3=float(np.mean(obs["volume"])),
    )


@dataclasses.dataclass(frozen=True)
class MDResult:
    """The outcome of ``md.run``.

    Attributes:
      members: one summary per member (temperature x replica), in the order of ``config.members``.
      trajectories: the production trajectories of the members, in the same order (read back from the files,
        or kept in memory when ``run`` had no ``out_dir``).
      checkpoint: the checkpoint file (None in memory).
      ns_per_day: simulated time per member per day of wall time (this call, compilation included).
      atom_steps_per_s: members x atoms x steps per second (this call).
      neighbor_reallocations: chunks redone after a neighbour-list overflow (this call).
      chunk_timings: (steps, wall seconds incl. I/O) per production chunk (this call).
    """

    members: tuple[MemberSummary, ...]
    trajectories: tuple[Trajectory, ...] = dataclasses.field(repr=False)
    checkpoint: Path | None
    n_atoms: int
    wall_s: float
    steps_run: int
    ns_per_day: float
    atom_steps_per_s: float
    neighbor_reallocations: int = 0
    chunk_timings: tuple[tuple[int, float], ...] = ()

    @property
    def paths(self) -> list[Path]:
        """The members' H5MD files (empty for a run kept in memory)."""
        return [m.trajectory for m in self.members if m.trajectory is not None]

    @property
    def steady_atom_steps_per_s(self) -> float:
        """Throughput without compilation: chunks after the first of each compiled program."""
        timed = self.chunk_timings[1:] if len(self.chunk_timings) > 1 else self.chunk_timings
        steps, wall = sum(t[0] for t in timed), sum(t[1] for t in timed)
        return self.n_members * self.n_atoms * steps / wall if wall > 0 else float("nan")

    @property
    def n_members(self) -> int:
        return len(self.members)

    @property
    def warnings(self) -> list[str]:
        """Members whose mean temperature misses its target by more than 5 %."""
        out = []
        for m in self.members:
            offset = (m.mean_temperature_K - m.temperature_K) / m.temperature_K
            if abs(offset) > TEMPERATURE_DRIFT_LIMIT:
                out.append(
                    f"{m.temperature_K:g} K replica {m.replica}: mean temperature {m.mean_temperature_K:.0f} K is "
                    f"{offset:+.0%} off target; the thermostat did not hold it — try a shorter --timestep"
                )
        return out

    def to_dict(self, relative_to: Path | None = None) -> dict:
        """What a report records of the run (trajectory paths relative to ``relative_to`` when given)."""
        return {
            "wall_s": self.wall_s,
            "atom_steps_per_s": self.atom_steps_per_s,
            "ns_per_day": self.ns_per_day,
            "trajectories": [
                str(p if relative_to is None else p.relative_to(relative_to)) for p in self.paths
            ],
            "mean_temperature_K": [m.mean_temperature_K for m in self.members],
        }

    def summary(self) -> str:
        lines = ["  T_target  replica  frames   <T>/K    sd(T)/K  drift/(meV/atom/ps)  <P>/GPa"]
        for m in self.members:
            lines.append(
                f"  {m.temperature_K:8.1f}  {m.replica:7d}  {m.n_frames:6d}  {m.mean_temperature_K:8.2f}  "
                f"{m.std_temperature_K:8.2f}  {1e3 * m.conserved_drift_eV_per_atom_per_ps:19.3e}  "
                f"{m.mean_pressure_GPa:7.3f}"
            )
        lines.append(
            f"  {self.n_atoms} atoms, {self.ns_per_day:.3g} ns/day, {self.atom_steps_per_s:.3g} atom-steps/s"
        )
        return "\n".join(lines)
