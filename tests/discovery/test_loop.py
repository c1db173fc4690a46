"""The discovery loop end to end on a tiny chemical space (Li-Sc-Y-Cl, one seed), with the shipped ``default``
potential as student and as oracle (fast); references from a small ComputedStructureEntry JSON (the "load MP
entries" path). Resume after kill -9 and Dask LocalCluster runs are compared with uninterrupted in-process ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from superionic.cli import superionic as cli
from superionic.discovery import DiscoveryConfig, Progress, hull, run_discovery
from superionic.discovery.store import Store
from tests.conftest import EXAMPLES, REPO

SEED = EXAMPLES / "discovery" / "Li3ScCl6.cif"


def write_entries(path: Path) -> Path:
    """Elements, LiCl, ScCl3 and YCl3 in their prototype structures as ComputedStructureEntry JSON."""
    from pymatgen.core import Composition
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    picks = {
        "Li": "prototype:A_cI2_229_a",
        "Sc": "prototype:A_hP2_194_c",
        "Y": "prototype:A_hP2_194_c",
        "Cl2": "prototype:A_oC8_64_f",
        "LiCl": "prototype:AB_cF8_225_a_b",
        "ScCl3": "prototype:AB3_hR8_148_c_f",
        "YCl3": "prototype:AB3_hR8_148_c_f",
    }
    entries = []
    for formula, label in picks.items():
        composition = Composition(formula)
        if len(composition) == 1:
            refs = hull.element_prototypes(composition.elements[0].symbol)
        else:
            refs = hull.binary_prototypes(composition)
        structure = next(r.structure for r in refs if r.source == label)
        entries.append(ComputedStructureEntry(structure, 0.0, entry_id=f"test-{formula}").as_dict())
    path.write_text(json.dumps(entries))
    return path


def tiny_config(tmp_path: Path, name: str, entries: bool = True, **compute) -> Path:
    config = {
        "seeds": [str(SEED)],
        "elements": ["Li", "Cl", "Sc", "Y"],
        "exclude_systems": ["Cl-Li-Y"],
        "rounds": 1,
        "out_dir": str(tmp_path / name),
        "generators": {"random_structures": False, "max_candidates_per_round": 4},
        "screening": {"committee_size": 1, "oracle_per_round": 3, "relax_max_steps": 60},
        "oracle": {"kind": "potential", "name": "default", "relax_max_steps": 30, "chunk_size": 1},
        "learning": {"enabled": False},
        "handoff": {"enabled": False},
        "compute": compute or {"scheduler": "synchronous"},
    }
    if entries:
        config["reference_entries"] = str(write_entries(tmp_path / "entries.json"))
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def database_contents(path: Path) -> list[dict]:
    """Every row's key-value pairs, structure and data, without timestamps (ctime/mtime/user)."""
    import ase.db

    out = []
    with ase.db.connect(path) as db:
        for row in sorted(db.select(), key=lambda r: r.id):
            out.append(
                {
                    "id": row.id,
                    "kvp": dict(row.key_value_pairs),
                    "numbers": row.numbers.tolist(),
                    "positions": np.round(row.positions, 6).tolist(),
                    "cell": np.round(row.cell[:], 6).tolist(),
                    "data": json.loads(json.dumps(dict(row.data), default=lambda a: np.round(a, 6).tolist())),
                }
            )
    return out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("discovery")
    config = DiscoveryConfig.read(tiny_config(tmp, "sync"))
    report = run_discovery(config, Progress(enabled=False))
    return tmp, config, report


