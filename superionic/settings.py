"""``EstimateSettings``: everything that determines a conductivity estimate, its presets and its checks.

Saved whole in every report, so a run can be repeated from it. Units: K, ps, fs, Å, e.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

__all__ = ["AUDIT_FRAMES", "ENSEMBLES", "PRESETS", "SPECIALIST_PRESETS", "EstimateSettings"]

PRESETS: dict[str, dict[str, Any]] = {
    # About 5 minutes for a 100–200-atom cell with the default potential on a 2-core CPU: a first look only
    # (measured: 2 + 10 ps took 7 min for 192-atom Li3N, so 1 + 7 ps).
    "quick": {
        "temperatures_K": (900.0, 1100.0, 1300.0),
        "production_ps": 7.0,
        "equilibration_ps": 1.0,
        "timestep_fs": 2.0,
        "target_atoms": 100,
        "relax_steps": 30,
    },
    "standard": {
        "temperatures_K": (700.0, 900.0, 1100.0, 1300.0),
        "production_ps": 50.0,
        "equilibration_ps": 5.0,
        "timestep_fs": 2.0,
        "target_atoms": 150,
        "relax_steps": 200,
    },
    # GNoME: 1000 K, 50 ps at 2 fs, NVT Nosé–Hoover, first 10 ps discarded.
    "paper": {
        "temperatures_K": (1000.0,),
        "production_ps": 40.0,
        "equilibration_ps": 10.0,
        "timestep_fs": 2.0,
        "target_atoms": 150,
        "relax_steps": 200,
    },
}

#: How each preset builds the per-material specialist (``engine="specialist"``): fields of
#: :class:`superionic.training.specialist.SpecialistSettings`, and how many production frames per temperature
#: the audit labels with the reference potential.
SPECIALIST_PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "initial_structures": 48,
        "epochs_initial": 30,
        "epochs_per_round": 10,
        "epochs_final": 40,
        # Li3N (README demo, 2026-12-02): the third round moved the round error 60 -> 59 meV/Å for ~100 s of
        # the 15-min target; two rounds.
        "max_rounds": 2,
        "md_ps_per_round": 1.0,
        "frames_per_round": 24,
        "time_budget_s": 420.0,
    },
    "standard": {
        "initial_structures": 96,
        "epochs_initial": 60,
        # The rounds only choose the next frames (10 epochs each); the final fit makes the specialist.
        "epochs_per_round": 10,
        "epochs_final": 80,
        "max_rounds": 4,
        # Long enough to reach what production reaches: SevenNet-0's LGPS framework comes apart after ~4 ps at
        # 1000 K. With 2-ps rounds the LGPS specialist never saw that state (audit 108 meV/Å); with 6-ps rounds
        # 46 meV/Å, for ~3 min more of student MD (scripts/specialist_validation.py, 2026-11-30).
        "md_ps_per_round": 6.0,
        "frames_per_round": 32,
        "time_budget_s": 1500.0,
    },
}
# GNoME's protocol is one temperature and a long run, where the specialist's build is a small part of the time:
# more rounds, and a deeper student for the production MD. On LGPS each 32 more labelled frames near the
# disordered state bought ~2 meV/Å (session 11). The rounds keep the fast 2-layer committee; the final fit is a
# fresh 3-layer student trained from scratch on all the data. Whole LGPS builds (audit on the specialist's own
# 1000 K MD, scripts/specialist_validation.py): 2-layer final fit of 160 epochs 41.9 meV/Å; 3-layer students in
# every round 51.9 (4 rounds fit the budget); this 37.4, D 0.96x SevenNet-0's. Its MD is 3.7x slower (side by
# side on 96 atoms: 1,848 against 6,860 atom-steps/s; docs/benchmarks/benchmark_cpu_specialist_depth.json).
# Through `conductivity estimate` on the 188-atom LGPS cell, with rounds on the 47-atom cell its student blew up
# 9.5 ps into the 1000 K equilibration, where two PS4 units met that no training structure held (session 17);
# with rounds on the production cell it ran 10 + 40 ps, audit 56.4 meV/Å (session 18,
# docs/benchmarks/specialist_training.md).
SPECIALIST_PRESETS["paper"] = {
    **SPECIALIST_PRESETS["standard"],
    "epochs_final": 60,
    "final_model": {"num_layers": 3},
    "max_rounds": 6,
    # Each round's student MD on the production cell itself (188 atoms for LGPS), not on the 47-atom labelling
    # cell: see SpecialistSettings.rounds_md_cell.
    "rounds_md_cell": "production",
    "time_budget_s": 3000.0,
}
AUDIT_FRAMES = {"quick": 6, "standard": 12, "paper": 12}

#: The command line's ensemble names → ``superionic.md`` ensembles (the same table for every command).
ENSEMBLES = {"nvt": "nvt_nose_hoover", "npt": "npt_nose_hoover", "nve": "nve", "langevin": "nvt_langevin"}
# The Li hop attempt period is ~100 fs; beyond 5 fs velocity Verlet no longer resolves Li–anion vibrations.
MAX_TIMESTEP_FS = 5.0


@dataclasses.dataclass(frozen=True)
class EstimateSettings:
    """Settings of ``conductivity estimate`` (the command-line flag of each field in brackets).

    Attributes:
      structure: the structure file.
      out_dir: output folder [--out].
      potential: registered name or checkpoint path [--potential]: the reference that labels the specialist's
        data and audits it (``engine="specialist"``), or the potential that runs the MD (``"direct"``).
      engine: "specialist" (default: train a small student on the reference's labels of this material, run
        the MD with it, audit it against the reference on its own frames) or "direct" (the reference runs
        the MD itself: exact, and 50-100x slower on a CPU) [--engine].
      student: "fresh" (default: a new model on the material's elements, with a ZBL close-contact
        repulsion) or "fine-tune" (the shipped default, fine-tuned) [--student].
      audit_frames: production frames per temperature the reference labels for the audit (0: no audit).
      audit_threshold_meV_per_A: force MAE above which the audit warns [--audit-threshold].
      species: the mobile ion; default Li when present [--species].
      charges_e: formal charges per element, e.g. ``{"Li": 1, "La": 3}``; the others are guessed [--charges].
      preset: "quick", "standard" or "paper" [--preset]; the fields below default to its values.
      temperatures_K: MD temperatures [--temperatures].
      production_ps: analysed MD time per temperature [--time].
      equilibration_ps: discarded MD time before it [--equilibration].
      timestep_fs: MD time step [--timestep].
      target_atoms: smallest MD cell (atoms) [--target-atoms].
      max_atoms: largest MD cell the workflow builds, also when a dilute mobile ion needs a large supercell.
      supercell: force this repetition of the input cell [--supercell].
      ensemble: "nvt" (Nosé–Hoover) or "npt" [--ensemble].
      replicas: independent runs per temperature [--replicas].
      lower_when_melted: when the framework melts at all but fewer than two temperatures, run the ladder
        further down (:func:`superionic.estimate.temperatures_below_melting`) [--lower-when-melted/--no-...].
      relax: relax positions and cell before MD [--relax/--no-relax]; relax_steps FIRE steps at most, to
        relax_fmax_eV_per_A.
      n_orderings: orderings of a disordered structure ranked by the potential's energy.
      seed: every random choice (orderings, velocities) [--seed].
      skin_A: neighbour-list skin.
      progress: progress bars [--no-progress].
    """

    structure: str
    out_dir: str
    potential: str = "sevennet-0"
    engine: Literal["specialist", "direct"] = "specialist"
    # Fresh: the standard builds of Li6PS5Cl and Li3InCl6 pass their audits with it (30.9 and 23.3 meV/Å at
    # 1000 K); the fine-tuned student, bound to the default's smaller shape, missed on every sulfide.
    student: Literal["fine-tune", "fresh"] = "fresh"
    audit_frames: int = AUDIT_FRAMES["quick"]
    audit_threshold_meV_per_A: float = 50.0
    species: str | None = None
    charges_e: dict[str, float] | None = None
    preset: Literal["quick", "standard", "paper"] = "quick"
    temperatures_K: tuple[float, ...] = PRESETS["quick"]["temperatures_K"]
    production_ps: float = PRESETS["quick"]["production_ps"]
    equilibration_ps: float = PRESETS["quick"]["equilibration_ps"]
    timestep_fs: float = PRESETS["quick"]["timestep_fs"]
    target_atoms: int = PRESETS["quick"]["target_atoms"]
    max_atoms: int = 2000
    supercell: tuple[int, int, int] | None = None
    ensemble: Literal["nvt", "npt"] = "nvt"
    replicas: int = 1
    lower_when_melted: bool = True
    relax: bool = True
    relax_steps: int = PRESETS["quick"]["relax_steps"]
    relax_fmax_eV_per_A: float = 0.1
    n_orderings: int = 6
    seed: int = 0
    skin_A: float = 1.0
    progress: bool = True

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> EstimateSettings:
        """The preset's values, then every override that is not None."""
        if preset not in PRESETS:
            raise ValueError(f"unknown --preset {preset!r}; choose one of {', '.join(PRESETS)}")
        preset_values = {**PRESETS[preset], "audit_frames": AUDIT_FRAMES[preset]}
        values = {**preset_values, **{k: v for k, v in overrides.items() if v is not None}}
        return cls(preset=preset, **values)  # type: ignore[arg-type]

    def validate(self) -> None:
        """Raise ``ValueError`` naming the flag of the first setting that cannot work."""
        if not self.temperatures_K or any(not (t > 0 and math.isfinite(t)) for t in self.temperatures_K):
            raise ValueError(
                f"--temperatures must be positive kelvin values, got {list(self.temperatures_K)}"
            )
        for flag, value in (("--time", self.production_ps), ("--timestep", self.timestep_fs)):
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{flag} must be positive, got {value:g}")
        if not (self.equilibration_ps >= 0 and math.isfinite(self.equilibration_ps)):
            raise ValueError(f"--equilibration must be >= 0, got {self.equilibration_ps:g}")
        if self.timestep_fs > MAX_TIMESTEP_FS:
            raise ValueError(
                f"--timestep {self.timestep_fs:g} fs is too long for Li dynamics; use <= {MAX_TIMESTEP_FS:g} fs"
            )
        if self.engine not in ("specialist", "direct"):
            raise ValueError(f"--engine must be specialist or direct, got {self.engine!r}")
        if self.student not in ("fine-tune", "fresh"):
            raise ValueError(f"--student must be fine-tune or fresh, got {self.student!r}")
        if not self.audit_threshold_meV_per_A > 0:
            raise ValueError(f"--audit-threshold must be positive, got {self.audit_threshold_meV_per_A:g}")
        if self.ensemble not in ("nvt", "npt"):
            raise ValueError(f"--ensemble must be nvt or npt, got {self.ensemble!r}")
        for flag, value, least in (
            ("--replicas", self.replicas, 1),
            ("--target-atoms", self.target_atoms, 1),
            ("max_atoms", self.max_atoms, 1),
            ("n_orderings", self.n_orderings, 1),
            ("relax_steps", self.relax_steps, 0),
        ):
            if value < least:
                raise ValueError(f"{flag} must be >= {least}, got {value}")
        if not self.skin_A >= 0:
            raise ValueError(f"skin_A must be >= 0, got {self.skin_A}")

    @property
    def save_every_fs(self) -> float:
        """Frame interval: at least ~50 frames per run (50 fs apart for long runs), so the MSD has enough time
        origins; a whole number of time steps."""
        steps = max(1, round(min(50.0, self.production_ps * 1e3 / 50) / self.timestep_fs))
        return steps * self.timestep_fs

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
