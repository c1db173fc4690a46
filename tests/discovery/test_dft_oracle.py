"""The DFT oracle: CP2K (PBE, GTH pseudopotentials, k-points) through ASE's cp2k_shell driver, on a 2-atom
LiCl cell. Real DFT, about a minute per single point on one core; skipped with the reason when CP2K is not
installed (.ci/run installs Debian's cp2k and cp2k-data)."""

from __future__ import annotations

import pytest
from ase.build import bulk

from superionic.discovery.oracle import cp2k_available, oracle_task
from superionic.discovery.store import atoms_to_dict

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cp2k():
    reason = cp2k_available()
    if reason:
        print(f"skipping the DFT oracle test: {reason}")
        pytest.skip(reason)


def test_cp2k_oracle_pressure_and_restoring_force(cp2k, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = {
        "kind": "cp2k",
        "name": "cp2k",
        "calculator": None,
        "parameters": {"kpoints": [3, 3, 3], "cutoff": 300 * 13.605693},  # 300 Ry
        "relax": False,
        "relax_fmax_eV_per_A": 0.05,
        "relax_max_steps": 0,
    }
    structures = []
    for a_A in (4.9, 5.4):  # LiCl: PBE's lattice constant is ~5.15 Å
        atoms = bulk("ClLi", "rocksalt", a=a_A)
        atoms.positions[0, 0] += 0.05  # Li moved off its site along x
        structures.append(atoms_to_dict(atoms))
    squeezed, stretched = oracle_task(spec, structures)
    for result in (squeezed, stretched):
        assert "error" not in result, result.get("error")
        frame = result["frames"][-1]
        assert result["energy_eV_per_atom"] == pytest.approx(frame["energy"] / 2)
        assert abs(frame["forces"].sum(axis=0)).max() < 0.02  # momentum: forces sum to zero
        assert frame["forces"][0, 0] < -0.005  # the displaced Li is pushed back
    pressure = [-(r["frames"][-1]["stress"].trace()) / 3 * 160.21766208 for r in (squeezed, stretched)]
    # GPa: the compressed cell pushes out, the stretched one pulls in (PBE's minimum lies between them).
    assert pressure[0] > 3.0 and pressure[1] < -1.0
