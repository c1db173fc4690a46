"""Fine-tuning the imported SevenNet-0 (slow: the full GNoME-size model's force-loss gradient compiles)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import structures

from superionic.training.config import TrainConfig
from superionic.training.labelling import PotentialTeacher, attach_labels
from superionic.training.trainer import evaluate, train

pytest.importorskip("sevenn")
pytestmark = [pytest.mark.teacher, pytest.mark.slow]


def test_fine_tune_sevennet0_towards_scaled_labels(tmp_path):
    from superionic.potentials import import_potential, load

    sevennet = load(import_potential("sevennet-0", tmp_path / "sevennet-0.npz"))
    atoms = structures(6, seed=4)
    labels = PotentialTeacher(sevennet).label(atoms)
    # A "different functional": SevenNet-0's forces and stress scaled by 1.1, energies shifted.
    data = [
        attach_labels(
            a,
            {
                "energy": lab["energy"] - 0.05 * len(a),
                "forces": 1.1 * lab["forces"],
                "stress": 1.1 * lab["stress"],
            },
        )
        for a, lab in zip(atoms, labels, strict=True)
    ]
    before = evaluate(sevennet, data[4:])
    config = TrainConfig(epochs=2, batch_size=2, learning_rate=1e-3, warmup_epochs=0.0, ema_decay=0.0)
    result = train(sevennet, data[:4], data[4:], config, tmp_path / "run", progress=False)
    after = evaluate(result.last, data[4:])
    assert before["energy_mae_meV_per_atom"] == pytest.approx(50.0, abs=1.0)
    assert after["energy_mae_meV_per_atom"] < before["energy_mae_meV_per_atom"]
    assert np.isfinite(after["forces_mae_meV_per_A"])
