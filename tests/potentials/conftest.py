"""Small random NequIP models and test structures for the potentials tests (float64)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from superionic.potentials import NequIPConfig, Potential, init_params


def small_potential(
    parity: bool = False,
    cutoff_function: str = "xplor",
    seed: int = 0,
    num_layers: int = 2,
    dtype=jnp.float64,
) -> Potential:
    """A small model (2 layers by default) with l up to 2, random weights, float64 (needs x64 enabled)."""
    hidden = "8x0e+4x1o+2x2e" if parity else "8x0e+4x1e+2x2e"
    config = NequIPConfig(
        species=("Li", "N", "O", "P", "S"),
        num_layers=num_layers,
        hidden_irreps=hidden,
        parity=parity,
        cutoff_A=4.0,
        cutoff_inner_A=3.5,
        cutoff_function=cutoff_function,
        radial_mlp=(16,),
        conv_denominator=8.0,
    )
    params = init_params(config, jax.random.PRNGKey(seed), dtype)
    # Non-zero shifts/scales so the per-species rescaling is exercised too.
    params["species_shift_eV"] = jnp.linspace(-2.0, -1.0, len(config.species), dtype=dtype)
    params["species_scale_eV"] = jnp.linspace(0.5, 1.5, len(config.species), dtype=dtype)
    return Potential(config, params, name="small-test")


@pytest.fixture
def potential(x64) -> Potential:
    return small_potential()


def li2o(rattle: float = 0.08, seed: int = 1) -> Atoms:
    atoms = bulk("OLi2", "fluorite", a=4.61, cubic=True)
    atoms.rattle(rattle, seed=seed)
    return atoms


def triclinic_lips(seed: int = 3) -> Atoms:
    """A random triclinic Li-P-S-O cell, smaller than twice the cutoff along every direction."""
    rng = np.random.default_rng(seed)
    cell = np.array([[4.9, 0.0, 0.0], [1.3, 5.2, 0.0], [-0.9, 1.1, 5.6]])
    frac = rng.random((9, 3))
    atoms = Atoms("Li4PS3O", scaled_positions=frac, cell=cell, pbc=True)
    # push atoms apart so no pair is unphysically close (the model is still defined, but keep it tame)
    return atoms
