"""``superionic potentials list|import|info``."""

from __future__ import annotations

import argparse
import json

from superionic.cli._common import EXIT_OK, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="potentials_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="registered potentials and whether they are available here")
    importer = sub.add_parser("import", help="convert a foundation model's weights (e.g. sevennet-0)")
    importer.add_argument("name", help="sevennet-0, sevennet-0-22may2024 or sevennet-l3i5")
    importer.add_argument("--output", help="write the checkpoint here instead of the user cache")
    info = sub.add_parser("info", help="configuration and provenance of a potential")
    info.add_argument("potential", help="registered name or checkpoint path (.npz)")


def run(args: argparse.Namespace) -> int:
    from superionic.potentials import REGISTRY, available, read_metadata

    prog = f"superionic potentials {args.potentials_command}"
    if args.potentials_command == "list":
        for name, present in available().items():
            entry = REGISTRY[name]
            status = str(entry.path) if present else "not available: " + entry.how_to_get
            print(f"{name:24s} {entry.description}\n{'':24s} {status}")
        return EXIT_OK
    if args.potentials_command == "import":
        from superionic.potentials import import_potential

        try:
            path = import_potential(args.name, args.output)
        except (FileNotFoundError, NotImplementedError, ValueError) as err:
            return fail(prog, str(err))
        print(f"imported {args.name} -> {path}")
        return EXIT_OK
    from superionic.potentials.registry import resolve

    target = args.potential
    try:
        path = target if target.endswith(".npz") else resolve(target).path
        meta = read_metadata(path)
    except (ValueError, FileNotFoundError) as err:
        return fail(prog, str(err))
    print(json.dumps({"path": str(path), **meta}, indent=2))
    return EXIT_OK
