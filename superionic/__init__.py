"""superionic: learned-potential molecular dynamics in JAX and ionic transport of solid electrolytes.

Subpackages (data flows one way: potentials -> md -> analysis; discovery and cli drive them):

- :mod:`superionic.potentials` — NequIP-style E(3)-equivariant potentials, checkpoints, ASE/JAX-MD bindings.
- :mod:`superionic.md` — the JAX-MD engine writing H5MD trajectories.
- :mod:`superionic.analysis` — MSD, diffusivity, conductivity, Arrhenius fits with uncertainties.
- :mod:`superionic.discovery` — candidate generation and screening.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("superionic")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
