"""superionic: learned-potential molecular dynamics in JAX and ionic transport of solid electrolytes.

Subpackages (data flows one way: structures -> potentials -> md -> analysis; estimate, training, discovery and
cli drive them; trajectory, units and records are shared by all and import no jax):

- :mod:`superionic.structures` — reading and checking structures, formal charges, supercells, ordering, relaxation.
- :mod:`superionic.potentials` — NequIP-style E(3)-equivariant potentials, checkpoints, ASE/JAX-MD bindings.
- :mod:`superionic.md` — the JAX-MD engine: H5MD trajectories, or trajectories in memory.
- :mod:`superionic.trajectory` — the one trajectory type and its reader.
- :mod:`superionic.analysis` — MSD, diffusivity, conductivity, Arrhenius fits with uncertainties; the mechanism.
- :mod:`superionic.estimate` — the ``conductivity estimate`` / ``analyze`` workflows (settings in ``settings``).
- :mod:`superionic.training`, :mod:`superionic.discovery` — potentials from labelled data; candidate screening.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("superionic")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
