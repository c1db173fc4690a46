"""``superionic label``: label structures with a teacher potential into chunked, resumable extxyz files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from superionic.cli._common import EXIT_OK, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("structures", nargs="+", type=Path, help="structure files (cif, extxyz, POSCAR, ...)")
    parser.add_argument(
        "--teacher",
        default="sevennet-0",
        help="registered potential or .npz checkpoint (run in JAX), or 'chgnet' / 'sevennet-torch' (ASE)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder of chunk_*.extxyz files")
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--copies", type=int, default=1, help="samples per input structure")
    parser.add_argument("--rattle-A", type=float, default=0.0, help="Gaussian displacement stdev (Å)")
    parser.add_argument("--strain", type=float, default=0.0, help="random symmetric strain stdev")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="superionic label",
        description="Label structures (energy eV, forces eV/Å, stress eV/Å^3) with a teacher. Resumable: "
        "rerun the same command after an interruption.",
    )
    add_arguments(parser)
    return parser


def read_structures(paths: Sequence[Path], seed: int):
    """ASE structures from files; a disordered one is ordered on its own cell (one ordering, fixed by ``seed``)."""
    import ase.io

    from superionic.structures import order_structure, read_structure

    out = []
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no structure file {path}")
        if path.suffix.lower() == ".cif":
            structure = read_structure(path)
            atoms = order_structure(structure, seed=seed)[0].atoms if not structure.is_ordered else None
            if atoms is None:
                from pymatgen.io.ase import AseAtomsAdaptor

                atoms = AseAtomsAdaptor.get_atoms(structure)
            atoms.info["source"] = str(path)
            out.append(atoms)
            continue
        for atoms in ase.io.read(path, index=":"):
            atoms.info["source"] = str(path)
            atoms.calc = None
            out.append(atoms)
    return out


def make_teacher(name: str):
    from superionic.training.labelling import CalculatorTeacher, PotentialTeacher

    if name == "chgnet":
        from chgnet.model.dynamics import CHGNetCalculator

        return CalculatorTeacher(CHGNetCalculator(use_device="cpu"), "chgnet")
    if name == "sevennet-torch":
        from sevenn.calculator import SevenNetCalculator

        return CalculatorTeacher(SevenNetCalculator("7net-0", device="cpu"), "sevennet-torch:7net-0")
    from superionic.potentials import load

    return PotentialTeacher(load(name))


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    prog = "superionic label"
    try:
        import numpy as np

        from superionic.training.labelling import label_structures
        from superionic.training.sampling import rattle, strain

        if args.copies < 1 or args.chunk_size < 1:
            raise ValueError("--copies and --chunk-size must be >= 1")
        rng = np.random.default_rng(args.seed)
        structures = []
        for atoms in read_structures(args.structures, args.seed):
            for _ in range(args.copies):
                sample = strain(atoms, args.strain, rng) if args.strain > 0 else atoms.copy()
                structures.append(rattle(sample, args.rattle_A, rng) if args.rattle_A > 0 else sample)
        teacher = make_teacher(args.teacher)
        paths = label_structures(structures, teacher, args.out, args.chunk_size, progress=not args.quiet)
    except (ValueError, FileNotFoundError, ImportError) as err:
        return fail(prog, str(err))
    print(f"labelled {len(structures)} structures with {teacher.name} into {len(paths)} chunks in {args.out}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
