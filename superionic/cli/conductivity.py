"""``conductivity estimate|analyze``: from a structure file or trajectories to D, σ, Ea and σ(300 K)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from superionic import __version__
from superionic.cli import _common as common
from superionic.settings import PRESETS


def build_parser() -> argparse.ArgumentParser:
    parser = common.Parser(
        prog="conductivity", description="Estimate ionic diffusivity and conductivity of solid electrolytes."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    est = sub.add_parser(
        "estimate",
        help="structure file -> MD at several temperatures -> σ(300 K) report",
        description="Structure -> ordering (if disordered) -> supercell -> relaxation -> MD at every "
        "temperature -> D, σ, Haven ratio, Ea, σ(300 K) with 95 %% intervals -> OUT/report.json.",
    )
    est.add_argument("structure", help="CIF, POSCAR/CONTCAR (.vasp), extxyz, pymatgen/ASE JSON")
    est.add_argument(
        "--potential",
        default="sevennet-0",
        help="the reference potential (registered name or checkpoint path): it labels and audits the "
        "specialist, or runs the MD itself with --engine direct; default: sevennet-0",
    )
    est.add_argument(
        "--engine",
        choices=("specialist", "direct"),
        default="specialist",
        help="specialist: train a fast student on the reference's labels of this material, run the MD with "
        "it and audit it against the reference; direct: the reference runs the MD (exact, 50-100x slower on "
        "a CPU; for GPUs or checkpoints of earlier specialists); default: specialist",
    )
    est.add_argument(
        "--student",
        choices=("fine-tune", "fresh"),
        default="fresh",
        help="the specialist starts from scratch on the material's elements (fresh: l=2 features, 5 A cutoff, "
        "ZBL close-contact repulsion) or from the shipped default potential (fine-tune: faster to train, "
        "less accurate); default: fresh",
    )
    est.add_argument(
        "--audit-threshold",
        type=float,
        default=50.0,
        help="force MAE (meV/Å) of the specialist against the reference on its own production frames above "
        "which the report warns; default: 50",
    )
    common.add_species_and_charges(est, None)
    est.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="quick",
        help="quick: 900/1100/1300 K, 1 + 7 ps; standard: 700-1300 K, 5 + 50 ps; paper (GNoME): 1000 K, "
        "10 + 40 ps; default: quick",
    )
    common.add_temperatures(est, None, "MD temperatures (default: the preset's)")
    common.add_md_times(est, None)
    common.add_md_run(est, ("nvt", "npt"), "nvt")
    est.add_argument(
        "--relax",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="relax positions and cell before MD (FIRE; default: yes)",
    )
    est.add_argument(
        "--lower-when-melted",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when the framework melts at all but fewer than two temperatures, continue the temperature "
        "ladder downwards, one new temperature per melted one (default: yes)",
    )
    common.add_output(est, "output folder; default: runs/<structure name>", None)
    est.add_argument("--json", action="store_true", help="print report.json on stdout instead of the table")

    ana = sub.add_parser(
        "analyze",
        help="trajectories -> D, σ, Haven ratio, Arrhenius report",
        description="Analyse existing trajectories: superionic's or any H5MD (with --topology or a same-stem "
        ".pdb when it stores no species), XDATCAR, ASE .traj/extxyz.",
    )
    ana.add_argument("trajectories", nargs="+", help="H5MD files (ours or other codes'), XDATCAR, ASE .traj")
    common.add_species_and_charges(ana, "Li")
    common.add_temperatures(
        ana, None, "run temperatures, one per file or one for all (default: from the files)"
    )
    ana.add_argument(
        "--topology",
        help="a file with the atoms in order (PDB, GRO, CIF, POSCAR) for H5MD files that store no species, as "
        "in MDAnalysis.Universe(topology, trajectory); default: a .pdb of the same stem when present",
    )
    ana.add_argument(
        "--frame-interval",
        type=common.time_ps,
        help="time between frames, e.g. 50fs (bare number: ps), for files that store no times (XDATCAR, .traj)",
    )
    ana.add_argument(
        "--mechanism",
        action="store_true",
        help="also report how the ions move: sites and occupancies, jump rates per type (with intervals), "
        "barriers, collective jumps, density (.cube with --out) and percolation paths, RDFs",
    )
    ana.add_argument(
        "--sites",
        metavar="STRUCTURE",
        help="structure file (CIF, POSCAR, ...) whose mobile-ion sites are the sites of --mechanism, "
        "Wyckoff-labelled (implies --mechanism; default: sites found as peaks of the density)",
    )
    ana.add_argument("--out", default=None, help="write report.json, msd.png, arrhenius.png here")
    ana.add_argument("--json", action="store_true", help="print report.json on stdout instead of the table")
    common.add_debug(ana)
    return parser


def _fmt(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _interval(pair) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return "[—]"
    return f"[{pair[0]:.3g}, {pair[1]:.3g}]"


def format_table(transport: dict) -> str:
    """The human-readable summary of a TransportReport dict."""
    species = transport["species"]
    lines = [
        f"{'T/K':>7}  {'D_' + species + ' /cm2 s-1':>14}  {'95% CI':>22}  {'σ /mS cm-1':>11}  {'95% CI':>22}  "
        f"{'Haven':>6}",
    ]
    for r in transport["results"]:
        if r["diffusion_observed"]:
            d, d_ci = _fmt(r["D_tracer_cm2_per_s"]), _interval(r["D_tracer_cm2_per_s_ci95"])
            s, s_ci = _fmt(r["sigma_mS_per_cm"]), _interval(r["sigma_mS_per_cm_ci95"])
        else:
            d, d_ci = "< " + _fmt(r["D_tracer_cm2_per_s_upper95"]), "(upper bound)"
            s, s_ci = "< " + _fmt(r["sigma_mS_per_cm_upper95"]), "(upper bound)"
        lines.append(
            f"{r['temperature_K']:7.1f}  {d:>14}  {d_ci:>22}  {s:>11}  {s_ci:>22}  {_fmt(r['haven_ratio'], 2):>6}"
        )
    if transport["Ea_eV"] is not None:
        lines.append(f"Ea = {transport['Ea_eV']:.3f} eV, 95% CI {_interval(transport['Ea_eV_ci95'])}")
        lines.append(
            f"σ(300 K) = {_fmt(transport['sigma_300K_mS_per_cm'])} mS/cm, "
            f"95% CI {_interval(transport['sigma_300K_mS_per_cm_ci95'])}"
        )
    else:
        lines.append("Ea, σ(300 K): need diffusion resolved at two or more temperatures")
    verdict = transport["gnome_superionic_1000K"]
    if verdict is not None:
        lines.append(
            f"GNoME 1000 K classification: {'superionic' if verdict else 'not superionic'} "
            f"(σ(1000 K) = {_fmt(transport['sigma_1000K_mS_per_cm'])} mS/cm vs threshold "
            f"{transport['gnome_threshold_mS_per_cm']:.3g} mS/cm)"
        )
    for warning in transport["warnings"]:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def format_mechanism(mechanism: dict) -> str:
    """The human-readable summary of a MechanismReport dict: sites, occupancies, jumps, barriers."""
    sites = mechanism["sites"]
    counts = ", ".join(f"{n} {t}" for t, n in sites["sites_per_type"].items())
    lines = [f"sites ({sites['source']}, {sites['space_group']}): {counts}"]
    for r in mechanism["results"]:
        lines.append(
            f"{r['temperature_K']:g} K: {r['n_jumps']} jumps, {r['fraction_in_transit']:.0%} of time in transit"
        )
        for o in r["occupancy"]:
            lines.append(
                f"  occupancy {o['site_type']}: {o['ions_per_site']:.3f} {_interval(o['ions_per_site_ci95'])}"
            )
        for j in r["jump_types"]:
            lines.append(
                f"  {j['from_type']} -> {j['to_type']}: {j['n_jumps']} jumps, rate {_fmt(j['rate_per_ps'])}/ps "
                f"{_interval(j['rate_per_ps_ci95'])}"
            )
        lines.append(f"  {r['jump_vs_msd']}")
    for b in mechanism["barriers"]:
        if b["Ea_eV"] is not None:
            lines.append(f"Ea {b['jump_type']} = {b['Ea_eV']:.3f} eV {_interval(b['Ea_eV_ci95'])}")
    lines.extend(f"warning: {w}" for w in mechanism.get("warnings", []))
    return "\n".join(lines)


def _run_estimate(args: argparse.Namespace) -> int:
    from superionic.estimate import estimate_conductivity
    from superionic.settings import EstimateSettings

    out = args.out or str(Path("runs") / Path(args.structure).stem)
    settings = EstimateSettings.from_preset(
        args.preset,
        structure=args.structure,
        out_dir=out,
        potential=args.potential,
        engine=args.engine,
        student=args.student,
        audit_threshold_meV_per_A=args.audit_threshold,
        species=args.species,
        charges_e=args.charges,
        temperatures_K=common.flatten(args.temperatures),
        production_ps=args.time,
        equilibration_ps=args.equilibration,
        timestep_fs=args.timestep,
        target_atoms=args.target_atoms,
        supercell=args.supercell,
        ensemble=args.ensemble,
        replicas=args.replicas,
        relax=args.relax,
        lower_when_melted=args.lower_when_melted,
        seed=args.seed,
        progress=not args.no_progress and not args.json,
    )
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    report, _ = estimate_conductivity(settings, log=log)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report["transport"]))
        print(f"report: {Path(out) / 'report.json'} (wall time {report['wall_time_s']:.0f} s)")
    return common.EXIT_OK


def _run_analyze(args: argparse.Namespace) -> int:
    from superionic.analysis import analyze_trajectories

    report, _ = analyze_trajectories(
        args.trajectories,
        args.out,
        species=args.species,
        charges_e=args.charges,
        temperatures_K=common.flatten(args.temperatures),
        topology=args.topology,
        frame_interval_ps=args.frame_interval,
        mechanism=args.mechanism,
        sites=args.sites,
    )
    print(json.dumps(report, indent=2) if args.json else format_table(report["transport"]))
    if "mechanism" in report and not args.json:
        print(format_mechanism(report["mechanism"]))
    return common.EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = common.parse_args(parser, argv)
    if isinstance(args, int):  # --help, --version, or a one-line usage error already printed
        return args
    if args.command is None:
        parser.print_help()
        return common.EXIT_USAGE
    run = _run_estimate if args.command == "estimate" else _run_analyze
    return common.run_command(f"conductivity {args.command}", args.debug, lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
