"""The conductivity workflow: structure file → ordering → supercell → relaxation → batched MD → analysis.

``estimate_conductivity(settings)`` is what ``conductivity estimate`` runs; it returns the report dictionary
(also written as ``report.json`` in ``settings.out_dir``, last and atomically, so a report on disk is always a
finished one). Units: K, ps, fs, Å, eV, e, cm²/s, mS/cm.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from superionic import __version__

PRESETS: dict[str, dict[str, Any]] = {
    # About 5 minutes for a 100–200-atom cell with the default potential on a 2-core CPU: a first look only
    # (measured: 2 + 10 ps took 7 min for 192-atom Li3N, so 1 + 7 ps).
    "quick": {
        "temperatures_K": (900.0, 1100.0, 1300.0),
        "production_ps": 7.0,
        "equilibration_ps": 1.0,
        "timestep_fs": 2.0,
        "target_atoms": 100,
        "relax_steps": 30,
    },
    "standard": {
        "temperatures_K": (700.0, 900.0, 1100.0, 1300.0),
        "production_ps": 50.0,
        "equilibration_ps": 5.0,
        "timestep_fs": 2.0,
        "target_atoms": 150,
        "relax_steps": 200,
    },
    # GNoME: 1000 K, 50 ps at 2 fs, NVT Nosé–Hoover, first 10 ps discarded.
    "paper": {
        "temperatures_K": (1000.0,),
        "production_ps": 40.0,
        "equilibration_ps": 10.0,
        "timestep_fs": 2.0,
        "target_atoms": 150,
        "relax_steps": 200,
    },
}

ENSEMBLE_NAMES = {"nvt": "nvt_nose_hoover", "npt": "npt_nose_hoover"}

# Accuracy a distilled potential must reach against its teacher on held-out compositions before its numbers
# are trusted (issue 7): force MAE in meV/Å, read from the checkpoint's provenance.
FORCE_MAE_TARGET_meV_per_A = 30.0


def accuracy_warning(potential) -> str | None:
    """A warning when the potential's own held-out metrics miss the accuracy target, else None."""
    metrics = dict(potential.provenance).get("heldout_test_metrics") or {}
    mae = metrics.get("forces_mae_meV_per_A")
    if mae is None or mae <= FORCE_MAE_TARGET_meV_per_A:
        return None
    return (
        f"potential '{potential.name}' misses its accuracy target (held-out force MAE {mae:.0f} meV/Å vs its "
        f"teacher, target {FORCE_MAE_TARGET_meV_per_A:.0f}): treat these numbers as a smoke test and use "
        "--potential sevennet-0 for results"
    )


class EstimateError(RuntimeError):
    """A user-facing failure of the workflow (bad input, unusable structure, failed MD)."""


@dataclass(frozen=True)
class EstimateSettings:
    """Everything that determines a conductivity estimate (saved in the report, so a run can be repeated)."""

    structure: str
    out_dir: str
    potential: str = "default"
    species: str | None = None  # default: Li if present
    charge_e: float | None = None  # default: oxidation-state guess
    preset: Literal["quick", "standard", "paper"] = "quick"
    temperatures_K: tuple[float, ...] = PRESETS["quick"]["temperatures_K"]
    production_ps: float = PRESETS["quick"]["production_ps"]
    equilibration_ps: float = PRESETS["quick"]["equilibration_ps"]
    timestep_fs: float = PRESETS["quick"]["timestep_fs"]
    target_atoms: int = PRESETS["quick"]["target_atoms"]
    supercell: tuple[int, int, int] | None = None
    ensemble: Literal["nvt", "npt"] = "nvt"
    replicas: int = 1
    relax: bool = True
    relax_steps: int = PRESETS["quick"]["relax_steps"]
    relax_fmax_eV_per_A: float = 0.1
    n_orderings: int = 6
    seed: int = 0
    skin_A: float = 1.0
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> EstimateSettings:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        values = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
        return cls(preset=preset, **values)

    def validate(self) -> None:
        if not self.temperatures_K or any(t <= 0 for t in self.temperatures_K):
            raise EstimateError(f"temperatures must be positive kelvin values, got {self.temperatures_K}")
        for name in ("production_ps", "timestep_fs"):
            if getattr(self, name) <= 0:
                raise EstimateError(f"--{name.split('_')[0]} must be positive, got {getattr(self, name)}")
        if self.equilibration_ps < 0:
            raise EstimateError(f"--equilibration must be >= 0, got {self.equilibration_ps}")
        if self.timestep_fs > 5.0:
            raise EstimateError(f"--timestep {self.timestep_fs} fs is too long for Li dynamics; use <= 5 fs")
        if self.ensemble not in ENSEMBLE_NAMES:
            raise EstimateError(f"--ensemble must be nvt or npt, got {self.ensemble!r}")
        if self.replicas < 1:
            raise EstimateError(f"--replicas must be >= 1, got {self.replicas}")


