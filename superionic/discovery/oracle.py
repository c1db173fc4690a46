"""Oracles and the student's relaxation as picklable task functions (they run in Dask workers).

An oracle is either a superionic potential (relaxations batched in JAX with
:func:`superionic.training.batched_relax.relax_structures`) or any ASE calculator (CP2K, VASP, ...), one
structure at a time with ASE's FIRE on a ``FrechetCellFilter`` (or a single point). Results are plain
dictionaries (see :func:`superionic.discovery.store.atoms_to_dict`) so they pickle across processes.
Units: eV, eV/atom, Å, GPa.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import ase
import numpy as np

from superionic.discovery.store import atoms_from_dict, atoms_to_dict

STUDENT_MAX_NEIGHBORS = 96  # within cutoff + skin; ionic solids have 20-60
_POTENTIALS: dict[str, Any] = {}  # per worker process: potentials by name/path (loaded once)


def cached_potential(name_or_path: str):
    if name_or_path not in _POTENTIALS:
        from superionic.potentials import load

        _POTENTIALS[name_or_path] = load(name_or_path)
    return _POTENTIALS[name_or_path]


# Two atoms closer than this fraction of the sum of their covalent radii: the structure collapsed (a hole of
# the potential, typically in a random structure) and its energy means nothing.
MIN_CONTACT_FRACTION = 0.6


def unphysical(atoms: ase.Atoms) -> str:
    """Why a relaxed structure cannot be trusted ("" when it can): overlapping atoms or a non-finite energy."""
    from ase.data import covalent_radii

    from superionic.potentials.graph import neighbor_pairs

    radii = covalent_radii[atoms.numbers]
    i, j, shift = neighbor_pairs(atoms.positions, atoms.cell[:], atoms.pbc, 2.0 * radii.max())
    if len(i):
        lengths = np.linalg.norm(atoms.positions[j] - atoms.positions[i] + shift @ atoms.cell[:], axis=1)
        ratio = lengths / (radii[i] + radii[j])
        k = int(np.argmin(ratio))
        if ratio[k] < MIN_CONTACT_FRACTION:
            a, b = atoms.get_chemical_symbols()[i[k]], atoms.get_chemical_symbols()[j[k]]
            return f"collapsed: {a}-{b} at {lengths[k]:.2f} Å (< {MIN_CONTACT_FRACTION} x covalent radii)"
    if atoms.calc is not None and not np.isfinite(atoms.get_potential_energy()):
        return "non-finite energy"
    return ""


def student_relax_task(
    members: Sequence[str], structures: Sequence[dict], fmax_eV_per_A: float, max_steps: int
) -> list[dict[str, Any]]:
    """Relax with the first committee member; energies (eV/atom) of the relaxed structure by every member."""
    from superionic.training.batched_relax import relax_structures

    atoms_list = [atoms_from_dict(s) for s in structures]
    # Decorated prototypes can be absurdly dense (Cl on a metal lattice at a 2 Å bond): given up at the start.
    relaxed = relax_structures(
        cached_potential(members[0]),
        atoms_list,
        fmax_eV_per_A=fmax_eV_per_A,
        max_steps=max_steps,
        max_neighbors=STUDENT_MAX_NEIGHBORS,
    )
    ok = [k for k, r in enumerate(relaxed) if not (r.failure or unphysical(r.atoms))]
    energies = dict(zip(ok, committee_energies(members, [relaxed[k].atoms for k in ok]), strict=True))
    return [
        {
            "atoms": atoms_to_dict(r.atoms),
            "member_energies_eV_per_atom": energies.get(k),
            "converged": r.converged,
            "failure": r.failure or unphysical(r.atoms),
            "steps": r.steps,
            "volume_change_percent": r.volume_change_percent,
        }
        for k, r in enumerate(relaxed)
    ]


def committee_energies(members: Sequence[str], atoms_list: Sequence[ase.Atoms]) -> list[list[float]]:
    """[structure][member] energies in eV/atom (single points)."""
    per_member = []
    for member in members:
        potential = cached_potential(member)
        per_member.append(
            [
                float(r["energy"]) / len(a)
                for a, r in zip(atoms_list, potential.evaluate(list(atoms_list)), strict=True)
            ]
        )
    return [list(values) for values in zip(*per_member, strict=True)]


def committee_energy_task(members: Sequence[str], structures: Sequence[dict]) -> list[list[float]]:
    return committee_energies(members, [atoms_from_dict(s) for s in structures])


def oracle_task(oracle: Mapping[str, Any], structures: Sequence[dict]) -> list[dict[str, Any]]:
    """Relax (or single-point) ``structures`` with the oracle; per structure: final atoms with labels, energy
    per atom, labelled frames (training data), converged flag, steps, or an ``error``."""
    if oracle["kind"] == "potential":
        from superionic.training.batched_relax import relax_structures

        atoms_list = [atoms_from_dict(s) for s in structures]
        results = relax_structures(
            cached_potential(oracle["name"]),
            atoms_list,
            fmax_eV_per_A=oracle["relax_fmax_eV_per_A"],
            max_steps=oracle["relax_max_steps"] if oracle["relax"] else 0,
            record_frames=True,
        )
        out = []
        for r in results:
            reason = r.failure or unphysical(r.atoms)
            if reason:
                out.append({"error": f"relaxation given up: {reason}"})
                continue
            frames = _thin(r.frames, 4)
            out.append(
                {
                    "atoms": atoms_to_dict(r.atoms),
                    "energy_eV_per_atom": r.energy_per_atom_eV,
                    "frames": [atoms_to_dict(f) for f in frames],
                    "converged": r.converged,
                    "steps": r.steps,
                }
            )
        return out
    calculator = make_calculator(oracle)
    out = []
    for s in structures:
        try:
            out.append(_calculator_relax(calculator, atoms_from_dict(s), oracle))
        except Exception as err:  # a DFT code that fails on one structure must not stop the run
            out.append({"error": f"{type(err).__name__}: {err}".splitlines()[0]})
    if hasattr(calculator, "close"):
        calculator.close()
    return out


def _thin(frames: list, keep: int) -> list:
    """The first, the last and evenly spaced frames in between (at most ``keep``)."""
    if len(frames) <= keep:
        return frames
    index = np.unique(np.linspace(0, len(frames) - 1, keep).round().astype(int))
    return [frames[i] for i in index]


def _calculator_relax(calculator, atoms: ase.Atoms, oracle: Mapping[str, Any]) -> dict[str, Any]:
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    atoms = atoms.copy()
    atoms.calc = calculator
    frames = []

    def snapshot():
        copy = atoms.copy()
        copy.calc = SinglePointCalculator(
            copy,
            energy=atoms.get_potential_energy(),
            forces=atoms.get_forces(),
            stress=atoms.get_stress(),
        )
        frames.append(copy)

    snapshot()
    steps, converged = 0, None
    if oracle["relax"] and oracle["relax_max_steps"] > 0:
        optimizer = FIRE(FrechetCellFilter(atoms), logfile=None)
        converged = bool(optimizer.run(fmax=oracle["relax_fmax_eV_per_A"], steps=oracle["relax_max_steps"]))
        steps = int(optimizer.nsteps)
        snapshot()
    final = frames[-1]
    reason = unphysical(final)
    if reason:
        return {"error": f"oracle structure rejected: {reason}"}
    return {
        "atoms": atoms_to_dict(final),
        "energy_eV_per_atom": float(final.get_potential_energy()) / len(final),
        "frames": [atoms_to_dict(f) for f in frames],
        "converged": bool(converged) if converged is not None else False,
        "steps": steps,
    }


# ----------------------------------------------------------------------------------------- calculators


class OracleUnavailable(RuntimeError):
    """The configured oracle cannot run on this machine (program missing); the message says how to get it."""


CP2K_DATA = "/usr/share/cp2k"  # Debian's cp2k-data: basis sets and GTH pseudopotentials


def cp2k_available() -> str | None:
    """None when CP2K's shell and data are installed, else a one-line reason."""
    if shutil.which("cp2k_shell") is None and shutil.which("cp2k.psmp") is None:
        return "cp2k is not installed (Debian: apt-get install cp2k cp2k-data)"
    from pathlib import Path

    if not (Path(CP2K_DATA) / "BASIS_MOLOPT").is_file():
        return (
            f"CP2K data (BASIS_MOLOPT, GTH_POTENTIALS) not found in {CP2K_DATA} (apt-get install cp2k-data)"
        )
    return None


