"""Bad input, fuzzed: a generated corpus of broken structure files, broken trajectories and wrong flags and units
for ``conductivity estimate``, ``conductivity analyze`` and ``superionic md``. Every one must end with exactly one
``error:`` line on stderr, a non-zero exit status, no traceback and no report or trajectory file, within seconds.

Every input is bad by construction (no cell, no atoms, overlapping or non-finite atoms, non-elements, impossible
occupancies, unreadable bytes, flags out of range), so a command that accepted one would be wrong, not lucky.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from superionic.cli import conductivity
from superionic.cli import superionic as superionic_cli

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
FIXTURE = REPO / "tests" / "data" / "li3n_vac_1200K.h5md"
CIFS = ("Li3N.cif", "Li2O.cif", "Li3PS4_gamma.cif")
SLOWEST_ALLOWED_S = 10.0


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    command: str  # "estimate", "md" or "analyze"
    make: Callable[[Path], list[str]]  # tmp folder -> arguments after the command (inputs written there)


def _estimate(inputs: Callable[[Path], list[str]], *flags: str) -> Callable[[Path], list[str]]:
    return lambda tmp: [*inputs(tmp), *flags]


def _file(name: str, data: bytes | str) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        path = tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return [str(path)]

    return make


def _structure_corpus() -> list[tuple[str, Callable[[Path], list[str]]]]:
    """(name, writer) of broken structure files."""
    corpus: list[tuple[str, Callable[[Path], list[str]]]] = []
    rng = np.random.default_rng(14)
    for cif in CIFS:
        text = (EXAMPLES / cif).read_text()
        lines = text.splitlines(keepends=True)
        first_atom = text.index("_atom_site_occupancy") + len("_atom_site_occupancy\n")
        # truncated anywhere before the first atom: no atoms, or no cell
        for k, cut in enumerate(np.linspace(0, first_atom, 12, dtype=int)):
            corpus.append((f"{cif}-truncated-{k}", _file(f"t{k}.cif", text[:cut])))
        atom_rows = [i for i, line in enumerate(lines) if line.startswith("  ") and len(line.split()) == 7]
        row = lines[atom_rows[0]].split()

        def with_row(new: str, lines=lines, atom_rows=atom_rows) -> str:
            out = list(lines)
            out[atom_rows[0]] = new + "\n"
            return "".join(out)

        corruptions = {
            "duplicate-atom": text + lines[atom_rows[0]],
            "atom-0.1A-from-another": with_row(
                "  ".join([*row[:3], str(float(row[3]) + 0.01), row[4], row[5], row[6]])
            )
            + lines[atom_rows[0]],
            "nan-coordinate": with_row("  ".join([*row[:3], "nan", row[4], row[5], row[6]])),
            "unknown-element": with_row("  ".join(["Xx", "Xx0", *row[2:]])),
            "occupancy-2.5": with_row("  ".join([*row[:6], "2.5"])),
            "occupancy-negative": with_row("  ".join([*row[:6], "-0.5"])),
            "zero-cell": text.replace(text[text.index("_cell_length_a") : text.index("\n", text.index("_cell_length_a"))], "_cell_length_a 0"),
            "negative-cell": text.replace(text[text.index("_cell_length_b") : text.index("\n", text.index("_cell_length_b"))], "_cell_length_b -4.0"),
            "text-cell": text.replace(text[text.index("_cell_length_c") : text.index("\n", text.index("_cell_length_c"))], "_cell_length_c abc"),
            "angle-180": text.replace(text[text.index("_cell_angle_gamma") : text.index("\n", text.index("_cell_angle_gamma"))], "_cell_angle_gamma 180"),
            "binary-garbage": bytes(rng.integers(0, 256, 400, dtype=np.uint8)),
            "nul-prefixed": b"\x00" * 64 + text.encode(),
        }  # fmt: skip
        for kind, data in corruptions.items():
            corpus.append((f"{cif}-{kind}", _file(f"{kind}.cif", data)))
    poscar = "Li3N\n1.0\n3.648 0 0\n-1.824 3.159 0\n0 0 3.875\nLi N\n3 1\nDirect\n"
    sites = "0.333 0.667 0\n0.667 0.333 0\n0 0 0.5\n0 0 0\n"
    poscars = {
        "truncated": poscar,
        "zero-scale": poscar.replace("\n1.0\n", "\n0.0\n", 1) + sites,
        "counts-exceed-positions": poscar.replace("3 1", "5 1") + sites,
        "unknown-element": poscar.replace("Li N", "Xx N") + sites,
        "nan-position": poscar + sites.replace("0.333", "nan", 1),
        "flat-lattice": poscar.replace("0 0 3.875", "0 0 0") + sites,
        "overlap": poscar + sites.replace("0 0 0.5", "0.001 0 0"),
        "text-lattice": poscar.replace("3.648 0 0", "a b c") + sites,
        "no-counts": "Li3N\n1.0\n3.648 0 0\n-1.824 3.159 0\n0 0 3.875\nDirect\n" + sites,
    }
    for kind, data in poscars.items():
        corpus.append((f"POSCAR-{kind}", _file(f"POSCAR_{kind.replace('-', '_')}", data)))
    xyz_head = 'Lattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
    xyzs = {
        "nan": "2\n" + xyz_head + "Li 0 0 0\nN nan 1 1\n",
        "overlap": "2\n" + xyz_head + "Li 0 0 0\nN 0.01 0 0\n",
        "not-periodic": '2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="F F F"\nLi 0 0 0\nN 1 1 1\n',
        "zero-cell": "2\n"
        + xyz_head.replace('"5 0 0 0 5 0 0 0 5"', '"0 0 0 0 0 0 0 0 0"')
        + "Li 0 0 0\nN 1 1 1\n",
        "count-mismatch": "5\n" + xyz_head + "Li 0 0 0\nN 1 1 1\n",
        "unknown-element": "2\n" + xyz_head + "Qq 0 0 0\nN 1 1 1\n",
        "no-atoms": "0\n" + xyz_head,
    }
    for kind, data in xyzs.items():
        corpus.append((f"extxyz-{kind}", _file(f"{kind}.extxyz", data)))
    pmg = {
        "@module": "pymatgen.core.structure",
        "@class": "Structure",
        "lattice": {"matrix": [[5, 0, 0], [0, 5, 0], [0, 0, 5]]},
        "sites": [
            {"species": [{"element": "Li", "occu": 1}], "abc": [0, 0, 0]},
            {"species": [{"element": "N", "occu": 1}], "abc": [0.001, 0, 0]},
        ],
    }
    jsons = {
        "invalid": "{not json",
        "empty-object": "{}",
        "list": "[1, 2, 3]",
        "pymatgen-overlap": json.dumps(pmg),
        "pymatgen-no-sites": json.dumps({**pmg, "sites": []}),
        "pymatgen-singular-lattice": json.dumps(
            {**pmg, "lattice": {"matrix": [[5, 0, 0], [5, 0, 0], [0, 0, 5]]}}
        ),
    }
    for kind, data in jsons.items():
        corpus.append((f"json-{kind}", _file(f"{kind}.json", data)))
    for suffix in (".cif", ".vasp", ".extxyz", ".xyz", ".json", ".traj"):
        corpus.append(
            (f"garbage{suffix}", _file(f"garbage{suffix}", bytes(rng.integers(0, 256, 300, dtype=np.uint8))))
        )
        corpus.append((f"empty{suffix}", _file(f"empty{suffix}", b"")))
    corpus.append(("missing-file", lambda tmp: [str(tmp / "missing.cif")]))
    corpus.append(("unknown-format", _file("structure.pdf", "%PDF-1.4")))
    corpus.append(("a-directory", lambda tmp: [str(tmp)]))
    return corpus


def _copy_fixture(tmp: Path, name: str, edit: Callable[[h5py.File], None] | None = None) -> Path:
    path = tmp / name
    shutil.copy(FIXTURE, path)
    if edit is not None:
        with h5py.File(path, "a") as f:
            edit(f)
    return path


def _replace(dataset_path: str, value_fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        value = value_fn(np.asarray(f[dataset_path]))
        attrs = dict(f[dataset_path].attrs)
        del f[dataset_path]
        f.create_dataset(dataset_path, data=value)
        for k, v in attrs.items():
            f[dataset_path].attrs[k] = v

    return edit


def _trajectory_corpus() -> list[tuple[str, Callable[[Path], list[str]]]]:
    corpus: list[tuple[str, Callable[[Path], list[str]]]] = []
    data = FIXTURE.read_bytes()
    for k, cut in enumerate(np.linspace(0, len(data) // 3, 10, dtype=int)):
        corpus.append((f"h5md-truncated-{k}", _file(f"cut{k}.h5md", data[:cut])))
    corpus.append(("h5md-zeroed-header", _file("zeroed.h5md", b"\x00" * 512 + data[512:])))

    def h5(
        name: str, edit: Callable[[h5py.File], None], *flags: str
    ) -> tuple[str, Callable[[Path], list[str]]]:
        return f"h5md-{name}", lambda tmp: [str(_copy_fixture(tmp, f"{name}.h5md", edit)), *flags]

    def drop(*paths: str) -> Callable[[h5py.File], None]:
        def edit(f: h5py.File) -> None:
            for p in paths:
                del f[p]

        return edit

    def drop_parameters(f: h5py.File) -> None:
        del f["parameters"]

    corpus += [
        h5("no-species-no-topology", drop("particles/all/species")),
        h5("no-positions", drop("particles/all/position")),
        h5("no-box", drop("particles/all/box")),
        h5("no-temperature", drop_parameters),
        h5("nan-positions", _replace("particles/all/position/value", lambda v: v * np.nan)),
        h5("zero-box", _replace("particles/all/box/edges/value", lambda v: v * 0.0)),
        h5("two-frames", lambda f: [_replace(f"particles/all/{g}/{d}", lambda v: v[:2])(f) for g in ("position", "box/edges") for d in ("value", "time", "step")]),
        h5("irregular-times", _replace("particles/all/position/time", lambda t: t ** 1.5)),
        h5("no-li", _replace("particles/all/species", lambda z: np.where(z == 3, 11, z))),
        h5("unknown-charge-of-li", _replace("particles/all/charge", lambda q: q * np.nan)),
        h5("species-not-elements", _replace("particles/all/species", lambda z: z * 0 + 500)),
        h5("length-unit-furlong", lambda f: f["particles/all/position/value"].attrs.__setitem__("unit", "furlong")),
    ]  # fmt: skip
    ok = lambda tmp: [str(_copy_fixture(tmp, "ok.h5md"))]  # noqa: E731
    corpus += [
        ("analyze-species-not-present", _estimate(ok, "--species", "Na")),
        ("analyze-species-not-element", _estimate(ok, "--species", "Xx")),
        ("analyze-temperatures-count", lambda tmp: [*ok(tmp), str(_copy_fixture(tmp, "b.h5md")), "--temperatures", "1", "2", "3"]),
        ("analyze-temperature-negative", _estimate(ok, "--temperatures", "-1200")),
        ("analyze-charges-bad", _estimate(ok, "--charges", "Li:1")),
        ("analyze-topology-missing", _estimate(ok, "--topology", "/no/such/file.pdb")),
        ("analyze-topology-wrong-size", lambda tmp: [*ok(tmp), "--topology", str(EXAMPLES / "Li3N.cif")]),
        ("analyze-unknown-flag", _estimate(ok, "--frobnicate")),
        ("analyze-missing", lambda tmp: [str(tmp / "nope.h5md")]),
        ("analyze-xdatcar-without-times", _file("XDATCAR", "Li\n1.0\n5 0 0\n0 5 0\n0 0 5\nLi\n1\nDirect configuration= 1\n0 0 0\n")),
    ]  # fmt: skip
    return corpus


ESTIMATE_FLAGS = [
    ["--timestep", "2ps"],
    ["--timestep", "-1"],
    ["--timestep", "0"],
    ["--time", "fifty"],
    ["--time", "5parsecs"],
    ["--time", "-5ps"],
    ["--time", "0"],
    ["--equilibration", "nan"],
    ["--temperatures", "-300"],
    ["--temperatures", "0"],
    ["--temperatures", "nan"],
    ["--temperatures", "inf"],
    ["--temperatures", "900:700:100"],
    ["--temperatures", "700:1300:0"],
    ["--temperatures", "700:1300"],
    ["--temperatures", "hot"],
    ["--supercell", "2x2"],
    ["--supercell", "0x1x1"],
    ["--supercell", "1x1x1"],
    ["--ensemble", "nvx"],
    ["--replicas", "0"],
    ["--target-atoms", "-5"],
    ["--charges", "Li"],
    ["--charges", "Xx=1"],
    ["--charges", "Li=one"],
    ["--species", "Xx"],
    ["--species", "Na"],
    ["--potential", "no-such-model"],
    ["--potential", "/no/such/file.npz"],
    ["--preset", "fast"],
    ["--frobnicate"],
    ["--seed", "zero"],
]
MD_FLAGS = [
    ["--timestep", "2ps"],
    ["--time", "fifty"],
    ["--temperatures", "-1"],
    ["--save-every", "0.5fs"],
    ["--save-every", "1ps", "--time", "0.1ps", "--timestep", "20"],
    ["--pressure", "1bar"],
    ["--skin", "-1"],
    ["--ensemble", "berendsen"],
    ["--replicas", "0"],
    ["--supercell", "1x1"],
    ["--charges", "N=="],
    ["--potential", "no-such-model"],
    ["--target-atoms", "0"],
    ["--frobnicate"],
]


def _corpus() -> list[Case]:
    cases = []
    for name, make in _structure_corpus():
        cases.append(Case(f"estimate/{name}", "estimate", make))
        cases.append(Case(f"md/{name}", "md", _estimate(make, "--potential", "lj")))
    li3n = lambda tmp: [str(EXAMPLES / "Li3N.cif")]  # noqa: E731
    for flags in ESTIMATE_FLAGS:
        cases.append(Case(f"estimate/flags {' '.join(flags)}", "estimate", _estimate(li3n, *flags)))
    for flags in MD_FLAGS:
        cases.append(Case(f"md/flags {' '.join(flags)}", "md", _estimate(li3n, *flags)))
    for name, make in _trajectory_corpus():
        cases.append(Case(f"analyze/{name}", "analyze", make))
    return cases


CASES = _corpus()


def _run(case: Case, tmp: Path) -> tuple[int, str, Path]:
    out = tmp / "out"
    args = case.make(tmp)
    if case.command == "md":
        return superionic_cli.main(["md", *args, "--out", str(out), "--no-progress"]), "superionic md", out
    flags = ["--out", str(out)] + (["--no-progress"] if case.command == "estimate" else [])
    return conductivity.main([case.command, *args, *flags]), f"conductivity {case.command}", out


def test_the_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 200
    assert {c.command for c in CASES} == {"estimate", "md", "analyze"}
    assert len({c.name for c in CASES}) == len(CASES)


def test_every_bad_input_ends_with_one_line(tmp_path_factory, capsys):
    """All cases in one test (they share the imports and compiled code); every failure is listed."""
    failures, durations = [], {}
    _run(
        CASES[0], tmp_path_factory.mktemp("warm-up")
    )  # imports pymatgen, ASE, h5py once: not a cost of an input
    capsys.readouterr()
    for case in CASES:
        tmp = tmp_path_factory.mktemp("fuzz")
        start = time.perf_counter()
        try:
            code, prog, out = _run(case, tmp)
        except BaseException as err:  # SystemExit, a traceback escaping main: both are failures
            failures.append(f"{case.name}: raised {type(err).__name__}: {err}")
            continue
        finally:
            durations[case.name] = time.perf_counter() - start
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.strip()]
        problems = []
        if code == 0:
            problems.append("exit status 0")
        if len(lines) != 1 or not lines[0].startswith(prog.split()[0]) or ": error: " not in lines[0]:
            problems.append(f"stderr is not one error line: {captured.err!r}")
        if "Traceback" in captured.err + captured.out or "internal error" in captured.err:
            problems.append(f"traceback or internal error: {captured.err!r}")
        written = (
            [p for p in out.rglob("*") if p.suffix in {".json", ".h5md", ".npz", ".png"}]
            if out.exists()
            else []
        )
        if written:
            problems.append(f"wrote {[p.name for p in written]}")
        if problems:
            failures.append(f"{case.name}: {'; '.join(problems)}")
    slowest = max(durations, key=durations.get)
    print(f"{len(CASES)} bad inputs; slowest {slowest}: {durations[slowest]:.2f} s")
    assert not failures, "\n".join(failures)
    assert durations[slowest] < SLOWEST_ALLOWED_S, (slowest, durations[slowest])


@pytest.mark.parametrize("command", ["estimate", "analyze"])
def test_debug_shows_the_traceback(tmp_path, capsys, command):
    target = tmp_path / "missing.cif" if command == "estimate" else tmp_path / "missing.h5md"
    assert conductivity.main([command, str(target), "--out", str(tmp_path / "o")]) == 1
    assert "Traceback" not in capsys.readouterr().err
    assert conductivity.main([command, str(target), "--out", str(tmp_path / "o"), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
