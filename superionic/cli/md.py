"""``superionic md``: structure file -> MD at one or more temperatures -> H5MD trajectories (+ PDB topology).

Per temperature and replica it writes ``<name>_T<T>K_r<replica>.h5md`` and a ``.pdb`` topology, readable with
``MDAnalysis.Universe(pdb, h5md)``, plus a checkpoint: rerun the same command with ``--restart`` to continue a
killed run. ``--potential lj`` runs a Lennard-Jones argon-like potential (no model needed; to try the engine).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from superionic.cli._common import EXIT_OK, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from superionic.md import ENSEMBLES

    parser.add_argument("structure", type=Path, help="structure file (CIF, POSCAR, extxyz, ...)")
    parser.add_argument(
        "--potential", default="default", help="registered potential, .npz checkpoint, or 'lj'"
    )
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1000.0], help="K")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--ensemble", default="nvt_nose_hoover", choices=ENSEMBLES)
    parser.add_argument("--ps", type=float, default=50.0, help="production length (ps)")
    parser.add_argument("--equilibration-ps", type=float, default=5.0)
    parser.add_argument("--timestep-fs", type=float, default=2.0)
    parser.add_argument("--save-every-fs", type=float, default=50.0)
    parser.add_argument("--pressure-gpa", type=float, default=0.0, help="NPT only (GPa)")
    parser.add_argument("--target-atoms", type=int, default=100, help="smallest supercell size (atoms)")
    parser.add_argument("--skin", type=float, default=1.0, help="neighbour-list skin (Å)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--float64", action="store_true", help="64-bit precision (slower)")
    parser.add_argument("--velocities", action="store_true", help="also write velocities")
    parser.add_argument("--out", type=Path, default=Path("md_out"), help="output folder")
    parser.add_argument("--restart", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--overwrite", action="store_true", help="replace the output of an earlier run")
    parser.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="superionic md", description=__doc__)
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    import jax

    from superionic import md

    prog = "superionic md"
    if args.float64:
        jax.config.update("jax_enable_x64", True)
    try:
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
            progress=not args.no_progress,
        )
        charges = sorted(set(zip(system.symbols, system.charges_e, strict=True)))
        print(f"{system.name}: {system.n_atoms} atoms, supercell {system.supercell}, charges {charges}")
        args.out.mkdir(parents=True, exist_ok=True)
        result = md.run(system, potential, config, args.out, restart=args.restart, overwrite=args.overwrite)
    except (FileNotFoundError, FileExistsError, KeyError, ValueError, md.MDInstabilityError) as err:
        return fail(prog, str(err).strip("'\""))
    # Written after the run so that a folder holding config.json holds a finished run.
    (args.out / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
    for member in result.members:
        print(f"MDAnalysis.Universe({str(member.topology)!r}, {str(member.trajectory)!r})")
    return EXIT_OK
