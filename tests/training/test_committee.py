"""Committee mean and spread."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import structures, tiny_potential

from superionic.potentials import save
from superionic.training.committee import Committee, load_committee


def test_identical_members_have_zero_spread(tmp_path):
    path = save(tiny_potential(seed=1), tmp_path / "member.npz")
    committee = load_committee([path, path, path])
    atoms = structures(2, seed=0)
    out = committee.evaluate(atoms)
    single = committee.members[0].evaluate(atoms)
    for o, s in zip(out, single, strict=True):
        assert o["energy_std"] == 0.0 and np.all(o["forces_std"] == 0.0)
        assert o["energy"] == pytest.approx(s["energy"], abs=1e-5)
        np.testing.assert_allclose(o["forces"], s["forces"], atol=1e-5)


def test_different_members_have_positive_spread_and_mean():
    members = tuple(tiny_potential(seed=s) for s in (1, 2, 3))
    committee = Committee(members)
    atoms = structures(1, seed=0)[0]
    out = committee.evaluate(atoms)[0]
    energies = [m.evaluate(atoms)[0]["energy"] for m in members]
    assert out["energy_std"] == pytest.approx(np.std(energies), rel=1e-4)
    assert out["energy_std"] > 1e-3
    assert out["energy"] == pytest.approx(np.mean(energies), rel=1e-5)
    assert np.all(out["forces_std"].max(axis=1) > 0)
    assert out["members_forces"].shape == (3, len(atoms), 3)


def test_committee_rejects_mixed_architectures():
    with pytest.raises(ValueError, match="share one architecture"):
        Committee((tiny_potential(1), tiny_potential(2, hidden_irreps="8x0e+2x1e")))
