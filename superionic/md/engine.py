"""The compiled part: a batch of members advanced by ``lax.scan`` over frames of ``fori_loop`` steps.

Everything here works on a batched :class:`Carry` (leading member axis M on every leaf) and is pure; the driver
(``driver.py``) decides what to do with the error data it returns (neighbour-list overflow bits in
``carry.nbrs.error.code``, the first step at which a member's temperature went non-finite or exploded in
``carry.first_bad_step``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax_md import dataclasses as jdc
from jax_md import quantity

from superionic.md import neighbors as nl
from superionic.md.ensembles import Integrator

__all__ = ["Carry", "ChunkSpec", "make_chunk_fn", "make_init_fn", "make_observe_fn"]

Array = Any


@jdc.dataclass
class Carry:
    """State of a batch of members between steps (every leaf has a leading member axis M).

    Attributes:
      state: the ensemble's jax-md state (fractional positions wrapped into [0, 1)).
      nbrs: jax-md ``NeighborList`` per member (shared static capacity).
      ref_box: box at the last neighbour-list build [M, 3, 3].
      image: periodic image counters; unwrapped fractional position = position + image [M, N, 3] int32.
      work: cumulative energy put in by thermostats without an extended Hamiltonian (Langevin, Berendsen) [M] eV.
      first_bad_step: first step whose temperature was non-finite or above ``max_T``; -1 if none [M] int32.
    """

    state: Any
    nbrs: Any
    ref_box: Array
    image: Array
    work: Array
    first_bad_step: Array


@dataclasses.dataclass(frozen=True)
class ChunkSpec:
    """Static shape of a compiled chunk: ``n_frames`` frames of ``save_every`` steps; ``equilibrate`` switches on
    Berendsen velocity rescaling towards a ramped target."""

    n_frames: int
    save_every: int
    equilibrate: bool = False
    ramp_steps: int = 0
    berendsen_dt_over_tau: float = 0.0


def _kinetic(state) -> Array:
    return quantity.kinetic_energy(momentum=state.momentum, mass=state.mass)


def make_init_fn(integ: Integrator, neighbor_fn) -> Callable[..., Carry]:
    """``init(keys[M], positions[M,N,3], momenta[M,N,3], kT[M], nbrs (batched), boxes[M,3,3]) -> Carry``."""

    @jax.jit
    def init(keys, positions, momenta, kT, nbrs, boxes):
        state = jax.vmap(integ.init_fn)(keys, positions, momenta, kT, nbrs, boxes)
        m, n = positions.shape[0], positions.shape[1]
        return Carry(
            state=state,
            nbrs=nbrs,
            ref_box=boxes,
            image=jnp.zeros((m, n, 3), jnp.int32),
            work=jnp.zeros((m,), positions.dtype),
            first_bad_step=jnp.full((m,), -1, jnp.int32),
        )

    return init


def make_observe_fn(integ: Integrator, energy_fn, *, write_velocities: bool):
    """``observe(carry, kT[M]) -> dict`` of per-member observables in internal units (vmapped, jitted).

    The pressure tensor is ``(sum_i m v_i v_i^T - dE/d(strain)) / V`` with the strain derivative taken through the
    box (fractional coordinates held fixed), so any potential that accepts ``box=`` gets a correct virial."""

    def observe_one(carry: Carry, kT):
        state = carry.state
        box = integ.box_fn(state)
        position = state.position
        dtype = position.dtype
        volume = jnp.abs(jnp.linalg.det(box))
        velocity = state.momentum / state.mass
        eye = jnp.eye(3, dtype=dtype)

        def energy_of_strain(eps):  # the energy in the box strained by (1 + eps): virial = dE/deps at 0
            return energy_fn(position, neighbor=carry.nbrs, box=(eye + eps) @ box)

        pe, de_deps = jax.value_and_grad(energy_of_strain)(jnp.zeros((3, 3), dtype))
        kinetic_tensor = jnp.einsum("n,ni,nj->ij", state.mass[:, 0], velocity, velocity)
        pressure_tensor = (kinetic_tensor - de_deps) / volume
        ke = _kinetic(state)
        out = {
            "fractional": position,
            "image": carry.image,
            "box": box,
            "potential_energy": pe,
            "kinetic_energy": ke,
            "temperature": 2.0 * ke / integ.dof,  # kT in eV
            "conserved_energy": integ.conserved_fn(state, pe, kT) - carry.work,
            "pressure_tensor": pressure_tensor,
            "volume": volume,
        }
        if write_velocities:
            out["velocity"] = velocity
        return out

    return jax.jit(jax.vmap(observe_one))


def _berendsen(state, kT_target, dt_over_tau, dof):
    """Weak-coupling velocity rescaling (λ clipped to [0.8, 1.25]); returns (state, energy added)."""
    ke = _kinetic(state)
    kT_now = 2.0 * ke / dof
    lam2 = 1.0 + dt_over_tau * (kT_target / jnp.maximum(kT_now, 1e-12) - 1.0)
    lam2 = jnp.clip(lam2, 0.64, 1.5625)
    return state.set(momentum=state.momentum * jnp.sqrt(lam2)), ke * (lam2 - 1.0)


def make_chunk_fn(
    integ: Integrator,
    neighbor_fn,
    observe_fn,
    spec: ChunkSpec,
    *,
    skin_A: float,
    reach_A: float,
    on_frame: Callable[[Any, Any], None] | None = None,
):
    """Compile ``chunk(carry, kT[M], kT_start[M], max_kT[M], step0, n_active_frames) -> (carry, frames)``.

    Runs ``n_active_frames <= spec.n_frames`` frames of ``spec.save_every`` steps starting at step ``step0``
    (frames beyond ``n_active_frames`` repeat the last state and are discarded by the driver, so one compiled
    program serves a short last chunk). ``frames`` leaves have shape [n_frames, M, ...]. ``on_frame(i,
    n_active_frames)`` is called on the host after each frame (progress), from inside the compiled chunk.
    """
    vstep = jax.vmap(integ.step_fn)
    vbox = jax.vmap(integ.box_fn)
    vrebuild = jax.vmap(partial(nl.force_rebuild, neighbor_fn))

    def one_step(s, carry: Carry, kT, kT_start, max_kT) -> Carry:
        state = carry.state
        boxes = vbox(state)
        stale = nl.needs_rebuild(
            state.position,
            carry.nbrs.reference_position,
            boxes,
            carry.ref_box,
            skin_A,
            reach_A,
            integ.variable_box,
        )
        nbrs, ref_box = lax.cond(
            stale,
            lambda: (vrebuild(carry.nbrs, state.position, boxes), boxes),
            lambda: (carry.nbrs, carry.ref_box),
        )
        old = state.position
        state, work = vstep(state, nbrs, kT)
        # The model saw only the pairs that fit its packed within-cutoff table: flag a step where one did not.
        nbrs = nl.check_edges_batch(neighbor_fn, nbrs, state.position, vbox(state))
        if spec.equilibrate:
            frac = jnp.minimum((s + 1) / max(spec.ramp_steps, 1), 1.0).astype(kT.dtype)
            target = kT_start + (kT - kT_start) * frac
            state, w = jax.vmap(_berendsen, in_axes=(0, 0, None, None))(
                state, target, spec.berendsen_dt_over_tau, integ.dof
            )
            work = work + w
        image = carry.image - jnp.round(state.position - old).astype(jnp.int32)
        kT_now = 2.0 * jax.vmap(_kinetic)(state) / integ.dof
        bad = ~jnp.isfinite(kT_now) | (kT_now > max_kT)
        first_bad = jnp.where((carry.first_bad_step < 0) & bad, s + 1, carry.first_bad_step)
        return Carry(state, nbrs, ref_box, image, carry.work + work, first_bad.astype(jnp.int32))

    @jax.jit
    def chunk(carry: Carry, kT, kT_start, max_kT, step0, n_active_frames):
        def frame_body(carry, i):
            n_steps = jnp.where(i < n_active_frames, spec.save_every, 0)
            first = step0 + i * spec.save_every

            def body(j, c):
                return one_step(first + j, c, kT, kT_start, max_kT)

            carry = lax.fori_loop(0, n_steps, body, carry)
            if on_frame is not None:
                jax.debug.callback(on_frame, i, n_active_frames)
            # A frame beyond the active ones (a short last chunk) is discarded: skip its model evaluation.
            frame = lax.cond(
                i < n_active_frames,
                lambda c: observe_fn(c, kT),
                lambda c: jax.tree_util.tree_map(
                    lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(observe_fn, c, kT)
                ),
                carry,
            )
            return carry, frame

        return lax.scan(frame_body, carry, jnp.arange(spec.n_frames))

    return chunk
