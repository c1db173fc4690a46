"""End-to-end training on a tiny data set labelled by a small random teacher (seconds on a CPU)."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest
from conftest import TINY, tiny_potential

from superionic.potentials import load
from superionic.training.config import TrainConfig
from superionic.training.trainer import evaluate, initial_potential, train

SPECIES = ["Li", "N", "S"]
CONFIG = TrainConfig(epochs=8, batch_size=1, learning_rate=1e-2, ema_decay=0.5, warmup_epochs=0.5)


@pytest.fixture(scope="module")
def straight_run(labelled, tmp_path_factory):
    train_set, val_set = labelled
    initial = initial_potential(train_set, dict(TINY, species=SPECIES), seed=1)
    workdir = tmp_path_factory.mktemp("straight")
    return initial, train(initial, train_set, val_set, CONFIG, workdir, progress=False)


def test_training_lowers_loss_and_round_trips_checkpoint(labelled, straight_run):
    _, val_set = labelled
    initial, result = straight_run
    losses = [r["train_loss"] for r in result.history]
    assert len(losses) == CONFIG.epochs
    assert losses[-1] < 0.7 * losses[0]
    before, after = evaluate(initial, val_set), evaluate(result.best, val_set)
    assert before["forces_mae_meV_per_A"] > 10.0  # the task is not trivial: the teacher's forces are large
    assert after["forces_mae_meV_per_A"] < before["forces_mae_meV_per_A"]
    # The best checkpoint is an ordinary superionic potential: load() gives identical predictions.
    loaded = load(result.workdir / "best.npz")
    np.testing.assert_array_equal(
        loaded.evaluate(val_set[0])[0]["forces"], result.best.evaluate(val_set[0])[0]["forces"]
    )
    scores = [r["val_energy_mae_meV_per_atom"] + r["val_forces_mae_meV_per_A"] for r in result.history]
    assert loaded.provenance["validation"]["epoch"] == result.history[int(np.argmin(scores))]["epoch"]


def test_resume_equals_uninterrupted(labelled, straight_run, tmp_path):
    train_set, val_set = labelled
    initial, straight = straight_run
    first = train(initial, train_set, val_set, CONFIG, tmp_path, progress=False, max_epochs_this_call=3)
    assert len(first.history) == 3
    resumed = train(initial, train_set, val_set, CONFIG, tmp_path, progress=False)
    assert [r["epoch"] for r in resumed.history] == list(range(1, CONFIG.epochs + 1))
    for a, b in zip(
        jax.tree_util.tree_leaves(straight.last.params),
        jax.tree_util.tree_leaves(resumed.last.params),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed.history[-1]["train_loss"] == straight.history[-1]["train_loss"]


def test_resume_with_other_options_is_refused(labelled, straight_run):
    train_set, val_set = labelled
    initial, result = straight_run
    other = dataclasses.replace(CONFIG, learning_rate=1.0)
    with pytest.raises(ValueError, match="different training run"):
        train(initial, train_set, val_set, other, result.workdir, progress=False)


def test_fine_tuning_starts_from_a_checkpoint(labelled, teacher, tmp_path):
    train_set, val_set = labelled
    # Perturb the teacher: fine-tuning must bring it back towards its own labels.
    noisy = dataclasses.replace(
        teacher,
        params=jax.tree_util.tree_map(lambda x: x * 1.05, teacher.params),
        name="noisy-teacher",
    )
    before = evaluate(noisy, val_set)
    result = train(
        noisy, train_set, val_set, dataclasses.replace(CONFIG, learning_rate=2e-3), tmp_path, progress=False
    )
    after = evaluate(result.best, val_set)
    assert after["forces_mae_meV_per_A"] < before["forces_mae_meV_per_A"]
    assert result.best.config == teacher.config


def test_fine_tuning_with_uncovered_elements_fails(labelled, tmp_path):
    train_set, val_set = labelled
    li_s_only = tiny_potential(seed=5, species=("Li", "S", "O"))
    with pytest.raises(ValueError, match="does not cover element"):
        train(li_s_only, train_set, val_set, CONFIG, tmp_path, progress=False)


def test_training_config_rejects_typos():
    with pytest.raises(ValueError, match="unknown training fields"):
        TrainConfig.from_dict({"learning_rat": 1e-3})
