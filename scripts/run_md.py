"""Structure file -> MD -> H5MD trajectories. A plain script to copy and edit.

    python scripts/run_md.py examples/Li3N.cif --potential sevennet-0 --temperatures 600 800 1000 --ps 50 --out runs/Li3N

Writes, per temperature (and replica), ``<name>_T<T>K_r<replica>.h5md`` plus a ``.pdb`` topology, so that

    import MDAnalysis as mda
    u = mda.Universe("runs/Li3N/Li3N_T1000K_r0.pdb", "runs/Li3N/Li3N_T1000K_r0.h5md")

works, and a checkpoint: rerun the same command with ``--restart`` to continue a killed run.
``--potential lj`` runs a Lennard-Jones argon-like potential (no model needed; for trying the engine out).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax

from superionic import md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("structure", help="structure file (CIF, POSCAR, extxyz, ...)")
    parser.add_argument("--potential", default="default", help="superionic potential name or path, or 'lj'")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1000.0], help="K")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--ensemble", default="nvt_nose_hoover", choices=md.ENSEMBLES)
    parser.add_argument("--ps", type=float, default=50.0, help="production length (ps)")
    parser.add_argument("--equilibration-ps", type=float, default=5.0)
    parser.add_argument("--timestep-fs", type=float, default=2.0)
    parser.add_argument("--save-every-fs", type=float, default=50.0)
    parser.add_argument("--pressure-gpa", type=float, default=0.0, help="NPT only")
    parser.add_argument("--target-atoms", type=int, default=100)
    parser.add_argument("--skin", type=float, default=1.0, help="neighbour-list skin (Å)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--float64", action="store_true", help="64-bit precision (slower)")
    parser.add_argument("--velocities", action="store_true", help="also write velocities")
    parser.add_argument("--out", type=Path, default=Path("md_out"))
    parser.add_argument("--restart", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    if args.float64:
        jax.config.update("jax_enable_x64", True)
    if args.potential == "lj":
        potential = md.LennardJones()
        cutoff = potential.cutoff
    else:
        from superionic import potentials

        potential = potentials.load(args.potential, dtype="float64" if args.float64 else "float32")
        cutoff = potential.cutoff_A

    system = md.prepare_system(
        args.structure, cutoff_A=cutoff, skin_A=args.skin, target_atoms=args.target_atoms
    )
    charges = sorted(set(zip(system.symbols, system.charges_e, strict=True)))
    print(f"{system.name}: {system.n_atoms} atoms, supercell {system.supercell}, charges {charges}")
    config = md.MDConfig(
        ensemble=args.ensemble,
        temperatures_K=tuple(args.temperatures),
        replicas=args.replicas,
        timestep_fs=args.timestep_fs,
        production_ps=args.ps,
        equilibration_ps=args.equilibration_ps,
        save_every_fs=args.save_every_fs,
        pressure_GPa=args.pressure_gpa,
        skin_A=args.skin,
        seed=args.seed,
        precision="float64" if args.float64 else "float32",
        write_velocities=args.velocities,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
    result = md.run(system, potential, config, args.out, restart=args.restart, overwrite=args.overwrite)
    for member in result.members:
        print(f"MDAnalysis.Universe({str(member.topology)!r}, {str(member.trajectory)!r})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
