"""``superionic label``: label structures with a teacher potential into chunked, resumable extxyz files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from superionic.cli import _common as common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("structures", nargs="+", type=Path, help="structure files (cif, extxyz, POSCAR, ...)")
    parser.add_argument(
        "--teacher",
        default="sevennet-0",
        help="registered potential or .npz checkpoint (run in JAX), or 'chgnet' / 'sevennet-torch' (ASE)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder of chunk_*.extxyz files")
    parser.add_argument(
        "--chunk-size", type=common.positive_int, default=64, help="structures per extxyz chunk; default: 64"
    )
    parser.add_argument(
        "--copies", type=common.positive_int, default=1, help="samples per input structure; default: 1"
    )
    parser.add_argument(
        "--rattle-A",
        type=float,
        default=0.0,
        help="Gaussian displacement stdev per component in Å; default: 0",
    )
    parser.add_argument(
        "--strain", type=float, default=0.0, help="random symmetric strain stdev (dimensionless); default: 0"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (orderings, rattles); default: 0")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    common.add_debug(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = common.Parser(
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
    args = common.parse_args(build_parser(), argv)
    return args if isinstance(args, int) else run(args)


def run(args: argparse.Namespace) -> int:
    return common.run_command("superionic label", args.debug, lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from superionic.training.labelling import label_structures
    from superionic.training.sampling import rattle, strain

    rng = np.random.default_rng(args.seed)
    structures = []
    for atoms in read_structures(args.structures, args.seed):
        for _ in range(args.copies):
            sample = strain(atoms, args.strain, rng) if args.strain > 0 else atoms.copy()
            structures.append(rattle(sample, args.rattle_A, rng) if args.rattle_A > 0 else sample)
    try:
        teacher = make_teacher(args.teacher)
    except ImportError as err:
        raise ValueError(
            f"teacher {args.teacher!r} needs the teacher extra: pip install 'superionic[teacher]'"
        ) from err
    paths = label_structures(structures, teacher, args.out, args.chunk_size, progress=not args.quiet)
    print(f"labelled {len(structures)} structures with {teacher.name} into {len(paths)} chunks in {args.out}")
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
