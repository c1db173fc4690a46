"""``superionic md``: structure file -> MD at one or more temperatures -> H5MD trajectories (+ PDB topology).

Per temperature and replica it writes ``<name>_T<T>K_r<replica>.h5md`` and a ``.pdb`` topology, readable with
``MDAnalysis.Universe(pdb, h5md)``, plus a checkpoint: rerun the same command with ``--restart`` to continue a
killed run. ``--potential lj`` runs a Lennard-Jones argon-like potential (no model needed; to try the engine).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from superionic.cli import _common as common
from superionic.settings import ENSEMBLES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("structure", type=Path, help="structure file (CIF, POSCAR, extxyz, JSON); ordered")
    common.add_potential(parser, extra=", or lj (Lennard-Jones argon, to try the engine)")
    parser.add_argument(
        "--charges",
        type=common.charges,
        metavar="EL=Q,...",
        help="formal charges in e written to the trajectory, e.g. Li=1,N=-3; elements left out are guessed",
    )
    common.add_temperatures(parser, "1000", "MD temperatures")
    common.add_md_times(parser, {"time": "50ps", "equilibration": "5ps", "timestep": "2fs"})
    parser.add_argument(
        "--save-every",
        type=common.timestep_fs,
        default=50.0,
        help="time between written frames, e.g. 50fs (bare number: fs); default: 50fs",
    )
    common.add_md_run(parser, tuple(ENSEMBLES), "nvt")
    parser.add_argument(
        "--pressure",
        type=common.pressure_GPa,
        default=0.0,
        help="npt target pressure, e.g. 0.1GPa; default: 0",
    )
    parser.add_argument("--skin", type=float, default=1.0, help="neighbour-list skin in Å; default: 1.0")
    parser.add_argument(
        "--float64", action="store_true", help="64-bit precision (slower; default: the potential's, float32)"
    )
    parser.add_argument("--velocities", action="store_true", help="also write velocities (Å/ps)")
    parser.add_argument("--restart", action="store_true", help="continue from the checkpoint in --out")
    parser.add_argument("--overwrite", action="store_true", help="replace the output of an earlier run")
    common.add_output(parser, "output folder; default: md_out", "md_out")


def build_parser() -> argparse.ArgumentParser:
    parser = common.Parser(prog="superionic md", description=__doc__)
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    return common.run_command("superionic md", args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    import jax

    from superionic import md, structures
    from superionic.records import write_json_atomic

    if not args.skin >= 0:
        raise ValueError(f"--skin must be >= 0 Å, got {args.skin}")
    config = md.MDConfig(
        ensemble=ENSEMBLES[args.ensemble],
        temperatures_K=common.flatten(args.temperatures),
        replicas=args.replicas,
        timestep_fs=args.timestep,
        production_ps=args.time,
        equilibration_ps=args.equilibration,
        save_every_fs=args.save_every,
        pressure_GPa=args.pressure,
        seed=args.seed,
        precision="float64" if args.float64 else None,
        write_velocities=args.velocities,
        progress=not args.no_progress,
    )
    structure = structures.read_structure(
        args.structure
    )  # settings and input checked before anything expensive
    if args.float64:
        jax.config.update("jax_enable_x64", True)
    # Supercell width: prepare_system's own 2 x cutoff (superionic's neighbour table resolves periodic images),
    # except for jax-md's minimum-image lists, where the skin counts.
    min_width_A = None
    if args.potential == "lj":
        potential = md.LennardJones()
        min_width_A = 2.0 * (potential.cutoff_A + args.skin)
    else:
        from superionic import potentials

        potential = potentials.load(args.potential, dtype="float64" if args.float64 else "float32")
    system = md.prepare_system(
        structure,
        potential.cutoff_A,
        args.skin,
        target_atoms=args.target_atoms or 100,
        supercell=args.supercell,
        min_width_A=min_width_A,
        charges_e=args.charges,
        name=args.structure.stem,
    )
    charges = ", ".join(
        f"{el} {q:+g}" for el, q in sorted(set(zip(system.symbols, system.charges_e.tolist(), strict=True)))
    )
    print(
        f"{system.name}: {system.n_atoms} atoms, supercell {system.supercell}, formal charges (e): {charges}"
    )
    out = Path(args.out)
    result = md.run(system, potential, config, out, restart=args.restart, overwrite=args.overwrite)
    # Written after the run so that a folder holding config.json holds a finished run.
    write_json_atomic(out / "config.json", {**config.to_dict(), "skin_A": system.skin_A})
    for member in result.members:
        print(f"MDAnalysis.Universe({str(member.topology)!r}, {str(member.trajectory)!r})")
    return common.EXIT_OK
