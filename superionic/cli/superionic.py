"""``superionic``: MD, training, labelling, discovery and potential management."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from superionic import __version__
from superionic.cli import discover, label, md, potentials, train
from superionic.cli._common import EXIT_USAGE, Parser, not_implemented, parse_args

SUBCOMMANDS = {
    "md": "run molecular dynamics from a structure file and write H5MD trajectories",
    "train": "train or fine-tune a potential from a config file",
    "label": "label structures with a teacher potential",
    "discover": "run the candidate discovery loop",
    "potentials": "list, import and inspect potentials",
}

# Subcommands with an implementation: modules with add_arguments(parser) and run(args) -> exit status.
IMPLEMENTED = {"md": md, "potentials": potentials, "train": train, "label": label, "discover": discover}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="superionic", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        if name in IMPLEMENTED:
            IMPLEMENTED[name].add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)
    if isinstance(args, int):  # --help, --version, or a one-line usage error already printed
        return args
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command in IMPLEMENTED:
        return IMPLEMENTED[args.command].run(args)
    return not_implemented(f"superionic {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())
