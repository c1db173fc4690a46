"""``DiscoveryConfig``: everything that determines a discovery run, read from YAML and saved beside its output.

Every section is a frozen dataclass; unknown keys are errors (a typo must not vanish). Units in field names:
meV/atom for energies above the hull, eV/Å for forces, minutes for time limits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal


class ConfigError(ValueError):
    """A discovery configuration that cannot run (one line: what is wrong and what to do)."""


@dataclass(frozen=True)
class GeneratorConfig:
    """Candidate generators (GNoME: ionic substitution with Hautier et al.'s probabilities, SAPS, AIRSS).

    Attributes:
        substitution: ionic substitution of whole species with pymatgen's ``SubstitutionPredictor``.
        substitution_threshold: probability threshold of the substitution predictor (GNoME: 0.001).
        saps: symmetry-aware partial substitution: 1..all sites of one Wyckoff orbit of the conventional cell.
        saps_max_per_orbit: at most this many site subsets per (orbit, replacement, count) before deduplication.
        random_structures: pyxtal random symmetric structures for the compositions in play.
        random_per_composition: how many per composition and round.
        random_max_atoms: largest cell pyxtal may build (atoms).
        max_candidates_per_round: the generated set is cut to this many (highest substitution probability first).
    """

    substitution: bool = True
    substitution_threshold: float = 0.001
    saps: bool = True
    saps_max_per_orbit: int = 2
    random_structures: bool = True
    random_per_composition: int = 2
    random_max_atoms: int = 24
    max_candidates_per_round: int = 60


@dataclass(frozen=True)
class ScreeningConfig:
    """Student relaxation and the hull filter.

    Attributes:
        student: the fast potential that relaxes every candidate (registered name or checkpoint).
        committee_size: members of the committee (1 = no uncertainty until the first fine-tune).
        relax_fmax_eV_per_A / relax_max_steps: batched FIRE settings of the student relaxation.
        e_above_hull_max_meV: candidates whose (student e_above_hull - uncertainty_weight * spread) is
            above this are not sent to the oracle (GNoME: 50 meV/atom).
        uncertainty_weight: how many committee standard deviations a candidate gets as benefit of the doubt.
        oracle_per_round: at most this many candidates go to the oracle per round (budget).
    """

    student: str = "default"
    committee_size: int = 2
    relax_fmax_eV_per_A: float = 0.05
    relax_max_steps: int = 300
    e_above_hull_max_meV: float = 50.0
    uncertainty_weight: float = 1.0
    oracle_per_round: int = 8


@dataclass(frozen=True)
class OracleConfig:
    """The oracle that confirms candidates: a superionic potential (batched JAX relaxation) or an ASE calculator.

    Attributes:
        kind: ``potential`` (``name`` is a registered potential, e.g. ``sevennet-0``), ``cp2k`` (CP2K PBE via
            ASE's ``cp2k_shell`` driver), or ``ase`` (``calculator`` is ``module:Class`` and ``parameters`` its
            keyword arguments, e.g. ``ase.calculators.vasp:Vasp``).
        relax: relax with the oracle (True) or a single point on the student-relaxed structure (False).
        relax_fmax_eV_per_A / relax_max_steps: oracle relaxation settings.
        chunk_size: candidates per oracle task (the unit of work that Dask schedules and that a restart
            never repeats once finished).
        reference_prototypes_per_composition: lowest-energy (student) prototypes of each reference
            composition that the oracle recomputes.
    """

    kind: Literal["potential", "cp2k", "ase"] = "potential"
    name: str = "sevennet-0"
    calculator: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    relax: bool = True
    relax_fmax_eV_per_A: float = 0.05
    relax_max_steps: int = 200
    chunk_size: int = 4
    reference_prototypes_per_composition: int = 2


@dataclass(frozen=True)
class LearningConfig:
    """Fine-tuning of the student committee on oracle results after each round.

    Attributes:
        enabled: fine-tune between rounds.
        epochs: epochs per round (resumable; each member differs by its seed and a bootstrap of the data).
        learning_rate: peak learning rate of the fine-tune.
        batch_size: structures per batch.
    """

    enabled: bool = True
    epochs: int = 10
    learning_rate: float = 1e-3
    batch_size: int = 8


@dataclass(frozen=True)
class HandoffConfig:
    """Transport hand-off: stable Li candidates go to ``conductivity estimate`` (its Python API).

    Attributes:
        enabled: run the hand-off after the last round.
        top: how many candidates (lowest oracle e_above_hull first).
        e_above_hull_max_meV: only candidates at most this far above the oracle hull.
        species: the mobile ion.
        preset: ``conductivity estimate`` preset.
        potential: potential for the MD (None: the estimate workflow's own default).
        time_limit_minutes: each estimate runs in a subprocess that is stopped after this long (None: no
            limit); a stopped one is reported as such, never as a number.
        conductor_threshold_mS_per_cm: σ(300 K) above which a candidate is called a conductor in the table.
    """

    enabled: bool = True
    top: int = 2
    e_above_hull_max_meV: float = 25.0
    species: str = "Li"
    preset: Literal["quick", "standard", "paper"] = "quick"
    potential: str | None = None
    time_limit_minutes: float | None = 60.0
    conductor_threshold_mS_per_cm: float = 0.1


@dataclass(frozen=True)
class ComputeConfig:
    """Where the embarrassingly parallel work runs (Dask).

    Attributes:
        scheduler: ``synchronous`` (in-process, default), ``local`` (a ``LocalCluster`` of ``workers``
            processes), an address ``tcp://host:8786`` of a running scheduler, or ``slurm`` (dask-jobqueue;
            ``jobqueue`` holds the ``SLURMCluster`` keyword arguments).
        workers: workers of a local or SLURM cluster.
        threads_per_worker: threads per local worker.
    """

    scheduler: str = "synchronous"
    workers: int = 2
    threads_per_worker: int = 1
    jobqueue: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DiscoveryConfig:
    """A discovery run.

    Attributes:
        seeds: structure files of known materials: parents of round 1 and reference phases of the hull.
        elements: the chemical space: generators only propose compounds of these elements.
        exclude_formulas: reduced formulas that may not be seeds or references (e.g. a rediscovery test
            removes Li3YCl6 and every Y-Li-Cl ternary with ``exclude_systems``).
        exclude_systems: chemical systems (``Cl-Li-Y``) whose compounds may not be seeds or references.
        reference_entries: a JSON file of pymatgen ``ComputedStructureEntry`` (e.g. Materials Project) to use
            as the reference hull instead of the prototypes (they are recomputed with the oracle).
        reference_max_atoms: AFLOW prototypes of the elements and binaries with at most this many atoms.
        rounds: generate -> screen -> oracle -> learn cycles.
        database: ASE database: a file name (SQLite, relative to ``out_dir``) or a ``postgresql://`` URL.
        out_dir: run folder (models, reports, transport results).
        seed: random seed of every generator and of training.
    """

    seeds: tuple[str, ...]
    elements: tuple[str, ...]
    exclude_formulas: tuple[str, ...] = ()
    exclude_systems: tuple[str, ...] = ()
    reference_entries: str | None = None
    reference_max_atoms: int = 16
    rounds: int = 2
    database: str = "discovery.db"
    out_dir: str = "discovery_run"
    seed: int = 0
    generators: GeneratorConfig = field(default_factory=GeneratorConfig)
    screening: ScreeningConfig = field(default_factory=ScreeningConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    learning: LearningConfig = field(default_factory=LearningConfig)
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    SECTIONS: ClassVar[dict[str, type]] = {
        "generators": GeneratorConfig,
        "screening": ScreeningConfig,
        "oracle": OracleConfig,
        "learning": LearningConfig,
        "handoff": HandoffConfig,
        "compute": ComputeConfig,
    }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Path | None = None) -> DiscoveryConfig:
        """From a plain mapping (as read from YAML); relative paths are taken relative to ``base``."""
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; known: {sorted(known)}")
        for key in ("seeds", "elements"):
            if not data.get(key):
                raise ConfigError(f"config needs '{key}' (a list)")
        sections = {}
        for name, section_cls in cls.SECTIONS.items():
            values = dict(data.pop(name, None) or {})
            fields = {f.name for f in dataclasses.fields(section_cls)}
            bad = sorted(set(values) - fields)
            if bad:
                raise ConfigError(f"unknown keys {bad} in '{name}'; known: {sorted(fields)}")
            sections[name] = section_cls(**values)

        def resolve(path: str) -> str:
            if base is None or "://" in path or Path(path).is_absolute():
                return str(path)
            return str((base / path).resolve())

        data["seeds"] = tuple(resolve(s) for s in data["seeds"])
        data["elements"] = tuple(data["elements"])
        data["exclude_formulas"] = tuple(data.get("exclude_formulas", ()))
        data["exclude_systems"] = tuple(data.get("exclude_systems", ()))
        if data.get("reference_entries"):
            data["reference_entries"] = resolve(data["reference_entries"])
        if "out_dir" in data:
            data["out_dir"] = resolve(data["out_dir"])
        config = cls(**data, **sections)
        config.validate()
        return config

    @classmethod
    def read(cls, path: str | Path) -> DiscoveryConfig:
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no discovery config at {path}")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"{path.name} is not valid YAML: {str(err).splitlines()[0]}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{path.name} must hold a mapping of config keys")
        return cls.from_dict(data, base=path.parent.resolve())

    def validate(self) -> None:
        from pymatgen.core import Element

        for symbol in self.elements:
            if not Element.is_valid_symbol(symbol):
                raise ConfigError(f"'{symbol}' in elements is not a chemical element")
        for seed in self.seeds:
            if not Path(seed).is_file():
                raise ConfigError(f"seed structure not found: {seed}")
        from superionic.discovery.hull import excluded

        for seed in self.seeds:
            formula = _seed_formula(seed)
            if excluded(formula, self.exclude_formulas, self.exclude_systems):
                raise ConfigError(
                    f"seed {Path(seed).name} ({formula}) is excluded by exclude_formulas/exclude_systems: "
                    "remove it from seeds"
                )
        if self.reference_entries and not Path(self.reference_entries).is_file():
            raise ConfigError(f"reference_entries file not found: {self.reference_entries}")
        if self.rounds < 1:
            raise ConfigError(f"rounds must be >= 1, got {self.rounds}")
        if not 0 < self.generators.substitution_threshold < 1:
            raise ConfigError("generators.substitution_threshold must lie in (0, 1)")
        if self.screening.committee_size < 1 or self.screening.oracle_per_round < 1:
            raise ConfigError("screening.committee_size and screening.oracle_per_round must be >= 1")
        if self.oracle.kind not in ("potential", "cp2k", "ase"):
            raise ConfigError(f"oracle.kind must be potential, cp2k or ase, got {self.oracle.kind!r}")
        if self.oracle.kind == "ase" and not self.oracle.calculator:
            raise ConfigError("oracle.kind 'ase' needs oracle.calculator, e.g. ase.calculators.vasp:Vasp")
        if self.oracle.chunk_size < 1:
            raise ConfigError("oracle.chunk_size must be >= 1")
        if self.handoff.time_limit_minutes is not None and self.handoff.time_limit_minutes <= 0:
            raise ConfigError("handoff.time_limit_minutes must be positive (or null for no limit)")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in self.SECTIONS:
            section = out[name]
            for key, value in section.items():
                if isinstance(value, Mapping):
                    section[key] = dict(value)
        return json.loads(json.dumps(out, default=list))

    def fingerprint(self) -> str:
        """SHA-256 of what determines the database contents (not compute, hand-off, paths or the database)."""
        data = self.to_dict()
        for key in ("compute", "handoff", "out_dir", "database"):
            data.pop(key)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _seed_formula(path: str) -> str:
    from superionic.structures import StructureError, read_structure

    try:
        return read_structure(path).composition.reduced_formula
    except StructureError as err:
        raise ConfigError(str(err)) from err
