"""Fine-tuning of the student committee on oracle frames: members differ, the species shifts follow the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from superionic.discovery.config import LearningConfig
from superionic.discovery.learning import fine_tune_committee
from superionic.potentials import load
from superionic.training import attach_labels


@pytest.mark.slow
def test_committee_learns_the_oracles_energy_offset(tmp_path):
    student = load("default")
    rng = np.random.default_rng(0)
    frames = []
    for k in range(12):
        atoms = bulk("ClLi", "rocksalt", a=5.0 + 0.03 * k, cubic=True)
        atoms.rattle(0.05, seed=k)
        label = student.evaluate(atoms)[0]
        label = {**label, "energy": label["energy"] + 0.2 * len(atoms)}  # the "oracle": +200 meV/atom
        frames.append(attach_labels(atoms, label))
    config = LearningConfig(epochs=2, learning_rate=1e-4, batch_size=4)
    paths = fine_tune_committee(
        ["default", "default"], frames, config, tmp_path, 1, seed=int(rng.integers(9))
    )
    members = [load(p) for p in paths]
    probe = bulk("ClLi", "rocksalt", a=5.13, cubic=True)
    before = float(student.evaluate(probe)[0]["energy"]) / len(probe)
    after = [float(m.evaluate(probe)[0]["energy"]) / len(probe) for m in members]
    for value in after:
        assert value - before == pytest.approx(0.2, abs=0.03)  # the offset is learnt (shift refit)
    assert after[0] != after[1]  # bootstrap + seed: members differ, so the committee has a spread
