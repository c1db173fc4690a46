"""The command-line entry points exist, list their subcommands, and are honest about what is missing."""

from __future__ import annotations

import subprocess
import sys

from superionic.cli import conductivity, superionic


def test_conductivity_help_lists_subcommands(capsys):
    assert conductivity.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "estimate" in out and "analyze" in out


def test_superionic_help_lists_subcommands(capsys):
    assert superionic.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("md", "train", "label", "discover", "potentials"):
        assert name in out


def test_console_scripts_installed():
    result = subprocess.run(
        [sys.executable, "-m", "superionic.cli.conductivity", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "estimate" in result.stdout
