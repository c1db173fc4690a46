"""Ensembles as uniform ``init_fn, step_fn`` pairs over jax-md states (internal units: eV, Å, amu).

Every integrator here has the same shape so that the engine can scan, vmap and checkpoint any of them:

- ``init_fn(key, position, momentum, kT, neighbor, box) -> state``  (a jax-md state dataclass)
- ``step_fn(state, neighbor, kT) -> (state, thermostat_work)``  where ``thermostat_work`` [eV] is the energy the
  thermostat put into the particles during the step when no extended Hamiltonian accounts for it (Langevin);
  the engine accumulates it so that a conserved quantity exists for every ensemble.
- ``box_fn(state) -> box`` (columns = lattice vectors), ``conserved_fn(state, potential_energy, kT) -> eV``.

Temperature enters as ``kT`` per call so that members of a batch can run at different temperatures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from jax_md import quantity, simulate

from superionic import units

__all__ = ["Integrator", "degrees_of_freedom", "make_integrator", "shield_energy_fn"]

Array = Any


@dataclasses.dataclass(frozen=True)
class Integrator:
    """One ensemble's functions (see module docstring). ``dof``: kinetic degrees of freedom used for T."""

    name: str
    init_fn: Callable[..., Any]
    step_fn: Callable[..., tuple[Any, Array]]
    box_fn: Callable[[Any], Array]
    conserved_fn: Callable[[Any, Array, Array], Array]
    dof: int
    variable_box: bool


def degrees_of_freedom(ensemble: str, n_atoms: int) -> int:
    """3N - 3 where total momentum is conserved (it starts at zero), 3N for Langevin (random kicks)."""
    return 3 * n_atoms if ensemble == "nvt_langevin" else 3 * n_atoms - 3


def shield_energy_fn(energy_fn: Callable[..., Array]) -> Callable[..., Array]:
    """Adapt a potential's ``energy_fn(R_frac, neighbor=, box=)`` to what jax-md's simulators call.

    - jax-md threads the thermostat's keyword arguments (``kT``, ``pressure``) through every energy call; they are
      dropped here and never reach the potential.
    - jax-md's virial (NPT barostat) asks for ``perturbation=P``, a scalar or 3x3 strain applied to every
      displacement. With fractional coordinates that is exactly the energy in the strained box ``P @ box``, so it
      is passed on as ``box=P @ box``: potentials only need to accept ``box=``.
    """

    def fn(position, neighbor=None, box=None, perturbation=None, **simulator_kwargs):
        del simulator_kwargs  # kT / pressure forwarded by jax_md.simulate; not the potential's business
        if perturbation is not None:
            if box is None:
                raise ValueError("shield_energy_fn: a perturbation needs the box")
            box = perturbation * box if jnp.ndim(perturbation) == 0 else perturbation @ box
        return energy_fn(position, neighbor=neighbor, box=box)

    return fn


def _kinetic(state) -> Array:
    return quantity.kinetic_energy(momentum=state.momentum, mass=state.mass)


def _chain_energy(chain, kT, dof_first: int | Array) -> Array:
    """Energy of a Nosé–Hoover chain's own variables (jax-md ``nvt_nose_hoover_invariant`` with our DOF)."""
    e = chain.momentum[0] ** 2 / (2 * chain.mass[0]) + dof_first * kT * chain.position[0]
    e += jnp.sum(chain.momentum[1:] ** 2 / (2 * chain.mass[1:]) + kT * chain.position[1:])
    return e


