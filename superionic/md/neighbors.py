"""Neighbour lists for a batch of members: allocation with one shared capacity, forced rebuilds, error bits.

jax-md's ``NeighborList`` keeps its capacity (``max_occupancy``, ``cell_list_capacity``) as static fields, so all
members of a vmapped batch must share them. Errors are data: the update ORs ``PartitionErrorCode`` bits into
``nbrs.error.code`` and the driver inspects them after each chunk. Note that ``nbrs.did_buffer_overflow`` does
not include ``CELL_SIZE_TOO_SMALL`` (the box shrank under NPT), and that jax-md 0.2.x sets the ``MALFORMED_BOX``
bit for *valid* boxes during fractional-coordinate allocation; :data:`RECOVERABLE_ERRORS` is what we act on
(box validity is checked on the host by ``System``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import partition

__all__ = [
    "RECOVERABLE_ERRORS",
    "allocate_batch",
    "capacity_of",
    "describe_error",
    "force_rebuild",
    "needs_rebuild",
]

PEC = partition.PartitionErrorCode
RECOVERABLE_ERRORS = int(PEC.NEIGHBOR_LIST_OVERFLOW | PEC.CELL_LIST_OVERFLOW | PEC.CELL_SIZE_TOO_SMALL)

NeighborList = Any


def describe_error(code: int) -> str:
    names = [
        e.name
        for e in (PEC.NEIGHBOR_LIST_OVERFLOW, PEC.CELL_LIST_OVERFLOW, PEC.CELL_SIZE_TOO_SMALL)
        if code & e
    ]
    return "+".join(names) or "none"


def capacity_of(nbrs: NeighborList) -> tuple[int, int | None]:
    """(max_occupancy, cell_list_capacity) of a (possibly batched) neighbour list."""
    return int(nbrs.max_occupancy), (
        None if nbrs.cell_list_capacity is None else int(nbrs.cell_list_capacity)
    )


def _capacity_limit(nbrs: NeighborList, n_atoms: int) -> int:
    fmt = nbrs.format
    if fmt is partition.NeighborListFormat.Dense:
        return n_atoms - 1
    if fmt is partition.NeighborListFormat.Sparse:
        return n_atoms * (n_atoms - 1)
    return n_atoms * (n_atoms - 1) // 2


def force_rebuild(neighbor_fn, nbrs: NeighborList, position: jax.Array, box: jax.Array) -> NeighborList:
    """Rebuild one member's list from ``position`` whatever jax-md's skin test would say (its reference position is
    moved half a box away), keeping the capacity of ``nbrs``."""
    far = dataclasses.replace(nbrs, reference_position=position + jnp.asarray(0.5, position.dtype))
    return neighbor_fn.update(position, far, box=box)


def _min_width(box: np.ndarray) -> float:
    cell = np.asarray(box).T
    vol = abs(np.linalg.det(cell))
    return min(vol / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3))


def allocate_batch(
    neighbor_fn,
    positions: jax.Array,
    boxes: jax.Array,
    *,
    min_capacity: tuple[int, int | None] = (0, None),
    exact_capacity: tuple[int, int | None] | None = None,
) -> NeighborList:
    """Allocate one neighbour list per member with a shared capacity (the largest any member needs, and at least
    ``min_capacity``), stacked along a leading member axis. The result is checked: if it cannot hold the pairs of
    ``positions`` (e.g. a small ``capacity_multiplier``), the capacity grows until it can, so that forces computed
    with it are exact.

    ``exact_capacity`` (restart) reproduces a saved capacity instead.

    positions: fractional [M, N, 3]; boxes: [M, 3, 3].
    """
    positions = jnp.asarray(positions)
    boxes = jnp.asarray(boxes)
    n_members, n_atoms = positions.shape[0], positions.shape[1]
    allocs = [neighbor_fn.allocate(positions[m], box=boxes[m]) for m in range(n_members)]
    # The member with the narrowest box has the largest fractional cells: its cell grid serves every member.
    base = allocs[int(np.argmin([_min_width(np.asarray(b)) for b in boxes]))]
    occupancy = max([a.max_occupancy for a in allocs] + [min_capacity[0]])
    cells = None
    if base.cell_list_capacity is not None:
        cell_caps = [a.cell_list_capacity for a in allocs if a.cell_list_capacity is not None]
        cells = max(cell_caps + ([min_capacity[1]] if min_capacity[1] is not None else []))
    if exact_capacity is not None:
        occupancy, cells = exact_capacity
    for _ in range(50):
        occupancy = min(occupancy, _capacity_limit(base, n_atoms))
        template = _resized(base, int(occupancy), None if cells is None else int(cells))
        stacked = _rebuild_batch(neighbor_fn, template, positions, boxes)
        code = int(np.bitwise_or.reduce(np.asarray(stacked.error.code).ravel())) & RECOVERABLE_ERRORS
        if not code:
            return stacked
        occupancy, cells = grown_capacity(stacked, code, n_atoms)
    raise RuntimeError(f"could not allocate a neighbour list without {describe_error(code)}")


@partial(jax.jit, static_argnums=0)
def _rebuild_batch(
    neighbor_fn, template: NeighborList, positions: jax.Array, boxes: jax.Array
) -> NeighborList:
    return jax.vmap(lambda r, b: force_rebuild(neighbor_fn, template, r, b))(positions, boxes)


def _resized(nbrs: NeighborList, max_occupancy: int, cell_list_capacity: int | None = None) -> NeighborList:
    """``nbrs`` with another static capacity (its idx padded with the 'no neighbour' index N or truncated; it must
    be rebuilt before use, see :func:`force_rebuild`)."""
    idx, n = nbrs.idx, nbrs.reference_position.shape[0]
    k0 = idx.shape[-1]
    if max_occupancy > k0:
        idx = jnp.concatenate([idx, jnp.full((*idx.shape[:-1], max_occupancy - k0), n, idx.dtype)], axis=-1)
    else:
        idx = idx[..., :max_occupancy]
    # The error code is cleared: it described the old capacity (an allocation that is already too small sets it).
    error = partition.PartitionError(jnp.zeros_like(nbrs.error.code))
    changes: dict[str, Any] = {"idx": idx, "max_occupancy": max_occupancy, "error": error}
    if (
        nbrs.cell_size is not None
    ):  # jax-md leaves a jax array in this static field; pytree metadata must be hashable
        changes["cell_size"] = float(nbrs.cell_size)
    if cell_list_capacity is not None:
        changes["cell_list_capacity"] = cell_list_capacity
    return dataclasses.replace(nbrs, **changes)


def grown_capacity(
    nbrs: NeighborList, code: int, n_atoms: int, factor: float = 1.25
) -> tuple[int, int | None]:
    """Capacity to request after an overflow with error bits ``code``: geometric growth of what overflowed."""
    occupancy, cells = capacity_of(nbrs)
    if code & PEC.NEIGHBOR_LIST_OVERFLOW:
        occupancy = min(math.ceil(occupancy * factor) + 1, _capacity_limit(nbrs, n_atoms))
    if cells is not None and code & PEC.CELL_LIST_OVERFLOW:
        cells = math.ceil(cells * factor) + 1
    return occupancy, cells


def needs_rebuild(
    positions: jax.Array,
    reference_positions: jax.Array,
    boxes: jax.Array,
    reference_boxes: jax.Array,
    skin_A: float,
    reach_A: jax.Array | float,
    variable_box: bool,
) -> jax.Array:
    """True when any member's list may be stale: an atom moved more than skin/2 since the last build, or (NPT) the
    box strained enough to bring a pair from beyond ``reach_A`` (cutoff + skin) to inside the cutoff.

    positions/reference_positions: fractional [M, N, 3]; boxes/reference_boxes: [M, 3, 3].
    """
    ds = positions - reference_positions
    ds = ds - jnp.round(ds)
    dr = jnp.einsum("mij,mnj->mni", boxes, ds)  # Cartesian displacement [M, N, 3]
    max_move = jnp.sqrt(jnp.max(jnp.sum(dr**2, axis=-1)))
    criterion = 2.0 * max_move
    if variable_box:
        strain = boxes @ jnp.linalg.inv(reference_boxes) - jnp.eye(3, dtype=boxes.dtype)
        criterion = criterion + reach_A * jnp.max(jnp.sqrt(jnp.sum(strain**2, axis=(-2, -1))))
    return criterion >= skin_A


NeighborFns = Callable[..., Any]
