"""E(3)-equivariant NequIP-style potentials in JAX: models, checkpoints, ASE and JAX-MD bindings.

>>> from ase.build import bulk
>>> from superionic.potentials import load, SuperionicCalculator
>>> potential = load("default")                    # or "sevennet-0" (imported from sevenn on first use), a path
>>> potential.cutoff_A, potential.dtype
(4.5, dtype('float32'))
>>> atoms = bulk("OLi2", "fluorite", a=4.61, cubic=True)
>>> atoms.calc = SuperionicCalculator(potential)
>>> atoms.get_forces().shape, atoms.get_stress().shape
((12, 3), (6,))
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