def make_integrator(
    ensemble: str,
    energy_fn: Callable[..., Array],
    shift_fn: Callable[..., Array],
    box: Array,
    masses_amu: Array,
    *,
    timestep_fs: float,
    thermostat_tau_fs: float = 200.0,
    chain_length: int = 3,
    barostat_tau_fs: float = 2000.0,
    pressure_GPa: float = 0.0,
    langevin_friction_per_ps: float = 5.0,
) -> Integrator:
    """Build the integrator of ``ensemble`` around a shielded energy function (see :func:`shield_energy_fn`).

    ``masses_amu`` [N] in the state's dtype. ``box`` is the fixed box of the constant-volume ensembles (and the reference box of NPT); times are converted
    to jax-md units here (note jax-md's ``tau`` is an absolute time, not a multiple of dt).
    """
    dt = units.fs_to_internal(timestep_fs)
    tau = units.fs_to_internal(thermostat_tau_fs)
    mass = jnp.asarray(masses_amu)  # [N]
    n_atoms = mass.shape[0]
    dof = degrees_of_freedom(ensemble, n_atoms)
    force_fn = quantity.force(energy_fn)
    fixed_box = jnp.asarray(box)

    def fixed_box_fn(state):
        del state
        return fixed_box

    def zero_work(state):
        return jnp.zeros((), state.position.dtype)

    if ensemble == "nve":
        init, apply = simulate.nve(energy_fn, shift_fn, dt)

        def init_fn(key, position, momentum, kT, neighbor, box):
            return init(key, position, kT, mass=mass, momenta=momentum, neighbor=neighbor, box=box)

        def step_fn(state, neighbor, kT):
            del kT
            state = apply(state, neighbor=neighbor, box=fixed_box)
            return state, zero_work(state)

        def conserved_fn(state, pe, kT):
            del kT
            return pe + _kinetic(state)

        return _finish("nve", init_fn, step_fn, fixed_box_fn, conserved_fn, dof, False)

    if ensemble == "nvt_nose_hoover":
        init, apply = simulate.nvt_nose_hoover(
            energy_fn, shift_fn, dt, kT=1.0, chain_length=chain_length, chain_steps=2, sy_steps=3, tau=tau
        )

        def init_fn(key, position, momentum, kT, neighbor, box):
            state = init(key, position, mass=mass, momenta=momentum, kT=kT, neighbor=neighbor, box=box)
            # jax-md counts 3N degrees of freedom; with zero total momentum only 3N - 3 are thermal.
            chain = state.chain.set(degrees_of_freedom=dof)
            chain = chain.set(mass=chain.mass.at[0].set(kT * tau**2 * dof))
            return state.set(chain=chain)

        def step_fn(state, neighbor, kT):
            state = apply(state, neighbor=neighbor, box=fixed_box, kT=kT)
            return state, zero_work(state)

        def conserved_fn(state, pe, kT):
            return pe + _kinetic(state) + _chain_energy(state.chain, kT, dof)

        return _finish("nvt_nose_hoover", init_fn, step_fn, fixed_box_fn, conserved_fn, dof, False)

    if ensemble == "nvt_langevin":
        gamma = units.friction_per_ps_to_internal(langevin_friction_per_ps)
        init, _ = simulate.nvt_langevin(energy_fn, shift_fn, dt, kT=1.0, gamma=gamma)

        def init_fn(key, position, momentum, kT, neighbor, box):
            return init(key, position, mass=mass, momenta=momentum, kT=kT, neighbor=neighbor, box=box)

        def step_fn(state, neighbor, kT):
            # BAOAB as in jax_md.simulate.nvt_langevin, plus the energy the O step exchanges with the bath.
            half = dt / 2
            state = simulate.momentum_step(state, half)
            state = simulate.position_step(state, shift_fn, half, box=fixed_box)
            ke_before = _kinetic(state)
            state = simulate.stochastic_step(state, dt, kT, gamma)
            work = _kinetic(state) - ke_before
            state = simulate.position_step(state, shift_fn, half, box=fixed_box)
            state = state.set(force=force_fn(state.position, neighbor=neighbor, box=fixed_box))
            state = simulate.momentum_step(state, half)
            return state, work

        def conserved_fn(state, pe, kT):
            del kT
            return pe + _kinetic(state)

        return _finish("nvt_langevin", init_fn, step_fn, fixed_box_fn, conserved_fn, dof, False)

    if ensemble == "npt_nose_hoover":
        pressure = units.gpa_to_internal(pressure_GPa)
        b_tau = units.fs_to_internal(barostat_tau_fs)
        init, apply = simulate.npt_nose_hoover(
            energy_fn,
            shift_fn,
            dt,
            pressure,
            kT=1.0,
            barostat_kwargs={"tau": b_tau, "chain_length": chain_length},
            thermostat_kwargs={"tau": tau, "chain_length": chain_length},
        )

        def init_fn(key, position, momentum, kT, neighbor, box):
            state = init(key, position, box, mass=mass, momenta=momentum, kT=kT, neighbor=neighbor)
            thermostat = state.thermostat.set(degrees_of_freedom=dof)
            thermostat = thermostat.set(mass=thermostat.mass.at[0].set(kT * tau**2 * dof))
            box_mass = jnp.asarray(3 * (n_atoms + 1) * kT * b_tau**2, state.position.dtype)
            return state.set(thermostat=thermostat, box_mass=box_mass)

        def step_fn(state, neighbor, kT):
            state = apply(state, neighbor=neighbor, kT=kT)
            return state, zero_work(state)

        def conserved_fn(state, pe, kT):
            volume = jnp.abs(jnp.linalg.det(simulate.npt_box(state)))
            e = pe + _kinetic(state) + _chain_energy(state.thermostat, kT, dof)
            b = state.barostat
            e += jnp.sum(b.momentum**2 / (2 * b.mass) + kT * b.position)
            e += pressure * volume + state.box_momentum**2 / (2 * state.box_mass)
            return e

        return _finish("npt_nose_hoover", init_fn, step_fn, simulate.npt_box, conserved_fn, dof, True)

    raise ValueError(f"unknown ensemble {ensemble!r}")


def _finish(name, init_fn, step_fn, box_fn, conserved_fn, dof, variable_box) -> Integrator:
    return Integrator(name, init_fn, step_fn, box_fn, conserved_fn, dof, variable_box)
