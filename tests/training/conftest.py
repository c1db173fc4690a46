"""Tiny labelled data sets for training tests: rattled Li2S/Li3N cells labelled by a small random teacher."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.cell import Cell

from superionic.potentials import NequIPConfig, Potential, init_params
from superionic.training.labelling import PotentialTeacher, attach_labels
from superionic.training.sampling import rattle

TINY = {
    "num_layers": 1,
    "hidden_irreps": "4x0e+2x1e",
    "sh_lmax": 1,
    "cutoff_A": 3.5,
    "cutoff_inner_A": 3.0,
    "num_radial_basis": 4,
    "radial_mlp": (8,),
    "conv_denominator": 10.0,
}


def tiny_potential(seed: int, species=("Li", "N", "S"), **overrides) -> Potential:
    config = NequIPConfig(species=species, **(TINY | overrides))
    params = init_params(config, jax.random.PRNGKey(seed))
    params["species_shift_eV"] = params["species_shift_eV"] + jax.numpy.array([-1.9, -8.3, -4.1])
    params["species_scale_eV"] = params["species_scale_eV"] * 20.0
    return Potential(config, params, name=f"tiny-{seed}")


def structures(count: int, seed: int):
    rng = np.random.default_rng(seed)
    li3n = Atoms(
        "NLi3",
        scaled_positions=[[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0]],
        cell=Cell.fromcellpar([3.65, 3.65, 3.88, 90, 90, 120]),
        pbc=True,
    )
    bases = [bulk("Li2S", "fluorite", a=5.7), li3n]
    out = []
    for k in range(count):
        base = bases[k % len(bases)] * (1, 1, 2)
        out.append(rattle(base, 0.1, rng))
    return out


@pytest.fixture(scope="session")
def teacher() -> Potential:
    return tiny_potential(seed=123)


@pytest.fixture(scope="session")
def labelled(teacher):
    atoms = structures(12, seed=0)
    labels = PotentialTeacher(teacher).label(atoms)
    data = [attach_labels(a, lab) for a, lab in zip(atoms, labels, strict=True)]
    return data[:9], data[9:]
