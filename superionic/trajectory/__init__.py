"""The one trajectory type of the package and its one reader, shared by ``md`` (which writes what a
:class:`Trajectory` holds) and ``analysis`` (which reads it). Importable without jax.

>>> from superionic.trajectory import read_trajectory
>>> traj = read_trajectory("tests/data/li3n_vac_1200K.h5md")      # doctest: +SKIP
>>> traj.positions_A.shape, traj.frame_interval_ps, traj.temperature_K   # doctest: +SKIP
((251, 31, 3), 0.02, 1200.0)

Units are in every field name: Å, ps, e, K, amu.
"""

from superionic.trajectory._read import FORMATS, TrajectoryError, read_trajectory
from superionic.trajectory._trajectory import Trajectory
from superionic.trajectory._unwrap import unwrap_positions

__all__ = ["FORMATS", "Trajectory", "TrajectoryError", "read_trajectory", "unwrap_positions"]
