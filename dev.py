#!/usr/bin/env python3
"""Set up a virtual environment when missing, then run the demo or the tests.

    python3 dev.py demo    # install superionic and run `conductivity estimate` on a bundled example
    python3 dev.py test    # install superionic with its test extras and run the default test suite

Only the Python standard library is used here, so it works on a fresh machine that has only Python.
Set SUPERIONIC_SLOW=1 to include tests marked slow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".superionic-installed"
# The teacher extra (torch, sevenn, chgnet) is part of the test set-up: tests compare against SevenNet itself;
# discovery (pyxtal) and distributed (Dask) are exercised by tests/discovery.
EXTRAS = "test,teacher,discovery,distributed"


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def ensure_environment() -> None:
    """Create .venv and install the package with extras once; reinstall when pyproject.toml changes."""
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pyproject_mtime = str((ROOT / "pyproject.toml").stat().st_mtime_ns)
    if STAMP.exists() and STAMP.read_text() == f"{EXTRAS} {pyproject_mtime}":
        return
    _run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PYTHON, "-m", "pip", "install", "--quiet", "-e", f".[{EXTRAS}]")
    STAMP.write_text(f"{EXTRAS} {pyproject_mtime}")


def demo() -> int:
    """`conductivity estimate` on a bundled example (Li3N, quick preset), the default engine: SevenNet-0
    (imported from the sevenn wheel on first use) labels small cells of Li3N, a fresh specialist trained on
    those labels runs the MD, and SevenNet-0 audits it on its own production frames (the report says
    whether the audit passed).
    """
    ensure_environment()
    args = [
        "estimate",
        ROOT / "examples" / "Li3N.cif",
        "--preset",
        "quick",
        "--out",
        ROOT / "runs" / "demo-Li3N",
    ]
    cmd = [BIN / "conductivity", *args]
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode


def test() -> int:
    ensure_environment()
    marker = [] if os.environ.get("SUPERIONIC_SLOW") == "1" else ["-m", "not slow"]
    _run(BIN / "ruff", "check", "superionic", "tests", "scripts", "dev.py")
    _run(BIN / "ruff", "format", "--check", "superionic", "tests", "scripts", "dev.py")
    cmd = [PYTHON, "-m", "pytest", *marker, *sys.argv[2:]]
    print("+", " ".join(str(c) for c in cmd), flush=True)
    # pytest exits 5 when no test was collected: a failure for us, and non-zero already.
    return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode


def main() -> int:
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(f"usage: python3 dev.py {{{'|'.join(commands)}}} [pytest args]", file=sys.stderr)
        return 2
    try:
        return commands[sys.argv[1]]()
    except subprocess.CalledProcessError as err:
        print(f"dev.py: error: command failed with exit status {err.returncode}: {err.cmd}", file=sys.stderr)
        return err.returncode or 1


if __name__ == "__main__":
    raise SystemExit(main())
