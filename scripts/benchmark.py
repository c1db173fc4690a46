#!/usr/bin/env python3
"""Speed of superionic's hot paths beside the reference codes, side by side in one process; prints JSON.

Contenders, on the same rattled Li2S cell and the same CPU, timed in interleaved rounds (A B C D, A B C D, ...)
so that a change in machine load hits all of them alike, each turn after untimed warm-up calls
(``--warmup-seconds``); each contender's figure is its median over rounds:

- ``superionic:<potential>`` — MD steps through the JAX-MD path: jax-md's NVT Nosé–Hoover integrator over
  superionic's neighbour table (rebuilt when an atom moved half the skin; pairs within the cutoff packed for
  the model each step), what ``superionic.md.run`` compiles, without its file output. float32.
- ``sevennet-ase`` — SevenNet-0 through SevenNet's own ASE calculator (PyTorch), energy + forces + stress.
- ``chgnet-ase`` — CHGNet through its ASE calculator.
- ``training-step`` — one optimiser step of the default potential's architecture on 8 OBELiX-derived
  structures (labels from the default potential: the cost does not depend on them).
- ``labelling`` — SevenNet-0 as teacher (``PotentialTeacher``) on 8 OBELiX-derived structures.

    python scripts/benchmark.py                           # 96 and 960 atoms, everything
    python scripts/benchmark.py --atoms 96 960 4704 --only superionic:default   # cost per atom vs size

Torch runs with as many threads as there are cores. Like the ``superionic``/``conductivity`` commands, the script
relaunches itself with glibc's huge-page malloc (``SUPERIONIC_HUGE_PAGES=0`` to measure without). Absolute
numbers depend on the machine and its load (the JSON records both); quote the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OBELIX = REPO.parent / "shared" / "data" / "obelix" / "cifs"
# Li2S conventional cells (12 atoms, a = 5.70 Å) repeated to the requested size.
REPEATS = {96: (2, 2, 2), 960: (4, 4, 5), 4704: (7, 7, 8), 18816: (14, 14, 8)}


@dataclass
class Contender:
    """``run()`` does some work and returns how many atom-steps (or structures) it did (0: nothing to time);
    ``details()`` describes the contender after the timing."""

    name: str
    unit: str
    run: Callable[[], int]
    setup_s: float
    details: Callable[[], dict]


def li2s(n_atoms: int, seed: int = 0):
    from ase.build import bulk

    if n_atoms not in REPEATS:
        raise SystemExit(f"--atoms {n_atoms}: choose from {sorted(REPEATS)}")
    atoms = bulk("Li2S", "fluorite", a=5.70, cubic=True).repeat(REPEATS[n_atoms])
    atoms.rattle(0.05, seed=seed)
    return atoms


def md_contender(
    name: str, atoms, steps: int, temperature_K: float = 1000.0, skin_A: float = 1.0
) -> Contender:
    """MD steps through the JAX-MD path (see module docstring)."""
    import jax
    import jax.numpy as jnp
    from jax_md import simulate, space

    from superionic.md import neighbors
    from superionic.md.ensembles import shield_energy_fn
    from superionic.potentials import load
    from superionic.potentials.jaxmd import check_edges, within_cutoff
    from superionic.structures import box_from_cell

    t0 = time.perf_counter()
    potential = load(name)
    box = box_from_cell(atoms.cell[:]).astype(jnp.float32)
    _, shift_fn = space.periodic_general(box, fractional_coordinates=True)
    neighbor_fn, energy_fn = potential.jax_md_neighbor_energy(box, atoms.numbers, skin_A=skin_A)
    energy_fn = shield_energy_fn(energy_fn)
    kT = jnp.float32(8.617333262e-5 * temperature_K)
    dt = jnp.float32(2.0 / 10.1805055)  # 2 fs in jax-md's eV-Å-amu unit of time
    init, apply = simulate.nvt_nose_hoover(energy_fn, shift_fn, dt, kT, tau=100 * dt)
    position = jnp.asarray(atoms.get_scaled_positions(), jnp.float32)
    nbrs = neighbor_fn.allocate(position, box=box)
    masses = jnp.asarray(atoms.get_masses(), jnp.float32)[:, None]
    state = init(jax.random.PRNGKey(0), position, mass=masses, neighbor=nbrs, box=box)

    @jax.jit
    def advance(state, nbrs):
        def body(_, carry):
            state, nbrs, rebuilds = carry
            state = apply(state, neighbor=nbrs, box=box)
            updated = neighbor_fn.update(state.position, nbrs, box=box)
            rebuilds += jnp.any(updated.reference_position != nbrs.reference_position)
            return state, check_edges(neighbor_fn, state.position, updated, box), rebuilds

        return jax.lax.fori_loop(0, steps, body, (state, nbrs, 0))

    carry = {"state": state, "nbrs": nbrs, "rebuilds": 0, "steps": 0, "reallocations": 0}
    jax.block_until_ready(advance(state, nbrs))  # compile
    setup = time.perf_counter() - t0

    def run() -> int:
        state, nbrs, rebuilds = jax.block_until_ready(advance(carry["state"], carry["nbrs"]))
        code = int(nbrs.error.code)
        if code:
            # As md.run does: discard the steps, reallocate with more room (thermal motion brings more pairs
            # within the cutoff than the starting crystal has) and recompile; this call counts no work.
            room = neighbors.grown_capacity(nbrs, code, len(atoms), boxes=box[None], neighbor_fn=neighbor_fn)
            start = carry["state"].position
            batch = neighbors.allocate_batch(neighbor_fn, start[None], box[None], min_capacity=room)
            nbrs = jax.tree_util.tree_map(lambda x: x[0], batch)
            carry.update(nbrs=nbrs, reallocations=carry["reallocations"] + 1)
            jax.block_until_ready(advance(carry["state"], nbrs))
            return 0
        carry.update(state=state, nbrs=nbrs, rebuilds=carry["rebuilds"] + int(rebuilds))
        carry["steps"] += steps
        return steps * len(atoms)

    def details() -> dict:
        """The tables as they are after the timed steps (thermal motion may have grown them)."""
        position, nbrs = carry["state"].position, carry["nbrs"]
        pairs = np.sum(np.asarray(within_cutoff(position, nbrs, box, potential.cutoff_A)), axis=1)
        return {
            "potential": name,
            "sha256": potential.fingerprint()[:16],
            "cutoff_A": potential.cutoff_A,
            "skin_A": skin_A,
            "table_width": nbrs.max_occupancy,
            "model_table_width": nbrs.edge_capacity,
            "mean_pairs_within_cutoff": round(float(pairs.mean()), 1),
            "max_pairs_within_cutoff": int(pairs.max()),
            "valid_fraction_of_wide_table": round(float(pairs.mean()) / nbrs.max_occupancy, 3),
            "valid_fraction_of_model_table": round(float(pairs.mean()) / nbrs.edge_capacity, 3),
            "steps_per_call": steps,
            "steps_timed": carry["steps"],
            "rebuild_every_steps": round(carry["steps"] / max(carry["rebuilds"], 1), 1),
            "reallocations": carry["reallocations"],
        }

    return Contender(f"superionic:{name}", "atom-steps/s", run, setup, details)


def ase_contender(name: str, atoms, make_calculator) -> Contender:
    t0 = time.perf_counter()
    atoms = atoms.copy()
    atoms.calc = make_calculator()
    atoms.get_forces()
    setup = time.perf_counter() - t0
    rng = np.random.default_rng(1)

    def run() -> int:
        atoms.positions = atoms.positions + rng.normal(0.0, 1e-3, atoms.positions.shape)  # nothing cached
        atoms.get_forces()
        atoms.get_stress()
        return len(atoms)

    return Contender(name, "atom-steps/s", run, setup, dict)


def torch_device() -> str:
    """The torch codes run where JAX runs: on the GPU when there is one, so that the ratios compare like with like."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def sevennet_calculator():
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator("7net-0", device=torch_device())


