"""JAX-MD bindings: a potential as a ``(neighbor_fn, energy_fn)`` pair over a periodic neighbour table.

Conventions: jax-md's ``space.periodic_general`` takes a box whose COLUMNS are the lattice vectors and, with
``fractional_coordinates=True``, positions in fractional units; ASE's ``atoms.cell`` has the lattice vectors as
ROWS. :mod:`superionic.structures.cell` is the one place that converts.

The neighbour table (:class:`NeighborTable`) is ours, not ``jax_md.partition``'s, for two reasons:

- **Any cell.** jax-md's lists are minimum-image, so every perpendicular width must be at least
  2 (cutoff + skin) (~12 Å for SevenNet-0: 256 atoms of Li3N). The table stores an integer lattice image per
  neighbour, so each periodic image of an atom within reach is its own neighbour, as in the static graph
  builder (:mod:`superionic.potentials.graph`): cells of a few dozen atoms run too.
- **No model work on padding.** The table holds every pair within cutoff + skin (the skin lets it be reused for
  many steps), but only pairs within the cutoff matter (with a 1 Å skin, about half of the table's slots lie
  beyond the cutoff or are spare room). Each step packs the pairs within the cutoff into an edge list of
  ``pair_capacity`` edges, sorted by atom, which the model takes: its per-edge work (radial MLP, spherical
  harmonics) runs on real edges, and its convolution on a table ``edge_capacity`` wide.

The capacities are static shapes. Overflows are reported as data, in jax-md's way (``nbrs.error.code``):
``NEIGHBOR_LIST_OVERFLOW`` when an atom has more candidates than ``max_occupancy``, :data:`EDGE_OVERFLOW` when
an atom has more pairs within the cutoff than ``edge_capacity`` or all atoms together more than
``pair_capacity`` (see :func:`check_edges`), ``CELL_SIZE_TOO_SMALL`` when the box shrank so far that more
periodic images come within reach. The MD driver redoes the chunk with more room; other callers must check
``nbrs.error.code`` themselves.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
from jax_md import dataclasses as jdc
from jax_md import partition, space

from superionic.potentials.nequip import atomic_energies
from superionic.structures.cell import cell_from_box, perpendicular_widths

if TYPE_CHECKING:
    from superionic.potentials.potential import Potential

PEC = partition.PartitionErrorCode
EDGE_OVERFLOW = 1 << 4  # more pairs within the cutoff than the model's edge list or table holds
# Candidate pairs examined at once while (re)building: bounds the memory of a build on large cells.
_PAIRS_PER_BLOCK = 1 << 20


def image_range(box: Any, reach_A: float) -> tuple[int, int, int]:
    """Largest |image index| per lattice vector that can hold a neighbour within ``reach_A`` of an atom, once
    the fractional separation is reduced to the minimum image ([-1/2, 1/2]): 0 for cells at least
    2 x reach wide."""
    widths = perpendicular_widths(cell_from_box(box))
    return tuple(math.floor(reach_A / w + 0.5) for w in widths)  # type: ignore[return-value]


@jdc.dataclass
class NeighborTable:
    """Neighbours of every atom within cutoff + skin, each with its periodic image (jax-md Dense layout).

    Attributes:
      idx: [N, max_occupancy] neighbour indices; N marks an empty slot.
      shifts: [N, max_occupancy, 3] integer-valued lattice image of each neighbour at the last build: the
        separation in fractional units is ``s_j - s_i + shift`` for the positions ``s`` of that build.
      reference_position: [N, 3] fractional positions of the last build (wrapped into [0, 1)).
      error: jax-md ``PartitionError`` bits (see module docstring).
      max_occupancy: candidates per atom (static).
      edge_capacity: pairs within the cutoff one atom may have (the model's table width; static).
      pair_capacity: pairs within the cutoff all atoms together may have (the model's edge list; static).
      images: largest image index per lattice vector searched at a build (static).
    """

    idx: jax.Array
    shifts: jax.Array
    reference_position: jax.Array
    error: partition.PartitionError
    max_occupancy: int = jdc.static_field()
    edge_capacity: int = jdc.static_field()
    pair_capacity: int = jdc.static_field()
    images: tuple[int, int, int] = jdc.static_field()
    update_fn: Callable[..., NeighborTable] = jdc.static_field()
    cell_list_capacity: None = jdc.static_field(default=None)  # jax-md's field; no cell list here
    format: partition.NeighborListFormat = jdc.static_field(default=partition.NeighborListFormat.Dense)

    def update(self, position: jax.Array, **kwargs) -> NeighborTable:
        return self.update_fn(position, self, **kwargs)

    @property
    def did_buffer_overflow(self) -> jax.Array:
        return self.error.code & (PEC.NEIGHBOR_LIST_OVERFLOW | EDGE_OVERFLOW)


@dataclass(frozen=True)
class NeighborTableFns:
    """jax-md's ``NeighborListFns`` interface (``allocate`` outside jit, ``update`` inside) for a
    :class:`NeighborTable`, plus ``pair_counts`` (the largest number of pairs of one atom within the cutoff,
    and the number of all pairs within it, now)."""

    allocate: Callable[..., NeighborTable]
    update: Callable[..., NeighborTable]
    pair_counts: Callable[..., tuple[jax.Array, jax.Array]]
    cutoff_A: float
    skin_A: float


def _grid(images: tuple[int, int, int], dtype) -> jax.Array:
    """All image offsets with |n_a| <= images[a], [S, 3]."""
    ranges = [range(-m, m + 1) for m in images]
    return jnp.asarray(list(itertools.product(*ranges)), dtype)


def _pair_block(rows: jax.Array, position: jax.Array, box: jax.Array, grid: jax.Array):
    """Squared distances [B, N*S] and image offsets [B, N*S, 3] from atoms ``rows`` to every image of every
    atom (fractional positions; the separation is first reduced to the minimum image)."""
    d = position[None, :, :] - position[rows][:, None, :]  # [B, N, 3]
    base = -jnp.round(d)
    shift = base[:, :, None, :] + grid[None, None, :, :]  # [B, N, S, 3]
    frac = d[:, :, None, :] + shift
    cart = jnp.einsum("ij,bnsj->bnsi", box, frac)
    r2 = jnp.sum(cart**2, axis=-1)
    b = rows.shape[0]
    return r2.reshape(b, -1), shift.reshape(b, -1, 3)


def _blocks(n_atoms: int, n_images: int) -> tuple[int, int]:
    """(rows per block, number of blocks) so that a block examines about ``_PAIRS_PER_BLOCK`` pairs."""
    rows = max(1, min(n_atoms, _PAIRS_PER_BLOCK // max(1, n_atoms * n_images)))
    return rows, math.ceil(n_atoms / rows)


def _map_rows(fn, n_atoms: int, n_images: int):
    """Apply ``fn(rows[B]) -> pytree of [B, ...]`` to all atoms block by block (``lax.map``), rows padded by
    repeating the last atom and cut off again."""
    rows_per_block, n_blocks = _blocks(n_atoms, n_images)
    rows = jnp.minimum(jnp.arange(n_blocks * rows_per_block), n_atoms - 1).reshape(n_blocks, rows_per_block)
    out = jax.lax.map(fn, rows)
    return jax.tree_util.tree_map(lambda x: x.reshape(n_blocks * rows_per_block, *x.shape[2:])[:n_atoms], out)


def _is_pair(r2: jax.Array, limit_A: float) -> jax.Array:
    # r2 > 0 drops an atom's own zero image (overlapping atoms are refused at input, long before MD).
    return (r2 < limit_A**2) & (r2 > 1e-12)


@partial(jax.jit, static_argnames=("images", "reach_A", "cutoff_A"))
def _count_pairs(position, box, images, reach_A: float, cutoff_A: float) -> tuple[jax.Array, ...]:
    """Largest number of pairs of one atom within ``reach_A`` and within ``cutoff_A``, and all pairs within
    ``cutoff_A`` (for allocation)."""
    grid = _grid(images, position.dtype)

    def block(rows):
        r2, _ = _pair_block(rows, position, box, grid)
        return jnp.sum(_is_pair(r2, reach_A), axis=1), jnp.sum(_is_pair(r2, cutoff_A), axis=1)

    reach, cut = _map_rows(block, position.shape[0], grid.shape[0])
    return jnp.max(reach), jnp.max(cut), jnp.sum(cut)


@partial(jax.jit, static_argnames=("images", "reach_A", "capacity"))
def _build(position, box, images, reach_A: float, capacity: int):
    """(idx [N, capacity], shifts [N, capacity, 3], overflowed) of all pairs within ``reach_A``."""
    n = position.shape[0]
    grid = _grid(images, position.dtype)
    s = grid.shape[0]

    def block(rows):
        r2, shift = _pair_block(rows, position, box, grid)
        valid = _is_pair(r2, reach_A)
        slot = jnp.where(valid, jnp.cumsum(valid, axis=1) - 1, capacity)  # beyond capacity: dropped
        b = rows.shape[0]
        line = jnp.arange(b)[:, None]
        neighbor = jnp.broadcast_to(jnp.repeat(jnp.arange(n, dtype=jnp.int32), s), valid.shape)
        idx = jnp.full((b, capacity), n, jnp.int32).at[line, slot].set(neighbor, mode="drop")
        shifts = jnp.zeros((b, capacity, 3), position.dtype).at[line, slot].set(shift, mode="drop")
        return idx, shifts, jnp.sum(valid, axis=1)

    idx, shifts, counts = _map_rows(block, n, s)
    return idx, shifts, jnp.max(counts) > capacity


def continuous_positions(position: jax.Array, nbrs: NeighborTable) -> jax.Array:
    """Fractional positions undoing the wraps since the last build (atoms move < half a cell between builds),
    so that the stored image shifts stay valid when an atom crosses a cell face."""
    return position - jnp.round(position - nbrs.reference_position)


def pair_vectors(position: jax.Array, nbrs: NeighborTable, box: jax.Array) -> jax.Array:
    """Cartesian separations r_j - r_i (Å) of every slot of the table, [N, max_occupancy, 3]."""
    s = continuous_positions(position, nbrs)
    j = jnp.minimum(nbrs.idx, s.shape[0] - 1)
    frac = s[j] - s[:, None, :] + nbrs.shifts
    return jnp.einsum("ij,nkj->nki", box, frac)


def within_cutoff(position, nbrs: NeighborTable, box, cutoff_A: float) -> jax.Array:
    """[N, max_occupancy] True for the slots holding a neighbour within the cutoff now (no gradient)."""
    vectors = jax.lax.stop_gradient(pair_vectors(position, nbrs, box))
    return (nbrs.idx < position.shape[0]) & _is_pair(jnp.sum(vectors**2, axis=-1), cutoff_A)


def edge_list(position, nbrs: NeighborTable, box, cutoff_A: float):
    """The pairs within the cutoff as an edge list of ``nbrs.pair_capacity`` edges sorted by receiver:
    ``(senders, receivers, shifts, edge_mask)``; padding edges have ``edge_mask`` False."""
    n, k = nbrs.idx.shape
    within = within_cutoff(position, nbrs, box, cutoff_A).reshape(-1)  # row-major: grouped by atom
    slot = jnp.where(within, jnp.cumsum(within) - 1, nbrs.pair_capacity)  # beyond capacity: dropped
    source = jnp.full((nbrs.pair_capacity,), n * k, jnp.int32)
    source = source.at[slot].set(jnp.arange(n * k, dtype=jnp.int32), mode="drop")  # table slot of each edge
    edge_mask = source < n * k
    source = jnp.minimum(source, n * k - 1)
    receivers = jnp.where(edge_mask, source // k, n - 1)
    senders = jnp.minimum(nbrs.idx.reshape(-1)[source], n - 1)
    return senders, receivers, nbrs.shifts.reshape(-1, 3)[source], edge_mask


def neighbor_table_fns(
    cutoff_A: float,
    skin_A: float,
    box: Any = None,
    *,
    capacity_multiplier: float = 1.25,
) -> NeighborTableFns:
    """Allocate/update functions of a :class:`NeighborTable` for fractional positions in a box (columns are
    the lattice vectors, any shape of cell); ``box`` is the default of their ``box=`` argument.
    ``capacity_multiplier`` is the spare room of both tables at allocation.

    ``update(R, nbrs, box=...)`` rebuilds when an atom moved more than skin/2 since the last build (what jax-md's
    lists do); the MD engine decides itself when to rebuild and forces it.
    """
    reach = cutoff_A + skin_A
    default_box = None if box is None else jnp.asarray(box)

    def box_or_default(box):
        if box is None and default_box is None:
            raise ValueError("the neighbour table needs box= (columns are lattice vectors)")
        return default_box if box is None else box

    def allocate(position, box=None, extra_capacity: int = 0) -> NeighborTable:
        position = jnp.asarray(position)
        box = jnp.asarray(box_or_default(box), position.dtype)
        images = image_range(box, reach)
        n_reach, n_cut, total = (int(c) for c in _count_pairs(position, box, images, reach, cutoff_A))
        capacity = max(1, math.ceil(n_reach * capacity_multiplier) + extra_capacity)
        edges = max(1, min(capacity, math.ceil(n_cut * capacity_multiplier)))
        pairs = max(1, math.ceil(total * capacity_multiplier))
        idx, shifts, overflow = _build(position, box, images, reach, capacity)
        assert not overflow, "allocated from a count of the same positions"
        return NeighborTable(
            idx=idx,
            shifts=shifts,
            reference_position=position,
            error=partition.PartitionError(jnp.zeros((), jnp.uint8)),
            max_occupancy=capacity,
            edge_capacity=edges,
            pair_capacity=pairs,
            images=images,
            update_fn=update,
        )

    def rebuild(position, nbrs: NeighborTable, box) -> NeighborTable:
        idx, shifts, overflow = _build(position, box, nbrs.images, reach, nbrs.max_occupancy)
        needed = jnp.floor(reach / _widths(box) + 0.5)
        too_few_images = jnp.any(needed > jnp.asarray(nbrs.images, needed.dtype))
        error = nbrs.error.update(PEC.NEIGHBOR_LIST_OVERFLOW, overflow)
        error = error.update(PEC.CELL_SIZE_TOO_SMALL, too_few_images)
        return nbrs.set(idx=idx, shifts=shifts, reference_position=position, error=error)

    def update(position, nbrs: NeighborTable, box=None, **kwargs) -> NeighborTable:
        del kwargs  # jax-md passes integrator arguments along
        box = box_or_default(box)
        moved = continuous_positions(position, nbrs) - nbrs.reference_position
        max_move = jnp.sqrt(jnp.max(jnp.sum(jnp.einsum("ij,nj->ni", box, moved) ** 2, axis=-1)))
        stale = 2.0 * max_move >= skin_A
        return jax.lax.cond(stale, lambda: rebuild(position, nbrs, box), lambda: nbrs)

    def pair_counts(position, nbrs: NeighborTable, box=None) -> tuple[jax.Array, jax.Array]:
        per_atom = jnp.sum(within_cutoff(position, nbrs, box_or_default(box), cutoff_A), axis=1)
        return jnp.max(per_atom), jnp.sum(per_atom)

    return NeighborTableFns(allocate, update, pair_counts, cutoff_A, skin_A)


def _widths(box: jax.Array) -> jax.Array:
    """Perpendicular widths of a box (columns are lattice vectors), traceable."""
    a, b, c = box[:, 0], box[:, 1], box[:, 2]
    volume = jnp.abs(jnp.dot(a, jnp.cross(b, c)))
    cross = jnp.stack([jnp.cross(b, c), jnp.cross(c, a), jnp.cross(a, b)])
    return volume / jnp.linalg.norm(cross, axis=-1)


def check_edges(fns: NeighborTableFns, position, nbrs: NeighborTable, box) -> NeighborTable:
    """``nbrs`` with :data:`EDGE_OVERFLOW` set if the pairs within the cutoff now exceed the model's table or
    edge list (the model would silently miss the extra pairs)."""
    per_atom, total = fns.pair_counts(position, nbrs, box)
    overflow = (per_atom > nbrs.edge_capacity) | (total > nbrs.pair_capacity)
    return nbrs.set(error=nbrs.error.update(EDGE_OVERFLOW, overflow))


def neighbor_energy_fns(
    potential: Potential,
    box: Any,
    atomic_numbers: Any,
    *,
    skin_A: float = 1.0,
    capacity_multiplier: float = 1.25,
) -> tuple[NeighborTableFns, Callable]:
    """``neighbor_fn, energy_fn`` for jax-md with fractional coordinates.

    Args:
        potential: the potential.
        box: jax-md box (columns are lattice vectors), Å; any cell shape (see module docstring).
        atomic_numbers: [N] atomic numbers of the atoms, in order.
        skin_A: neighbour-table skin (Å); the table holds pairs within cutoff + skin and must be rebuilt
            (``neighbor_fn.update``) before any atom moves more than skin/2.
        capacity_multiplier: spare room of the table and of the packed within-cutoff table the model sees, at
            allocation. ``nbrs.error.code`` signals when either overflows
            (:func:`check_edges` for the packed table); the caller must reallocate (md/ does).

    Returns:
        ``neighbor_fn`` (``allocate(R, box)`` outside jit, ``update(R, nbrs, box=...)`` inside) and
        ``energy_fn(R, neighbor, box=...) -> eV`` of fractional positions ``R``. As everywhere in jax-md with
        ``periodic_general``, ``-jax.grad(energy_fn)(R, nbrs)`` is the real-space force (eV/Å).
    """
    species = jnp.asarray(potential.species_indices(atomic_numbers))
    default_box = jnp.asarray(box)
    params, config = potential.params, potential.config
    neighbor_fn = neighbor_table_fns(
        potential.cutoff_A,
        skin_A,
        default_box,
        capacity_multiplier=capacity_multiplier,
    )

    def energy_fn(R: jax.Array, neighbor: NeighborTable, box: jax.Array | None = None, **kwargs) -> jax.Array:
        del kwargs  # thermostat arguments (kT, ...) that jax-md passes along
        box = default_box if box is None else box
        senders, receivers, shifts, edge_mask = edge_list(R, neighbor, box, potential.cutoff_A)
        s = continuous_positions(R, neighbor)
        # jax-md's transform: its gradient w.r.t. fractional positions is the real-space one (jax-md convention)
        vectors = space.transform(box, s[senders] - s[receivers] + shifts)
        energies = atomic_energies(
            params, config, species, vectors, senders, receivers, edge_mask, neighbor.edge_capacity
        )
        return jnp.sum(energies)

    return neighbor_fn, energy_fn
