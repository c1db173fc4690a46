"""``superionic discover CONFIG.yaml``: run or resume the discovery loop (see docs/discovery.md).

Writes into the config's ``out_dir``: the ASE database, ``config.yaml`` (the operative configuration),
``report.json`` (per-round statistics, ranked candidates, reference completeness) and ``transport/`` (the
hand-off's ranked table). Rerun the same command to resume a stopped run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from superionic.cli import _common as common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="discovery config (YAML)")
    parser.add_argument("--out", type=Path, help="run folder (overrides out_dir of the config)")
    parser.add_argument("--rounds", type=int, help="number of rounds (overrides the config)")
    parser.add_argument("--no-handoff", action="store_true", help="skip the transport hand-off")
    parser.add_argument("--scheduler", help="synchronous, local, slurm or a Dask scheduler address")
    parser.add_argument("--workers", type=int, help="workers of a local or SLURM Dask cluster")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    common.add_debug(parser)


def run(args: argparse.Namespace) -> int:
    return common.run_command("superionic discover", args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    from superionic.discovery import DiscoveryConfig, Progress, run_discovery

    config = DiscoveryConfig.read(args.config)
    changes = {}
    if args.out is not None:
        changes["out_dir"] = str(args.out.resolve())
    if args.rounds is not None:
        changes["rounds"] = args.rounds
    if args.no_handoff:
        changes["handoff"] = dataclasses.replace(config.handoff, enabled=False)
    if args.scheduler or args.workers:
        compute = config.compute
        compute = dataclasses.replace(compute, scheduler=args.scheduler or compute.scheduler)
        compute = dataclasses.replace(compute, workers=args.workers or compute.workers)
        changes["compute"] = compute
    config = dataclasses.replace(config, **changes)
    config.validate()  # ConfigError (a ValueError): one line, exit 1, before anything is written
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    report = run_discovery(config, Progress(enabled=not args.no_progress))
    print(format_summary(report))
    return common.EXIT_OK


def format_summary(report: dict) -> str:
    lines = ["round  generated  near-hull(student)  oracle  confirmed  hit-rate  student E MAE (meV/atom)"]
    for key in sorted(report["rounds"], key=int):
        s = report["rounds"][key]
        hit = "—" if s["hit_rate"] is None else f"{s['hit_rate']:.0%}"
        mae = (
            "—"
            if s["student_energy_mae_meV_per_atom"] is None
            else f"{s['student_energy_mae_meV_per_atom']:.0f}"
        )
        lines.append(
            f"{s['round']:5d}  {s['generated']:9d}  {s['near_hull_student']:18d}  {s['sent_to_oracle']:6d}  "
            f"{s['confirmed_by_oracle']:9d}  {hit:>8}  {mae:>24}"
        )
    lines.append("best candidates (oracle e_above_hull, meV/atom):")
    for c in report["candidates"][:10]:
        lines.append(
            f"  {c['uid']:10s} {c['formula']:14s} {c['ehull_oracle_meV']:8.1f}  {c['generator']} of {c['parent']}"
        )
    for t in report.get("transport", {}).get("table", []):
        sigma = t["sigma_300K_mS_per_cm"]
        text = "—" if sigma is None else f"{sigma:.3g} mS/cm {t['sigma_300K_ci95_mS_per_cm']}"
        lines.append(f"  #{t['rank']} {t['formula']}: σ(300 K) = {text} ({t['status']})")
    lines.append(f"report: {Path(report['database']).parent / 'report.json'}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="superionic discover", description=__doc__)
    add_arguments(parser)
    return parser


def main(argv=None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())


_ = json  # report printing uses the table above; --json could be added here
