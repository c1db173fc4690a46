"""The discovery loop as a plain Python script (what ``superionic discover CONFIG.yaml`` runs), to copy and edit.

    python scripts/discovery_loop.py examples/discovery/li_mcl3.yaml [--rounds 1] [--no-handoff]

The run resumes from its database when started again. See docs/discovery.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from superionic.discovery import DiscoveryConfig, Progress, run_discovery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="discovery config (YAML)")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--no-handoff", action="store_true", help="skip the conductivity hand-off")
    args = parser.parse_args()

    config = DiscoveryConfig.read(args.config)
    if args.rounds is not None:
        config = dataclasses.replace(config, rounds=args.rounds)
    if args.no_handoff:
        config = dataclasses.replace(config, handoff=dataclasses.replace(config.handoff, enabled=False))
    report = run_discovery(config, Progress())

    for key in sorted(report["rounds"], key=int):
        print(json.dumps(report["rounds"][key]))
    for candidate in report["candidates"][:10]:
        print(
            f"{candidate['formula']:14s} e_above_hull {candidate['ehull_oracle_meV']:7.1f} meV/atom  {candidate['uid']}"
        )
    for row in report.get("transport", {}).get("table", []):
        print(
            f"#{row['rank']} {row['formula']}: sigma(300 K) = {row['sigma_300K_mS_per_cm']} mS/cm ({row['status']})"
        )


if __name__ == "__main__":
    main()
