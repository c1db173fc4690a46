"""Generate the small real-MD fixture used by ``tests/analysis`` (a superionic-layout H5MD file).

What it runs: Langevin NVT molecular dynamics with ASE, forces and energies from the SevenNet-0 foundation
potential (``sevenn``'s ASE calculator, CPU), on an alpha-Li3N 2x2x2 supercell with one Li vacancy (31 atoms;
the vacancy makes Li hop within a few ps) at 1200 K, 2 fs time step, 0.5 ps of equilibration that is not
written, then 5 ps written every 20 fs (251 frames). Wall time on one CPU core: about 15 minutes on an idle
machine (31 minutes when the committed file was generated, on a shared, loaded one).

Why it exists: the analysis tests need one trajectory from a real potential to compare our D with kinisi and
pymatgen-analysis-diffusion, and to exercise the reader on the layout of ``docs/h5md_layout.md``. It does not
use ``superionic.md`` on purpose (that engine is developed separately); the small writer below follows the
layout contract with h5py alone.

Usage (needs the ``teacher`` extra: torch, sevenn)::

    python scripts/make_analysis_fixture.py --out tests/data/li3n_vac_1200K.h5md

The output is deterministic for a given seed and library versions, up to floating-point reduction order.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import numpy as np
from ase import Atoms, units
from ase.constraints import FixCom
from ase.io import read, write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

REPO = Path(__file__).resolve().parents[1]

# Formal oxidation states written as the per-atom charge (layout: /particles/all/charge, unit "e").
FORMAL_CHARGE_E = {"Li": 1.0, "N": -3.0}


def build_structure(supercell: tuple[int, int, int] = (2, 2, 2)) -> Atoms:
    """alpha-Li3N supercell from examples/Li3N.cif with the first Li removed (one vacancy, charge ignored)."""
    atoms = read(REPO / "examples" / "Li3N.cif") * supercell
    first_li = next(i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Li")
    del atoms[first_li]
    return atoms


def _dataset_series(group: h5py.Group, steps: np.ndarray, times_ps: np.ndarray, value: np.ndarray, unit: str):
    """One H5MD time series: step [F], time [F] (ps), value [F, ...] with its unit attribute."""
    group.create_dataset("step", data=steps.astype(np.int64))
    time_ds = group.create_dataset("time", data=times_ps.astype(np.float64))
    time_ds.attrs["unit"] = "ps"
    value_ds = group.create_dataset("value", data=value)
    value_ds.attrs["unit"] = unit


def write_h5md(path: Path, frames: dict[str, list], atoms: Atoms, params: dict) -> None:
    """Write the collected frames in superionic's H5MD layout (docs/h5md_layout.md)."""
    steps = np.asarray(frames["step"], dtype=np.int64)
    times_ps = np.asarray(frames["time_ps"], dtype=np.float64)
    with h5py.File(path, "w") as f:
        h5md = f.create_group("h5md")
        h5md.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h5md.create_group("author").attrs["name"] = "scripts/make_analysis_fixture.py"
        creator = h5md.create_group("creator")
        creator.attrs["name"] = "superionic"
        creator.attrs["version"] = "fixture-script"
        part = f.create_group("particles/all")
        box = part.create_group("box")
        box.attrs["dimension"] = 3
        box.attrs["boundary"] = np.array([b"periodic"] * 3)
        _dataset_series(
            box.create_group("edges"), steps, times_ps, np.asarray(frames["cell"], np.float64), "Angstrom"
        )
        _dataset_series(
            part.create_group("position"), steps, times_ps, np.asarray(frames["pos"], np.float64), "Angstrom"
        )
        # ASE velocity unit is Angstrom / (ASE time); ps = 1000 fs.
        vel = np.asarray(frames["vel"], np.float64) * (1000.0 * units.fs)
        _dataset_series(part.create_group("velocity"), steps, times_ps, vel, "Angstrom ps-1")
        part.create_dataset("species", data=atoms.numbers.astype(np.int32))
        charge = np.array([FORMAL_CHARGE_E[s] for s in atoms.get_chemical_symbols()])
        part.create_dataset("charge", data=charge).attrs["unit"] = "e"
        part.create_dataset("mass", data=atoms.get_masses()).attrs["unit"] = "amu"
        obs = f.create_group("observables")
        for name, unit in [
            ("temperature", "K"),
            ("potential_energy", "eV"),
            ("kinetic_energy", "eV"),
            ("conserved_energy", "eV"),
            ("pressure", "GPa"),
            ("volume", "Angstrom^3"),
        ]:
            _dataset_series(
                obs.create_group(name), steps, times_ps, np.asarray(frames[name], np.float64), unit
            )
        par = f.create_group("parameters")
        for key, val in params.items():
            par.attrs[key] = val


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "li3n_vac_1200K.h5md")
    parser.add_argument("--temperature-K", type=float, default=1200.0)
    parser.add_argument("--timestep-fs", type=float, default=2.0)
    parser.add_argument("--equilibration-ps", type=float, default=0.5)
    parser.add_argument("--production-ps", type=float, default=5.0)
    parser.add_argument("--every", type=int, default=10, help="write every N steps")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch
    from sevenn.calculator import SevenNetCalculator

    torch.set_num_threads(args.threads)
    atoms = build_structure()
    atoms.calc = SevenNetCalculator("7net-0", device="cpu")
    rng = np.random.default_rng(args.seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=args.temperature_K, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())  # no centre-of-mass random walk from the Langevin noise
    dyn = Langevin(
        atoms,
        args.timestep_fs * units.fs,
        temperature_K=args.temperature_K,
        friction=0.005 / units.fs,
        fixcm=False,
        rng=rng,
    )
    n_eq = round(args.equilibration_ps * 1000.0 / args.timestep_fs)
    n_prod = round(args.production_ps * 1000.0 / args.timestep_fs)
    start = time.time()
    dyn.run(n_eq)
    print(f"equilibrated {n_eq} steps in {time.time() - start:.0f} s", flush=True)

    frames: dict[str, list] = {
        k: []
        for k in [
            "step",
            "time_ps",
            "cell",
            "pos",
            "vel",
            "temperature",
            "potential_energy",
            "kinetic_energy",
            "conserved_energy",
            "pressure",
            "volume",
        ]
    }

    def record(step: int) -> None:
        # ASE never wraps positions during MD, so atoms.positions are already continuous (unwrapped).
        epot = atoms.get_potential_energy()
        ekin = atoms.get_kinetic_energy()
        stress_gpa = atoms.get_stress(voigt=False) / units.GPa
        frames["step"].append(step)
        frames["time_ps"].append(step * args.timestep_fs / 1000.0)
        frames["cell"].append(atoms.cell.array.copy())
        frames["pos"].append(atoms.positions.copy())
        frames["vel"].append(atoms.get_velocities())
        frames["temperature"].append(atoms.get_temperature())
        frames["potential_energy"].append(epot)
        frames["kinetic_energy"].append(ekin)
        frames["conserved_energy"].append(epot + ekin)  # Langevin conserves nothing; total energy recorded
        frames["pressure"].append(-np.trace(stress_gpa) / 3.0)
        frames["volume"].append(atoms.get_volume())

    record(0)
    for block in range(n_prod // args.every):
        dyn.run(args.every)
        record((block + 1) * args.every)
        if block % 25 == 0:
            print(
                f"frame {block + 1}, T={atoms.get_temperature():.0f} K, {time.time() - start:.0f} s",
                flush=True,
            )

    params = {
        "temperature_K": args.temperature_K,
        "timestep_fs": args.timestep_fs,
        "ensemble": "nvt_langevin",
        "seed": args.seed,
        "replica": 0,
        "potential_name": "SevenNet-0 (sevenn 7net-0, ASE calculator)",
        "potential_sha256": "",
        "superionic_version": "fixture-script",
        "equilibration_ps": args.equilibration_ps,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_h5md(args.out, frames, atoms, params)
    first = atoms.copy()
    first.positions = frames["pos"][0]
    write(args.out.with_suffix(".pdb"), first)  # topology beside the trajectory, as md/ writes it
    print(f"wrote {args.out} ({len(frames['step'])} frames) in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
