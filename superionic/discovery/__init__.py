"""The discovery loop: generate solid-electrolyte candidates, relax and screen them with a fast student on the
convex hull, confirm the promising ones with an oracle (SevenNet-0 or DFT), learn from the oracle, and hand the
stable Li conductors to conductivity screening.

>>> from superionic.discovery import DiscoveryConfig, run_discovery          # doctest: +SKIP
>>> report = run_discovery(DiscoveryConfig.read("examples/discovery/licl_mcl3.yaml"))  # doctest: +SKIP

See docs/discovery.md for the configuration, the database and what each stage does.
"""

from superionic.discovery.config import (
    ComputeConfig,
    ConfigError,
    DiscoveryConfig,
    GeneratorConfig,
    HandoffConfig,
    LearningConfig,
    OracleConfig,
    ScreeningConfig,
)
from superionic.discovery.generators import (
    Candidate,
    deduplicate,
    ionic_substitutions,
    random_structures,
    saps,
)
from superionic.discovery.hull import (
    binary_prototypes,
    e_above_hull_meV,
    element_prototypes,
    entries_from_json,
    ionic_binaries,
    phase_diagram,
)
from superionic.discovery.loop import Loop, Progress, run_discovery
from superionic.discovery.oracle import OracleUnavailable, cp2k_available, cp2k_calculator
from superionic.discovery.store import Store

__all__ = [
    "Candidate",
    "ComputeConfig",
    "ConfigError",
    "DiscoveryConfig",
    "GeneratorConfig",
    "HandoffConfig",
    "LearningConfig",
    "Loop",
    "OracleConfig",
    "OracleUnavailable",
    "Progress",
    "ScreeningConfig",
    "Store",
    "binary_prototypes",
    "cp2k_available",
    "cp2k_calculator",
    "deduplicate",
    "e_above_hull_meV",
    "element_prototypes",
    "entries_from_json",
    "ionic_binaries",
    "ionic_substitutions",
    "phase_diagram",
    "random_structures",
    "run_discovery",
    "saps",
]
