"""The one trajectory type of the package and its one reader, shared by ``md`` (which writes what a
:class:`Trajectory` holds) and ``analysis`` (which reads it). Importable without jax.

>>> from superionic.trajectory import read_trajectory
>>> traj = read_trajectory("tests/data/li3n_vac_1200K.h5md")      # SevenNet-0 MD of Li3N with a Li vacancy
>>> traj.positions_A.shape, round(traj.frame_interval_ps, 6), traj.temperature_K
((251, 31, 3), 0.02, 1200.0)
>>> sorted(traj.observables)[:3], traj.parameters["ensemble"]
(['conserved_energy', 'kinetic_energy', 'potential_energy'], 'nvt_langevin')

Units are in every field name: Å, ps, e, K, amu.
"""

from superionic.trajectory._read import FORMATS, TrajectoryError, read_trajectory
from superionic.trajectory._trajectory import Trajectory
from superionic.trajectory._unwrap import unwrap_positions

__all__ = ["FORMATS", "Trajectory", "TrajectoryError", "read_trajectory", "unwrap_positions"]