# ------------------------------------------------------------------------------------------------ structure

STRUCTURE_FORMATS = ".cif, POSCAR/CONTCAR (.vasp), .extxyz/.xyz, .json (pymatgen or ASE), .traj"


def read_structure(path: str | os.PathLike):
    """A pymatgen ``Structure`` (possibly disordered) from a structure file; one-line errors for bad files."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    path = Path(path)
    if not path.is_file():
        raise EstimateError(f"structure file not found: {path}")
    if path.stat().st_size == 0:
        raise EstimateError(f"structure file is empty: {path}")
    name, suffix = path.name.lower(), path.suffix.lower()
    known = suffix in {".cif", ".vasp", ".poscar", ".json", ".extxyz", ".xyz", ".traj"} or any(
        key in name for key in ("poscar", "contcar")
    )
    if not known:
        raise EstimateError(f"unknown structure format {path.name!r}; use one of: {STRUCTURE_FORMATS}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about CIF rounding; not the user's concern here
        try:
            if suffix in {".extxyz", ".xyz", ".traj"}:
                from ase.io import read

                structure = AseAtomsAdaptor.get_structure(read(path))
            elif suffix == ".json":
                structure = _structure_from_json(path)
            else:
                structure = Structure.from_file(path)
        except EstimateError:
            raise
        except Exception as err:
            raise EstimateError(
                f"cannot read {path.name}: {type(err).__name__}: {err}".splitlines()[0]
            ) from err
    if len(structure) == 0:
        raise EstimateError(f"{path.name} contains no atoms")
    if structure.volume < 1.0:
        raise EstimateError(f"{path.name} has no periodic cell (volume {structure.volume:.3g} Å^3)")
    return structure


def _structure_from_json(path: Path):
    from pymatgen.core import Structure

    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise EstimateError(f"{path.name} is not valid JSON: {err}") from err
    if isinstance(data, dict) and "lattice" in data and "sites" in data:
        return Structure.from_dict(data)
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(read(path, format="json"))


def mobile_species(structure, species: str | None) -> str:
    present = {el.symbol for el in structure.composition.elements}
    if species is None:
        if "Li" in present:
            return "Li"
        raise EstimateError(
            f"no Li in {structure.composition.reduced_formula}: name the mobile ion with --species "
            f"(one of {', '.join(sorted(present))})"
        )
    if species not in present:
        raise EstimateError(
            f"mobile species {species} is not in {structure.composition.reduced_formula} "
            f"(elements: {', '.join(sorted(present))})"
        )
    return species


def order_structure(structure, potential, settings: EstimateSettings, min_width_A: float):
    """An ordered supercell of a disordered structure: the lowest-energy of a few random orderings.

    Returns (ase.Atoms, info dict). The supercell is chosen before ordering so that fractional occupancies
    become whole atoms; orderings are ranked by the potential's single-point energy.
    """
    from superionic.md.system import choose_supercell
    from superionic.training.sampling import OrderingError
    from superionic.training.sampling import order_structure as random_ordering

    cell = np.asarray(structure.lattice.matrix)
    if settings.supercell is not None:
        reps = settings.supercell
    else:
        reps = choose_supercell(cell, len(structure), min_width_A, settings.target_atoms, 20000)
    big = structure * reps
    rng = np.random.default_rng(settings.seed)
    candidates = []
    for _ in range(settings.n_orderings):
        try:
            candidates.append(random_ordering(big, rng))
        except OrderingError as err:
            raise EstimateError(f"cannot order {structure.composition.reduced_formula}: {err}") from err
    energies = [
        float(r["energy"]) / len(a) for a, r in zip(candidates, potential.evaluate(candidates), strict=True)
    ]
    best = int(np.argmin(energies))
    info = {
        "disordered_input": True,
        "method": "random orderings of the occupancies on the supercell, ranked by potential energy",
        "supercell": list(reps),
        "n_candidates": len(candidates),
        "candidate_energies_eV_per_atom": energies,
        "chosen": best,
        "composition": candidates[best].get_chemical_formula(),
    }
    return candidates[best], info


def relax(atoms, potential, steps: int, fmax: float, progress: Callable[[str], None]):
    """Positions and cell relaxed with FIRE on a Fréchet cell filter (ASE). Returns (atoms, info)."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    from superionic.potentials import SuperionicCalculator

    atoms = atoms.copy()
    atoms.calc = SuperionicCalculator(potential)
    start_energy, start_volume = atoms.get_potential_energy(), atoms.get_volume()
    optimizer = FIRE(FrechetCellFilter(atoms), logfile=None)
    converged = optimizer.run(fmax=fmax, steps=steps)
    info = {
        "steps": int(optimizer.nsteps),
        "converged": bool(converged),
        "fmax_eV_per_A": fmax,
        "energy_change_eV_per_atom": (atoms.get_potential_energy() - start_energy) / len(atoms),
        "volume_change_percent": 100.0 * (atoms.get_volume() / start_volume - 1.0),
    }
    progress(f"relaxed in {optimizer.nsteps} steps ({'converged' if converged else 'not converged'})")
    atoms.calc = None
    return atoms, info


