"""JAX-MD bindings: a potential as a ``(neighbor_fn, energy_fn)`` pair over a periodic neighbour table.

Conventions: jax-md's ``space.periodic_general`` takes a box whose COLUMNS are the lattice vectors and, with
``fractional_coordinates=True``, positions in fractional units; ASE's ``atoms.cell`` has the lattice vectors as
ROWS. :mod:`superionic.structures.cell` is the one place that converts.

The neighbour table (:class:`NeighborTable`) is ours, not ``jax_md.partition``'s, for two reasons:

- **Any cell.** jax-md's lists are minimum-image, so every perpendicular width must be at least
  2 (cutoff + skin) (~12 Å for SevenNet-0: 256 atoms of Li3N). The table stores an integer lattice image per
  neighbour, so each periodic image of an atom within reach is its own neighbour, as in the static graph
  builder (:mod:`superionic.potentials.graph`): cells of a few dozen atoms run too, and transport cells need
  only the minimum-image width of the cutoff, 2 x cutoff (10 Å: 192 atoms of Li3N).
- **No model work on padding.** The table holds every pair within cutoff + skin (the skin lets it be reused for
  many steps), but only pairs within the cutoff matter (with a 1 Å skin, about half of the table's slots lie
  beyond the cutoff or are spare room). Each step packs the pairs within the cutoff to the front of each
  atom's row of a table ``edge_capacity`` wide (:func:`packed_table`), the layout of the model's convolution
  (:func:`~superionic.potentials.nequip.atomic_energies_dense`): its per-edge work (radial MLP, spherical
  harmonics) runs on that table's slots, of which ~70 % hold a pair, and nothing is gathered from an edge
  list or scattered back into one in the backward pass (13 % of a step of ``default``, 12 % of SevenNet-0's
  at 960 atoms, measured against an edge list of the pairs).

The capacities are static shapes. Overflows are reported as data, in jax-md's way (``nbrs.error.code``):
``NEIGHBOR_LIST_OVERFLOW`` when an atom has more candidates than ``max_occupancy``, :data:`EDGE_OVERFLOW` when
an atom has more pairs within the cutoff than ``edge_capacity`` (see :func:`check_edges`),
``CELL_SIZE_TOO_SMALL`` when the box shrank so far that more periodic images come within reach. The MD driver
redoes the chunk with more room; other callers must check ``nbrs.error.code`` themselves.
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
import numpy as np
from jax_md import dataclasses as jdc
from jax_md import partition

from superionic.potentials.nequip import atomic_energies_dense, short_matmul
from superionic.structures.cell import cell_from_box, perpendicular_widths

if TYPE_CHECKING:
    from superionic.potentials.potential import Potential

PEC = partition.PartitionErrorCode
EDGE_OVERFLOW = 1 << 4  # more pairs within the cutoff than the model's table holds
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
      images: largest image index per lattice vector searched at a build (static).
      cell_grid: bins per lattice vector of the cell list that finds candidates in cells at least 3 x reach
        wide (O(N) builds); None: every atom is examined (O(N^2), small cells).
      cell_list_capacity: atoms one bin may hold (static; jax-md's name).
    """

    idx: jax.Array
    shifts: jax.Array
    reference_position: jax.Array
    error: partition.PartitionError
    max_occupancy: int = jdc.static_field()
    edge_capacity: int = jdc.static_field()
    images: tuple[int, int, int] = jdc.static_field()
    update_fn: Callable[..., NeighborTable] = jdc.static_field()
    cell_grid: tuple[int, int, int] | None = jdc.static_field(default=None)
    cell_list_capacity: int | None = jdc.static_field(default=None)
    format: partition.NeighborListFormat = jdc.static_field(default=partition.NeighborListFormat.Dense)

    def update(self, position: jax.Array, **kwargs) -> NeighborTable:
        return self.update_fn(position, self, **kwargs)

    @property
    def did_buffer_overflow(self) -> jax.Array:
        return self.error.code & (PEC.NEIGHBOR_LIST_OVERFLOW | EDGE_OVERFLOW)


