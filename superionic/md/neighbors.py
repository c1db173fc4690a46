"""Neighbour lists for a batch of members: allocation with one shared capacity, forced rebuilds, error bits.

Two kinds of list are handled: superionic's :class:`~superionic.potentials.jaxmd.NeighborTable` (any cell,
image-resolved, with a packed within-cutoff table for the model) and jax-md's own ``NeighborList`` (for
potentials built on ``jax_md.energy``, e.g. :class:`superionic.md.LennardJones`). Their capacities are static
fields, so all members of a vmapped batch must share them: :class:`Capacity` holds them.

Errors are data: builds and updates OR ``PartitionErrorCode`` bits into ``nbrs.error.code`` and the driver
inspects them after each chunk. jax-md's ``nbrs.did_buffer_overflow`` does not include ``CELL_SIZE_TOO_SMALL``
(the box shrank under NPT), and jax-md 0.2.x sets the ``MALFORMED_BOX`` bit for *valid* boxes during
fractional-coordinate allocation; :data:`RECOVERABLE_ERRORS` is what we act on (box validity is checked on the
host by ``System``).
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import partition

from superionic.potentials.jaxmd import (
    EDGE_OVERFLOW,
    NeighborTable,
    NeighborTableFns,
    cell_grid_for,
    check_edges,
    image_range,
    perpendicular_widths,
)

__all__ = [
    "RECOVERABLE_ERRORS",
    "Capacity",
    "allocate_batch",
    "capacity_of",
    "check_edges_batch",
    "describe_error",
    "force_rebuild",
    "grown_capacity",
    "needs_rebuild",
]

PEC = partition.PartitionErrorCode
RECOVERABLE_ERRORS = int(
    PEC.NEIGHBOR_LIST_OVERFLOW | PEC.CELL_LIST_OVERFLOW | PEC.CELL_SIZE_TOO_SMALL | EDGE_OVERFLOW
)
_ERROR_NAMES = (
    (PEC.NEIGHBOR_LIST_OVERFLOW, "NEIGHBOR_LIST_OVERFLOW"),
    (PEC.CELL_LIST_OVERFLOW, "CELL_LIST_OVERFLOW"),
    (PEC.CELL_SIZE_TOO_SMALL, "CELL_SIZE_TOO_SMALL"),
    (EDGE_OVERFLOW, "EDGE_OVERFLOW"),
)

NeighborList = Any


@dataclasses.dataclass(frozen=True)
class Capacity:
    """Static sizes of a list: candidates per atom, atoms per bin of its cell list (if it has one); for a
    NeighborTable also the pairs within the cutoff per atom (``edges``, the width of the model's table), the
    periodic images searched and the bins of its cell list (``grid``, None: no cell list)."""

    occupancy: int
    cells: int | None = None
    edges: int | None = None
    images: tuple[int, int, int] | None = None
    grid: tuple[int, int, int] | None = None

    def at_least(self, other: Capacity) -> Capacity:
        def bigger(a, b):
            return b if a is None else a if b is None else max(a, b)

        images = None
        if self.images is not None or other.images is not None:
            both = zip(self.images or (0, 0, 0), other.images or (0, 0, 0), strict=True)
            images = tuple(max(a, b) for a, b in both)
        grid = None  # the coarsest bins serve every member; no cell list if one member cannot have one
        if self.grid is not None and other.grid is not None:
            grid = tuple(min(a, b) for a, b in zip(self.grid, other.grid, strict=True))
        return Capacity(
            max(self.occupancy, other.occupancy),
            bigger(self.cells, other.cells),
            bigger(self.edges, other.edges),
            images,  # type: ignore[arg-type]
            grid,  # type: ignore[arg-type]
        )

    def to_list(self) -> list:
        def listed(t):
            return None if t is None else list(t)

        return [self.occupancy, self.cells, self.edges, listed(self.images), listed(self.grid)]

    @classmethod
    def from_list(cls, values: list) -> Capacity:
        if len(values) == 6:  # written before the model took a packed table: a total of pairs, now unused
            values = [*values[:3], *values[4:]]
        occupancy, cells, edges, images, grid = values

        def tupled(v):
            return None if v is None else tuple(v)

        return cls(int(occupancy), cells, edges, tupled(images), tupled(grid))


def describe_error(code: int) -> str:
    return "+".join(name for bit, name in _ERROR_NAMES if code & bit) or "none"


def capacity_of(nbrs: NeighborList) -> Capacity:
    """Static sizes of a (possibly batched) neighbour list."""
    if isinstance(nbrs, NeighborTable):
        return Capacity(
            int(nbrs.max_occupancy),
            nbrs.cell_list_capacity,
            int(nbrs.edge_capacity),
            tuple(nbrs.images),
            nbrs.cell_grid,
        )
    cells = None if nbrs.cell_list_capacity is None else int(nbrs.cell_list_capacity)
    return Capacity(int(nbrs.max_occupancy), cells)


def _occupancy_limit(nbrs: NeighborList, n_atoms: int) -> int:
    if isinstance(nbrs, NeighborTable):
        return n_atoms * math.prod(2 * m + 1 for m in nbrs.images)
    fmt = nbrs.format
    if fmt is partition.NeighborListFormat.Dense:
        return n_atoms - 1
    if fmt is partition.NeighborListFormat.Sparse:
        return n_atoms * (n_atoms - 1)
    return n_atoms * (n_atoms - 1) // 2


def force_rebuild(neighbor_fn, nbrs: NeighborList, position: jax.Array, box: jax.Array) -> NeighborList:
    """Rebuild one member's list from ``position`` whatever the skin test would say (its reference position is
    moved half a box away), keeping the capacity of ``nbrs``."""
    far = dataclasses.replace(nbrs, reference_position=position + jnp.asarray(0.5, position.dtype))
    return neighbor_fn.update(position, far, box=box)


def check_edges_batch(
    neighbor_fn, nbrs: NeighborList, positions: jax.Array, boxes: jax.Array
) -> NeighborList:
    """Set ``EDGE_OVERFLOW`` on members whose packed within-cutoff table is too narrow now (NeighborTable
    only; jax-md lists are returned as they are)."""
    if not isinstance(neighbor_fn, NeighborTableFns):
        return nbrs
    return jax.vmap(partial(check_edges, neighbor_fn))(positions, nbrs, boxes)


def allocate_batch(
    neighbor_fn,
    positions: jax.Array,
    boxes: jax.Array,
    *,
    min_capacity: Capacity | None = None,
    exact_capacity: Capacity | None = None,
) -> NeighborList:
    """Allocate one neighbour list per member with a shared capacity (the largest any member needs, and at least
    ``min_capacity``), stacked along a leading member axis. The result is checked: if it cannot hold the pairs of
    ``positions``, the capacity grows until it can, so that forces computed with it are exact.

    ``exact_capacity`` (restart) reproduces a saved capacity instead.

    positions: fractional [M, N, 3]; boxes: [M, 3, 3].
    """
    positions = jnp.asarray(positions)
    boxes = jnp.asarray(boxes)
    n_members, n_atoms = positions.shape[0], positions.shape[1]
    allocs = [neighbor_fn.allocate(positions[m], box=boxes[m]) for m in range(n_members)]
    # With a jax-md cell list, the member with the narrowest box has the largest fractional cells: its cell
    # grid serves every member.
    narrowest = int(np.argmin([min(perpendicular_widths(np.asarray(b).T)) for b in boxes]))
    base = allocs[narrowest]
    capacity = capacity_of(base)
    for a in allocs:
        capacity = capacity.at_least(capacity_of(a))
    if min_capacity is not None:
        capacity = capacity.at_least(min_capacity)
    if exact_capacity is not None:
        capacity = exact_capacity
    code = 0
    for _ in range(50):
        capacity = dataclasses.replace(
            capacity, occupancy=min(capacity.occupancy, _occupancy_limit(base, n_atoms))
        )
        template = _resized(base, capacity)
        stacked = _rebuild_batch(neighbor_fn, template, positions, boxes)
        stacked = check_edges_batch(neighbor_fn, stacked, positions, boxes)
        code = int(np.bitwise_or.reduce(np.asarray(stacked.error.code).ravel())) & RECOVERABLE_ERRORS
        if not code:
            return stacked
        capacity = grown_capacity(stacked, code, n_atoms, boxes=boxes, neighbor_fn=neighbor_fn)
    raise RuntimeError(f"could not allocate a neighbour list without {describe_error(code)}")


@partial(jax.jit, static_argnums=0)
def _rebuild_batch(
    neighbor_fn, template: NeighborList, positions: jax.Array, boxes: jax.Array
) -> NeighborList:
    return jax.vmap(lambda r, b: force_rebuild(neighbor_fn, template, r, b))(positions, boxes)


def _resized(nbrs: NeighborList, capacity: Capacity) -> NeighborList:
    """``nbrs`` (one member) with other static sizes; it must be rebuilt before use (:func:`force_rebuild`)."""
    # The error code is cleared: it described the old capacity (an allocation that is already too small sets it).
    error = partition.PartitionError(jnp.zeros_like(nbrs.error.code))
    idx, n = nbrs.idx, nbrs.reference_position.shape[0]
    k0, k = idx.shape[-1], capacity.occupancy
    pad = jnp.full((*idx.shape[:-1], max(k - k0, 0)), n, idx.dtype)
    idx = jnp.concatenate([idx, pad], axis=-1)[..., :k]
    if isinstance(nbrs, NeighborTable):
        shifts = jnp.concatenate(
            [nbrs.shifts, jnp.zeros((*nbrs.shifts.shape[:-2], max(k - k0, 0), 3), nbrs.shifts.dtype)], axis=-2
        )
        return dataclasses.replace(
            nbrs,
            idx=idx,
            shifts=shifts[..., :k, :],
            error=error,
            max_occupancy=k,
            edge_capacity=min(int(capacity.edges), k),
            images=tuple(capacity.images),
            cell_grid=capacity.grid,
            cell_list_capacity=capacity.cells if capacity.grid is not None else None,
        )
    changes: dict[str, Any] = {"idx": idx, "max_occupancy": k, "error": error}
    if (
        nbrs.cell_size is not None
    ):  # jax-md leaves a jax array in this static field; pytree metadata must be hashable
        changes["cell_size"] = float(nbrs.cell_size)
    if capacity.cells is not None:
        changes["cell_list_capacity"] = capacity.cells
    return dataclasses.replace(nbrs, **changes)


def grown_capacity(
    nbrs: NeighborList, code: int, n_atoms: int, *, boxes=None, neighbor_fn=None, factor: float = 1.25
) -> Capacity:
    """Capacity to request after an error with bits ``code``: geometric growth of what overflowed, and (for a
    NeighborTable whose box shrank) the periodic images the current ``boxes`` need."""
    capacity = capacity_of(nbrs)
    occupancy, cells, edges = capacity.occupancy, capacity.cells, capacity.edges
    images, grid = capacity.images, capacity.grid
    if code & PEC.NEIGHBOR_LIST_OVERFLOW:
        occupancy = min(math.ceil(occupancy * factor) + 1, _occupancy_limit(nbrs, n_atoms))
    if cells is not None and code & PEC.CELL_LIST_OVERFLOW:
        cells = math.ceil(cells * factor) + 1
    if edges is not None and code & EDGE_OVERFLOW:
        edges = math.ceil(edges * factor) + 1
        occupancy = max(occupancy, edges)
    if images is not None and code & PEC.CELL_SIZE_TOO_SMALL and boxes is not None:
        reach = neighbor_fn.cutoff_A + neighbor_fn.skin_A
        for box in np.asarray(boxes):
            images = tuple(max(a, b) for a, b in zip(images, image_range(box, reach), strict=True))
            box_grid = cell_grid_for(box, reach)
            if grid is not None:
                grid = (
                    None
                    if box_grid is None
                    else tuple(min(a, b) for a, b in zip(grid, box_grid, strict=True))
                )
    return Capacity(occupancy, cells, edges, images, grid)


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