# ------------------------------------------------------------------------------------------------ workflow


def _atomic_write_json(path: Path, data: dict) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".partial", delete=False) as tmp:
        json.dump(data, tmp, indent=2, allow_nan=False)
    os.replace(tmp.name, path)


def load_potential(name: str, progress: Callable[[str], None]):
    """The potential by name or path; SevenNet-0 is imported on first use when sevenn is installed."""
    from superionic.potentials import load
    from superionic.potentials.registry import resolve

    try:
        return load(name)
    except FileNotFoundError:
        if os.sep in name or name.endswith(".npz"):
            raise
        entry = resolve(name)
        if entry.name == "default":
            progress("the default potential file is missing from this installation: using sevennet-0")
            return load_potential("sevennet-0", progress)
        from superionic.potentials.sevennet import SEVENNET_MODELS, TeacherMissingError, import_sevennet

        if entry.name not in SEVENNET_MODELS:
            raise
        try:
            progress(f"importing {entry.name} from the sevenn package (once)")
            import_sevennet(entry.name)
        except TeacherMissingError as err:
            raise EstimateError(
                f"potential {entry.name} is not imported and sevenn is missing: pip install 'superionic[teacher]' "
                f"then superionic potentials import {entry.name}"
            ) from err
        return load(entry.name)


