"""``superionic potentials list|import|info``."""

from __future__ import annotations

import argparse
import json

from superionic.cli import _common as common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="potentials_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="registered potentials and whether they are available here")
    importer = sub.add_parser("import", help="convert a foundation model's weights (e.g. sevennet-0)")
    importer.add_argument("name", help="sevennet-0, sevennet-0-22may2024 or sevennet-l3i5")
    importer.add_argument("--output", help="write the checkpoint here instead of the user cache")
    info = sub.add_parser("info", help="configuration and provenance of a potential")
    info.add_argument("potential", help="registered name or checkpoint path (.npz)")
    for command in (importer, info):
        common.add_debug(command)


def run(args: argparse.Namespace) -> int:
    prog = f"superionic potentials {args.potentials_command}"
    return common.run_command(prog, getattr(args, "debug", False), lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from superionic.potentials import REGISTRY, available, import_potential, read_metadata
    from superionic.potentials.registry import resolve

    if args.potentials_command == "list":
        for name, present in available().items():
            entry = REGISTRY[name]
            status = str(entry.path) if present else "not available: " + entry.how_to_get
            print(f"{name:24s} {entry.description}\n{'':24s} {status}")
    elif args.potentials_command == "import":
        print(f"imported {args.name} -> {import_potential(args.name, args.output)}")
    else:
        target = args.potential
        path = target if target.endswith(".npz") else resolve(target).path
        print(json.dumps({"path": str(path), **read_metadata(path)}, indent=2))
    return common.EXIT_OK