@dataclass(frozen=True)
class NeighborTableFns:
    """jax-md's ``NeighborListFns`` interface (``allocate`` outside jit, ``update`` inside) for a
    :class:`NeighborTable`, plus ``pair_counts`` (the largest number of pairs of one atom within the cutoff
    now)."""

    allocate: Callable[..., NeighborTable]
    update: Callable[..., NeighborTable]
    pair_counts: Callable[..., jax.Array]
    cutoff_A: float
    skin_A: float


@jax.custom_jvp
def to_real_space(box: jax.Array, frac: jax.Array) -> jax.Array:
    """Cartesian vectors (Å) of fractional ones [..., 3]: jax-md's ``space.transform``, whose convention it keeps
    (the gradient w.r.t. fractional positions is the real-space one), without XLA's dot call (see
    :func:`~superionic.potentials.nequip.short_matmul`)."""
    return short_matmul(frac, box.T)


@to_real_space.defjvp
def _to_real_space_jvp(primals, tangents):
    box, frac = primals
    box_dot, frac_dot = tangents
    return to_real_space(box, frac), frac_dot + to_real_space(box_dot, frac)


def _grid(images: tuple[int, int, int], dtype) -> jax.Array:
    """All image offsets with |n_a| <= images[a], [S, 3]."""
    ranges = [range(-m, m + 1) for m in images]
    return jnp.asarray(list(itertools.product(*ranges)), dtype)