def estimate_conductivity(
    settings: EstimateSettings, progress: Callable[[str], None] = print
) -> tuple[dict[str, Any], Any]:
    """Run the whole workflow; return (report dict, analysis TransportReport). Writes into settings.out_dir."""
    from superionic import analysis, md
    from superionic.potentials import UnknownElementError

    settings.validate()
    wall_start = time.perf_counter()
    out = Path(settings.out_dir)
    structure = read_structure(settings.structure)
    species = mobile_species(structure, settings.species)
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / "report.json"
    if report_path.exists():
        report_path.unlink()  # a stale report must not pass for this run's result
    potential = load_potential(settings.potential, progress)
    potential_warning = accuracy_warning(potential)
    if potential_warning:
        progress(f"warning: {potential_warning}")
    try:
        potential.species_indices([el.Z for el in structure.composition.elements])
    except UnknownElementError as err:
        raise EstimateError(str(err)) from err
    min_width = 2.0 * (potential.cutoff_A + settings.skin_A)

    if structure.is_ordered:
        from pymatgen.io.ase import AseAtomsAdaptor

        atoms, ordering = AseAtomsAdaptor.get_atoms(structure), {"disordered_input": False}
        supercell = settings.supercell
    else:
        progress(
            f"{structure.composition.reduced_formula} is disordered: ranking {settings.n_orderings} orderings"
        )
        atoms, ordering = order_structure(structure, potential, settings, min_width)
        supercell = (1, 1, 1)
    try:
        system = md.prepare_system(
            atoms,
            potential.cutoff_A,
            settings.skin_A,
            target_atoms=settings.target_atoms,
            supercell=supercell,
            charges_e=None if settings.charge_e is None else _charges_with(atoms, species, settings.charge_e),
        )
    except ValueError as err:
        raise EstimateError(f"cell too small or unusable: {err}") from err

    relaxation: dict[str, Any] = {"performed": False}
    if settings.relax and settings.relax_steps > 0:
        progress(
            f"relaxing {system.n_atoms} atoms (positions and cell, <= {settings.relax_steps} FIRE steps)"
        )
        relaxed, relaxation = relax(
            system.to_atoms(), potential, settings.relax_steps, settings.relax_fmax_eV_per_A, progress
        )
        relaxation["performed"] = True
        try:
            system = md.prepare_system(
                relaxed,
                potential.cutoff_A,
                settings.skin_A,
                supercell=(1, 1, 1),
                reduce_cell=False,
                charges_e=system.charges_e,
                name=system.name,
            )
        except ValueError as err:
            raise EstimateError(f"relaxation shrank the cell below the neighbour-list limit: {err}") from err

    # At least ~50 frames per run (50 fs apart for long runs) so the MSD has enough time origins.
    steps_between_frames = max(1, round(min(50.0, settings.production_ps * 1e3 / 50) / settings.timestep_fs))
    config = md.MDConfig(
        save_every_fs=steps_between_frames * settings.timestep_fs,
        ensemble=ENSEMBLE_NAMES[settings.ensemble],
        temperatures_K=tuple(float(t) for t in settings.temperatures_K),
        replicas=settings.replicas,
        timestep_fs=settings.timestep_fs,
        production_ps=settings.production_ps,
        equilibration_ps=settings.equilibration_ps,
        seed=settings.seed,
        skin_A=settings.skin_A,
        progress=settings.progress,
    )
    progress(
        f"MD: {system.n_atoms} atoms, {len(config.temperatures_K)} temperature(s) x {settings.replicas} replica(s), "
        f"{settings.equilibration_ps} + {settings.production_ps} ps at {settings.timestep_fs} fs"
    )
    try:
        result = md.run(system, potential, config, out / "trajectories", overwrite=True)
    except md.MDInstabilityError as err:
        raise EstimateError(f"MD blew up: {err}") from err

    transport = analysis.analyze(result.trajectories, species=species, charge=settings.charge_e)
    analysis.plot_msd(transport, out / "msd.png")
    if len(transport.results) >= 2:
        analysis.plot_arrhenius(transport, out / "arrhenius.png")

    report = {
        "schema": "superionic.conductivity.estimate/1",
        "superionic_version": __version__,
        "settings": dataclasses.asdict(settings),
        "structure": {
            "input": str(settings.structure),
            "formula": structure.composition.reduced_formula,
            "ordering": ordering,
            "md_cell_atoms": system.n_atoms,
            "md_supercell": list(system.supercell),
            "relaxation": relaxation,
        },
        "potential": {
            "name": potential.name,
            "sha256": potential.fingerprint(),
            "cutoff_A": potential.cutoff_A,
            "provenance": dict(potential.provenance),
        },
        "md": {
            "ensemble": config.ensemble,
            "wall_s": result.wall_s,
            "atom_steps_per_s": result.atom_steps_per_s,
            "ns_per_day": result.ns_per_day,
            "trajectories": [str(Path(p).relative_to(out)) for p in result.trajectories],
            "mean_temperature_K": [m.mean_temperature_K for m in result.members],
        },
        "transport": transport.to_dict(),
        "warnings": ([potential_warning] if potential_warning else [])
        + temperature_drift_warnings(result.members)
        + list(transport.warnings),
        "environment": _environment(),
        "wall_time_s": time.perf_counter() - wall_start,
    }
    _atomic_write_json(report_path, _json_safe(report))
    return report, transport