def cp2k_calculator(
    parameters: Mapping[str, Any] | None = None, kpoints: Sequence[int] | None = None, directory: str = "."
):
    """ASE's CP2K calculator (PBE, DZVP-MOLOPT-SR-GTH basis, GTH-PBE pseudopotentials) driving ``cp2k_shell``
    over a pipe, so it does not depend on the Python that runs superionic.

    ``kpoints`` (e.g. ``[3, 3, 3]``): a Monkhorst-Pack grid, needed for cells much smaller than ~15 Å (the
    default Γ point suits large cells). ``parameters`` override ASE's CP2K keyword arguments (``cutoff`` in
    eV, ``max_scf``, ...). The SCF diagonalises with Broyden mixing, which works with k-points and insulators.
    """
    reason = cp2k_available()
    if reason:
        raise OracleUnavailable(reason)
    from ase.calculators.cp2k import CP2K
    from ase.units import Rydberg

    command = "cp2k_shell" if shutil.which("cp2k_shell") else "cp2k.psmp --shell"
    kpoint_block = ""
    if kpoints is not None:
        grid = " ".join(str(int(k)) for k in kpoints)
        kpoint_block = f"&KPOINTS\nSCHEME MONKHORST-PACK {grid}\n&END KPOINTS\n"
    defaults = {
        "xc": "PBE",
        "basis_set": "DZVP-MOLOPT-SR-GTH",
        "basis_set_file": f"{CP2K_DATA}/BASIS_MOLOPT",
        "potential_file": f"{CP2K_DATA}/GTH_POTENTIALS",
        "pseudo_potential": "GTH-PBE",
        "cutoff": 400 * Rydberg,
        "max_scf": 60,
        "stress_tensor": True,
        "print_level": "LOW",
        "inp": (
            "&FORCE_EVAL\n&DFT\n"
            + kpoint_block
            + "&SCF\nEPS_SCF 1.0E-7\n&DIAGONALIZATION ON\nALGORITHM STANDARD\n&END DIAGONALIZATION\n"
            "&MIXING\nMETHOD BROYDEN_MIXING\nALPHA 0.4\n&END MIXING\n&END SCF\n&END DFT\n&END FORCE_EVAL\n"
        ),
    }
    options = {**defaults, **dict(parameters or {})}
    return CP2K(command=command, directory=directory, **options)


def make_calculator(oracle: Mapping[str, Any]):
    """The ASE calculator of an oracle config (``kind`` cp2k or ase)."""
    if oracle["kind"] == "cp2k":
        parameters = dict(oracle.get("parameters") or {})
        kpoints = parameters.pop("kpoints", None)
        return cp2k_calculator(parameters, kpoints=kpoints, directory=parameters.pop("directory", "."))
    module_name, _, class_name = str(oracle["calculator"]).partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise OracleUnavailable(f"cannot import oracle calculator {oracle['calculator']!r}: {err}") from err
    return cls(**dict(oracle.get("parameters") or {}))
