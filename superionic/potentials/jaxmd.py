"""JAX-MD bindings: a potential as a ``(neighbor_fn, energy_fn)`` pair over a ``jax_md.partition`` list.

Conventions: jax-md's ``space.periodic_general`` takes a box whose COLUMNS are the lattice vectors and, with
``fractional_coordinates=True``, positions in fractional units; ASE's ``atoms.cell`` has the lattice vectors as
ROWS. :mod:`superionic.structures.cell` is the one place that converts.

The neighbour list is minimum-image: every perpendicular width of the box must be at least
2 (cutoff + skin). :func:`neighbor_energy_fns` refuses smaller boxes rather than silently returning wrong
energies (use a supercell; the static evaluator in :mod:`superionic.potentials.graph` handles small cells).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import partition

from superionic.potentials.nequip import atomic_energies_dense
from superionic.structures.cell import cell_from_box, perpendicular_widths

if TYPE_CHECKING:  # potential.py imports this module lazily; a runtime import back would be a cycle
    from superionic.potentials.potential import Potential


def neighbor_energy_fns(
    potential: Potential,
    displacement_fn: Callable,
    box: Any,
    atomic_numbers: Any,
    *,
    skin_A: float = 1.0,
    capacity_multiplier: float = 1.5,
    disable_cell_list: bool | None = None,
    fractional_coordinates: bool = True,
) -> tuple[partition.NeighborListFns, Callable]:
    """``neighbor_fn, energy_fn`` for jax-md, in its usual convention.

    Args:
        potential: the potential.
        displacement_fn: from ``jax_md.space.periodic_general(box, fractional_coordinates=...)``.
        box: jax-md box (columns are lattice vectors), Å.
        atomic_numbers: [N] atomic numbers of the atoms, in order.
        skin_A: neighbour-list skin (Å); the list holds pairs within cutoff + skin and must be rebuilt
            (``neighbor_fn.update``) before any atom moves more than skin/2.
        capacity_multiplier: spare capacity of the list; ``nbrs.did_buffer_overflow`` and ``nbrs.error``
            signal when it is exceeded, and the caller must reallocate (md/ does).
        disable_cell_list: use the O(N^2) search (default: for fewer than 2,000 atoms, where it is faster).

    Returns:
        ``neighbor_fn`` (``allocate(R, box=...)`` outside jit, ``update(R, nbrs, box=...)`` inside) and
        ``energy_fn(R, neighbor, box=...) -> eV``. As everywhere in jax-md with ``periodic_general``,
        ``-jax.grad(energy_fn)(R_fractional, nbrs)`` is the real-space force (eV/Å), not d/dR_fractional.
    """
    species = jnp.asarray(potential.species_indices(atomic_numbers))
    num_atoms = int(species.shape[0])
    cell = cell_from_box(box)
    widths = perpendicular_widths(cell)
    needed = 2.0 * (potential.cutoff_A + skin_A)
    if np.any(widths < needed):
        raise ValueError(
            f"box too small for a minimum-image neighbour list: perpendicular widths "
            f"{np.round(widths, 2).tolist()} Å, need >= {needed:.2f} Å (2 x (cutoff {potential.cutoff_A} + skin "
            f"{skin_A})); build a supercell (superionic.md chooses one automatically)"
        )
    if disable_cell_list is None:
        disable_cell_list = num_atoms < 2000
    neighbor_fn = partition.neighbor_list(
        displacement_fn,
        jnp.asarray(box),
        potential.cutoff_A,
        dr_threshold=skin_A,
        capacity_multiplier=capacity_multiplier,
        disable_cell_list=disable_cell_list,
        fractional_coordinates=fractional_coordinates,
        format=partition.Dense,
    )
    params, config = potential.params, potential.config

    def energy_fn(R: jax.Array, neighbor: partition.NeighborList, **kwargs) -> jax.Array:
        neighbors = neighbor.idx  # [N, K], padded with N
        edge_mask = neighbors < num_atoms
        neighbors = jnp.where(edge_mask, neighbors, 0)
        geometry = _box_kwargs(kwargs)
        displacement = jax.vmap(jax.vmap(lambda a, b: displacement_fn(a, b, **geometry), (0, None)), (0, 0))
        vectors = displacement(R[neighbors], R)  # r_j - r_i, Cartesian Å, [N, K, 3]
        energies = atomic_energies_dense(params, config, species, vectors, neighbors, edge_mask)
        return jnp.sum(energies)

    return neighbor_fn, energy_fn


def _box_kwargs(kwargs: dict) -> dict:
    # jax-md passes thermostat arguments (kT, mass, ...) through **kwargs; the displacement takes only the box
    # and the strain ``perturbation`` that jax-md's quantity.pressure / npt_nose_hoover use for the virial.
    return {k: kwargs[k] for k in ("box", "perturbation") if k in kwargs}
