"""The audit: a potential's errors against its teacher on frames of its own MD (the honesty of every number).

A specialist is trained on a few hundred teacher-labelled configurations; the MD it then drives can wander
where no training frame was. The audit labels frames spread over each production trajectory with the
teacher and reports the potential's force and energy errors there, per temperature, with a warning when they
miss the threshold. It never passes silently: ``passed`` is False and a warning is raised when the error is
above the threshold or when no frame could be audited.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import ase
import numpy as np

from superionic.potentials.potential import Potential

DEFAULT_THRESHOLD_MEV_PER_A = 50.0


@dataclass(frozen=True)
class TemperatureAudit:
    """Errors of the audited potential against the teacher on frames of one trajectory."""

    temperature_K: float
    trajectory: str
    frames_audited: int
    frame_times_ps: list[float]
    force_mae_meV_per_A: float
    force_rmse_meV_per_A: float
    force_max_error_meV_per_A: float
    teacher_force_rms_meV_per_A: float  # the scale of the forces themselves, for context
    energy_mae_meV_per_atom: float
    energy_mae_offset_removed_meV_per_atom: float  # after removing the mean offset (it moves no atom)
    threshold_meV_per_A: float
    passed: bool


@dataclass(frozen=True)
class Audit:
    """The audit of one run: per temperature, and whether all passed; ``warnings`` say what missed."""

    potential: str
    potential_sha256: str
    teacher: str
    teacher_sha256: str
    threshold_meV_per_A: float
    per_temperature: list[TemperatureAudit]
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.per_temperature) and all(t.passed for t in self.per_temperature)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["passed"] = self.passed
        return out

    def summary(self) -> str:
        lines = [
            f"audit of '{self.potential}' against '{self.teacher}' (threshold {self.threshold_meV_per_A:g} meV/Å):"
        ]
        for t in self.per_temperature:
            lines.append(
                f"  {t.temperature_K:7.1f} K  {t.frames_audited:3d} frames  force MAE {t.force_mae_meV_per_A:6.1f} "
                f"RMSE {t.force_rmse_meV_per_A:6.1f} meV/Å (forces {t.teacher_force_rms_meV_per_A:.0f} RMS)  "
                f"energy MAE {t.energy_mae_meV_per_atom:6.2f} meV/atom ({t.energy_mae_offset_removed_meV_per_atom:.2f} "
                f"without offset)  {'passed' if t.passed else 'MISSED'}"
            )
        return "\n".join(lines)


def frames_from_trajectory(trajectory, count: int, skip_first: bool = True) -> list[tuple[float, ase.Atoms]]:
    """``count`` frames evenly spread over a trajectory (a :class:`~superionic.trajectory.Trajectory` or a file
    it reads), as (time in ps, Atoms); the first frame (the starting structure) is skipped."""
    from superionic.trajectory import Trajectory, read_trajectory

    if not isinstance(trajectory, Trajectory):
        trajectory = read_trajectory(trajectory)
    n_frames = len(trajectory.times_ps)
    first = 1 if skip_first and n_frames > 1 else 0
    picks = np.unique(np.linspace(first, n_frames - 1, min(count, n_frames - first)).round().astype(int))
    out = []
    for k in picks:
        atoms = ase.Atoms(
            numbers=trajectory.atomic_numbers,
            positions=np.asarray(trajectory.positions_A[k], np.float64),
            cell=np.asarray(trajectory.cells_A[k], np.float64),
            pbc=True,
        )
        atoms.wrap()
        out.append((float(trajectory.times_ps[k]), atoms))
    return out


# Atoms evaluated together: one batch of SevenNet-0 needs ~5 MB per atom (12 audit frames of a 432-atom NASICON
# cell asked for 27 GB at once and ran out of memory after the production MD).
AUDIT_BATCH_ATOMS = 1024


def _in_batches(evaluate, frames: Sequence[ase.Atoms]) -> list:
    """``evaluate`` over ``frames`` in batches of at most :data:`AUDIT_BATCH_ATOMS` atoms (one frame at least);
    equal batches of equal-size frames share one compiled program."""
    frames = list(frames)
    per_batch = max(1, AUDIT_BATCH_ATOMS // max(len(f) for f in frames))
    return [r for i in range(0, len(frames), per_batch) for r in evaluate(frames[i : i + per_batch])]


def compare(potential: Potential, teacher, frames: Sequence[ase.Atoms]) -> dict[str, float]:
    """Force and energy errors of ``potential`` against ``teacher`` (a Potential or any object with
    ``evaluate``/``label``) on ``frames``: MAE/RMSE/max in meV/Å and meV/atom. ``teacher=None``: the frames
    carry the reference's labels already (energy and forces of their calculator, as
    :func:`superionic.training.attach_labels` leaves them), and no reference runs again."""
    ours = _in_batches(potential.evaluate, frames)
    if teacher is None:
        theirs = [{"energy": a.get_potential_energy(), "forces": a.get_forces()} for a in frames]
    else:
        theirs = _in_batches(teacher.evaluate if hasattr(teacher, "evaluate") else teacher.label, frames)
    df = np.concatenate([(a["forces"] - b["forces"]).ravel() for a, b in zip(ours, theirs, strict=True)])
    ft = np.concatenate([np.asarray(b["forces"]).ravel() for b in theirs])
    de = np.array(
        [(a["energy"] - b["energy"]) / len(f) for a, b, f in zip(ours, theirs, frames, strict=True)]
    )
    return {
        "force_mae_meV_per_A": 1e3 * float(np.mean(np.abs(df))),
        "force_rmse_meV_per_A": 1e3 * float(np.sqrt(np.mean(df**2))),
        "force_max_error_meV_per_A": 1e3 * float(np.max(np.abs(df))),
        "teacher_force_rms_meV_per_A": 1e3 * float(np.sqrt(np.mean(ft**2))),
        "energy_mae_meV_per_atom": 1e3 * float(np.mean(np.abs(de))),
        "energy_mae_offset_removed_meV_per_atom": 1e3 * float(np.mean(np.abs(de - de.mean()))),
    }


def audit(
    potential: Potential,
    teacher: Potential,
    trajectories: Sequence,
    temperatures_K: Sequence[float],
    frames_per_temperature: int = 8,
    threshold_meV_per_A: float = DEFAULT_THRESHOLD_MEV_PER_A,
) -> Audit:
    """Label frames spread over each trajectory (Trajectory objects or files) with ``teacher`` and measure
    ``potential`` against it."""
    if len(trajectories) != len(temperatures_K):
        raise ValueError("one temperature per trajectory")
    rows, warnings = [], []
    for path, temperature in zip(trajectories, temperatures_K, strict=True):
        frames = frames_from_trajectory(path, frames_per_temperature)
        if not frames:
            warnings.append(f"{temperature:g} K: no frame to audit")
            continue
        errors = compare(potential, teacher, [a for _, a in frames])
        passed = bool(
            math.isfinite(errors["force_mae_meV_per_A"])
            and errors["force_mae_meV_per_A"] <= threshold_meV_per_A
        )
        rows.append(
            TemperatureAudit(
                temperature_K=float(temperature),
                trajectory=str(getattr(path, "metadata", {}).get("source", path)),
                frames_audited=len(frames),
                frame_times_ps=[round(t, 4) for t, _ in frames],
                threshold_meV_per_A=threshold_meV_per_A,
                passed=passed,
                **errors,
            )
        )
        if not passed:
            warnings.append(
                f"{temperature:g} K: the potential's forces are off by {errors['force_mae_meV_per_A']:.0f} meV/Å "
                f"(MAE against {teacher.name} on {len(frames)} frames of its own MD; threshold "
                f"{threshold_meV_per_A:g} meV/Å): treat this temperature's numbers with caution"
            )
    if not rows:
        warnings.append("no frame could be audited: the potential's accuracy on this run is unknown")
    return Audit(
        potential=potential.name,
        potential_sha256=potential.fingerprint(),
        teacher=teacher.name,
        teacher_sha256=teacher.fingerprint(),
        threshold_meV_per_A=threshold_meV_per_A,
        per_temperature=rows,
        warnings=warnings,
    )
