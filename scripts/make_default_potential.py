"""Distil the shipped default potential from SevenNet-0: sample -> label -> train -> evaluate -> ship.

Stages (each resumable; run them in order, or ``all``)::

    python scripts/make_default_potential.py sample   --workdir runs/default   # OBELiX CIFs -> structures
    python scripts/make_default_potential.py label    --workdir runs/default   # SevenNet-0 labels (slow)
    python scripts/make_default_potential.py train    --workdir runs/default   # student training (resumes)
    python scripts/make_default_potential.py evaluate --workdir runs/default   # held-out metrics
    python scripts/make_default_potential.py ship     --workdir runs/default   # -> superionic/data/potentials

Data: the OBELiX training split (../shared/data/obelix/cifs, CC BY 4.0). Disordered CIFs are ordered by
:func:`superionic.training.sampling.order_structure` (a fresh random ordering per sample, so the Li/vacancy
arrangements vary), then strained and rattled. Splits are by composition (hash of the reduced formula) with
every element forced into train; validation and test compositions are never trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OBELIX = REPO.parent / "shared" / "data" / "obelix" / "cifs"
SEED = 20250701


def sample(workdir: Path, atoms_budget_train: int, configs_eval: int) -> None:
    import ase.io
    from pymatgen.core import Structure

    from superionic.training.dataset import composition_split
    from superionic.training.sampling import order_structure, rattle, strain

    warnings.filterwarnings("ignore")
    out = workdir / "samples.extxyz"
    if out.is_file():
        print(f"{out} exists; delete it to resample")
        return
    rng = np.random.default_rng(SEED)
    entries = []
    for path in sorted(OBELIX.glob("*.cif")):
        structure = Structure.from_file(path)
        try:
            primitive = structure.get_primitive_structure(tolerance=0.3)
            if len(primitive) < len(structure):
                structure = primitive
        except Exception as err:  # symmetry search can fail on noisy CIFs: keep the cell
            print(f"{path.name}: no primitive cell ({err})")
        entries.append((path.stem, structure, structure.composition.reduced_formula))
    splits = composition_split([f for _, _, f in entries], (0.8, 0.1, 0.1), seed=SEED)
    element_count: dict[str, int] = {}
    for _, s, _ in entries:
        for e in s.composition.elements:
            element_count[e.symbol] = element_count.get(e.symbol, 0) + 1
    structures = {"train": [], "val": [], "test": []}
    for (name, structure, formula), split in zip(entries, splits, strict=True):
        n_sites = max(1, round(structure.composition.num_atoms))
        if split == "train":
            k = int(np.clip(round(atoms_budget_train / n_sites), 2, 16))
            if min(element_count[e.symbol] for e in structure.composition.elements) < 3:
                k *= 2  # rare elements: more samples
        else:
            k = configs_eval
        for c in range(k):
            atoms = order_structure(structure, rng)
            atoms = strain(atoms, float(rng.uniform(0.0, 0.03)), rng)
            atoms = rattle(atoms, float(rng.uniform(0.02, 0.15)), rng)
            atoms.info.update({"source": f"obelix:{name}", "formula": formula, "split": split, "sample": c})
            structures[split].append(atoms)
    order = rng.permutation(len(structures["train"]))
    ordered = structures["val"] + structures["test"] + [structures["train"][i] for i in order]
    workdir.mkdir(parents=True, exist_ok=True)
    ase.io.write(out, ordered, format="extxyz")
    for split, items in structures.items():
        print(f"{split}: {len(items)} structures, {sum(len(a) for a in items)} atoms")


def label(workdir: Path, source: str, target: str, chunk_size: int) -> None:
    import ase.io

    import superionic.potentials.sevennet  # noqa: F401  (registers sevennet-0)
    from superionic.potentials import load
    from superionic.training.labelling import PotentialTeacher, label_structures

    structures = ase.io.read(workdir / source, index=":", format="extxyz")
    teacher = PotentialTeacher(load("sevennet-0"))
    label_structures(structures, teacher, workdir / target, chunk_size=chunk_size)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", choices=["sample", "label", "train", "evaluate", "ship", "all"])
    parser.add_argument("--workdir", type=Path, default=REPO / "runs" / "default")
    parser.add_argument("--atoms-budget", type=int, default=1000, help="atoms sampled per training CIF")
    parser.add_argument("--configs-eval", type=int, default=3, help="samples per validation/test CIF")
    parser.add_argument("--chunk-size", type=int, default=24)
    args = parser.parse_args(argv)
    t0 = time.time()
    if args.stage in ("sample", "all"):
        sample(args.workdir, args.atoms_budget, args.configs_eval)
    if args.stage in ("label", "all"):
        label(args.workdir, "samples.extxyz", "labels", args.chunk_size)
    print(json.dumps({"stage": args.stage, "seconds": round(time.time() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
