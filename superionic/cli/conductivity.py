"""``conductivity estimate|analyze``: from a structure file or trajectories to D, σ, Ea and σ(300 K)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence

from superionic import __version__
from superionic.cli._common import EXIT_ERROR, EXIT_OK, fail

_TIME_UNITS_PS = {"fs": 1e-3, "ps": 1.0, "ns": 1e3}


def parse_time_ps(text: str) -> float:
    """'50ps', '2 fs', '0.1ns' -> picoseconds; a bare number is taken as ps."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(fs|ps|ns)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: give a number with a unit, e.g. 50ps or 2fs"
        )
    return float(match.group(1)) * _TIME_UNITS_PS[match.group(2) or "ps"]


def parse_temperatures(values: Sequence[str]) -> tuple[float, ...]:
    """'700 900 1100' or a range 'START:STOP:STEP' (inclusive) in K."""
    out: list[float] = []
    for value in values:
        if ":" in value:
            try:
                start, stop, step = (float(v) for v in value.split(":"))
            except ValueError as err:
                raise argparse.ArgumentTypeError(
                    f"invalid range {value!r}: use START:STOP:STEP, e.g. 700:1300:200"
                ) from err
            if step <= 0 or stop < start:
                raise argparse.ArgumentTypeError(f"invalid range {value!r}: need STEP > 0 and STOP >= START")
            n = round((stop - start) / step) + 1
            out.extend(start + i * step for i in range(n))
        else:
            try:
                out.append(float(value.rstrip("K")))
            except ValueError as err:
                raise argparse.ArgumentTypeError(f"invalid temperature {value!r} (kelvin)") from err
    return tuple(out)