def chgnet_calculator():
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(use_device=torch_device())


def obelix_structures(count: int, max_atoms: int = 160, seed: int = 0):
    """Ordered, rattled OBELiX structures (the kind of data the default potential was trained on)."""
    from pymatgen.core import Structure

    from superionic.structures import order_structure, symmetrize
    from superionic.training.sampling import rattle

    rng = np.random.default_rng(seed)
    out = []
    for path in sorted(OBELIX.glob("*.cif")):
        try:
            (ordering,) = order_structure(
                symmetrize(Structure.from_file(path)), seed=int(rng.integers(2**31))
            )
            atoms = ordering.atoms
        except Exception:  # a CIF that cannot be ordered is simply not used here
            continue
        if len(atoms) <= max_atoms:
            out.append(rattle(atoms, 0.05, rng))
        if len(out) == count:
            return out
    raise SystemExit(f"only {len(out)} usable OBELiX structures in {OBELIX}")


def training_contender(structures) -> Contender:
    import jax
    import jax.numpy as jnp
    from ase.calculators.singlepoint import SinglePointCalculator

    from superionic.potentials import load
    from superionic.training import trainer
    from superionic.training.config import TrainConfig

    t0 = time.perf_counter()
    student = load("default")
    for atoms, label in zip(structures, student.evaluate(structures), strict=True):
        atoms.calc = SinglePointCalculator(atoms, energy=label["energy"], forces=label["forces"])
    data = trainer.prepare(structures, student)
    shape = trainer.batch_shape_for(data, len(structures))
    config = TrainConfig()
    step, _ = trainer._compiled(student.config, config)
    opt_state = trainer.make_optimizer(config).init(student.params)
    (batch, labels, members), *rest = list(
        trainer.batches(data, shape, range(len(structures)), student.dtype)
    )
    assert not rest, "the benchmark batch must hold all structures"
    args = (student.params, student.params, opt_state, jnp.asarray(0), jnp.asarray(1e-4, jnp.float32))
    jax.block_until_ready(step(*args, batch, labels))
    setup = time.perf_counter() - t0

    def run() -> int:
        jax.block_until_ready(step(*args, batch, labels))
        return len(members)

    details = {
        "structures": len(members),
        "atoms": int(np.asarray(batch.node_mask).sum()),
        "table_width": batch.max_neighbors,
    }
    return Contender("training-step", "structures/s", run, setup, lambda: details)


