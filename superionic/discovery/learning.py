"""Active learning: fine-tune the student committee on the oracle's labelled frames after each round.

Member k of round r starts from member k of round r-1 (round 1: the configured student) and trains on a
bootstrap resample of all oracle frames drawn with seed (seed, r, k), so members differ where data are thin:
their spread is the uncertainty that selects what goes to the oracle next. Training is resumable
(:func:`superionic.training.train` writes its state every epoch); the species shifts are then refitted to the
oracle energies and the member is saved as ``student.npz``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import ase
import numpy as np

from superionic.discovery.config import LearningConfig

MAX_FORCE_eV_per_A = 10.0


def member_paths(models_dir: Path, round_index: int, size: int) -> list[str]:
    return [str(models_dir / f"round_{round_index}" / f"member_{k}" / "student.npz") for k in range(size)]


def fine_tune_committee(
    previous_members: Sequence[str],
    frames: Sequence[ase.Atoms],
    config: LearningConfig,
    models_dir: Path,
    round_index: int,
    seed: int,
    progress: bool = False,
) -> list[str]:
    """Train one member per entry of ``previous_members`` (names or checkpoints); returns the new checkpoints."""
    from superionic.discovery.oracle import cached_potential
    from superionic.potentials import save
    from superionic.training import TrainConfig, drop_force_outliers, train
    from superionic.training.trainer import refit_species_shifts

    # Oracle frames of decorated prototypes at the student's geometry can be far from any minimum (forces of
    # tens of eV/Å): they would dominate the loss and teach nothing about candidates.
    frames = drop_force_outliers(frames, MAX_FORCE_eV_per_A)
    if len(frames) < 2:
        raise ValueError("fine-tuning needs at least two oracle frames")
    out = []
    for k, start in enumerate(previous_members):
        rng = np.random.default_rng([seed, round_index, k])
        order = rng.permutation(len(frames))
        n_val = max(1, len(frames) // 10)
        val = [frames[i] for i in order[:n_val]]
        pool = order[n_val:] if len(order) > n_val else order
        train_set = [frames[i] for i in rng.choice(pool, size=len(pool), replace=True)]
        workdir = models_dir / f"round_{round_index}" / f"member_{k}"
        train_config = TrainConfig(
            seed=seed + k,
            epochs=config.epochs,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            warmup_epochs=min(1.0, config.epochs / 4),
            stress_weight=0.1,
        )
        initial = dataclasses.replace(cached_potential(start), name=f"student-r{round_index}-m{k}")
        result = train(initial, train_set, val, train_config, workdir, progress=progress)
        # The species shifts are refitted to the oracle's energies (forces do not depend on them): the
        # student's per-element offsets are what its hull feels most.
        refitted = refit_species_shifts(result.best, train_set)
        path = workdir / "student.npz"
        save(refitted, path)
        out.append(str(path))
    return out
