#!/usr/bin/env python3
"""Does a specialist reproduce SevenNet-0's own Li diffusivity? The check behind ``conductivity estimate``.

For each material of ``docs/reference/teacher_md.json`` (written by ``scripts/teacher_reference.py``): build a
specialist on the same relaxed cell with SevenNet-0 as the teacher (the ``standard`` specialist preset unless
``--preset``), run the specialist's MD with exactly the teacher's protocol (same cell, 1000 K NVT Nosé–Hoover,
same equilibration ramp, production time, time step, save interval and seed), and compare:

- Li tracer D at 1000 K and its 95 % interval, specialist / teacher ratio, and whether the two agree within
  their combined interval (log-space half-widths added in quadrature);
- framework RMS displacement, specialist vs teacher (melting shows here first);
- the audit: SevenNet-0 labels 12 of the specialist's production frames (force MAE/RMSE, energy MAE).

Results go to ``docs/reference/specialist_vs_teacher.json`` (numbers only). Each material's work folder is
``runs/specialist_validation/NAME-PRESET-STUDENT``; a finished material is skipped on a rerun.

    python scripts/specialist_validation.py                      # every material with a teacher result
    python scripts/specialist_validation.py --only Li3N-vac --student fresh
    python scripts/specialist_validation.py --only Li3N-vac@900-1100-1300K-10ps    # the framework scan
    python scripts/specialist_validation.py --only LGPS --preset paper --final-num-layers 3 --epochs-final 60
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "docs" / "reference"
WORK = REPO / "runs" / "specialist_validation"


def log_interval_agreement(d_a: float, ci_a, d_b: float, ci_b) -> tuple[float, bool]:
    """The ratio a/b and whether |log a - log b| lies within the combined 95 % half-width (quadrature of each
    interval's log-space half-width; the intervals are asymmetric in D, roughly symmetric in log D)."""
    half = [0.5 * (math.log(hi) - math.log(lo)) for lo, hi in (ci_a, ci_b)]
    combined = math.hypot(*half)
    return d_a / d_b, abs(math.log(d_a) - math.log(d_b)) <= combined


def run_material(
    name: str,
    teacher_row: dict,
    teacher,
    preset: str,
    student: str,
    num_layers: int | None = None,
    final_num_layers: int | None = None,
    epochs_final: int | None = None,
) -> dict:
    import ase.io

    from superionic import analysis, md
    from superionic.settings import SPECIALIST_PRESETS
    from superionic.training.audit import audit
    from superionic.training.specialist import SPECIALIST_MODEL, SpecialistSettings, build_specialist

    # One folder per (material, preset, student, depth): the MD restarts from what it finds there, so two
    # students must never share one.
    work = WORK / f"{name}-{preset}-{student}{variant_tag(num_layers, final_num_layers, epochs_final)}"
    work.mkdir(parents=True, exist_ok=True)
    cell = ase.io.read(REPO / teacher_row["cell"])
    # A framework scan row (teacher_reference.py --temperatures) holds several temperatures.
    teacher_rows = sorted(teacher_row.get("per_temperature", [teacher_row]), key=lambda r: r["temperature_K"])
    temperatures = [row["temperature_K"] for row in teacher_rows]
    t0 = time.perf_counter()
    # The flags override the preset's values (one dict, so a flag and the preset may name the same field).
    overrides = {
        **({} if num_layers is None else {"model": {**SPECIALIST_MODEL, "num_layers": num_layers}}),
        **({} if final_num_layers is None else {"final_model": {"num_layers": final_num_layers}}),
        **({} if epochs_final is None else {"epochs_final": epochs_final}),
    }
    settings = SpecialistSettings(
        temperatures_K=tuple(temperatures),
        seed=teacher_row["seed"],
        student=student,
        **{**SPECIALIST_PRESETS[preset], **overrides},
    )
    built = build_specialist(
        [cell], teacher, settings, work / "specialist", progress=lambda m: print(f"[{name}] {m}", flush=True)
    )
    build_s = time.perf_counter() - t0
    specialist = built.potential

    system = md.prepare_system(cell, specialist.cutoff_A, 1.0, target_atoms=0, supercell=(1, 1, 1))
    config = md.MDConfig(
        temperatures_K=tuple(temperatures),
        production_ps=teacher_row["production_ps"],
        equilibration_ps=teacher_row["equilibration_ps"],
        equilibration_start_K=300.0,
        timestep_fs=teacher_row["timestep_fs"],
        save_every_fs=20.0,
        seed=teacher_row["seed"],
        progress=True,
    )
    t0 = time.perf_counter()
    result = md.run(system, specialist, config, work / "md", restart=True)
    md_s = time.perf_counter() - t0
    rows = sorted(analysis.analyze(result.trajectories, species="Li").results, key=lambda r: r.temperature_K)
    checked = audit(specialist, teacher, result.trajectories, temperatures, frames_per_temperature=12)
    print(checked.summary(), flush=True)
    comparisons = [compare(row, teacher_side) for row, teacher_side in zip(rows, teacher_rows, strict=True)]
    summary = {
        "material": name,
        "cell": teacher_row["cell"],
        "n_atoms": len(cell),
        "specialist": {
            "preset": preset,
            "student": student,
            "num_layers": settings.model["num_layers"],
            "final_num_layers": (settings.final_architecture or settings.model)["num_layers"],
            "epochs_final": settings.epochs_final,
            "stop_reason": built.card["stop_reason"],
            "rounds": len(built.card["rounds"]),
            "training_structures": built.card["data"]["training_structures"],
            "build_wall_s": round(build_s, 1),
        },
        "audit": checked.to_dict(),
        "md_wall_s": round(md_s, 1),
        "md_atom_steps_per_s": result.atom_steps_per_s,
        "teacher_md_atom_steps_per_s": teacher_row.get("atom_steps_per_s_this_call"),
    }
    if "per_temperature" in teacher_row:
        return {**summary, "production_ps": teacher_row["production_ps"], "per_temperature": comparisons}
    return {**summary, **comparisons[0]}


def variant_tag(num_layers: int | None, final_num_layers: int | None, epochs_final: int | None) -> str:
    """Suffix of a result key and work folder for a build other than the preset's (empty for it): -L3 for
    3-layer students throughout, -final-L3 for a 3-layer final fit, -E60 for a 60-epoch final fit."""
    return (
        ("" if num_layers is None else f"-L{num_layers}")
        + ("" if final_num_layers is None else f"-final-L{final_num_layers}")
        + ("" if epochs_final is None else f"-E{epochs_final}")
    )


def compare(row, teacher_row: dict) -> dict:
    """Specialist vs teacher at one temperature: D (ratio, combined interval) and framework RMS."""
    d_s, ci_s = row.D_tracer_cm2_per_s, row.D_tracer_cm2_per_s_ci95
    d_t, ci_t = teacher_row["D_tracer_cm2_per_s"], teacher_row["D_tracer_cm2_per_s_ci95"]
    ratio, agree = (
        (None, None) if not (d_s and ci_s and ci_t) else log_interval_agreement(d_s, ci_s, d_t, ci_t)
    )
    framework = row.framework_rms_displacement_A
    return {
        "temperature_K": teacher_row["temperature_K"],
        "D_tracer_cm2_per_s": {"specialist": d_s, "teacher": d_t},
        "D_tracer_cm2_per_s_ci95": {"specialist": list(ci_s) if ci_s else None, "teacher": ci_t},
        # the bound that stands in for D where no hop was resolved
        "D_tracer_cm2_per_s_upper95": {
            "specialist": row.D_tracer_cm2_per_s_upper95,
            "teacher": teacher_row.get("D_tracer_cm2_per_s_upper95"),
        },
        "D_ratio_specialist_over_teacher": ratio,
        "D_within_combined_ci95": agree,
        "D_within_factor_1_5": None if ratio is None else bool(1 / 1.5 <= ratio <= 1.5),
        "framework_rms_displacement_A": {
            "specialist": framework,
            "teacher": teacher_row["framework_rms_displacement_A"],
        },
        # the melting criterion: the specialist's framework RMS within 0.2 Å of the teacher's
        "framework_within_0_2_A": bool(abs(framework - teacher_row["framework_rms_displacement_A"]) <= 0.2),
        "warnings": list(row.warnings),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", help="material names of docs/reference/teacher_md.json")
    parser.add_argument("--preset", default="standard", choices=("quick", "standard", "paper"))
    parser.add_argument("--student", default="fresh", choices=("fresh", "fine-tune"))
    parser.add_argument(
        "--num-layers", type=int, help="interaction layers of a fresh student (default: the specialist's own)"
    )
    parser.add_argument(
        "--final-num-layers",
        type=int,
        help="a fresh student with this many layers for the final fit, from scratch on all the data",
    )
    parser.add_argument("--epochs-final", type=int, help="epochs of the final fit (default: the preset's)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from superionic.potentials import load

    teacher_results = json.loads((REFERENCE / "teacher_md.json").read_text())
    out_path = REFERENCE / "specialist_vs_teacher.json"
    results = json.loads(out_path.read_text()) if out_path.is_file() else {}
    teacher = load("sevennet-0")
    for name, teacher_row in teacher_results.items():
        tag = variant_tag(args.num_layers, args.final_num_layers, args.epochs_final)
        key = f"{name}/{args.preset}/{args.student}{tag}"
        if (args.only and name not in args.only) or key in results:
            continue
        results[key] = run_material(
            name,
            teacher_row,
            teacher,
            args.preset,
            args.student,
            args.num_layers,
            args.final_num_layers,
            args.epochs_final,
        )
        # merged into the file as it is now: another run may have written it during this hour-long build
        on_disk = json.loads(out_path.read_text()) if out_path.is_file() else {}
        out_path.write_text(json.dumps({**on_disk, key: results[key]}, indent=2, default=float) + "\n")
        print(json.dumps(results[key], default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
