"""One compilation per batch shape: training steps and teacher labelling must not retrace batch after batch
(a neighbour-table width that varies with the batch's contents did exactly that)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from conftest import TINY, structures

from superionic.training.config import TrainConfig
from superionic.training.labelling import PotentialTeacher
from superionic.training.trainer import (
    batch_shape_for,
    batches,
    initial_potential,
    make_optimizer,
    make_train_step,
    prepare,
    train,
)


def test_training_steps_of_one_shape_compile_once(labelled, compile_counter):
    train_set, val_set = labelled
    data_set = train_set + val_set
    potential = initial_potential(data_set, dict(TINY, species=["Li", "N", "S"]), seed=2)
    data = prepare(data_set, potential)
    shape = batch_shape_for(data, 3)
    config = TrainConfig(batch_size=3)
    optimizer = make_optimizer(config)
    step = make_train_step(potential.config, config, optimizer)
    params, opt_state = potential.params, optimizer.init(potential.params)
    rng = np.random.default_rng(0)
    packed = [
        b for _ in range(3) for b in batches(data, shape, rng.permutation(len(data_set)), potential.dtype)
    ]
    assert len(packed) >= 9 and len({b[0].max_neighbors for b in packed}) == 1
    lr = jnp.asarray(1e-3, jnp.float32)
    params, ema, opt_state, _ = step(
        params, params, opt_state, jnp.asarray(0), lr, *packed[0][:2]
    )  # compiles
    with compile_counter:
        for k, (batch, labels, _) in enumerate(packed[1:], start=1):
            params, ema, opt_state, loss = step(params, ema, opt_state, jnp.asarray(k), lr, batch, labels)
        assert np.isfinite(float(loss))
    assert compile_counter.count == 0


def test_labelling_batches_of_one_shape_compile_once(teacher, compile_counter):
    labeller = PotentialTeacher(teacher)
    labeller.label(structures(16, seed=5))  # compiles the shapes this kind of structure needs
    with compile_counter:
        labels = labeller.label(structures(16, seed=6))
    assert compile_counter.count == 0
    assert all(np.abs(lab["forces"]).max() > 0 for lab in labels)


def test_committee_members_and_rounds_share_one_compiled_train_step(labelled, compile_counter, tmp_path):
    # Members differ in seed, rounds in epochs and learning rate: none of these is part of the program.
    train_set, val_set = labelled
    potential = initial_potential(train_set + val_set, dict(TINY, species=["Li", "N", "S"]), seed=3)
    train(potential, train_set, val_set, TrainConfig(batch_size=3, epochs=1), tmp_path / "a", progress=False)
    with compile_counter:
        result = train(
            potential,
            train_set,
            val_set,
            TrainConfig(batch_size=3, epochs=2, seed=7, learning_rate=5e-3),
            tmp_path / "b",
            progress=False,
        )
    assert compile_counter.count == 0
    assert result.history[-1]["epoch"] == 2
