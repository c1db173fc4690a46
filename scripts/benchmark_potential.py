#!/usr/bin/env python3
"""Throughput of superionic potentials (energy + forces), printed as JSON.

For each model and size: evaluations per second and atom-steps per second of the compiled energy+forces
function on a fixed neighbour graph (α-Li3N supercells, 5 Å-scale density), on whatever device JAX sees.
With ``--sevennet-ase``, SevenNet's own PyTorch ASE calculator runs on the same structures in the same process,
and the ratio superionic/SevenNet is reported (the machines are shared: compare ratios, not absolute numbers).

    python scripts/benchmark_potential.py --sizes 64 512 4096 --sevennet-ase

Models: ``gnome`` (GNoME/SevenNet-0 architecture; the imported SevenNet-0 weights when available, else random
weights of the same shape), ``small`` (3 layers, 32x0e+16x1e+8x2e, random weights).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from ase.io import read

from superionic import __version__
from superionic.potentials import NequIPConfig, Potential, init_params, load
from superionic.potentials.potential import energy_forces_stress

EXAMPLE = "examples/Li3N.cif"
REPEATS = {64: (4, 4, 1), 512: (8, 4, 4), 4096: (16, 8, 8)}


def li3n_supercell(n_atoms: int):
    if n_atoms not in REPEATS:
        raise SystemExit(f"size {n_atoms} not available; choose from {sorted(REPEATS)}")
    return read(EXAMPLE).repeat(REPEATS[n_atoms])


def gnome_potential() -> tuple[Potential, str]:
    try:
        return load("sevennet-0"), "sevennet-0 (imported weights)"
    except FileNotFoundError:
        config = NequIPConfig(species=("Li", "N"), conv_denominator=36.0)
        return Potential(config, init_params(config, jax.random.PRNGKey(0)), "gnome-random"), "random weights"


def small_potential() -> Potential:
    config = NequIPConfig(
        species=("Li", "N"), num_layers=3, hidden_irreps="32x0e+16x1e+8x2e", conv_denominator=20.0
    )
    return Potential(config, init_params(config, jax.random.PRNGKey(0)), "small-random")


def time_superionic(potential: Potential, atoms, min_seconds: float) -> dict:
    batch = potential.graph_batch([atoms])
    params = potential.params

    @jax.jit
    def energy_forces(params, batch):
        out = energy_forces_stress(params, potential.config, batch)
        return out["energy"], out["forces"]

    start = time.perf_counter()
    jax.block_until_ready(energy_forces(params, batch))
    compile_s = time.perf_counter() - start
    calls, start = 0, time.perf_counter()
    while True:
        jax.block_until_ready(energy_forces(params, batch))
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and calls >= 2:
            break
    per_call = elapsed / calls
    return {
        "evaluations_per_s": 1.0 / per_call,
        "atom_steps_per_s": len(atoms) / per_call,
        "seconds_per_evaluation": per_call,
        "compile_s": compile_s,
        "edges": int(np.asarray(batch.edge_mask).sum()),
    }


def time_sevennet_ase(atoms, min_seconds: float) -> dict:
    from sevenn.calculator import SevenNetCalculator

    atoms = atoms.copy()
    atoms.calc = SevenNetCalculator("7net-0", device="cpu")
    atoms.get_forces()
    calls, start = 0, time.perf_counter()
    while True:
        atoms.positions[0, 0] += 1e-4  # force a recalculation
        atoms.get_forces()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and calls >= 2:
            break
    per_call = elapsed / calls
    return {"evaluations_per_s": 1.0 / per_call, "atom_steps_per_s": len(atoms) / per_call}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 512, 4096])
    parser.add_argument("--models", nargs="+", default=["gnome", "small"], choices=["gnome", "small"])
    parser.add_argument("--sevennet-ase", action="store_true", help="also time SevenNet's PyTorch calculator")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="timing window per measurement")
    args = parser.parse_args()

    gnome, gnome_weights = gnome_potential()
    models = {"gnome": gnome, "small": small_potential()}
    rows = []
    for n_atoms in args.sizes:
        atoms = li3n_supercell(n_atoms)
        for name in args.models:
            row = {"model": name, "atoms": n_atoms, **time_superionic(models[name], atoms, args.min_seconds)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        if args.sevennet_ase:
            reference = time_sevennet_ase(atoms, args.min_seconds)
            row = {"model": "sevennet-0 via ASE (PyTorch)", "atoms": n_atoms, **reference}
            gnome_row = next((r for r in rows if r["model"] == "gnome" and r["atoms"] == n_atoms), None)
            if gnome_row is not None:
                row["superionic_speedup"] = gnome_row["atom_steps_per_s"] / reference["atom_steps_per_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {
        "benchmark": "potential energy+forces throughput",
        "structure": f"{EXAMPLE} supercells",
        "gnome_weights": gnome_weights,
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "superionic": __version__,
        "machine": platform.processor() or platform.machine(),
        "dtype": str(jnp.asarray(gnome.params["embedding"]).dtype),
        "rows": rows,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
