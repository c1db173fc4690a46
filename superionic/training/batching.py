"""Fixed-shape batches of precomputed neighbour graphs, so a jitted step compiles once per shape.

A :class:`StructureGraph` holds one structure with its neighbour list computed once (data for training is
static). :func:`plan_batches` packs graphs into bins of a :class:`BatchShape` (nodes, edges, graphs);
:func:`pack_graphs` turns a bin into a :class:`~superionic.potentials.graph.GraphBatch` padded to exactly that
shape: unused graph slots have an identity cell and no atoms, padding nodes and edges are masked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from superionic.potentials.graph import GraphBatch, neighbor_capacity, neighbor_pairs


@dataclass(frozen=True)
class StructureGraph:
    """One structure and its neighbour list within the model cutoff (numpy, Å)."""

    positions: np.ndarray  # [n, 3]
    cell: np.ndarray  # [3, 3] rows are lattice vectors
    species: np.ndarray  # [n] int, model type index
    senders: np.ndarray  # [e] int, neighbour j
    receivers: np.ndarray  # [e] int, centre i
    shifts: np.ndarray  # [e, 3] int image offsets

    @property
    def num_nodes(self) -> int:
        return len(self.positions)

    @property
    def num_edges(self) -> int:
        return len(self.senders)


def structure_graph(atoms, species: np.ndarray, cutoff_A: float) -> StructureGraph:
    """Neighbour graph of an ASE ``atoms`` whose atoms have model type indices ``species``."""
    cell = np.asarray(atoms.get_cell()[:], np.float64)
    if not np.all(atoms.get_pbc()):
        raise ValueError("training and labelling need fully periodic structures (set atoms.pbc = True)")
    positions = np.asarray(atoms.get_positions(), np.float64)
    i, j, shifts = neighbor_pairs(positions, cell, (True, True, True), cutoff_A)
    return StructureGraph(positions, cell, np.asarray(species, np.int32), j, i, shifts)


@dataclass(frozen=True)
class BatchShape:
    """Padded sizes of a batch: total nodes (one more than real atoms, for padding), edges, graph slots, and
    the width of the model's dense neighbour table (0: the smallest that holds the batch, which may vary)."""

    num_nodes: int
    num_edges: int
    num_graphs: int
    max_neighbors: int = 0

    def holds(self, nodes: int, edges: int, graphs: int) -> bool:
        return nodes < self.num_nodes and edges <= self.num_edges and graphs <= self.num_graphs


def shape_for(graphs: Sequence[StructureGraph], growth: float = 1.25) -> BatchShape:
    """A shape on a geometric ladder that holds ``graphs`` (for the rare structure larger than any bin)."""

    def ladder(n: int, start: int) -> int:
        size = start
        while size < n:
            size = math.ceil(size * growth)
        return size

    return BatchShape(
        ladder(sum(g.num_nodes for g in graphs) + 1, 16),
        ladder(sum(g.num_edges for g in graphs), 256),
        len(graphs),
        max(max_degree(g) for g in graphs),
    )


def max_degree(graph: StructureGraph, step: int = 16) -> int:
    """Largest number of neighbours of one atom, rounded up to a multiple of ``step``."""
    return neighbor_capacity(graph.receivers, step)


def plan_batches(
    graphs: Sequence[StructureGraph], shape: BatchShape, order: Sequence[int] | None = None
) -> list[list[int]]:
    """Greedy sequential packing of graph indices (in ``order``) into bins that ``shape`` holds.

    A graph too large for ``shape`` gets a bin of its own (pack it with :func:`shape_for`).
    """
    order = range(len(graphs)) if order is None else order
    bins: list[list[int]] = []
    current: list[int] = []
    nodes = edges = 0
    for k in order:
        g = graphs[k]
        if not shape.holds(g.num_nodes, g.num_edges, 1):
            bins.append([k])
            continue
        if not shape.holds(nodes + g.num_nodes, edges + g.num_edges, len(current) + 1):
            bins.append(current)
            current, nodes, edges = [], 0, 0
        current.append(k)
        nodes += g.num_nodes
        edges += g.num_edges
    if current:
        bins.append(current)
    return bins


def pack_graphs(graphs: Sequence[StructureGraph], shape: BatchShape, dtype=np.float32) -> GraphBatch:
    """One :class:`GraphBatch` padded exactly to ``shape`` (edges grouped by receiver, as the model needs)."""
    n_real = sum(g.num_nodes for g in graphs)
    e_real = sum(g.num_edges for g in graphs)
    if not shape.holds(n_real, e_real, len(graphs)):
        raise ValueError(f"{len(graphs)} graphs with {n_real} atoms and {e_real} edges do not fit {shape}")
    n_pad, e_pad, g_pad = shape.num_nodes, shape.num_edges, shape.num_graphs
    positions = np.zeros((n_pad, 3))
    species = np.zeros(n_pad, np.int32)
    node_graph = np.full(n_pad, g_pad, np.int32)
    cells = np.tile(np.eye(3), (g_pad, 1, 1))
    senders = np.full(e_pad, n_real, np.int32)  # padding edges point at the first padding node
    receivers = np.full(e_pad, n_real, np.int32)
    shifts = np.zeros((e_pad, 3))
    # The table's width is the degree of the most connected atom of any ONE graph (receivers of different
    # graphs are different atoms); a shape that fixes it keeps one compiled program for every batch.
    max_neighbors = shape.max_neighbors or max(max_degree(g) for g in graphs)
    if any(max_degree(g, step=1) > max_neighbors for g in graphs):
        raise ValueError(f"an atom has more than max_neighbors={max_neighbors} neighbours: enlarge the shape")
    n0 = e0 = 0
    for k, g in enumerate(graphs):
        n, e = g.num_nodes, g.num_edges
        positions[n0 : n0 + n] = g.positions
        species[n0 : n0 + n] = g.species
        node_graph[n0 : n0 + n] = k
        cells[k] = g.cell
        senders[e0 : e0 + e] = g.senders + n0
        receivers[e0 : e0 + e] = g.receivers + n0
        shifts[e0 : e0 + e] = g.shifts
        n0, e0 = n0 + n, e0 + e
    return GraphBatch(
        positions=jnp.asarray(positions, dtype),
        cells=jnp.asarray(cells, dtype),
        species=jnp.asarray(species),
        node_graph=jnp.asarray(node_graph),
        node_mask=jnp.asarray(np.arange(n_pad) < n_real),
        senders=jnp.asarray(senders),
        receivers=jnp.asarray(receivers),
        cell_shifts=jnp.asarray(shifts, dtype),
        edge_mask=jnp.asarray(np.arange(e_pad) < e_real),
        max_neighbors=max_neighbors,
    )
