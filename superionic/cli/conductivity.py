"""``conductivity``: from a structure file or trajectories to D, σ, Ea and σ(300 K)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from superionic import __version__
from superionic.cli._common import not_implemented


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conductivity",
        description="Estimate ionic diffusivity and conductivity of solid electrolytes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("estimate", help="structure file -> MD at several temperatures -> σ(300 K) report")
    sub.add_parser("analyze", help="H5MD trajectories -> D, σ, Haven ratio, Arrhenius report")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return not_implemented(f"conductivity {args.command}")


if __name__ == "__main__":
    raise SystemExit(main())
