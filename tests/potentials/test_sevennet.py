"""superionic's import of SevenNet-0 reproduces SevenNet's own ASE calculator (needs the teacher extra)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.io import read
from ase.units import GPa
from jax_md import simulate, space

from superionic.potentials import import_potential, load
from superionic.structures import box_from_cell

from .structures import comparison_structures

pytest.importorskip("sevenn")
pytestmark = pytest.mark.teacher


@pytest.fixture(scope="module")
def sevennet_path(tmp_path_factory):
    return import_potential("sevennet-0", tmp_path_factory.mktemp("potentials") / "sevennet-0.npz")


@pytest.fixture(scope="module")
def reference():
    """SevenNet's own ASE calculator (PyTorch, float32) on every comparison structure."""
    from sevenn.calculator import SevenNetCalculator

    calculator = SevenNetCalculator("7net-0", device="cpu")
    out = {}
    for name, atoms in comparison_structures().items():
        atoms.calc = calculator
        out[name] = (atoms, atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(voigt=False))
    return out


def _max_errors(potential, reference):
    names = list(reference)
    results = potential.evaluate([reference[n][0] for n in names])
    worst = {"energy_eV_per_atom": 0.0, "forces_eV_per_A": 0.0, "stress_GPa": 0.0}
    for name, result in zip(names, results, strict=True):
        atoms, energy, forces, stress = reference[name]
        worst["energy_eV_per_atom"] = max(
            worst["energy_eV_per_atom"], abs(result["energy"] - energy) / len(atoms)
        )
        worst["forces_eV_per_A"] = max(worst["forces_eV_per_A"], np.abs(result["forces"] - forces).max())
        worst["stress_GPa"] = max(worst["stress_GPa"], np.abs(result["stress"] - stress).max() / GPa)
    return worst


def test_reference_set_is_varied(reference):
    assert len(reference) >= 20
    cutoff_A = 5.0
    assert any(min(a.cell.cellpar()[:3]) < 2 * cutoff_A for a, *_ in reference.values())
    assert any(not np.allclose(a.cell.cellpar()[3:], 90.0) for a, *_ in reference.values())
    forces = np.concatenate([f for _, _, f, _ in reference.values()])
    assert np.abs(forces).max() > 0.1  # rattled: forces are far from zero


def test_float64_matches_sevennet(x64, sevennet_path, reference):
    worst = _max_errors(load(sevennet_path, dtype="float64"), reference)
    print("float64 worst deviations from SevenNet (torch, float32):", worst)
    assert worst["energy_eV_per_atom"] <= 1e-5
    assert worst["forces_eV_per_A"] <= 1e-4
    assert worst["stress_GPa"] <= 1e-3


def test_float32_matches_sevennet(sevennet_path, reference):
    worst = _max_errors(load(sevennet_path, dtype="float32"), reference)
    print("float32 worst deviations from SevenNet (torch, float32):", worst)
    assert worst["energy_eV_per_atom"] <= 1e-4
    assert worst["forces_eV_per_A"] <= 1e-3
    assert worst["stress_GPa"] <= 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sevennet-0-22may2024", "sevennet-l3i5"])
def test_other_bundled_checkpoints_match(x64, tmp_path, reference, name):
    """The May 2024 SevenNet-0 (unnormalised harmonics) and l3i5 (l_max 3, polynomial cutoff) import too."""
    from sevenn.calculator import SevenNetCalculator

    from superionic.potentials.registry import resolve

    potential = load(import_potential(name, tmp_path / f"{name}.npz"), dtype="float64")
    calculator = SevenNetCalculator(resolve(name).sevenn_name, device="cpu")
    structures = [atoms.copy() for atoms, *_ in list(reference.values())[:8]]
    for atoms, result in zip(structures, potential.evaluate(structures), strict=True):
        atoms.calc = calculator
        assert abs(result["energy"] - atoms.get_potential_energy()) / len(atoms) <= 1e-5
        assert np.abs(result["forces"] - atoms.get_forces()).max() <= 1e-4


