"""``Potential``: a NequIP config + parameters + provenance, with energy, forces and stress by autodiff.

Energies are in eV, forces in eV/Å, stress in eV/Å^3 with ASE's sign: stress = (1/V) dE/dε, so a compressed
crystal (which pushes outwards) has negative stress and positive pressure -trace(stress)/3.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import ase
import jax
import jax.numpy as jnp
import numpy as np
from ase.data import atomic_numbers as ASE_ATOMIC_NUMBERS
from ase.data import chemical_symbols

from superionic.potentials.config import NequIPConfig
from superionic.potentials.graph import GraphBatch, Structure, build_graph_batch
from superionic.potentials.jaxmd import neighbor_energy_fns
from superionic.potentials.nequip import Params, atomic_energies

# Accuracy a distilled potential must reach against its teacher on held-out compositions before its numbers are
# trusted (issue 7): force MAE in meV/Å, read from the checkpoint's provenance.
FORCE_MAE_TARGET_meV_per_A = 30.0

# NequIPConfig fields added after weights were first recorded, with the value that reproduces the older model.
# At that value they stay out of the fingerprint: adding pair_repulsion changed every hash (SevenNet-0's
# f1df9327... became 818e06d8... with the same weights) and made old and new reports name different teachers.
CONFIG_FIELDS_ADDED_LATER: dict[str, Any] = {"pair_repulsion": None}


class UnknownElementError(ValueError):
    """The structure contains an element the potential was not trained on."""


def structure_energies(
    params: Params, config: NequIPConfig, batch: GraphBatch, strain: jax.Array
) -> jax.Array:
    """Total energy (eV) of each structure in ``batch`` under a homogeneous strain ``strain`` [G, 3, 3]."""
    deformation = jnp.eye(3, dtype=strain.dtype) + 0.5 * (strain + jnp.swapaxes(strain, 1, 2))
    graph_of_node = jnp.minimum(batch.node_graph, batch.num_graphs - 1)  # padding nodes: any real cell
    positions = jnp.einsum("ni,nij->nj", batch.positions, deformation[graph_of_node])
    cells = batch.cells @ deformation
    edge_cells = cells[graph_of_node[batch.receivers]]  # [E, 3, 3]
    vectors = (
        positions[batch.senders]
        - positions[batch.receivers]
        + jnp.einsum("ei,eij->ej", batch.cell_shifts, edge_cells)
    )
    energies = atomic_energies(
        params,
        config,
        batch.species,
        vectors,
        batch.senders,
        batch.receivers,
        batch.edge_mask,
        batch.max_neighbors,
    )
    energies = jnp.where(batch.node_mask, energies, 0.0)
    return jax.ops.segment_sum(energies, batch.node_graph, num_segments=batch.num_graphs + 1)[:-1]


def energy_forces_stress(params: Params, config: NequIPConfig, batch: GraphBatch) -> dict[str, jax.Array]:
    """Energies [G] (eV), forces [N, 3] (eV/Å) and stress [G, 3, 3] (eV/Å^3, (1/V) dE/dε) of a batch."""
    strain = jnp.zeros((batch.num_graphs, 3, 3), batch.positions.dtype)

    def total(positions, strain):
        energies = structure_energies(params, config, _replace_positions(batch, positions), strain)
        return jnp.sum(energies), energies

    (grad_positions, grad_strain), energies = jax.grad(total, argnums=(0, 1), has_aux=True)(
        batch.positions, strain
    )
    volume = jnp.abs(jnp.linalg.det(batch.cells))
    return {
        "energy": energies,
        "forces": -grad_positions,
        "stress": grad_strain / volume[:, None, None],
    }


def _replace_positions(batch: GraphBatch, positions: jax.Array) -> GraphBatch:
    return dataclasses.replace(batch, positions=positions)


def _jax_dtype(dtype: str | np.dtype | type) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            "float64 needs JAX's x64 mode: call jax.config.update('jax_enable_x64', True) before using "
            "superionic (or set JAX_ENABLE_X64=1)"
        )
    return dtype


@dataclass(frozen=True)
class Potential:
    """A NequIP-style potential ready to evaluate.

    Attributes:
        config: the architecture.
        params: the parameter pytree (see :func:`superionic.potentials.nequip.init_params`).
        name: a short name ("sevennet-0", "default", or a file stem).
        provenance: where the weights come from (source, licence, training data, metrics, hashes).
    """

    config: NequIPConfig
    params: Params
    name: str = "unnamed"
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cutoff_A(self) -> float:
        return self.config.cutoff_A

    @property
    def species(self) -> tuple[str, ...]:
        return self.config.species

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.params["embedding"].dtype)

    def astype(self, dtype: str | np.dtype | type) -> Potential:
        """The same potential with parameters cast to float32 or float64."""
        dtype = _jax_dtype(dtype)
        params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), self.params)
        return Potential(self.config, params, self.name, self.provenance)

    @cached_property
    def _species_index(self) -> dict[int, int]:
        return {ASE_ATOMIC_NUMBERS[s]: i for i, s in enumerate(self.species)}

    def species_indices(self, atomic_numbers: Sequence[int] | np.ndarray) -> np.ndarray:
        """Map atomic numbers to the model's type indices; unknown elements raise :class:`UnknownElementError`."""
        numbers = np.asarray(atomic_numbers, dtype=int)
        missing = sorted({int(z) for z in numbers if int(z) not in self._species_index})
        if missing:
            names = ", ".join(chemical_symbols[z] for z in missing)
            raise UnknownElementError(
                f"potential '{self.name}' does not cover element(s) {names}; "
                f"it knows {len(self.species)}: {' '.join(self.species)}"
            )
        return np.array([self._species_index[int(z)] for z in numbers], dtype=np.int32)

    def structure(self, atoms: ase.Atoms) -> Structure:
        return Structure(
            positions=np.asarray(atoms.get_positions(), np.float64),
            cell=np.asarray(atoms.get_cell()[:], np.float64),
            pbc=tuple(bool(p) for p in atoms.get_pbc()),
            species=self.species_indices(atoms.get_atomic_numbers()),
        )

    def graph_batch(self, atoms_list: Sequence[ase.Atoms], **padding) -> GraphBatch:
        return build_graph_batch(
            [self.structure(a) for a in atoms_list], self.cutoff_A, dtype=self.dtype, **padding
        )

    @cached_property
    def _evaluate_jit(self):
        return jax.jit(partial(energy_forces_stress, config=self.config))

    def evaluate(self, atoms_list: ase.Atoms | Sequence[ase.Atoms]) -> list[dict[str, np.ndarray]]:
        """Energy (eV), forces (eV/Å) and stress (3x3, eV/Å^3) of each structure, as float64 numpy arrays.

        Structures are evaluated together as one padded batch (one compiled program per padded size).
        """
        single = isinstance(atoms_list, ase.Atoms)
        atoms_list = [atoms_list] if single else list(atoms_list)
        batch = self.graph_batch(atoms_list)
        out = self._evaluate_jit(self.params, batch=batch)
        energies = np.asarray(out["energy"], np.float64)
        forces = np.asarray(out["forces"], np.float64)
        stress = np.asarray(out["stress"], np.float64)
        results, start = [], 0
        for g, atoms in enumerate(atoms_list):
            n = len(atoms)
            results.append({"energy": energies[g], "forces": forces[start : start + n], "stress": stress[g]})
            start += n
        return results

    def jax_md_neighbor_energy(self, box, atomic_numbers, **options):
        """``(neighbor_fn, energy_fn)`` for jax-md; see :func:`superionic.potentials.jaxmd.neighbor_energy_fns`."""
        return neighbor_energy_fns(self, box, atomic_numbers, **options)

    def accuracy_warning(self) -> str | None:
        """A warning when the potential's own recorded held-out metrics miss the accuracy target, else None."""
        metrics = dict(self.provenance).get("heldout_test_metrics") or {}
        mae = metrics.get("forces_mae_meV_per_A")
        if mae is None or mae <= FORCE_MAE_TARGET_meV_per_A:
            return None
        return (
            f"potential '{self.name}' misses its accuracy target (held-out force MAE {mae:.0f} meV/Å vs its "
            f"teacher, target {FORCE_MAE_TARGET_meV_per_A:.0f}): treat these numbers as a smoke test and use "
            "--potential sevennet-0 for results"
        )

    def record(self) -> dict[str, Any]:
        """What a report records of the potential: name, weights hash, cutoff, provenance."""
        return {
            "name": self.name,
            "sha256": self.fingerprint(),
            "cutoff_A": self.cutoff_A,
            "provenance": dict(self.provenance),
        }

    def fingerprint(self) -> str:
        """SHA-256 of the configuration and parameters (float32 bytes), identifying the weights."""
        # sort_keys: the config holds dicts whose order may differ between processes (the hash must not)
        config = self.config.to_dict()
        for name, default in CONFIG_FIELDS_ADDED_LATER.items():
            if config.get(name) == default:  # the same weights keep the hash they were recorded with
                del config[name]
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
        for leaf in jax.tree_util.tree_leaves(self.params):
            digest.update(np.asarray(leaf, np.float32).tobytes())
        return digest.hexdigest()
