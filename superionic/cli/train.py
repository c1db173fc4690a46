"""``superionic train CONFIG``: train or fine-tune a potential (or a committee) from a TOML/JSON file.

Example ``train.toml``::

    train = ["labels/train"]          # extxyz files or folders of chunk_*.extxyz
    val = ["labels/val"]
    workdir = "runs/my-potential"     # resumable: rerun the same command after an interruption
    name = "my-potential"
    # init_from = "sevennet-0"        # fine-tune a checkpoint instead of [model]

    [model]                            # NequIPConfig fields; species default to the data's elements
    num_layers = 2
    hidden_irreps = "32x0e+16x1e"
    sh_lmax = 1
    cutoff_A = 4.5

    [training]                         # TrainConfig fields
    epochs = 100
    learning_rate = 2e-3
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from superionic.cli import _common as common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="training configuration (.toml or .json)")
    parser.add_argument(
        "--committee",
        type=common.positive_int,
        default=1,
        help="train N members with seeds seed..seed+N-1; default: 1",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    common.add_debug(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = common.Parser(
        prog="superionic train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = common.parse_args(build_parser(), argv)
    return args if isinstance(args, int) else run(args)


def run(args: argparse.Namespace) -> int:
    return common.run_command("superionic train", args.debug, lambda: _train(args))


def _train(args: argparse.Namespace) -> int:
    from superionic.training.config import RunConfig

    run_config = RunConfig.read(args.config)
    summary = _run(run_config, args.committee, progress=not args.quiet)
    print(json.dumps(summary, indent=1))
    return common.EXIT_OK


def _run(run, committee: int, progress: bool) -> dict:
    import dataclasses

    from superionic.potentials import read_metadata
    from superionic.training.labelling import read_labelled
    from superionic.training.trainer import initial_potential, train

    if committee < 1:
        raise ValueError("--committee must be >= 1")
    train_set, val_set = read_labelled(run.train), read_labelled(run.val)
    if not train_set or not val_set:
        raise ValueError("no labelled structures found in train/val: run `superionic label` first")
    workdir = Path(run.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "run_config.json").write_text(json.dumps(run.to_dict(), indent=1))
    members = []
    for k in range(committee):
        config = dataclasses.replace(run.training, seed=run.training.seed + k)
        if run.init_from:
            from superionic.potentials import load

            initial = load(run.init_from, dtype=config.dtype)
            initial = dataclasses.replace(initial, name=run.name)
        else:
            initial = initial_potential(train_set, dict(run.model), config.seed, config.dtype, run.name)
        member_dir = workdir / f"member_{k}" if committee > 1 else workdir
        provenance = {"training_data": list(run.train), "init_from": run.init_from}
        train(initial, train_set, val_set, config, member_dir, provenance, progress=progress)
        best = read_metadata(member_dir / "best.npz")["provenance"]["validation"]
        members.append({"checkpoint": str(member_dir / "best.npz"), **best})
    return {"workdir": str(workdir), "members": members}


if __name__ == "__main__":
    sys.exit(main())
