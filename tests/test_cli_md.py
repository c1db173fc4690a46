"""`superionic md` end to end: a real potential, real H5MD files read back by MDAnalysis, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import MDAnalysis
import numpy as np

from superionic.cli.superionic import main

REPO = Path(__file__).resolve().parents[1]
LI3N = REPO / "examples" / "Li3N.cif"


def _md(out: Path, *extra: str) -> int:
    settings = ["--temperatures", "600", "--time", "0.1ps", "--equilibration", "20fs", "--save-every", "10"]
    return main(
        ["md", str(LI3N), *settings, "--target-atoms", "30", "--no-progress", "--out", str(out), *extra]
    )


def test_md_writes_trajectories_mdanalysis_reads(tmp_path, capsys):
    out = tmp_path / "li3n"
    assert _md(out) == 0, capsys.readouterr().err
    trajectory = out / "Li3N_T600K_r0.h5md"
    universe = MDAnalysis.Universe(str(trajectory.with_suffix(".pdb")), str(trajectory))
    names = universe.atoms.names if hasattr(universe.atoms, "names") else universe.atoms.types
    symbols = [str(n).rstrip("0123456789") for n in names]
    assert symbols.count("Li") == 3 * symbols.count("N") > 0  # Li3N stoichiometry in the supercell
    assert len(universe.trajectory) >= 10  # 0.1 ps saved every 10 fs
    first = universe.trajectory[0].positions.copy()
    last = universe.trajectory[-1].positions.copy()
    assert np.all(np.isfinite(last))
    # Atoms moved (thermal motion at 600 K), but by less than a bond length in 0.1 ps.
    step = np.linalg.norm(last - first, axis=1)
    assert 0.01 < float(np.median(step)) < 1.5
    assert json.loads((out / "config.json").read_text())["temperatures_K"] == [600.0]


def test_md_refuses_to_overwrite_and_names_the_flags(tmp_path, capsys):
    out = tmp_path / "li3n"
    assert _md(out) == 0
    capsys.readouterr()
    assert _md(out) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--restart" in err and "--overwrite" in err


def test_md_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "missing"
    code = main(["md", str(tmp_path / "nope.cif"), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "nope.cif" in err
    assert not out.exists()
    code = main(["md", str(LI3N), "--potential", "no-such-model", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.count("\n") == 0 and "unknown potential" in err
    assert not out.exists()
