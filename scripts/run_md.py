"""Structure file -> MD -> H5MD trajectories: the same as ``superionic md`` (see ``superionic md --help``).

    python scripts/run_md.py examples/Li3N.cif --potential sevennet-0 --temperatures 600 800 1000 --ps 50 --out runs/Li3N

The Python API calls to copy into your own script are in ``superionic/cli/md.py`` (``run``): load a potential,
``md.prepare_system``, ``md.MDConfig``, ``md.run``.
"""

from __future__ import annotations

from superionic.cli.md import build_parser, run

if __name__ == "__main__":
    raise SystemExit(run(build_parser().parse_args()))
