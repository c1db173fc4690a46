"""``superionic.md`` — the JAX-MD engine: structure → supercell → NVE/NVT/NPT (batched temperatures and replicas in
one compiled program, neighbour-list recovery, restart) → H5MD trajectories that MDAnalysis reads.

>>> from superionic import md, potentials
>>> potential = potentials.load("default")                  # or "sevennet-0", or a checkpoint path
>>> system = md.prepare_system("examples/Li3N.cif", potential.cutoff_A, target_atoms=0)   # widths >= 2 x cutoff
>>> system.n_atoms, system.supercell
(108, (3, 3, 3))
>>> config = md.MDConfig(temperatures_K=(600.0, 800.0), production_ps=0.2, equilibration_ps=0.0, progress=False)
>>> result = md.run(system, potential, config)              # add an out_dir to write H5MD files and checkpoints
>>> [m.n_frames for m in result.members], result.trajectories[1].temperature_K
([5, 5], 800.0)

Units at this interface: Å, fs/ps, K, GPa, eV, amu, e (:mod:`superionic.units`). Trajectories are
:class:`superionic.trajectory.Trajectory` objects; the H5MD layout is documented in ``docs/h5md_layout.md``.
"""

from superionic.md.classical import LennardJones
from superionic.md.config import ENSEMBLES, MDConfig
from superionic.md.driver import MDPotential, run
from superionic.md.result import MDInstabilityError, MDResult, MemberSummary
from superionic.md.system import System, prepare_system

__all__ = [
    "ENSEMBLES",
    "LennardJones",
    "MDConfig",
    "MDInstabilityError",
    "MDPotential",
    "MDResult",
    "MemberSummary",
    "System",
    "prepare_system",
    "run",
]