def test_provenance_is_recorded(sevennet_path):
    potential = load(sevennet_path)
    assert potential.provenance["source_package"] == "sevenn"
    assert len(potential.provenance["source_sha256"]) == 64
    assert "MIT" in potential.provenance["licence"]
    assert len(potential.species) == 89 and "Li" in potential.species


@pytest.mark.slow
def test_jax_md_nvt_at_1000K_is_stable(sevennet_path, examples_dir):
    """A short ASE-free NVT (Nosé–Hoover, 2 fs) run of Li3N at 1000 K with the imported model."""
    potential = load(sevennet_path)
    atoms = read(examples_dir / "Li3N.cif").repeat((4, 4, 3))  # 192 atoms, widths >= 2 (5 + 0.5) Å
    box = box_from_cell(atoms.cell[:])
    _, shift = space.periodic_general(box, fractional_coordinates=True)
    neighbor_fn, energy_fn = potential.jax_md_neighbor_energy(box, atoms.numbers, skin_A=0.5)
    kT = 1000.0 * 8.617333262e-5  # eV
    dt = 2.0 / 10.1805055  # 2 fs in jax-md's eV-Å-amu time unit (10.18 fs)
    init, apply = simulate.nvt_nose_hoover(energy_fn, shift, dt, kT, tau=100 * dt)
    fractional = jnp.asarray(atoms.get_scaled_positions())
    nbrs = neighbor_fn.allocate(fractional)
    masses = jnp.asarray(atoms.get_masses())[:, None]
    state = init(jax.random.PRNGKey(0), fractional, mass=masses, neighbor=nbrs)

    @jax.jit
    def steps(state, nbrs):
        def body(carry, _):
            state, nbrs = carry
            state = apply(state, neighbor=nbrs)
            nbrs = nbrs.update(state.position)
            return (state, nbrs), energy_fn(state.position, nbrs)

        return jax.lax.scan(body, (state, nbrs), None, length=25)

    energies = []
    for _ in range(2):
        (state, nbrs), e = steps(state, nbrs)
        assert not nbrs.did_buffer_overflow
        energies.append(np.asarray(e))
    energies = np.concatenate(energies)
    kinetic = 0.5 * np.sum(np.asarray(state.momentum) ** 2 / np.asarray(masses))
    temperature = 2 * kinetic / (3 * len(atoms) * 8.617333262e-5)
    assert np.all(np.isfinite(energies))
    assert 300.0 < temperature < 2500.0  # thermostat holds the system hot but not exploding
    assert energies.max() - energies.min() < 0.5 * len(atoms)  # no blow-up (eV)


def test_imported_model_runs_without_torch(sevennet_path, examples_dir):
    """After the import, loading and evaluating needs JAX only: torch and sevenn are made unimportable."""
    import subprocess
    import sys

    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'sevenn', 'e3nn'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from ase.io import read\n"
        "from superionic.potentials import load\n"
        f"atoms = read({str(examples_dir / 'Li3N.cif')!r})\n"
        f"print(load({str(sevennet_path)!r}).evaluate(atoms)[0]['energy'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    energy_per_atom = float(result.stdout.strip().splitlines()[-1]) / 4
    assert -6.0 < energy_per_atom < -3.0  # Li3N with SevenNet-0: about -4.4 eV/atom


def test_fingerprint_names_the_weights_the_reference_runs_recorded(sevennet_path):
    # docs/reference/teacher_md.json recorded SevenNet-0's hash before NequIPConfig gained pair_repulsion; the
    # same weights must still hash the same, or reports name a different teacher than the reference runs.
    import json
    from pathlib import Path

    recorded = json.loads((Path(__file__).parents[2] / "docs/reference/teacher_md.json").read_text())
    hashes = {row["teacher"]["sha256"] for row in recorded.values()}
    potential = load(sevennet_path)
    assert hashes == {potential.fingerprint()}
    with_zbl = dataclasses.replace(
        potential, config=dataclasses.replace(potential.config, pair_repulsion="zbl")
    )
    assert with_zbl.fingerprint() != potential.fingerprint()  # a set field still counts