# The mean kinetic temperature of a thermostatted run of ~100 atoms over >= 1 ps sits within ~1 % of its target;
# a larger offset means the thermostat could not hold it (heating by a bad potential, too long a timestep).
TEMPERATURE_DRIFT_LIMIT = 0.05


def temperature_drift_warnings(members) -> list[str]:
    """Warnings for MD members whose mean temperature misses its target by more than 5 %."""
    warnings = []
    for m in members:
        offset = (m.mean_temperature_K - m.temperature_K) / m.temperature_K
        if abs(offset) > TEMPERATURE_DRIFT_LIMIT:
            warnings.append(
                f"{m.temperature_K:g} K replica {m.replica}: mean temperature {m.mean_temperature_K:.0f} K is "
                f"{offset:+.0%} off target; the thermostat did not hold it — try a shorter --timestep"
            )
    return warnings


def _charges_with(atoms, species: str, charge: float) -> dict[str, float]:
    """Per-element charges: the given one for the mobile species, guessed oxidation states for the rest."""
    from pymatgen.core import Composition

    composition = Composition(atoms.get_chemical_formula())
    guesses = composition.oxi_state_guesses(max_sites=-50)
    charges = {str(el): float(v) for el, v in (guesses[0].items() if guesses else [])}
    charges[species] = float(charge)
    for symbol in set(atoms.get_chemical_symbols()):
        charges.setdefault(symbol, 0.0)
    return charges


def _environment() -> dict[str, str]:
    import jax

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def analyze_trajectories(
    paths: Sequence[str],
    out_dir: str | None,
    *,
    species: str = "Li",
    charge_e: float | None = None,
    temperatures_K: Sequence[float] | None = None,
    mechanism: bool = False,
    sites: str | None = None,
) -> tuple[dict[str, Any], Any]:
    """``conductivity analyze``: the analysis part of the workflow on existing trajectories; with ``mechanism``
    also sites, jumps, barriers, density and pathways (``sites``: a structure file whose mobile-ion sites to use)."""
    from superionic import analysis

    for p in paths:
        if not Path(p).is_file():
            raise EstimateError(f"trajectory file not found: {p}")
        if Path(p).stat().st_size == 0:
            raise EstimateError(f"trajectory file is empty: {p}")
    try:
        trajectories = [analysis.read_trajectory(p) for p in paths]
        transport = analysis.analyze(
            trajectories, species=species, charge=charge_e, temperatures_K=temperatures_K
        )
        how = (
            analysis.analyze_mechanism(
                trajectories,
                species=species,
                temperatures_K=temperatures_K,
                reference=sites,
                transport=transport,
            )
            if mechanism
            else None
        )
    except (ValueError, OSError, KeyError) as err:
        raise EstimateError(str(err).splitlines()[0]) from err
    report = {
        "schema": "superionic.conductivity.analyze/1",
        "superionic_version": __version__,
        "inputs": [str(p) for p in paths],
        "settings": {
            "species": species,
            "charge_e": charge_e,
            "temperatures_K": temperatures_K,
            "mechanism": mechanism,
            "sites": sites,
        },
        "transport": transport.to_dict(),
        "environment": _environment(),
    }
    if how is not None and out_dir is None:
        report["mechanism"] = how.to_dict()
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        analysis.plot_msd(transport, out / "msd.png")
        if len(transport.results) >= 2:
            analysis.plot_arrhenius(transport, out / "arrhenius.png")
        if how is not None:
            report["mechanism"] = how.to_dict(how.write(out))
        _atomic_write_json(out / "report.json", _json_safe(report))
    return report, transport
