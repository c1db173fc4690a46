"""``superionic.md`` — the JAX-MD engine: structure → supercell → NVE/NVT/NPT (batched temperatures and replicas in
one compiled program, neighbour-list recovery, restart) → H5MD trajectories that MDAnalysis reads.

Typical use::

    from superionic import md
    system = md.prepare_system("examples/Li3N.cif", cutoff_A=pot.cutoff, skin_A=1.0, target_atoms=200)
    config = md.MDConfig(temperatures_K=(600.0, 800.0, 1000.0), production_ps=50.0)
    result = md.run(system, pot, config, "runs/Li3N")
    print(result.summary())

Units at this interface: Å, fs/ps, K, GPa, eV, amu, e (see :mod:`superionic.md.units`). The H5MD layout is
documented in ``docs/h5md_layout.md``.
"""

from superionic.md.classical import LennardJones
from superionic.md.config import ENSEMBLES, MDConfig
from superionic.md.driver import MDInstabilityError, MDResult, MemberSummary, run
from superionic.md.system import System, prepare_system

__all__ = [
    "ENSEMBLES",
    "LennardJones",
    "MDConfig",
    "MDInstabilityError",
    "MDResult",
    "MemberSummary",
    "System",
    "prepare_system",
    "run",
]
