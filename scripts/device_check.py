#!/usr/bin/env python3
"""Is superionic right on an accelerator? SevenNet-0 on a GPU against the CPU reference; prints JSON.

Two steps, on two machines:

    python scripts/device_check.py reference parity_cpu.npz   # here, on the CPU: float64 energies/forces/stress
    python scripts/device_check.py parity parity_cpu.npz      # there, on the GPU: the same structures

``reference`` evaluates SevenNet-0 (superionic's JAX port, float64) on three structures of different sizes and
chemistries: a rattled 96-atom Li2S cell, the LGPS-type reference cell and the Li3N-with-a-vacancy reference cell
(``docs/reference/cells``). ``parity`` evaluates them again wherever JAX's default device is, in float32 (what MD
runs in) and, where the machine has 64-bit JAX, float64, and with SevenNet's own PyTorch calculator on the same
device when ``sevenn`` is installed. It reports the largest force and energy differences from the reference, so
that a GPU's numbers can be trusted the way the CPU's are (parity of the CPU port with SevenNet: ~1e-7 eV/atom).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CELLS = REPO / "docs" / "reference" / "cells"


def structures():
    """The parity set: (name, ASE Atoms)."""
    import ase.io
    from ase.build import bulk

    li2s = bulk("Li2S", "fluorite", a=5.70, cubic=True).repeat((2, 2, 2))
    li2s.rattle(0.05, seed=0)
    return [
        ("Li2S-96", li2s),
        ("LGPS-47", ase.io.read(CELLS / "LGPS.cif")),
        ("Li3N-vac-31", ase.io.read(CELLS / "Li3N-vac.cif")),
    ]


def evaluate(dtype: str) -> dict[str, dict[str, np.ndarray]]:
    from superionic.potentials import load

    potential = load("sevennet-0", dtype=dtype)
    return {name: potential.evaluate(atoms)[0] for name, atoms in structures()}


def sevennet_torch(device: str) -> dict[str, dict[str, np.ndarray]]:
    from sevenn.calculator import SevenNetCalculator

    calculator = SevenNetCalculator("7net-0", device=device)
    out = {}
    for name, atoms in structures():
        atoms.calc = calculator
        out[name] = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    return out


def differences(result: dict, reference: np.lib.npyio.NpzFile) -> dict[str, dict[str, float]]:
    rows = {}
    for name, r in result.items():
        energy, forces = float(reference[f"{name}/energy"]), reference[f"{name}/forces"]
        rows[name] = {
            "energy_diff_meV_per_atom": 1e3 * abs(float(r["energy"]) - energy) / len(forces),
            "force_max_diff_meV_per_A": 1e3 * float(np.max(np.abs(r["forces"] - forces))),
            "force_rms_meV_per_A": 1e3 * float(np.sqrt(np.mean(forces**2))),
        }
        if "stress" in r:
            rows[name]["stress_max_diff_GPa"] = 160.21766 * float(
                np.max(np.abs(r["stress"] - reference[f"{name}/stress"]))
            )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("step", choices=("reference", "parity"))
    parser.add_argument(
        "file", type=Path, help="the reference .npz (written by 'reference', read by 'parity')"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import jax

    jax.config.update("jax_enable_x64", True)
    if args.step == "reference":
        result = evaluate("float64")
        arrays = {f"{name}/{key}": value for name, r in result.items() for key, value in r.items()}
        np.savez(args.file, device=str(jax.devices()[0]), **arrays)
        print(json.dumps({"wrote": str(args.file), "structures": list(result)}))
        return 0
    reference = np.load(args.file)
    report = {
        "device": str(jax.devices()[0]),
        "reference_device": str(reference["device"]),
        "jax": jax.__version__,
        "superionic_float32": differences(evaluate("float32"), reference),
        "superionic_float64": differences(evaluate("float64"), reference),
    }
    try:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        report[f"sevennet_torch_{device}"] = differences(sevennet_torch(device), reference)
    except ImportError as err:  # sevenn is an optional extra
        report["sevennet_torch"] = f"not run: {err}"
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
