"""Shapes of packed training/labelling batches: the dense neighbour table must be as wide as the most
connected atom of any ONE structure, not the sum over the batch (receivers of different graphs are different
atoms)."""

from __future__ import annotations

import numpy as np
from ase.build import bulk

from superionic.training.batching import BatchShape, max_degree, pack_graphs, shape_for, structure_graph


def _li2s_graphs(count: int, cutoff_A: float = 4.5):
    rng = np.random.default_rng(0)
    graphs = []
    for _ in range(count):
        atoms = bulk("Li2S", "fluorite", a=5.7, cubic=True)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        graphs.append(structure_graph(atoms, np.zeros(len(atoms), np.int32), cutoff_A))
    return graphs


def test_batch_table_width_is_the_largest_single_structure_degree():
    graphs = _li2s_graphs(8)
    single = max(max_degree(g) for g in graphs)
    largest_real_degree = max(int(np.bincount(g.receivers).max()) for g in graphs)
    assert 16 <= largest_real_degree <= single < 2 * largest_real_degree  # a real, non-trivial degree
    batch = pack_graphs(graphs, shape_for(graphs))
    assert batch.max_neighbors == single
    # Every real edge still finds a slot: no atom of the batch has more valid edges than the table is wide.
    receivers = np.asarray(batch.receivers)[np.asarray(batch.edge_mask)]
    assert np.bincount(receivers).max() <= batch.max_neighbors


def test_batch_shape_fixes_the_table_width():
    graphs = _li2s_graphs(4)
    shape = shape_for(graphs)
    wider = BatchShape(shape.num_nodes, shape.num_edges, shape.num_graphs, shape.max_neighbors + 16)
    assert pack_graphs(graphs, wider).max_neighbors == shape.max_neighbors + 16
    assert pack_graphs(graphs[:2], shape).max_neighbors == shape.max_neighbors  # same shape, same compile
