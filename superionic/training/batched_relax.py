"""Batched relaxation of positions and cell of many structures at once with a superionic potential, in JAX.

The algorithm is ASE's ``FIRE`` on ASE's ``FrechetCellFilter`` degrees of freedom, per structure: atom positions
in the undeformed cell ``x`` (Å) plus ``q = c log F`` for the deformation gradient ``F`` of the cell (``cell =
cell0 F^T``, ``c`` = number of atoms, as ASE's ``exp_cell_factor``). Generalised forces are ``-dH/dx`` and
``-dH/dq`` with the enthalpy ``H = E + p V``, by autodiff through ``expm`` (ASE sums ``expm_frechet`` directions;
the numbers are the same). Convergence: the largest row norm of the ``n + 3`` generalised force rows below
``fmax``, as ASE's optimisers test it. So ``relax_structures(...)`` and ``FIRE(FrechetCellFilter(atoms))`` follow
the same path on the same potential, up to float32 rounding.

Why by hand: jax-md's ``minimize.fire_descent`` moves positions only (no cell), has one time step for the whole
system (not one per structure) and no masses-free FIRE 2.0 restart rule as in ASE; ASE's FIRE runs one structure
at a time on the host. Here every structure of a padded batch has its own FIRE state, and a jitted
``lax.scan`` advances all of them ``steps_per_chunk`` steps between host syncs.

Neighbour graphs are built on the host (vesin, cutoff + skin) and rebuilt at each sync. Inside ``jit`` a
structure whose atoms or cell moved so far that a pair outside the list could have come within the cutoff is
frozen and flagged (errors as data, as in ``md/``); the host rebuilds its graph and it continues from the
same FIRE state, so the path does not depend on when graphs are rebuilt. Finished structures leave the batch
and queued ones take their place; batch sizes are fixed padded shapes (one compile per shape).
Units: Å, eV, eV/Å, eV/Å^3 (stress, ASE sign), GPa (pressure argument).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import ase
import jax
import jax.numpy as jnp
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import full_3x3_to_voigt_6_stress

from superionic.potentials.graph import GraphBatch, neighbor_capacity, neighbor_pairs
from superionic.potentials.potential import Potential, structure_energies
from superionic.training.batching import BatchShape, StructureGraph, max_degree, pack_graphs

EV_PER_A3_PER_GPA = 1.0 / 160.21766208


@dataclass(frozen=True)
class FireParameters:
    """ASE's FIRE defaults (Bitzek et al. 2006 with ASE's step limit), per structure."""

    dt: float = 0.1
    maxstep_A: float = 0.2  # largest |dr| of one step over all degrees of freedom of a structure (ASE)
    dt_max: float = 1.0
    n_min: int = 5
    f_inc: float = 1.1
    f_dec: float = 0.5
    alpha_start: float = 0.1
    f_alpha: float = 0.99


STATE_FIELDS = (
    "x",
    "log_deformation",
    "velocity_x",
    "velocity_q",
    "dt",
    "alpha",
    "n_positive",
    "started",
    "evaluated",
    "steps",
    "energy",
    "forces",
    "stress",
    "force_x",
    "force_q",
    "fmax",
    "initial_energy",
    "initial_forces",
    "initial_stress",
    "done",
    "needs_rebuild",
)


@partial(jax.tree_util.register_dataclass, data_fields=list(STATE_FIELDS), meta_fields=[])
@dataclass(frozen=True)
class RelaxState:
    """FIRE state of a padded batch (G graph slots, N node slots). Energies, forces and stress always belong
    to the current geometry (x, log_deformation)."""

    x: jax.Array  # [N, 3] Å, positions in the undeformed cell
    log_deformation: jax.Array  # [G, 3, 3] log F
    velocity_x: jax.Array  # [N, 3]
    velocity_q: jax.Array  # [G, 3, 3] velocity of q = c log F
    dt: jax.Array  # [G]
    alpha: jax.Array  # [G]
    n_positive: jax.Array  # [G] int, downhill steps since the last reset
    started: jax.Array  # [G] bool, FIRE has taken its first step (ASE: vel is not None)
    evaluated: jax.Array  # [G] bool, energy and forces below belong to the current geometry
    steps: jax.Array  # [G] int, FIRE steps taken
    energy: jax.Array  # [G] eV
    forces: jax.Array  # [N, 3] eV/Å, real-space forces
    stress: jax.Array  # [G, 3, 3] eV/Å^3
    force_x: jax.Array  # [N, 3] generalised force on x (eV/Å)
    force_q: jax.Array  # [G, 3, 3] generalised force on q = c log F (eV)
    fmax: jax.Array  # [G] eV/Å, largest generalised force row
    initial_energy: jax.Array  # [G] eV at the input geometry
    initial_forces: jax.Array  # [N, 3]
    initial_stress: jax.Array  # [G, 3, 3]
    done: jax.Array  # [G] bool, converged or out of steps: frozen
    needs_rebuild: jax.Array  # [G] bool, frozen until the host rebuilds the neighbour graph

    def set(self, **changes) -> RelaxState:
        return dataclasses.replace(self, **changes)


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["graph", "cell0", "cell_factor", "graph_mask", "build_x", "build_deformation", "skin"],
    meta_fields=[],
)
@dataclass(frozen=True)
class RelaxBatch:
    """What stays fixed between two host syncs: topology, reference cells and the geometry of the graph build."""

    graph: GraphBatch  # positions/cells are placeholders; edges were listed within cutoff + skin
    cell0: jax.Array  # [G, 3, 3] reference (initial) cells, rows are lattice vectors
    cell_factor: jax.Array  # [G] ASE's exp_cell_factor (number of atoms; 1 for empty slots)
    graph_mask: jax.Array  # [G] bool, real structures
    build_x: jax.Array  # [N, 3] x when the graph was built
    build_deformation: jax.Array  # [G, 3, 3] F when the graph was built
    skin: jax.Array  # [G] Å, the skin this structure's edges were listed with (cutoff + skin)


def _expm(log_deformation: jax.Array) -> jax.Array:
    return jax.vmap(jax.scipy.linalg.expm)(log_deformation)


def enthalpy_gradients(params, config, batch: RelaxBatch, x, log_deformation, pressure_eV_per_A3):
    """Energy [G], generalised forces (-dH/dx [N, 3], -dH/dlogF [G, 3, 3]), real forces and stress.

    ``H = E + p V``; the stress is (1/V) dE/dε (without the pressure), forces -dE/dr.
    """
    graph = batch.graph
    node_graph = jnp.minimum(graph.node_graph, graph.num_graphs - 1)  # padding nodes: any real cell
    deformation, expm_vjp = jax.vjp(_expm, log_deformation)

    def enthalpy(x, deformation):
        positions = jnp.einsum("nj,nij->ni", x, deformation[node_graph])  # r = F x
        cells = jnp.einsum("gkj,gij->gki", batch.cell0, deformation)  # rows: a_k F^T
        strain = jnp.zeros_like(cells)
        moved = dataclasses.replace(graph, positions=positions, cells=cells)
        energy = structure_energies(params, config, moved, strain)
        volume = jnp.abs(jnp.linalg.det(cells))
        h = jnp.where(batch.graph_mask, energy + pressure_eV_per_A3 * volume, 0.0)
        return jnp.sum(h), (energy, volume)

    (grad_x, grad_f), (energy, volume) = jax.grad(enthalpy, argnums=(0, 1), has_aux=True)(x, deformation)
    (grad_log,) = expm_vjp(grad_f)
    # Real-space quantities without the pV term: dE/dF = dH/dF - p V F^-T.
    inverse_t = jnp.swapaxes(jnp.linalg.inv(deformation), 1, 2)
    grad_f_energy = grad_f - pressure_eV_per_A3 * volume[:, None, None] * inverse_t
    stress = jnp.einsum("gik,gjk->gij", grad_f_energy, deformation) / volume[:, None, None]
    stress = 0.5 * (stress + jnp.swapaxes(stress, 1, 2))
    forces = -jnp.einsum(
        "nj,nji->ni", grad_x, jnp.linalg.inv(deformation)[node_graph]
    )  # -dE/dr = -dE/dx F^-1
    return energy, -grad_x, -grad_log, forces, stress


def _segment(values, node_graph, num_graphs, op=jax.ops.segment_sum):
    return op(values, node_graph, num_segments=num_graphs + 1)[:-1]


def make_chunk_fn(
    config,
    fire: FireParameters,
    *,
    steps_per_chunk: int,
    max_steps: int,
    fmax_eV_per_A: float,
    cutoff_A: float,
    pressure_GPa: float,
):
    """A jitted ``chunk(params, batch, state) -> state``: ``steps_per_chunk`` times (FIRE step, evaluation).

    A structure not yet evaluated is only evaluated in its first iteration; one that is converged
    (``fmax < fmax_eV_per_A``), out of steps or waiting for a graph rebuild does not move.
    """
    pressure = pressure_GPa * EV_PER_A3_PER_GPA

    def body(state: RelaxState, batch: RelaxBatch, params) -> RelaxState:
        g_count = batch.cell0.shape[0]
        node_mask = batch.graph.node_mask
        node_graph = batch.graph.node_graph
        slot_of_node = jnp.minimum(node_graph, g_count - 1)
        c = batch.cell_factor

        def per_graph_dot(ax, aq, bx, bq):
            return _segment(jnp.sum(ax * bx, axis=1), node_graph, g_count) + jnp.sum(aq * bq, axis=(1, 2))

        def on_nodes(values):  # [G] -> [N, 1]
            return values[slot_of_node][:, None]

        # FIRE, as ASE's FIRE.step, with the forces of the current geometry.
        f_x, f_q, v_x, v_q = state.force_x, state.force_q, state.velocity_x, state.velocity_q
        vf = per_graph_dot(f_x, f_q, v_x, v_q)
        ff = per_graph_dot(f_x, f_q, f_x, f_q)
        vv = per_graph_dot(v_x, v_q, v_x, v_q)
        downhill = state.started & (vf > 0.0)
        mix = jnp.where(downhill, state.alpha * jnp.sqrt(vv) / jnp.sqrt(jnp.maximum(ff, 1e-30)), 0.0)
        keep = jnp.where(downhill, 1.0 - state.alpha, 0.0)  # uphill: velocity reset (first step: v = 0)
        accelerate = downhill & (state.n_positive > fire.n_min)
        dt = jnp.where(
            downhill,
            jnp.where(accelerate, jnp.minimum(state.dt * fire.f_inc, fire.dt_max), state.dt),
            jnp.where(state.started, state.dt * fire.f_dec, state.dt),
        )
        alpha = jnp.where(
            downhill,
            jnp.where(accelerate, state.alpha * fire.f_alpha, state.alpha),
            jnp.where(state.started, fire.alpha_start, state.alpha),
        )
        n_positive = jnp.where(downhill, state.n_positive + 1, 0)
        velocity_x = on_nodes(keep) * v_x + on_nodes(mix) * f_x + on_nodes(dt) * f_x
        velocity_q = keep[:, None, None] * v_q + (mix + dt)[:, None, None] * f_q
        dx = on_nodes(dt) * velocity_x
        dq = dt[:, None, None] * velocity_q
        norm = jnp.sqrt(per_graph_dot(dx, dq, dx, dq))
        scale = jnp.where(norm > fire.maxstep_A, fire.maxstep_A / jnp.maximum(norm, 1e-30), 1.0)
        new_x = state.x + on_nodes(scale) * dx
        new_log = state.log_deformation + (scale / c)[:, None, None] * dq

        # Could a pair outside the neighbour list now be within the cutoff? |Δr_ij| <= 2 |F| max|Δx| +
        # (cutoff + skin) |F_b^-1| |F - F_b| (spectral norms).
        new_f = _expm(new_log)
        shift_x = _segment(
            jnp.where(node_mask, jnp.linalg.norm(new_x - batch.build_x, axis=1), 0.0),
            node_graph,
            g_count,
            jax.ops.segment_max,
        )
        spectral = partial(jnp.linalg.norm, ord=2, axis=(1, 2))
        worst = 2.0 * spectral(new_f) * jnp.maximum(shift_x, 0.0) + (cutoff_A + batch.skin) * spectral(
            jnp.linalg.inv(batch.build_deformation)
        ) * spectral(new_f - batch.build_deformation)
        moving = state.evaluated & ~state.done & ~state.needs_rebuild & batch.graph_mask
        overflow = moving & (worst >= batch.skin)
        move = moving & ~overflow
        move_node = on_nodes(move) & node_mask[:, None]
        x = jnp.where(move_node, new_x, state.x)
        log_deformation = jnp.where(move[:, None, None], new_log, state.log_deformation)

        energy, g_x, g_log, forces, stress = enthalpy_gradients(
            params, config, batch, x, log_deformation, pressure
        )
        g_x = jnp.where(node_mask[:, None], g_x, 0.0)
        g_q = g_log / c[:, None, None]  # force on q = c log F
        row_max = _segment(jnp.linalg.norm(g_x, axis=1), node_graph, g_count, jax.ops.segment_max)
        fmax = jnp.maximum(jnp.maximum(row_max, 0.0), jnp.linalg.norm(g_q, axis=2).max(axis=1))
        steps = state.steps + move.astype(state.steps.dtype)
        first = ~state.evaluated
        done = ~batch.graph_mask | (fmax < fmax_eV_per_A) | (steps >= max_steps)
        return state.set(
            x=x,
            log_deformation=log_deformation,
            velocity_x=jnp.where(move_node, velocity_x, state.velocity_x),
            velocity_q=jnp.where(move[:, None, None], velocity_q, state.velocity_q),
            dt=jnp.where(move, dt, state.dt),
            alpha=jnp.where(move, alpha, state.alpha),
            n_positive=jnp.where(move, n_positive, state.n_positive),
            started=state.started | move,
            evaluated=jnp.ones_like(state.evaluated),
            steps=steps,
            energy=energy,
            forces=forces,
            stress=stress,
            force_x=g_x,
            force_q=g_q,
            fmax=fmax,
            initial_energy=jnp.where(first, energy, state.initial_energy),
            initial_forces=jnp.where(on_nodes(first), forces, state.initial_forces),
            initial_stress=jnp.where(first[:, None, None], stress, state.initial_stress),
            done=done,
            needs_rebuild=state.needs_rebuild | overflow,
        )

    @jax.jit
    def chunk(params, batch: RelaxBatch, state: RelaxState) -> RelaxState:
        def scan_body(carry, _):
            return body(carry, batch, params), None

        state, _ = jax.lax.scan(scan_body, state, None, length=steps_per_chunk)
        return state

    return chunk


# ------------------------------------------------------------------------------------------------ host driver


@dataclass
class RelaxResult:
    """One relaxed structure; ``atoms`` carries energy/forces/stress of its final geometry as labels."""

    atoms: ase.Atoms
    energy_eV: float
    initial_energy_eV: float
    converged: bool
    steps: int
    fmax_eV_per_A: float
    volume_change_percent: float
    frames: list[ase.Atoms] = field(default_factory=list)  # labelled: the input, each sync, the last
    failure: str = ""  # why the relaxation was given up ("" when it ran normally)

    @property
    def energy_per_atom_eV(self) -> float:
        return self.energy_eV / len(self.atoms)


# Per-structure host copy of the FIRE state between chunks: the RelaxState fields of one structure.
_NODE_FIELDS = ("x", "velocity_x", "forces", "force_x", "initial_forces")


def _new_track(atoms: ase.Atoms, fire: FireParameters, skin_A: float) -> dict:
    n = len(atoms)
    zeros3 = np.zeros((3, 3))
    return {
        "atoms": atoms.copy(),
        "cell0": np.asarray(atoms.cell[:], np.float64),
        "frames": [],
        "x": atoms.get_positions().astype(np.float64),
        "velocity_x": np.zeros((n, 3)),
        "forces": np.zeros((n, 3)),
        "force_x": np.zeros((n, 3)),
        "initial_forces": np.zeros((n, 3)),
        "log_deformation": zeros3,
        "velocity_q": zeros3,
        "stress": zeros3,
        "force_q": zeros3,
        "initial_stress": zeros3,
        "dt": fire.dt,
        "alpha": fire.alpha_start,
        "n_positive": 0,
        "started": False,
        "evaluated": False,
        "steps": 0,
        "energy": 0.0,
        "fmax": np.inf,
        "initial_energy": 0.0,
        "done": False,
        "needs_rebuild": False,
        "skin": skin_A,
        "graph": None,
        "failed": "",
    }


def _graph(potential: Potential, track: dict) -> StructureGraph:
    """Neighbour graph of the track's current geometry within cutoff + its skin (the build geometry)."""
    positions, cell = _geometry(track)
    i, j, shifts = neighbor_pairs(positions, cell, (True, True, True), potential.cutoff_A + track["skin"])
    species = potential.species_indices(track["atoms"].numbers)
    track["build_x"], track["build_deformation"] = track["x"].copy(), _deformation(track)
    return StructureGraph(positions, cell, species, j, i, shifts)


