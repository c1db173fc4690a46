"""The README's examples are the package's current names: every command line parses with today's flags, and the
Python example runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from superionic.cli import conductivity, superionic

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _command_lines() -> list[list[str]]:
    """Every ``conductivity ...`` / ``superionic ...`` line of the bash blocks, and the inline code spans that are
    whole commands (they name a file: prose also mentions bare command names)."""
    lines = [line for block in _blocks("bash") for line in block.splitlines()]
    spans = re.findall(r"`((?:conductivity|superionic) [^`]+)`", README.read_text())
    lines += [span for span in spans if re.search(r"\S+\.(cif|h5md|gro|pdb)\b", span)]
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if words and words[0] in ("conductivity", "superionic") and len(words) > 1:
            commands.append(words)
    return commands


COMMANDS = _command_lines()


def test_the_readme_has_command_examples():
    assert len(COMMANDS) >= 8
    assert {c[0] for c in COMMANDS} == {"conductivity", "superionic"}


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(c)[:60] for c in COMMANDS])
def test_readme_command_parses(words):
    parser = (conductivity if words[0] == "conductivity" else superionic).build_parser()
    parser.parse_args(words[1:])  # a flag or value that no longer exists exits here with a one-line error


@pytest.mark.slow
def test_readme_python_example_runs(monkeypatch, capsys):
    """The Python example, as printed (the shipped potential, 2 + 0.5 ps at two temperatures; ~2 min here)."""
    (code,) = _blocks("python")
    monkeypatch.chdir(README.parent)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)  # the README's own example
    report = namespace["report"]
    assert [r.temperature_K for r in report.results] == [1000.0, 1200.0]
    assert len(capsys.readouterr().out.splitlines()) >= 2
