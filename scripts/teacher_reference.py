#!/usr/bin/env python3
"""Reference Li diffusivities from SevenNet-0's own MD (JAX, no student) on small cells of fast Li conductors.

These are the numbers a specialist potential must reproduce (``conductivity estimate`` builds one per
material): the same ordered, relaxed cell, the same temperature, SevenNet-0 itself driving the atoms.

For each material: order the (disordered) input on a small supercell (the lowest SevenNet-0 energy of a few
random orderings), relax positions and cell with SevenNet-0, save the cell (``docs/reference/cells/NAME.cif``),
then NVT Nosé–Hoover at 1000 K (equilibration with a temperature ramp, then production), and the Li tracer
diffusivity with its 95 % interval from superionic.analysis. Results go to ``docs/reference/teacher_md.json``
(numbers only, no trajectories). Each run checkpoints; rerunning the script resumes it and skips finished
materials. SevenNet-0 runs at ~150-300 atom-steps/s on two CPU cores: about 30-60 min per material.

    python scripts/teacher_reference.py                     # all materials
    python scripts/teacher_reference.py --only Li3N-vac     # one
    python scripts/teacher_reference.py --only Li3N-vac --temperatures 900 1100 1300 --production-ps 10
                                                            # framework scan: does SevenNet-0 keep the crystal?
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OBELIX = REPO.parent / "shared" / "data" / "obelix" / "cifs"
OUT = REPO / "docs" / "reference"
WORK = REPO / "runs" / "teacher_reference"


@dataclass(frozen=True)
class Material:
    name: str
    source: Path
    supercell: tuple[int, int, int]
    remove_li: int = 0  # Li vacancies to make (Li3N is a vacancy conductor: the perfect crystal has no hops)
    note: str = ""
    primitive: bool = False  # start from the primitive cell (spglib's): a small cell for SevenNet-0's MD


MATERIALS = (
    Material(
        "Li3N-vac",
        REPO / "examples" / "Li3N.cif",
        (2, 2, 2),
        1,
        "alpha-Li3N, one Li vacancy in the Li2N layer",
    ),
    Material("LGPS", OBELIX / "mtn.cif", (1, 1, 1), 0, "Li10GeP2S12, OBELiX mtn (CC BY 4.0), one ordering"),
    Material(
        "Li6PS5Cl", REPO / "examples" / "Li6PS5Cl_disordered.cif", (1, 1, 1), 0, "argyrodite, one ordering"
    ),
    # The oxide: its P-O and Ti-O forces are twice the sulfides' (1.5 eV/Å RMS at 1000 K), the hardest
    # audit. The 36-atom rhombohedral cell holds 2 Li, so D has a wide interval; the 108-atom hexagonal cell
    # would take SevenNet-0 ~80 min per 20 ps here.
    Material(
        "LiTi2(PO4)3",
        OBELIX / "rr5.cif",
        (1, 1, 1),
        0,
        "NASICON LiTi2(PO4)3, OBELiX rr5 (CC BY 4.0), rhombohedral primitive cell",
        primitive=True,
    ),
)

TEMPERATURE_K = 1000.0
EQUILIBRATION_PS = 2.0
PRODUCTION_PS = 20.0
SEED = 20261129


def ordered_cell(material: Material, teacher, n_orderings: int = 8):
    """The lowest-energy of ``n_orderings`` random orderings on the supercell (ASE Atoms)."""
    from pymatgen.core import Structure

    from superionic.structures import order_structure

    structure = Structure.from_file(material.source)
    if material.primitive:
        from superionic.structures import primitive_cell

        structure = primitive_cell(structure)
    count = 1 if structure.is_ordered else n_orderings
    orderings = order_structure(structure, material.supercell, n_orderings=count, seed=SEED)
    candidates = [o.atoms for o in orderings]
    energies = [r["energy"] / len(a) for a, r in zip(candidates, teacher.evaluate(candidates), strict=True)]
    atoms = candidates[int(np.argmin(energies))]
    if material.remove_li:
        li = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Li"]
        del atoms[li[: material.remove_li]]
    return atoms


def relaxed(atoms, teacher, fmax: float = 0.02, steps: int = 300):
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    from superionic.potentials import SuperionicCalculator

    atoms = atoms.copy()
    atoms.calc = SuperionicCalculator(teacher)
    optimizer = FIRE(FrechetCellFilter(atoms), logfile=None)
    converged = optimizer.run(fmax=fmax, steps=steps)
    return atoms, {"steps": int(optimizer.nsteps), "converged": bool(converged), "fmax_eV_per_A": fmax}


def run_material(
    material: Material,
    teacher,
    temperatures_K=(TEMPERATURE_K,),
    production_ps: float = PRODUCTION_PS,
    key: str | None = None,
) -> dict:
    """SevenNet-0's MD of the material at ``temperatures_K`` (one batched run), in ``runs/.../KEY`` (default:
    the material's name). A single temperature gives the flat row of ``teacher_md.json``; several give a
    ``per_temperature`` list (the framework scan)."""
    import ase.io

    from superionic import analysis, md

    cell_path = OUT / "cells" / f"{material.name}.cif"
    # one folder per results key: the MD restarts from what it finds there
    work = WORK / (key or material.name)
    work.mkdir(parents=True, exist_ok=True)
    relax_info = None
    if not cell_path.is_file():
        atoms, relax_info = relaxed(ordered_cell(material, teacher), teacher)
        cell_path.parent.mkdir(parents=True, exist_ok=True)
        ase.io.write(cell_path, atoms)
        (work / "relax.json").write_text(json.dumps(relax_info))
    elif (work / "relax.json").is_file():
        relax_info = json.loads((work / "relax.json").read_text())
    atoms = ase.io.read(cell_path)
    system = md.prepare_system(atoms, teacher.cutoff_A, 1.0, target_atoms=0, supercell=(1, 1, 1))
    config = md.MDConfig(
        temperatures_K=tuple(temperatures_K),
        production_ps=production_ps,
        equilibration_ps=EQUILIBRATION_PS,
        equilibration_start_K=300.0,
        save_every_fs=20.0,
        seed=SEED,
        progress=True,
    )
    t0 = time.time()
    result = md.run(system, teacher, config, work, restart=True)
    report = analysis.analyze(result.trajectories, species="Li")
    mean_temperature = {round(m.temperature_K, 2): m.mean_temperature_K for m in result.members}
    per_temperature = [
        {
            "temperature_K": float(row.temperature_K),
            "mean_temperature_K": mean_temperature[round(float(row.temperature_K), 2)],
            "D_tracer_cm2_per_s": row.D_tracer_cm2_per_s,
            "D_tracer_cm2_per_s_ci95": list(row.D_tracer_cm2_per_s_ci95)
            if row.D_tracer_cm2_per_s_ci95
            else None,
            # when no hop is resolved, D is only bounded from above
            "D_tracer_cm2_per_s_upper95": row.D_tracer_cm2_per_s_upper95,
            "framework_rms_displacement_A": row.framework_rms_displacement_A,
            "warnings": list(row.warnings),
        }
        for row in report.results
    ]
    common = {
        "material": material.name,
        "note": material.note,
        "cell": str(cell_path.relative_to(REPO)),
        "formula": atoms.get_chemical_formula(mode="hill"),
        "n_atoms": len(atoms),
        "n_li": int(sum(s == "Li" for s in atoms.get_chemical_symbols())),
        "relaxation": relax_info,
        "teacher": {"name": teacher.name, "sha256": teacher.fingerprint()},
    }
    protocol = {
        "equilibration_ps": EQUILIBRATION_PS,
        "production_ps": production_ps,
        "timestep_fs": config.timestep_fs,
        "ensemble": config.ensemble,
        "seed": SEED,
    }
    timing = {
        "md_wall_s_this_call": round(time.time() - t0, 1),
        "atom_steps_per_s_this_call": result.atom_steps_per_s,
    }
    if len(per_temperature) > 1:
        return {
            **common,
            "temperatures_K": [float(t) for t in temperatures_K],
            **protocol,
            "per_temperature": per_temperature,
            **timing,
        }
    return {**common, **protocol, **per_temperature[0], **timing}


def scan_key(name: str, temperatures_K, production_ps: float) -> str:
    """The results key of a run off the reference protocol, e.g. ``Li3N-vac@900-1100-1300K-10ps`` (the
    production length only when it is not the reference's)."""
    length = "" if production_ps == PRODUCTION_PS else f"-{production_ps:g}ps"
    return f"{name}@{'-'.join(f'{t:g}' for t in temperatures_K)}K{length}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", help="material names: " + " ".join(m.name for m in MATERIALS))
    parser.add_argument(
        "--temperatures",
        nargs="+",
        type=float,
        default=[TEMPERATURE_K],
        help="K; several run batched and are stored under NAME@T1-T2-...K[-Pps] (the framework scan)",
    )
    parser.add_argument("--production-ps", type=float, default=PRODUCTION_PS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from superionic.potentials import load

    teacher = load("sevennet-0")
    single = args.temperatures == [TEMPERATURE_K] and args.production_ps == PRODUCTION_PS
    results_path = OUT / "teacher_md.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for material in MATERIALS:
        if args.only and material.name not in args.only:
            continue
        key = material.name if single else scan_key(material.name, args.temperatures, args.production_ps)
        if key in results:
            print(f"{key}: done ({results_path})")
            continue
        results[key] = run_material(material, teacher, args.temperatures, args.production_ps, key)
        results_path.parent.mkdir(parents=True, exist_ok=True)
        # merged into the file as it is now: another run may have written it during this hour-long MD
        on_disk = json.loads(results_path.read_text()) if results_path.is_file() else {}
        results_path.write_text(json.dumps({**on_disk, key: results[key]}, indent=2, default=float) + "\n")
        print(json.dumps(results[key], default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