def _fixed_shape(graphs, max_atoms: int, max_graphs: int, headroom: float) -> BatchShape:
    """A padded shape that holds the largest structure and as many as the capacity allows, with room for the
    edge count to grow by ``headroom`` as structures relax (nodes, edges and degree on coarse steps)."""
    total_nodes = sum(g.num_nodes for g in graphs)
    nodes = min(total_nodes, max_atoms) + 1
    # The median structure's edge density sets the edge budget (an outlier just shares the batch with fewer
    # others); the densest atom sets the table width, so that the call compiles once.
    density = float(np.median([g.num_edges / g.num_nodes for g in graphs]))
    largest = max(g.num_edges for g in graphs)
    edges = headroom * max(largest, density * (nodes - 1))
    degree = max(neighbor_capacity(g.receivers, 32) for g in graphs)
    # Coarse ladders (x1.5) so that calls with similar structures share compiled shapes.
    graphs_ladder = min(_ladder(len(graphs), 4), max_graphs)
    return BatchShape(_ladder(nodes, 64), _ladder(edges, 1024), graphs_ladder, degree)


def _ladder(n: float, start: int, growth: float = 1.5) -> int:
    size = start
    while size < n:
        size = math.ceil(size * growth)
    return size


def _deformation(track: dict) -> np.ndarray:
    from scipy.linalg import expm

    return expm(track["log_deformation"])


