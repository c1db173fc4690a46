"""Classical pair potentials with the same interface as ``superionic.potentials`` models (for tests, benchmarks and
as a reference physics check of the engine): ``cutoff``, ``name``, ``species`` and ``jax_md_neighbor_energy``."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from jax_md import energy, partition, space

from superionic.potentials.jaxmd import cell_from_box, perpendicular_widths

__all__ = ["LennardJones"]


@dataclasses.dataclass(frozen=True)
class LennardJones:
    """Lennard-Jones 12-6 pair potential, smoothly switched off between ``onset_A`` and ``cutoff_A``
    (jax-md's ``multiplicative_isotropic_cutoff``; energy and force exactly zero beyond the cutoff).

    Argon: ``LennardJones(sigma_A=3.405, epsilon_eV=0.0104, cutoff_A=8.5)``.
    """

    sigma_A: float = 3.405
    epsilon_eV: float = 0.0104
    cutoff_A: float = 8.5
    onset_A: float | None = None  # default 0.85 * cutoff
    neighbor_format: str = "OrderedSparse"
    name: str = "lennard_jones"
    species: tuple[str, ...] = ()

    def jax_md_neighbor_energy(
        self, box, atomic_numbers, *, skin_A: float, capacity_multiplier: float = 1.25
    ):
        """``neighbor_fn, energy_fn`` for fractional coordinates in ``box`` (columns = lattice vectors).

        jax-md's lists are minimum-image: every perpendicular width of the box must be at least
        2 (cutoff + skin).
        """
        del atomic_numbers  # one species
        widths = perpendicular_widths(cell_from_box(box))
        if min(widths) < 2.0 * (self.cutoff_A + skin_A) - 1e-6:
            raise ValueError(
                f"box too small for a minimum-image neighbour list: perpendicular widths "
                f"{np.round(widths, 2).tolist()} Å, need >= {2.0 * (self.cutoff_A + skin_A):.2f} Å "
                f"(2 x (cutoff {self.cutoff_A} + skin {skin_A})); use a supercell"
            )
        dtype = jnp.asarray(box).dtype
        displacement_fn, _ = space.periodic_general(jnp.asarray(box), fractional_coordinates=True)
        onset = self.onset_A if self.onset_A is not None else 0.85 * self.cutoff_A
        sigma = jnp.asarray(self.sigma_A, dtype)
        return energy.lennard_jones_neighbor_list(
            displacement_fn,
            box,
            sigma=sigma,
            epsilon=jnp.asarray(self.epsilon_eV, dtype),
            r_onset=jnp.asarray(onset / self.sigma_A, dtype),
            r_cutoff=jnp.asarray(self.cutoff_A / self.sigma_A, dtype),
            dr_threshold=jnp.asarray(skin_A, dtype),
            fractional_coordinates=True,
            format=getattr(partition.NeighborListFormat, self.neighbor_format),
            capacity_multiplier=capacity_multiplier,
        )