@pytest.mark.slow
def test_loop_end_to_end_hull_and_statistics(finished_run):
    _, config, report = finished_run
    store = Store(str(Path(config.out_dir) / config.database))
    rows = store.rows(kind="candidate")
    assert {r.reduced_formula for r in rows} >= {"Li3YCl6"}  # proposed by Sc -> Y substitution
    assert all(r.round == 1 for r in rows)
    assert all(json.loads(r.substitution) for r in rows if r.generator in ("substitution", "saps"))
    # No reference or seed is a Y-Li-Cl ternary.
    for r in store.rows(kind="reference"):
        assert not hull.excluded(r.reduced_formula, [], ["Cl-Li-Y"])
    # The stored oracle e_above_hull is what pymatgen gives from the stored oracle energies.
    done = store.rows(stage="oracle_done")
    entries = [
        (r.reduced_formula, r.e_oracle_eV_per_atom * hull.atoms_per_formula(r.reduced_formula)) for r in done
    ]
    diagram = hull.phase_diagram(entries)
    for r in done:
        expected = hull.e_above_hull_meV(diagram, r.reduced_formula, r.e_oracle_eV_per_atom)
        assert r.ehull_oracle_meV == pytest.approx(expected, abs=1e-3)
        assert len(r.data["oracle_frames"]) >= 2  # training data: the input and the relaxed structure
    stats = report["rounds"]["1"]
    assert stats["generated"] == len(rows) > 0
    assert stats["sent_to_oracle"] == sum(r.stage in ("oracle_done", "oracle_failed") for r in rows) >= 1
    assert 0.0 <= stats["hit_rate"] <= 1.0
    assert stats["student_energy_mae_meV_per_atom"] == pytest.approx(0.0, abs=1e-3)  # student == oracle here
    assert report["references"]["source"] == "reference_entries file"
    assert (Path(config.out_dir) / "report.json").is_file()


@pytest.mark.slow
def test_kill_minus_9_resumes_without_repeating_oracle_calls(finished_run, tmp_path):
    _, _, reference_report = finished_run
    path = tiny_config(tmp_path, "killed")
    run_dir = tmp_path / "killed"
    events = run_dir / "oracle_calls.jsonl"
    command = [sys.executable, "-m", "superionic.cli.superionic", "discover", str(path), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        if events.is_file() and len(events.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run finished before it could be killed: make it longer"
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {json.loads(line)["uid"] for line in events.read_text().splitlines()}
    store = Store(str(run_dir / "discovery.db"))
    finished = {r.uid: r.e_oracle_eV_per_atom for r in store.rows(stage="oracle_done")}
    assert 3 <= len(finished) and set(finished) <= before

    resumed_run = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=900)
    assert resumed_run.returncode == 0, resumed_run.stderr[-2000:]
    calls = [json.loads(line)["uid"] for line in events.read_text().splitlines()]
    assert len(calls) == len(set(calls)), "an oracle call was repeated after the restart"
    final = Store(str(run_dir / "discovery.db"))
    for uid, energy in finished.items():
        assert final.rows(uid=uid)[0].e_oracle_eV_per_atom == energy  # not recomputed
    # The resumed run ends where an uninterrupted one does.
    resumed = json.loads((run_dir / "report.json").read_text())
    assert resumed["rounds"] == reference_report["rounds"]
    assert [c["uid"] for c in resumed["candidates"]] == [c["uid"] for c in reference_report["candidates"]]


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_database(finished_run, tmp_path):
    pytest.importorskip("dask.distributed")
    _, config, _ = finished_run
    path = tiny_config(tmp_path, "dask", scheduler="local", workers=2, threads_per_worker=1)
    run_discovery(DiscoveryConfig.read(path), Progress(enabled=False))
    synchronous = database_contents(Path(config.out_dir) / "discovery.db")
    distributed = database_contents(tmp_path / "dask" / "discovery.db")
    assert len(synchronous) == len(distributed) > 0
    assert distributed == synchronous


def test_bad_configs_fail_with_one_line_before_any_work(tmp_path, capsys):
    path = tiny_config(tmp_path, "bad", entries=False)
    data = yaml.safe_load(path.read_text())
    cases = {
        "unknown config keys": {**data, "round": 2},
        "seed structure not found": {**data, "seeds": [str(tmp_path / "missing.cif")]},
        "is not a chemical element": {**data, "elements": ["Li", "Xx"]},
        "unknown keys ['fmax']": {**data, "oracle": {"fmax": 0.1}},
    }
    for message, content in cases.items():
        path.write_text(yaml.safe_dump(content))
        assert cli.main(["discover", str(path)]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
        assert not (tmp_path / "bad" / "discovery.db").exists()


def test_excluded_seed_is_refused(tmp_path):
    path = tiny_config(tmp_path, "excluded", entries=False)
    data = yaml.safe_load(path.read_text())
    data["exclude_systems"] = ["Cl-Li-Sc"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="excluded"):
        DiscoveryConfig.read(path)
    assert not (tmp_path / "excluded").exists()
