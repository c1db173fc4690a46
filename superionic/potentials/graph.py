"""Periodic neighbour graphs of one or many structures, padded to fixed sizes for ``jit``.

The neighbour search runs outside ``jit`` with vesin (any triclinic cell, cells smaller than twice the cutoff
included: each periodic image of a neighbour within the cutoff is its own edge). Inside ``jit`` an edge vector
is recomputed from positions, cell and the integer image offset, so forces and stress come out of autodiff.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import vesin


@dataclass(frozen=True)
class GraphBatch:
    """A padded batch of structures as one disconnected graph.

    Cells are stored with lattice vectors as rows (ASE convention). Padding nodes belong to the extra graph
    index ``num_graphs`` and padding edges have ``edge_mask`` False; both contribute nothing.
    """

    positions: jax.Array  # [N, 3] Å, Cartesian
    cells: jax.Array  # [G, 3, 3] Å, rows are lattice vectors
    species: jax.Array  # [N] int, index into the model's species
    node_graph: jax.Array  # [N] int, structure index (num_graphs for padding)
    node_mask: jax.Array  # [N] bool
    senders: jax.Array  # [E] int, neighbour j
    receivers: jax.Array  # [E] int, centre i
    cell_shifts: jax.Array  # [E, 3] integer image offsets (as floats): r_ij = r_j - r_i + shift @ cell
    edge_mask: jax.Array  # [E] bool
    max_neighbors: int = 0  # static: at least the largest number of valid edges of one receiver

    @property
    def num_graphs(self) -> int:
        return self.cells.shape[0]


jax.tree_util.register_dataclass(
    GraphBatch,
    data_fields=[
        "positions",
        "cells",
        "species",
        "node_graph",
        "node_mask",
        "senders",
        "receivers",
        "cell_shifts",
        "edge_mask",
    ],
    meta_fields=["max_neighbors"],
)


def neighbor_capacity(receivers: np.ndarray, step: int = 16) -> int:
    """Room per atom for the dense neighbour table: the largest degree rounded up to a multiple of ``step``
    (so batches of similar structures share one compiled shape)."""
    largest = int(np.bincount(receivers).max()) if len(receivers) else 1
    return step * math.ceil(largest / step)


@dataclass(frozen=True)
class Structure:
    """What the graph builder needs of one structure (Å, atomic numbers already mapped to species indices)."""

    positions: np.ndarray  # [n, 3]
    cell: np.ndarray  # [3, 3] rows are lattice vectors
    pbc: tuple[bool, bool, bool]
    species: np.ndarray  # [n] int


def neighbor_pairs(
    positions: np.ndarray, cell: np.ndarray, pbc: Sequence[bool], cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs (i, j, image) with |r_j - r_i + image @ cell| < cutoff, i != j or image != 0.

    Sorted by i (the model's dense neighbour table needs edges grouped by receiver).
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    cell = np.ascontiguousarray(cell, dtype=np.float64)
    pbc = [bool(p) for p in pbc]
    if any(pbc) and abs(np.linalg.det(cell)) < 1e-9:
        raise ValueError(
            "periodic structure has a degenerate cell (zero volume); set a proper cell or pbc=False"
        )
    calculator = vesin.NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, shifts = calculator.compute(points=positions, box=cell, periodic=pbc, quantities="ijS")
    order = np.argsort(i, kind="stable")
    return i[order].astype(np.int32), j[order].astype(np.int32), shifts[order].astype(np.int32)


def bucket_size(n: int, minimum: int = 8, growth: float = 1.25) -> int:
    """Smallest size of the geometric ladder minimum * growth^k that holds n, so shapes (and compiles) repeat."""
    size = minimum
    while size < n:
        size = math.ceil(size * growth)
    return size


def build_graph_batch(
    structures: Sequence[Structure],
    cutoff: float,
    *,
    num_nodes: int | None = None,
    num_edges: int | None = None,
    dtype=np.float32,
) -> GraphBatch:
    """Build the padded graph of several structures.

    ``num_nodes``/``num_edges`` fix the padded sizes (default: :func:`bucket_size` of what is needed, with room
    for at least one padding node so padding edges have somewhere to point).
    """
    if not structures:
        raise ValueError("no structures given")
    node_offset = 0
    senders, receivers, shifts, node_graph = [], [], [], []
    for g, s in enumerate(structures):
        n = len(s.positions)
        i, j, image = neighbor_pairs(s.positions, s.cell, s.pbc, cutoff)
        receivers.append(i + node_offset)
        senders.append(j + node_offset)
        shifts.append(image)
        node_graph.append(np.full(n, g, np.int32))
        node_offset += n
    n_real, e_real = node_offset, sum(len(r) for r in receivers)
    n_pad = num_nodes if num_nodes is not None else bucket_size(n_real + 1)
    e_pad = num_edges if num_edges is not None else bucket_size(e_real)
    if n_pad <= n_real or e_pad < e_real:
        raise ValueError(f"padding too small: need > {n_real} nodes and >= {e_real} edges")
    g = len(structures)
    pad_node = n_real  # first padding node: target of every padding edge

    def padded(parts, size, fill, shape=()):
        out = np.full((size, *shape), fill, dtype=np.asarray(parts[0]).dtype if parts else np.int32)
        data = np.concatenate(parts) if parts else np.zeros((0, *shape))
        out[: len(data)] = data
        return out

    return GraphBatch(
        positions=jnp.asarray(padded([s.positions for s in structures], n_pad, 0.0, (3,)), dtype),
        cells=jnp.asarray(np.stack([np.asarray(s.cell, np.float64) for s in structures]), dtype),
        species=jnp.asarray(padded([np.asarray(s.species, np.int32) for s in structures], n_pad, 0)),
        node_graph=jnp.asarray(padded(node_graph, n_pad, g)),
        node_mask=jnp.asarray(np.arange(n_pad) < n_real),
        senders=jnp.asarray(padded(senders, e_pad, pad_node)),
        receivers=jnp.asarray(padded(receivers, e_pad, pad_node)),
        cell_shifts=jnp.asarray(padded(shifts, e_pad, 0, (3,)), dtype),
        edge_mask=jnp.asarray(np.arange(e_pad) < e_real),
        max_neighbors=neighbor_capacity(np.concatenate(receivers)),
    )