def _blocks(n_atoms: int, per_atom: int) -> tuple[int, int]:
    """(rows per block, number of blocks) so that a block examines about ``_PAIRS_PER_BLOCK`` pairs."""
    rows = max(1, min(n_atoms, _PAIRS_PER_BLOCK // max(1, per_atom)))
    return rows, math.ceil(n_atoms / rows)


def _map_rows(fn, n_atoms: int, per_atom: int):
    """Apply ``fn(rows[B]) -> pytree of [B, ...]`` to all atoms block by block (``lax.map``), rows padded by
    repeating the last atom and cut off again."""
    rows_per_block, n_blocks = _blocks(n_atoms, per_atom)
    rows = jnp.minimum(jnp.arange(n_blocks * rows_per_block), n_atoms - 1).reshape(n_blocks, rows_per_block)
    out = jax.lax.map(fn, rows)
    return jax.tree_util.tree_map(lambda x: x.reshape(n_blocks * rows_per_block, *x.shape[2:])[:n_atoms], out)


def _is_pair(r2: jax.Array, limit_A: float) -> jax.Array:
    # r2 > 0 drops an atom's own zero image (overlapping atoms are refused at input, long before MD).
    return (r2 < limit_A**2) & (r2 > 1e-12)


#: Least spare room of the candidate table (pairs within cutoff + skin) at allocation, whatever the
#: ``capacity_multiplier``.
CANDIDATE_HEADROOM = 1.6

_CELL_OFFSETS = tuple(itertools.product((-1, 0, 1), repeat=3))
# Cell lists pay off once every lattice direction holds 3 bins of width >= reach (no bin is met twice).
_MIN_BINS = 3


def cell_grid_for(box: Any, reach_A: float) -> tuple[int, int, int] | None:
    """Bins per lattice vector for a cell list (each bin at least ``reach_A`` thick), or None when a direction
    holds fewer than 3 such bins (then every atom is examined)."""
    widths = perpendicular_widths(cell_from_box(box))
    grid = tuple(int(w // reach_A) for w in widths)
    return grid if min(grid) >= _MIN_BINS else None  # type: ignore[return-value]


def _bin_of(position: jax.Array, grid: tuple[int, int, int]) -> tuple[jax.Array, jax.Array]:
    """Bin coordinates [N, 3] and flat bin index [N] of fractional positions."""
    g = jnp.asarray(grid, jnp.int32)
    bins = jnp.floor(jnp.mod(position, 1.0) * g).astype(jnp.int32) % g
    return bins, (bins[:, 0] * grid[1] + bins[:, 1]) * grid[2] + bins[:, 2]


def _cell_list(position: jax.Array, grid: tuple[int, int, int], capacity: int):
    """(atoms of each bin [bins, capacity] (N where empty), bin coordinates of each atom [N, 3], most atoms in
    one bin)."""
    n = position.shape[0]
    bins, flat = _bin_of(position, grid)
    order = jnp.argsort(flat)
    sorted_flat = flat[order]
    first = jnp.searchsorted(sorted_flat, jnp.arange(math.prod(grid)))
    rank = jnp.arange(n) - first[sorted_flat]
    table = jnp.full((math.prod(grid), capacity), n, jnp.int32)
    table = table.at[sorted_flat, rank].set(order.astype(jnp.int32), mode="drop")
    return table, bins, jnp.max(rank) + 1


def _candidates(rows, position, box, images, cells):
    """Candidate neighbours of atoms ``rows`` [B]: (neighbour [B, M], squared distance [B, M], image offset
    [B, M, 3]), the separation reduced to the minimum image. ``cells``: None (every atom, every image of
    ``images``) or (bin table, bin coordinates, grid) of a cell list (the 27 bins around an atom's own)."""
    n = position.shape[0]
    b = rows.shape[0]
    if cells is None:
        grid = _grid(images, position.dtype)
        neighbor = jnp.broadcast_to(
            jnp.repeat(jnp.arange(n, dtype=jnp.int32), grid.shape[0]), (b, n * grid.shape[0])
        )
        d = position[None, :, :] - position[rows][:, None, :]  # [B, N, 3]
        base = -jnp.round(d)
        shift = (base[:, :, None, :] + grid[None, None, :, :]).reshape(b, -1, 3)
        frac = jnp.repeat(d, grid.shape[0], axis=1) + shift
    else:
        table, bins, grid = cells
        g = jnp.asarray(grid, jnp.int32)
        around = (bins[rows][:, None, :] + jnp.asarray(_CELL_OFFSETS, jnp.int32)[None]) % g  # [B, 27, 3]
        flat = (around[..., 0] * grid[1] + around[..., 1]) * grid[2] + around[..., 2]
        neighbor = table[flat].reshape(b, -1)  # [B, 27 x capacity]
        d = position[jnp.minimum(neighbor, n - 1)] - position[rows][:, None, :]
        shift = -jnp.round(d)
        frac = d + shift
    r2 = jnp.sum(to_real_space(box, frac) ** 2, axis=-1)
    r2 = jnp.where(neighbor < n, r2, jnp.inf)
    return neighbor, r2, shift


def _search(position, box, images, grid, cell_capacity):
    """The cell list (or None) and the number of candidates per atom of one build."""
    if grid is None:
        return None, position.shape[0] * math.prod(2 * m + 1 for m in images), jnp.asarray(0)
    table, bins, fullest = _cell_list(position, grid, cell_capacity)
    return (table, bins, grid), len(_CELL_OFFSETS) * cell_capacity, fullest


@partial(jax.jit, static_argnames=("images", "grid", "cell_capacity", "reach_A", "cutoff_A"))
def _count_pairs(position, box, images, grid, cell_capacity, reach_A: float, cutoff_A: float):
    """Largest number of pairs of one atom within ``reach_A`` and within ``cutoff_A`` (for allocation)."""
    cells, per_atom, _ = _search(position, box, images, grid, cell_capacity)

    def block(rows):
        _, r2, _ = _candidates(rows, position, box, images, cells)
        return jnp.sum(_is_pair(r2, reach_A), axis=1), jnp.sum(_is_pair(r2, cutoff_A), axis=1)

    reach, cut = _map_rows(block, position.shape[0], per_atom)
    return jnp.max(reach), jnp.max(cut)


@partial(jax.jit, static_argnames=("images", "grid", "cell_capacity", "reach_A", "capacity"))
def _build(position, box, images, grid, cell_capacity, reach_A: float, capacity: int):
    """(idx [N, capacity], shifts [N, capacity, 3], table overflowed, cell list overflowed) of all pairs within
    ``reach_A``."""
    n = position.shape[0]
    cells, per_atom, fullest = _search(position, box, images, grid, cell_capacity)

    def block(rows):
        neighbor, r2, shift = _candidates(rows, position, box, images, cells)
        valid = _is_pair(r2, reach_A)
        slot = jnp.where(valid, jnp.cumsum(valid, axis=1) - 1, capacity)  # beyond capacity: dropped
        line = jnp.arange(rows.shape[0])[:, None]
        idx = jnp.full((rows.shape[0], capacity), n, jnp.int32).at[line, slot].set(neighbor, mode="drop")
        shifts = jnp.zeros((rows.shape[0], capacity, 3), position.dtype)
        shifts = shifts.at[line, slot].set(shift.astype(position.dtype), mode="drop")
        return idx, shifts, jnp.sum(valid, axis=1)

    idx, shifts, counts = _map_rows(block, n, per_atom)
    return idx, shifts, jnp.max(counts) > capacity, fullest > (cell_capacity or 0)


def continuous_positions(position: jax.Array, nbrs: NeighborTable) -> jax.Array:
    """Fractional positions undoing the wraps since the last build (atoms move < half a cell between builds),
    so that the stored image shifts stay valid when an atom crosses a cell face."""
    return position - jnp.round(position - nbrs.reference_position)


def pair_vectors(position: jax.Array, nbrs: NeighborTable, box: jax.Array) -> jax.Array:
    """Cartesian separations r_j - r_i (Å) of every slot of the table, [N, max_occupancy, 3]."""
    s = continuous_positions(position, nbrs)
    j = jnp.minimum(nbrs.idx, s.shape[0] - 1)
    frac = s[j] - s[:, None, :] + nbrs.shifts
    return to_real_space(box, frac)


def within_cutoff(position, nbrs: NeighborTable, box, cutoff_A: float) -> jax.Array:
    """[N, max_occupancy] True for the slots holding a neighbour within the cutoff now (no gradient)."""
    vectors = jax.lax.stop_gradient(pair_vectors(position, nbrs, box))
    return (nbrs.idx < position.shape[0]) & _is_pair(jnp.sum(vectors**2, axis=-1), cutoff_A)


def packed_table(position, nbrs: NeighborTable, box, cutoff_A: float) -> tuple[jax.Array, jax.Array]:
    """The pairs within the cutoff packed to the front of each atom's row of an ``nbrs.edge_capacity``-wide
    table: ``(idx [N, edge_capacity], shifts [N, edge_capacity, 3])``, ``idx`` N in empty slots."""
    n = position.shape[0]
    within = within_cutoff(position, nbrs, box, cutoff_A)
    slot = jnp.where(within, jnp.cumsum(within, axis=1) - 1, nbrs.edge_capacity)  # beyond capacity: dropped
    row = jnp.arange(n)[:, None]
    idx = jnp.full((n, nbrs.edge_capacity), n, jnp.int32).at[row, slot].set(nbrs.idx, mode="drop")
    shifts = jnp.zeros((n, nbrs.edge_capacity, 3), nbrs.shifts.dtype)
    return idx, shifts.at[row, slot].set(nbrs.shifts, mode="drop")


def neighbor_table_fns(
    cutoff_A: float,
    skin_A: float,
    box: Any = None,
    *,
    capacity_multiplier: float = 1.25,
) -> NeighborTableFns:
    """Allocate/update functions of a :class:`NeighborTable` for fractional positions in a box (columns are
    the lattice vectors, any shape of cell); ``box`` is the default of their ``box=`` argument.
    ``capacity_multiplier`` is the spare room of both tables at allocation (the candidate table gets at
    least :data:`CANDIDATE_HEADROOM`).

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
        grid = cell_grid_for(box, reach)
        cell_capacity = None
        if grid is not None:
            fullest = int(
                np.bincount(np.asarray(_bin_of(position, grid)[1]), minlength=math.prod(grid)).max()
            )
            cell_capacity = math.ceil(fullest * capacity_multiplier) + 1
        counts = _count_pairs(position, box, images, grid, cell_capacity, reach, cutoff_A)
        n_reach, n_cut = (int(c) for c in counts)
        # The candidate table gets more room than the model's edge table: a slot costs one distance per step,
        # while an overflow redoes a whole MD chunk (up to 2,000 steps) and recompiles it. With 1.25x, hot
        # Li3N (192 atoms, 1300 K) overflowed at the end of its first 750-step chunk: 5,250 atom-steps/s, 8,600
        # without the redo.
        occupancy_multiplier = max(capacity_multiplier, CANDIDATE_HEADROOM)
        capacity = max(1, math.ceil(n_reach * occupancy_multiplier) + extra_capacity)
        edges = max(1, min(capacity, math.ceil(n_cut * capacity_multiplier)))
        idx, shifts, overflow, cells_overflow = _build(
            position, box, images, grid, cell_capacity, reach, capacity
        )
        assert not (overflow or cells_overflow), "allocated from a count of the same positions"
        return NeighborTable(
            idx=idx,
            shifts=shifts,
            reference_position=position,
            error=partition.PartitionError(jnp.zeros((), jnp.uint8)),
            max_occupancy=capacity,
            edge_capacity=edges,
            images=images,
            update_fn=update,
            cell_grid=grid,
            cell_list_capacity=cell_capacity,
        )

    def rebuild(position, nbrs: NeighborTable, box) -> NeighborTable:
        idx, shifts, overflow, cells_overflow = _build(
            position, box, nbrs.images, nbrs.cell_grid, nbrs.cell_list_capacity, reach, nbrs.max_occupancy
        )
        widths = _widths(box)
        too_small = jnp.any(jnp.floor(reach / widths + 0.5) > jnp.asarray(nbrs.images, widths.dtype))
        if nbrs.cell_grid is not None:  # the box shrank (NPT) below the bins' thickness
            too_small |= jnp.any(widths / jnp.asarray(nbrs.cell_grid, widths.dtype) < reach)
        error = nbrs.error.update(PEC.NEIGHBOR_LIST_OVERFLOW, overflow)
        error = error.update(PEC.CELL_LIST_OVERFLOW, cells_overflow)
        error = error.update(PEC.CELL_SIZE_TOO_SMALL, too_small)
        return nbrs.set(idx=idx, shifts=shifts, reference_position=position, error=error)

    def update(position, nbrs: NeighborTable, box=None, **kwargs) -> NeighborTable:
        del kwargs  # jax-md passes integrator arguments along
        box = box_or_default(box)
        moved = continuous_positions(position, nbrs) - nbrs.reference_position
        max_move = jnp.sqrt(jnp.max(jnp.sum(to_real_space(box, moved) ** 2, axis=-1)))
        stale = 2.0 * max_move >= skin_A
        return jax.lax.cond(stale, lambda: rebuild(position, nbrs, box), lambda: nbrs)

    def pair_counts(position, nbrs: NeighborTable, box=None) -> jax.Array:
        return jnp.max(jnp.sum(within_cutoff(position, nbrs, box_or_default(box), cutoff_A), axis=1))

    return NeighborTableFns(allocate, update, pair_counts, cutoff_A, skin_A)


def _widths(box: jax.Array) -> jax.Array:
    """Perpendicular widths of a box (columns are lattice vectors), traceable."""
    a, b, c = box[:, 0], box[:, 1], box[:, 2]
    volume = jnp.abs(jnp.dot(a, jnp.cross(b, c)))
    cross = jnp.stack([jnp.cross(b, c), jnp.cross(c, a), jnp.cross(a, b)])
    return volume / jnp.linalg.norm(cross, axis=-1)


def check_edges(fns: NeighborTableFns, position, nbrs: NeighborTable, box) -> NeighborTable:
    """``nbrs`` with :data:`EDGE_OVERFLOW` set if an atom's pairs within the cutoff now exceed the model's table
    (the model would silently miss the extra pairs)."""
    overflow = fns.pair_counts(position, nbrs, box) > nbrs.edge_capacity
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
        idx, shifts = packed_table(R, neighbor, box, potential.cutoff_A)
        s = continuous_positions(R, neighbor)
        n = s.shape[0]
        vectors = to_real_space(box, s[jnp.minimum(idx, n - 1)] - s[:, None, :] + shifts)
        return jnp.sum(atomic_energies_dense(params, config, species, vectors, idx, idx < n))

    return neighbor_fn, energy_fn
