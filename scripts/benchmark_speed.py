"""Energy+forces throughput (atom-steps/s) of NequIP configurations, SevenNet-0 and CHGNet on one structure.

Side by side on the same CPU and the same 96-atom Li2S cell (2x2x2 conventional, rattled):

- superionic potentials through the JAX-MD path (``neighbor_energy_fns``, a jitted force function over a
  fixed neighbour list: what an MD step costs apart from the cheap integrator);
- CHGNet through its ASE calculator (``get_forces`` on a moved structure, so nothing is cached).

    python scripts/benchmark_speed.py                       # all candidate configs + SevenNet-0 + CHGNet
    python scripts/benchmark_speed.py --potential superionic/data/potentials/default.npz --no-chgnet

Writes a JSON line per model to stdout (and to ``--out`` if given).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

# Candidate students: (name, NequIPConfig overrides). Species do not change the cost.
CANDIDATES = {
    "L2-16x0e+8x1e-r4.0": dict(num_layers=2, hidden_irreps="16x0e+8x1e", sh_lmax=1, cutoff_A=4.0),
    "L2-32x0e+16x1e-r4.0": dict(num_layers=2, hidden_irreps="32x0e+16x1e", sh_lmax=1, cutoff_A=4.0),
    "L2-32x0e+16x1e-r4.5": dict(num_layers=2, hidden_irreps="32x0e+16x1e", sh_lmax=1, cutoff_A=4.5),
    "L3-32x0e+16x1e-r4.5": dict(num_layers=3, hidden_irreps="32x0e+16x1e", sh_lmax=1, cutoff_A=4.5),
    "L2-16x0e+8x1e+4x2e-r4.5": dict(num_layers=2, hidden_irreps="16x0e+8x1e+4x2e", sh_lmax=2, cutoff_A=4.5),
    "L3-64x0e+32x1e-r5.0": dict(num_layers=3, hidden_irreps="64x0e+32x1e", sh_lmax=1, cutoff_A=5.0),
}
STUDENT_COMMON = dict(
    num_radial_basis=8, radial_mlp=(32,), cutoff_function="polynomial", conv_denominator=20.0
)


def li2s_96(seed: int = 0):
    from ase.build import bulk

    atoms = bulk("Li2S", "fluorite", a=5.70, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=seed)
    return atoms


def time_jaxmd(potential, atoms, repeats: int, skin_A: float = 0.5) -> dict:
    """Atom-steps/s of jitted forces over a jax-md neighbour list (float32)."""
    import jax
    import jax.numpy as jnp
    from jax_md import space

    from superionic.structures import box_from_cell

    box = box_from_cell(atoms.cell[:])
    displacement, _ = space.periodic_general(box, fractional_coordinates=True)
    neighbor_fn, energy_fn = potential.jax_md_neighbor_energy(
        displacement, box, atoms.numbers, skin_A=skin_A, fractional_coordinates=True
    )
    frac = jnp.asarray(atoms.get_scaled_positions(), jnp.float32)
    nbrs = neighbor_fn.allocate(frac)
    force_fn = jax.jit(lambda r, n: -jax.grad(energy_fn)(r, n))
    t0 = time.perf_counter()
    force_fn(frac, nbrs).block_until_ready()
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        force_fn(frac, nbrs).block_until_ready()
        times.append(time.perf_counter() - t0)
    best = float(np.median(times))
    return {
        "seconds_per_step": best,
        "atom_steps_per_s": len(atoms) / best,
        "compile_s": round(compile_s, 1),
        "edges": int(nbrs.idx.shape[1]),
    }


def time_chgnet(atoms, repeats: int, torch_threads: int) -> dict:
    import torch
    from chgnet.model.dynamics import CHGNetCalculator

    # On a loaded 2-core machine torch's default 2 OpenMP threads spin against each other (measured here:
    # 6.8 s/step with 2 threads, 0.70 s/step with 1); report CHGNet at its best setting.
    torch.set_num_threads(torch_threads)
    calc = CHGNetCalculator(use_device="cpu")
    a = atoms.copy()
    a.calc = calc
    a.get_forces()
    times = []
    for k in range(repeats):
        a.positions = a.positions + 1e-4 * (k + 1)
        t0 = time.perf_counter()
        a.get_forces()
        times.append(time.perf_counter() - t0)
    best = float(np.median(times))
    return {"seconds_per_step": best, "atom_steps_per_s": len(atoms) / best, "torch_threads": torch_threads}


def candidate_potential(overrides: dict):
    import jax

    from superionic.potentials import NequIPConfig, Potential, init_params

    species = ("Li", "S", "O", "P", "La", "Zr")
    config = NequIPConfig(species=species, **(STUDENT_COMMON | overrides))
    return Potential(config, init_params(config, jax.random.PRNGKey(0)), "candidate")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--potential", action="append", default=[], help="checkpoint or registered name")
    parser.add_argument("--candidates", action="store_true", help="time the candidate student configs")
    parser.add_argument("--no-sevennet", action="store_true")
    parser.add_argument("--no-chgnet", action="store_true")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads for CHGNet")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import os

    atoms = li2s_96()
    rows = []

    def report(name, result):
        row = {"model": name, "atoms": len(atoms), "cpu_count": os.cpu_count(), **result}
        rows.append(row)
        print(json.dumps(row), flush=True)

    if args.candidates:
        for name, overrides in CANDIDATES.items():
            report(name, time_jaxmd(candidate_potential(overrides), atoms, args.repeats))
    from superionic.potentials import load

    for name in args.potential:
        report(name, time_jaxmd(load(name), atoms, args.repeats))
    if not args.no_sevennet:
        import superionic.potentials.sevennet  # noqa: F401  (registers sevennet-0)

        report("sevennet-0 (jax-md)", time_jaxmd(load("sevennet-0"), atoms, max(3, args.repeats // 5)))
    if not args.no_chgnet:
        report("chgnet (ASE)", time_chgnet(atoms, max(3, args.repeats // 5), args.torch_threads))
    if rows and "chgnet (ASE)" in [r["model"] for r in rows]:
        reference = next(r for r in rows if r["model"] == "chgnet (ASE)")["atom_steps_per_s"]
        for r in rows:
            print(
                f"{r['model']:32s} {r['atom_steps_per_s']:10.0f} atom-steps/s  {r['atom_steps_per_s'] / reference:7.1f}x CHGNet"
            )
    if args.out:
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
