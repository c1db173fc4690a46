"""Shared command-line plumbing: one-line errors and exit codes."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_IMPLEMENTED = 2


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def not_implemented(command: str) -> int:
    """Say honestly that ``command`` does not exist yet and return exit status 2."""
    print(f"{command}: not implemented yet", file=sys.stderr)
    return EXIT_NOT_IMPLEMENTED


def fail(prog: str, message: str) -> int:
    """Print ``prog: error: message`` on one line to stderr and return exit status 1."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_ERROR