def labelling_contender(structures) -> Contender:
    from superionic.potentials import load
    from superionic.training.labelling import PotentialTeacher

    t0 = time.perf_counter()
    teacher = PotentialTeacher(load("sevennet-0"))
    teacher.label(structures)  # compile
    setup = time.perf_counter() - t0

    def run() -> int:
        teacher.label(structures)
        return len(structures)

    details = {"structures": len(structures), "teacher": "sevennet-0"}
    return Contender("labelling", "structures/s", run, setup, lambda: details)


def interleave(
    contenders: list[Contender], rounds: int, min_seconds: float, warmup_seconds: float
) -> dict[str, dict]:
    """Median rate of each contender over ``rounds`` interleaved rounds of at least ``min_seconds`` each, each
    turn after at least ``warmup_seconds`` of untimed calls (see ``--warmup-seconds``)."""
    rates: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(rounds):
        for c in contenders:
            start = time.perf_counter()
            while time.perf_counter() - start < warmup_seconds:
                c.run()
            done = elapsed = 0.0
            while elapsed < min_seconds:
                start = time.perf_counter()
                work = c.run()
                if work:  # a call that did no work (a reallocation) is not timed
                    done, elapsed = done + work, elapsed + time.perf_counter() - start
            rates[c.name].append(done / elapsed)
    out = {}
    for c in contenders:
        r = rates[c.name]
        out[c.name] = {
            "unit": c.unit,
            "median": statistics.median(r),
            "min": min(r),
            "max": max(r),
            "rounds": r,
            "setup_s_incl_compile": round(c.setup_s, 1),
            **c.details(),
        }
    return out


def machine() -> dict:
    import jax

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_device": f"{jax.devices()[0]} ({jax.devices()[0].device_kind})",
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),  # huge-page malloc: see superionic/cli/_launch.py
    }
    for package in ("torch", "sevenn", "chgnet", "superionic"):
        try:
            info[package] = __import__(package).__version__
        except Exception:  # not installed: say so
            info[package] = None
    return info


