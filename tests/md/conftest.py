"""Shared set-up for the md/ tests: a Lennard-Jones argon crystal (real physics, fast to compile) and one reference
NVT run (two temperatures batched) that several tests compare against.

All md tests run with 64-bit JAX enabled (restored afterwards) so that trajectories can be compared tightly.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import jax
import pytest
from ase.build import bulk

from superionic import md

ARGON_A = 5.30  # Å, FCC lattice constant near the LJ minimum for this cutoff
CUTOFF_A = 7.0
SKIN_A = 0.45  # cutoff + skin = 7.45 Å sits just below the 4th FCC shell (a sqrt(2) = 7.495 Å): vibrations
# bring those pairs into the list, so its occupancy grows during a run (used by the overflow test).


@pytest.fixture(scope="package", autouse=True)
def _x64_for_md_tests():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # jax-md's int64 -> int32 scatter
        yield
    jax.config.update("jax_enable_x64", previous)


@pytest.fixture(scope="package")
def lj() -> md.LennardJones:
    return md.LennardJones(sigma_A=3.405, epsilon_eV=0.0104, cutoff_A=CUTOFF_A)


@pytest.fixture(scope="package")
def argon(_x64_for_md_tests) -> md.System:
    """108-atom FCC argon (3x3x3 conventional cells, widths 15.9 Å >= 2 (cutoff + skin))."""
    return md.prepare_system(bulk("Ar", "fcc", a=ARGON_A, cubic=True), CUTOFF_A, SKIN_A, target_atoms=100)


def reference_config(**changes) -> md.MDConfig:
    base = dict(
        ensemble="nvt_nose_hoover",
        temperatures_K=(40.0, 60.0),
        timestep_fs=5.0,
        production_ps=1.0,
        equilibration_ps=0.0,
        save_every_fs=25.0,
        chunk_steps=50,
        thermostat_tau_fs=250.0,
        capacity_multiplier=2.0,  # ample: the reference run never reallocates
        precision="float64",
        write_velocities=True,
        progress=False,
        seed=7,
    )
    base.update(changes)
    return md.MDConfig(**base)


@pytest.fixture(scope="package")
def reference_run(argon, lj, tmp_path_factory) -> md.MDResult:
    out = tmp_path_factory.mktemp("reference")
    return md.run(argon, lj, reference_config(), out)


def reference_dir(result: md.MDResult) -> Path:
    return result.paths[0].parent