def parse_supercell(text: str) -> tuple[int, int, int] | None:
    if text == "auto":
        return None
    match = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text)
    if not match or min(int(g) for g in match.groups()) < 1:
        raise argparse.ArgumentTypeError(f"invalid supercell {text!r}: use auto or AxBxC, e.g. 2x2x3")
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conductivity",
        description="Estimate ionic diffusivity and conductivity of solid electrolytes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    est = sub.add_parser("estimate", help="structure file -> MD at several temperatures -> σ(300 K) report")
    est.add_argument("structure", help="CIF, POSCAR/CONTCAR, extxyz, pymatgen/ASE JSON")
    est.add_argument(
        "--potential", default="default", help="registered name or checkpoint path (default: default)"
    )
    est.add_argument("--species", help="mobile ion (default: Li if present)")
    est.add_argument(
        "--charge", type=float, help="charge of the mobile ion in e (default: oxidation-state guess)"
    )
    est.add_argument("--preset", choices=["quick", "standard", "paper"], default="quick")
    est.add_argument("--temperatures", nargs="+", metavar="T", help="K, e.g. 700 900 1100 or 700:1300:200")
    est.add_argument("--time", type=parse_time_ps, help="production time, e.g. 50ps")
    est.add_argument("--equilibration", type=parse_time_ps, help="discarded equilibration time, e.g. 5ps")
    est.add_argument("--timestep", type=parse_time_ps, help="MD timestep, e.g. 2fs")
    est.add_argument("--supercell", type=parse_supercell, default=None, help="auto (default) or AxBxC")
    est.add_argument("--ensemble", choices=["nvt", "npt"], default="nvt")
    est.add_argument("--replicas", type=int, default=1)
    est.add_argument(
        "--relax",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="relax positions and cell before MD (default: yes)",
    )
    est.add_argument("--seed", type=int, default=0)
    est.add_argument("--out", default=None, help="output folder (default: runs/<structure name>)")
    est.add_argument("--json", action="store_true", help="print report.json on stdout instead of the table")
    est.add_argument("--no-progress", action="store_true", help="no progress bars")

    ana = sub.add_parser("analyze", help="H5MD trajectories -> D, σ, Haven ratio, Arrhenius report")
    ana.add_argument("trajectories", nargs="+", help="H5MD files (ours or other codes'), XDATCAR, ASE .traj")
    ana.add_argument("--species", default="Li")
    ana.add_argument("--charge", type=float)
    ana.add_argument("--temperature", type=float, nargs="+", help="K, one per file (or one for all)")
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
        if r.get("diffusion_observed", True):
            d, d_ci = _fmt(r["D_tracer_cm2_per_s"]), _interval(r["D_tracer_cm2_per_s_ci95"])
            s, s_ci = _fmt(r["sigma_mS_per_cm"]), _interval(r["sigma_mS_per_cm_ci95"])
        else:
            d, d_ci = "< " + _fmt(r.get("D_tracer_cm2_per_s_upper95")), "(upper bound)"
            s, s_ci = "< " + _fmt(r.get("sigma_mS_per_cm_upper95")), "(upper bound)"
        lines.append(
            f"{r['temperature_K']:7.1f}  {d:>14}  {d_ci:>22}  {s:>11}  {s_ci:>22}  {_fmt(r.get('haven_ratio'), 2):>6}"
        )
    if transport.get("Ea_eV") is not None:
        lines.append(f"Ea = {transport['Ea_eV']:.3f} eV, 95% CI {_interval(transport['Ea_eV_ci95'])}")
        lines.append(
            f"σ(300 K) = {_fmt(transport['sigma_300K_mS_per_cm'])} mS/cm, "
            f"95% CI {_interval(transport['sigma_300K_mS_per_cm_ci95'])}"
        )
    else:
        lines.append("Ea, σ(300 K): need diffusion resolved at two or more temperatures")
    verdict = transport.get("gnome_superionic_1000K")
    if verdict is not None:
        lines.append(
            f"GNoME 1000 K classification: {'superionic' if verdict else 'not superionic'} "
            f"(σ(1000 K) = {_fmt(transport.get('sigma_1000K_mS_per_cm'))} mS/cm vs threshold 15.1 mS/cm)"
        )
    for warning in transport.get("warnings", []):
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
    from pathlib import Path

    from superionic.estimate import EstimateError, EstimateSettings, estimate_conductivity

    out = args.out or str(Path("runs") / Path(args.structure).stem)
    try:
        settings = EstimateSettings.from_preset(
            args.preset,
            structure=args.structure,
            out_dir=out,
            potential=args.potential,
            species=args.species,
            charge_e=args.charge,
            temperatures_K=parse_temperatures(args.temperatures) if args.temperatures else None,
            production_ps=args.time,
            equilibration_ps=args.equilibration,
            timestep_fs=None if args.timestep is None else args.timestep * 1e3,
            supercell=args.supercell,
            ensemble=args.ensemble,
            replicas=args.replicas,
            relax=args.relax,
            seed=args.seed,
            progress=not args.no_progress and not args.json,
        )
        log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
        report, _ = estimate_conductivity(settings, progress=log)
    except argparse.ArgumentTypeError as err:
        return fail("conductivity estimate", str(err))
    except (EstimateError, ValueError, FileNotFoundError) as err:
        return fail("conductivity estimate", str(err).splitlines()[0])
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report["transport"]))
        print(f"report: {Path(out) / 'report.json'} (wall time {report['wall_time_s']:.0f} s)")
    return EXIT_OK


def _run_analyze(args: argparse.Namespace) -> int:
    from superionic.estimate import EstimateError, analyze_trajectories

    try:
        report, _ = analyze_trajectories(
            args.trajectories,
            args.out,
            species=args.species,
            charge_e=args.charge,
            temperatures_K=args.temperature,
            mechanism=args.mechanism or args.sites is not None,
            sites=args.sites,
        )
    except EstimateError as err:
        return fail("conductivity analyze", str(err))
    print(json.dumps(report, indent=2) if args.json else format_table(report["transport"]))
    if "mechanism" in report and not args.json:
        print(format_mechanism(report["mechanism"]))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "estimate" and args.temperatures:
            parse_temperatures(args.temperatures)  # report a bad temperature before any work
    except argparse.ArgumentTypeError as err:
        return fail(f"conductivity {getattr(args, 'command', '')}".strip(), str(err))
    if args.command == "estimate":
        return _run_estimate(args)
    return _run_analyze(args) if args.command == "analyze" else EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