CONTENDERS = (
    "superionic:default",
    "superionic:sevennet-0",
    "sevennet-ase",
    "chgnet-ase",
    "training-step",
    "labelling",
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--atoms", type=int, nargs="+", default=[96, 960], help=f"Li2S cell sizes: {sorted(REPEATS)}"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        help=f"contender names to run (default: all): {' '.join(CONTENDERS)}, or superionic:CHECKPOINT.npz "
        "(e.g. two specialists side by side)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=10.0, help="per contender per round")
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=5.0,
        help="untimed calls of each contender before each of its timed turns: on a virtual machine whose host "
        "takes back the memory the previous contender freed, the first calls of a large-cell SevenNet-0 after "
        "another contender spend seconds in the kernel faulting its temporaries in again (measured: a 960-atom "
        "step of 1.2 s took 5.6 s)",
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    checkpoints = [n.removeprefix("superionic:") for n in args.only or [] if n not in CONTENDERS]
    unknown = [n for n in args.only or [] if n not in CONTENDERS and not n.startswith("superionic:")]
    missing = [p for p in checkpoints if not Path(p).is_file()]
    if unknown or missing:
        parser.error(
            f"unknown contender(s) {unknown + [f'superionic:{p}' for p in missing]}: choose from "
            f"{', '.join(CONTENDERS)} or superionic:PATH to an existing checkpoint"
        )
    warnings.filterwarnings("ignore")
    import jax
    import torch

    torch.set_num_threads(os.cpu_count() or 1)

    def wanted(name: str) -> bool:
        return not args.only or name in args.only

    report = {
        "benchmark": "scripts/benchmark.py",
        "machine": machine(),
        "load_average_start": os.getloadavg(),
        "settings": {
            "rounds": args.rounds,
            "min_seconds": args.min_seconds,
            "warmup_seconds": args.warmup_seconds,
        },
    }
    report["torch_threads"] = torch.get_num_threads()
    report["torch_device"] = torch_device()
    t_start = time.time()
    for n_atoms in args.atoms:
        atoms = li2s(n_atoms)
        # About one second of work per call on two CPU cores, so calls are long against Python's overhead and
        # short in a round; a GPU does the same work in a fraction of that, so it gets more steps per call.
        scale = 1 if jax.default_backend() == "cpu" else 20
        steps = {"default": max(2, scale * 20_000 // n_atoms), "sevennet-0": max(1, scale * 400 // n_atoms)}
        contenders = []
        for name in ("default", "sevennet-0"):
            if wanted(f"superionic:{name}"):
                contenders.append(md_contender(name, atoms, steps[name]))
        for path in checkpoints:  # small students, as the default
            contenders.append(md_contender(path, atoms, steps["default"]))
        if wanted("sevennet-ase"):
            contenders.append(ase_contender("sevennet-ase", atoms, sevennet_calculator))
        if wanted("chgnet-ase"):
            contenders.append(ase_contender("chgnet-ase", atoms, chgnet_calculator))
        results = interleave(contenders, args.rounds, args.min_seconds, args.warmup_seconds)
        ratios = {}
        for a, b in (("superionic:sevennet-0", "sevennet-ase"), ("superionic:default", "chgnet-ase")):
            if a in results and b in results:
                ratios[f"{a} / {b}"] = round(results[a]["median"] / results[b]["median"], 2)
        report[f"li2s_{n_atoms}_atoms"] = {"results": results, "ratios": ratios}
        print(json.dumps({f"li2s_{n_atoms}_atoms": ratios}), file=sys.stderr, flush=True)
        if args.out:  # what is measured so far survives a run cut short (a device lease, a job's time limit)
            args.out.write_text(json.dumps(report | {"complete": False}, indent=2, default=float) + "\n")
    if wanted("training-step") or wanted("labelling"):
        structures = obelix_structures(8)
        contenders = []
        if wanted("training-step"):
            contenders.append(training_contender([a.copy() for a in structures]))
        if wanted("labelling"):
            contenders.append(labelling_contender([a.copy() for a in structures]))
        report["training_and_labelling"] = interleave(
            contenders, args.rounds, args.min_seconds, args.warmup_seconds
        )
    report["load_average_end"] = os.getloadavg()
    report["wall_s"] = round(time.time() - t_start, 1)
    report["complete"] = True
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    from superionic.cli._launch import relaunch_with_huge_pages

    relaunch_with_huge_pages()  # measure what the commands run with (SUPERIONIC_HUGE_PAGES=0: without)
    sys.exit(main())
