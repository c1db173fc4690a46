"""Throughput of superionic.md: atom-steps/s and ns/day versus atom count and versus the number of batched
temperatures. Prints one JSON document.

    python scripts/benchmark_md.py                        # Lennard-Jones argon, float32
    python scripts/benchmark_md.py --potential sevennet-0 --structure examples/Li3N.cif --atoms 100 400 --steps 200

Timings exclude compilation: each configuration runs one chunk to compile, then a timed chunk of ``--steps``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import warnings

import jax
from ase.build import bulk

from superionic import md


def _measure(system, potential, temperatures, steps: int, timestep_fs: float, skin: float) -> dict:
    base = dict(
        ensemble="nvt_nose_hoover",
        temperatures_K=tuple(temperatures),
        timestep_fs=timestep_fs,
        equilibration_ps=0.0,
        save_every_fs=steps * timestep_fs / 10,
        chunk_steps=steps,
        progress=False,
    )
    with tempfile.TemporaryDirectory() as tmp:
        # Three chunks: the first includes compilation and is not timed.
        config = md.MDConfig(production_ps=3 * steps * timestep_fs / 1000, **base)
        t0 = time.perf_counter()
        result = md.run(system, potential, config, tmp)
        total = time.perf_counter() - t0
    rate = result.steady_atom_steps_per_s
    members = len(temperatures)
    per_member_steps_per_s = rate / (members * system.n_atoms)
    return {
        "atoms": system.n_atoms,
        "members": members,
        "steps_timed": sum(s for s, _ in result.chunk_timings[1:]),
        "total_wall_s_incl_compile": round(total, 2),
        "atom_steps_per_s": rate,
        "us_per_atom_step": 1e6 / rate,
        "ns_per_day_per_member": per_member_steps_per_s * timestep_fs * 1e-6 * 86400,
        "neighbor_reallocations": result.neighbor_reallocations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--potential", default="lj", help="'lj' (argon) or a superionic potential name/path")
    parser.add_argument("--structure", default=None, help="structure file (default: FCC argon)")
    parser.add_argument("--atoms", type=int, nargs="+", default=[108, 500, 1372, 4000, 10976])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2, 4, 8], help="batched temperatures")
    parser.add_argument("--members-atoms", type=int, default=500, help="system size for the batching scan")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--timestep-fs", type=float, default=2.0)
    parser.add_argument("--skin", type=float, default=1.0)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    if args.potential == "lj":
        potential, cutoff = md.LennardJones(), md.LennardJones().cutoff
        source = bulk("Ar", "fcc", a=5.26, cubic=True) if args.structure is None else args.structure
    else:
        from superionic import potentials

        potential = potentials.load(args.potential)
        cutoff = potential.cutoff_A
        source = args.structure
        if source is None:
            parser.error("--structure is required with a learned potential")

    def system_with(n: int):
        return md.prepare_system(source, cutoff_A=cutoff, skin_A=args.skin, target_atoms=n, max_atoms=None)

    out = {
        "potential": args.potential,
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "jax": jax.__version__,
        "by_atoms": [],
        "by_members": [],
    }
    for n in args.atoms:
        out["by_atoms"].append(
            _measure(system_with(n), potential, [300.0], args.steps, args.timestep_fs, args.skin)
        )
    system = system_with(args.members_atoms)
    for m in args.members:
        temps = [300.0 + 100.0 * i for i in range(m)]
        out["by_members"].append(_measure(system, potential, temps, args.steps, args.timestep_fs, args.skin))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