def _geometry(track: dict) -> tuple[np.ndarray, np.ndarray]:
    """Current (positions [n, 3], cell [3, 3]) in Å: r = F x, cell rows a F^T."""
    f = _deformation(track)
    return track["x"] @ f.T, track["cell0"] @ f.T


def _labelled(atoms: ase.Atoms, positions, cell, energy: float, forces, stress) -> ase.Atoms:
    out = atoms.copy()
    out.calc = None
    out.set_cell(cell, scale_atoms=False)
    out.set_positions(positions)
    out.calc = SinglePointCalculator(
        out,
        energy=float(energy),
        forces=np.asarray(forces, np.float64),
        stress=full_3x3_to_voigt_6_stress(np.asarray(stress, np.float64)),
    )
    return out


def relax_structures(
    potential: Potential,
    structures: Sequence[ase.Atoms],
    *,
    fmax_eV_per_A: float = 0.05,
    max_steps: int = 300,
    pressure_GPa: float = 0.0,
    skin_A: float = 1.0,
    steps_per_chunk: int = 20,
    max_atoms_per_batch: int = 512,
    max_structures_per_batch: int = 64,
    max_neighbors: int = 128,
    fire: FireParameters = FireParameters(),
    record_frames: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[RelaxResult]:
    """Relax positions and cells of ``structures`` (fully periodic ``ase.Atoms``) together; results in input order.

    Args:
        potential: the superionic potential (its dtype sets the precision).
        fmax_eV_per_A: convergence threshold on generalised forces (atoms and cell rows), as ASE's ``fmax``.
        max_steps: FIRE steps per structure at most (one out of steps comes back with ``converged=False``).
        pressure_GPa: external pressure (the enthalpy E + pV is minimised).
        skin_A: neighbour-list skin: larger means fewer rebuilds and more edges.
        steps_per_chunk: FIRE steps per jitted call between host syncs (rebuilds, refills).
        max_atoms_per_batch / max_structures_per_batch: padded batch capacity.
        max_neighbors: a structure with more neighbours per atom (within cutoff + skin) is given up: a cell
            collapsing under a bad potential must not grow the batch without bound.
        record_frames: keep labelled snapshots (the input, every sync, the last) for training sets.
        progress: called with (finished, total) after every sync.
    """
    structures = list(structures)
    if not structures:
        return []
    for k, atoms in enumerate(structures):
        if not np.all(atoms.pbc):
            raise ValueError(f"structure {k} is not fully periodic: cell relaxation needs pbc=True")
        if len(atoms) >= max_atoms_per_batch:
            raise ValueError(
                f"structure {k} has {len(atoms)} atoms, more than max_atoms_per_batch={max_atoms_per_batch}"
            )
        potential.species_indices(atoms.numbers)  # unknown elements fail here, before any work
    if max_steps < 0 or steps_per_chunk < 1 or fmax_eV_per_A <= 0:
        raise ValueError("need max_steps >= 0, steps_per_chunk >= 1 and fmax_eV_per_A > 0")
    if skin_A < 2.0 * fire.maxstep_A + 0.1:
        # One FIRE step may move an atom by maxstep: a smaller skin could never let it move.
        raise ValueError(
            f"skin_A must be >= 2 maxstep + 0.1 = {2.0 * fire.maxstep_A + 0.1:.2f} Å, got {skin_A}"
        )
    chunk = _chunk_fn(
        potential.config, fire, steps_per_chunk, max_steps, fmax_eV_per_A, potential.cutoff_A, pressure_GPa
    )
    tracks = [_new_track(a, fire, skin_A) for a in structures]
    for t in tracks:
        t["graph"] = _graph(potential, t)
        if max_degree(t["graph"], step=1) > max_neighbors:  # overlapping atoms: not worth a compile
            t["failed"], t["graph"], t["done"] = (
                f"more than {max_neighbors} neighbours at the start",
                None,
                True,
            )
    # One padded shape for the whole call (one compile), from the largest edge density and degree.
    # Sparse structures first, dense ones last (the dense neighbour table is as wide as the densest atom of a
    # batch): the table widens once, when the dense ones come, instead of for every batch.
    queue = sorted(
        (k for k, t in enumerate(tracks) if t["graph"] is not None),
        key=lambda k: (max_degree(tracks[k]["graph"], step=32), k),
    )
    if not queue:
        return [_result(t, fmax_eV_per_A) for t in tracks]
    shape = _fixed_shape(
        [tracks[k]["graph"] for k in queue], max_atoms_per_batch, max_structures_per_batch, headroom=1.3
    )
    active: list[int] = []
    finished = len(tracks) - len(queue)
    while queue or active:
        nodes = sum(tracks[k]["graph"].num_nodes for k in active)
        edges = sum(tracks[k]["graph"].num_edges for k in active)
        while queue and len(active) < shape.num_graphs:
            g = tracks[queue[0]]["graph"]
            if nodes + g.num_nodes >= shape.num_nodes or edges + g.num_edges > shape.num_edges:
                break
            nodes, edges = nodes + g.num_nodes, edges + g.num_edges
            active.append(queue.pop(0))
        if not active:  # the next structure alone outgrew the shape (rebuilt with more edges): grow it
            grown = _fixed_shape([tracks[queue[0]]["graph"]], max_atoms_per_batch, 1, headroom=1.3)
            shape = BatchShape(
                max(shape.num_nodes, grown.num_nodes),
                max(shape.num_edges, grown.num_edges),
                shape.num_graphs,
                max(shape.max_neighbors, grown.max_neighbors),
            )
            continue
        # Rebuilt graphs may have grown: hand structures back to the queue until the batch fits again.
        while len(active) > 1 and sum(tracks[k]["graph"].num_edges for k in active) > shape.num_edges:
            queue.insert(0, active.pop())
        graphs = [tracks[k]["graph"] for k in active]
        degree = max(neighbor_capacity(g.receivers, 32) for g in graphs)  # per structure, not summed
        edges = sum(g.num_edges for g in graphs)
        if degree > shape.max_neighbors or edges > shape.num_edges:
            # Grow in coarse steps (each new shape is one compile), never shrink.
            shape = BatchShape(
                shape.num_nodes,
                max(shape.num_edges, _ladder(edges, shape.num_edges)),
                shape.num_graphs,
                max(shape.max_neighbors, 32 * math.ceil(1.5 * degree / 32)),
            )
        graph = pack_graphs(graphs, shape, potential.dtype)
        graph = dataclasses.replace(graph, max_neighbors=shape.max_neighbors)
        batch, state = _pack(tracks, active, graph, shape, potential.dtype)
        steps_before = [tracks[k]["steps"] for k in active]
        state = chunk(potential.params, batch, state)
        _unpack(tracks, active, state)
        still = []
        for k, before in zip(active, steps_before, strict=True):
            t = tracks[k]
            if record_frames and not t["frames"]:
                t["frames"].append(
                    _labelled(
                        t["atoms"],
                        t["atoms"].get_positions(),
                        t["cell0"],
                        t["initial_energy"],
                        t["initial_forces"],
                        t["initial_stress"],
                    )
                )
            if record_frames:
                t["frames"].append(
                    _labelled(t["atoms"], *_geometry(t), t["energy"], t["forces"], t["stress"])
                )
            if t["done"]:
                finished += 1
                t["graph"] = None
                continue
            if t["needs_rebuild"] and t["steps"] == before:
                # Not one step fitted in the skin (a tiny cell whose cell step is large): widen its skin,
                # twice at most; after that the structure is given up (returned unconverged, flagged).
                t["skin"] *= 2.0
                if t["skin"] > 4.0 * skin_A:
                    t["failed"] = "cannot take a step within 4x the neighbour-list skin"
            if t["needs_rebuild"] and not t["failed"]:
                t["graph"] = _graph(potential, t)
                t["needs_rebuild"] = False
                if max_degree(t["graph"], step=1) > max_neighbors:
                    t["failed"] = (
                        f"more than {max_neighbors} neighbours within cutoff + skin (collapsed cell)"
                    )
            if t["failed"]:
                finished += 1
                t["graph"] = None
                continue
            still.append(k)
        active = still
        if progress is not None:
            progress(finished, len(tracks))
    return [_result(t, fmax_eV_per_A) for t in tracks]


_CHUNK_CACHE: dict = {}


def _chunk_fn(config, fire, steps_per_chunk, max_steps, fmax, cutoff, pressure):
    """One jitted chunk function per settings (jit then compiles once per padded shape)."""
    key = (repr(config), fire, steps_per_chunk, max_steps, fmax, cutoff, pressure)
    if key not in _CHUNK_CACHE:
        _CHUNK_CACHE[key] = make_chunk_fn(
            config,
            fire,
            steps_per_chunk=steps_per_chunk,
            max_steps=max_steps,
            fmax_eV_per_A=fmax,
            cutoff_A=cutoff,
            pressure_GPa=pressure,
        )
    return _CHUNK_CACHE[key]


def _pack(tracks: list[dict], active: list[int], graph: GraphBatch, shape: BatchShape, dtype):
    """The batch and state arrays of the ``active`` tracks, padded to ``shape``."""
    g_pad, n_pad = shape.num_graphs, shape.num_nodes
    arrays = {name: np.zeros((n_pad, 3)) for name in _NODE_FIELDS}
    per_graph = {
        "log_deformation": np.zeros((g_pad, 3, 3)),
        "velocity_q": np.zeros((g_pad, 3, 3)),
        "stress": np.zeros((g_pad, 3, 3)),
        "force_q": np.zeros((g_pad, 3, 3)),
        "initial_stress": np.zeros((g_pad, 3, 3)),
        "dt": np.full(g_pad, 0.1),
        "alpha": np.full(g_pad, 0.1),
        "energy": np.zeros(g_pad),
        "fmax": np.zeros(g_pad),
        "initial_energy": np.zeros(g_pad),
        "n_positive": np.zeros(g_pad, np.int32),
        "steps": np.zeros(g_pad, np.int32),
        "started": np.zeros(g_pad, bool),
        "evaluated": np.zeros(g_pad, bool),
        "done": np.zeros(g_pad, bool),
        "needs_rebuild": np.zeros(g_pad, bool),
    }
    cell0 = np.tile(np.eye(3), (g_pad, 1, 1))
    deformation = np.tile(np.eye(3), (g_pad, 1, 1))
    build_x = np.zeros((n_pad, 3))
    skin = np.ones(g_pad)
    cell_factor = np.ones(g_pad)
    graph_mask = np.zeros(g_pad, bool)
    start = 0
    for slot, k in enumerate(active):
        t = tracks[k]
        n = len(t["atoms"])
        for name in _NODE_FIELDS:
            arrays[name][start : start + n] = t[name]
        for name, values in per_graph.items():
            values[slot] = t[name]
        cell0[slot], deformation[slot] = t["cell0"], t["build_deformation"]
        build_x[start : start + n], skin[slot] = t["build_x"], t["skin"]
        cell_factor[slot], graph_mask[slot] = float(n), True
        start += n

    def device(a):
        return jnp.asarray(a, dtype) if a.dtype.kind == "f" else jnp.asarray(a)

    batch = RelaxBatch(
        graph=graph,
        cell0=device(cell0),
        cell_factor=device(cell_factor),
        graph_mask=jnp.asarray(graph_mask),
        build_x=device(build_x),
        build_deformation=device(deformation),
        skin=device(skin),
    )
    state = RelaxState(**{name: device(a) for name, a in {**arrays, **per_graph}.items()})
    return batch, state


def _unpack(tracks: list[dict], active: list[int], state: RelaxState) -> None:
    host = {name: np.asarray(getattr(state, name)) for name in STATE_FIELDS}
    start = 0
    for slot, k in enumerate(active):
        t = tracks[k]
        n = len(t["atoms"])
        for name in STATE_FIELDS:
            value = host[name][start : start + n] if name in _NODE_FIELDS else host[name][slot]
            if value.ndim == 0:
                t[name] = value.item()  # Python float/int/bool
            else:
                t[name] = value.astype(np.float64) if value.dtype.kind == "f" else value.copy()
        start += n


def _result(t: dict, fmax_eV_per_A: float) -> RelaxResult:
    positions, cell = _geometry(t)
    return RelaxResult(
        atoms=_labelled(t["atoms"], positions, cell, t["energy"], t["forces"], t["stress"]),
        energy_eV=float(t["energy"]),
        initial_energy_eV=float(t["initial_energy"]),
        converged=bool(t["fmax"] < fmax_eV_per_A and not t["failed"]),
        steps=int(t["steps"]),
        fmax_eV_per_A=float(t["fmax"]),
        volume_change_percent=100.0 * (float(np.linalg.det(_deformation(t))) - 1.0),
        frames=t["frames"],
        failure=t["failed"],
    )
