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


def _parsers(parser):
    """The parser and every subcommand parser below it."""
    import argparse

    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_flag_has_help_text():
    """Help for every option of every command (units where a value has one: checked by its wording)."""
    for top in (conductivity.build_parser(), superionic.build_parser()):
        for parser in _parsers(top):
            for action in parser._actions:
                if action.option_strings and action.dest not in ("help", "version"):
                    assert action.help, f"{parser.prog} {action.option_strings[0]} has no help"
    estimate = next(p for p in _parsers(conductivity.build_parser()) if p.prog.endswith("estimate"))
    helps = {a.option_strings[0]: a.help for a in estimate._actions if a.option_strings}
    assert "ps" in helps["--time"] and "fs" in helps["--timestep"] and "K" in helps["--temperatures"]
    assert " e," in helps["--charges"] or " e " in helps["--charges"]
