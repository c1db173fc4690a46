"""E(3)-equivariant NequIP-style potentials in JAX: models, checkpoints, ASE and JAX-MD bindings.

>>> from superionic.potentials import load, SuperionicCalculator          # doctest: +SKIP
>>> potential = load("sevennet-0", dtype="float32")                       # doctest: +SKIP
>>> atoms.calc = SuperionicCalculator(potential)                          # doctest: +SKIP
"""

from superionic.potentials.calculator import SuperionicCalculator
from superionic.potentials.checkpoint import CheckpointError, load_file, read_metadata, save
from superionic.potentials.config import NequIPConfig
from superionic.potentials.graph import GraphBatch, Structure, build_graph_batch, neighbor_pairs
from superionic.potentials.jaxmd import neighbor_energy_fns
from superionic.potentials.nequip import atomic_energies, init_params
from superionic.potentials.potential import (
    Potential,
    UnknownElementError,
    energy_forces_stress,
    structure_energies,
)
from superionic.potentials.registry import REGISTRY, available, cache_dir, import_potential, load

__all__ = [
    "REGISTRY",
    "CheckpointError",
    "GraphBatch",
    "NequIPConfig",
    "Potential",
    "Structure",
    "SuperionicCalculator",
    "UnknownElementError",
    "atomic_energies",
    "available",
    "build_graph_batch",
    "cache_dir",
    "energy_forces_stress",
    "import_potential",
    "init_params",
    "load",
    "load_file",
    "neighbor_energy_fns",
    "neighbor_pairs",
    "read_metadata",
    "save",
    "structure_energies",
]
