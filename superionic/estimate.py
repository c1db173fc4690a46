"""The conductivity workflow: structure file → ordering → supercell → relaxation → batched MD → analysis → report.

Orchestration only: each step is a function of :mod:`superionic.structures`, :mod:`superionic.potentials`,
:mod:`superionic.md` or :mod:`superionic.analysis`. ``estimate_conductivity(settings)`` is what
``conductivity estimate`` runs; ``analyze_trajectories`` is ``conductivity analyze``. The report is built once,
at the end, and written last and atomically (a ``report.json`` on disk is always a finished one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from superionic import __version__, structures
from superionic.records import environment, write_json_atomic
from superionic.settings import ENSEMBLES, EstimateSettings

__all__ = ["EstimateError", "analyze_trajectories", "estimate_conductivity", "mobile_species"]


class EstimateError(RuntimeError):
    """A failure of the workflow that is not bad input (the MD blew up)."""


def mobile_species(structure, species: str | None) -> str:
    """The mobile ion: ``species`` if the structure has it, else Li when present; a one-line error otherwise."""
    present = sorted({el.symbol for el in structure.composition.elements})
    formula = structure.composition.reduced_formula
    if species is None and "Li" in present:
        return "Li"
    if species is None:
        raise ValueError(
            f"no Li in {formula}: name the mobile ion with --species (one of {', '.join(present)})"
        )
    if species not in present:
        raise ValueError(f"mobile species {species} is not in {formula} (elements: {', '.join(present)})")
    return species


def _ordered(
    structure, potential, settings: EstimateSettings, charges, species: str, log
) -> tuple[Any, dict]:
    """The lowest-energy of ``n_orderings`` orderings of a disordered structure on a supercell that holds the
    mobile ion (:func:`superionic.structures.order_structure`); returns (ASE atoms, what the report records)."""
    min_width = 2.0 * (potential.cutoff_A + settings.skin_A)
    reps = settings.supercell or structures.choose_supercell(
        structure.lattice.matrix,
        structure.composition.num_atoms,
        min_width_A=min_width,
        target_atoms=settings.target_atoms,
        max_atoms=settings.max_atoms,
        mobile_per_cell=structure.composition.element_composition[species],
    )
    log(f"{structure.composition.reduced_formula} is disordered: ranking {settings.n_orderings} orderings")
    orderings = structures.order_structure(
        structure, reps, charges, n_orderings=settings.n_orderings, seed=settings.seed
    )
    energies = [
        float(r["energy"]) / len(o.atoms)
        for o, r in zip(orderings, potential.evaluate([o.atoms for o in orderings]), strict=True)
    ]
    best = min(range(len(orderings)), key=energies.__getitem__)
    record = {
        "disordered_input": True,
        "method": "integer program on the supercell: composition within rounding, least net charge, split sites apart",
        "candidate_energies_eV_per_atom": energies,
        "chosen": best,
        **orderings[best].to_dict(),
    }
    return orderings[best].atoms, record


def _warnings(structure, charges, ordering: Mapping, potential) -> list[str]:
    out = [
        w
        for w in (
            potential.accuracy_warning(),
            structures.charge_balance_warning(structure.composition, charges),
        )
        if w
    ]
    if ordering.get("disordered_input") and abs(ordering["net_charge_e"]) > 1e-6:
        out.append(
            f"the ordered cell {ordering['formula']} has a net formal charge of {ordering['net_charge_e']:+g} e: "
            "rounding the occupancies on this supercell could not keep it neutral"
        )
    return out


def estimate_conductivity(settings: EstimateSettings, log: Callable[[str], None] = print) -> tuple[dict, Any]:
    """Run the whole workflow; return (report dict, analysis ``TransportReport``). Writes into settings.out_dir.

    Raises:
      ValueError: bad input or settings (found before any MD); EstimateError: the MD blew up.
    """
    from superionic import analysis, md, potentials

    settings.validate()
    wall_start = time.perf_counter()
    structure = structures.read_structure(settings.structure)
    species = mobile_species(structure, settings.species)
    charges = structures.formal_charges(structure.composition, settings.charges_e)
    potential = potentials.load(settings.potential)
    potential.species_indices(
        [el.Z for el in structure.composition.elements]
    )  # UnknownElementError: ValueError
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").unlink(missing_ok=True)  # a stale report must not pass for this run's result
    if structure.is_ordered:
        atoms, ordering, supercell = structure, {"disordered_input": False}, settings.supercell
    else:
        atoms, ordering = _ordered(structure, potential, settings, charges, species, log)
        supercell = (1, 1, 1)
    warnings = _warnings(structure, charges, ordering, potential)
    for warning in warnings:
        log(f"warning: {warning}")
    system = md.prepare_system(
        atoms, potential.cutoff_A, settings.skin_A, target_atoms=settings.target_atoms,
        max_atoms=settings.max_atoms, supercell=supercell, charges_e=charges,
        name=Path(settings.structure).stem,
    )  # fmt: skip
    relaxation: dict[str, Any] = {"performed": False}
    if settings.relax and settings.relax_steps > 0:
        log(f"relaxing {system.n_atoms} atoms (positions and cell, <= {settings.relax_steps} FIRE steps)")
        relaxed, result = structures.relax(
            system.to_atoms(), potentials.SuperionicCalculator(potential), steps=settings.relax_steps,
            fmax_eV_per_A=settings.relax_fmax_eV_per_A, progress=settings.progress,
        )  # fmt: skip
        log(f"relaxed in {result.steps} steps ({'converged' if result.converged else 'not converged'})")
        relaxation = {"performed": True, **result.to_dict()}
        system = md.prepare_system(
            relaxed, potential.cutoff_A, settings.skin_A, supercell=(1, 1, 1), reduce_cell=False,
            charges_e=system.charges_e, name=system.name,
        )  # fmt: skip

    # At least ~50 frames per run (50 fs apart for long runs) so the MSD has enough time origins.
    steps_between_frames = max(1, round(min(50.0, settings.production_ps * 1e3 / 50) / settings.timestep_fs))
    config = md.MDConfig(
        save_every_fs=steps_between_frames * settings.timestep_fs, ensemble=ENSEMBLES[settings.ensemble],
        temperatures_K=settings.temperatures_K, replicas=settings.replicas, timestep_fs=settings.timestep_fs,
        production_ps=settings.production_ps, equilibration_ps=settings.equilibration_ps, seed=settings.seed,
        progress=settings.progress,
    )  # fmt: skip
    log(
        f"MD: {system.n_atoms} atoms, {len(config.temperatures_K)} temperature(s) x {settings.replicas} "
        f"replica(s), {settings.equilibration_ps:g} + {settings.production_ps:g} ps at {settings.timestep_fs:g} fs"
    )
    try:
        result = md.run(system, potential, config, out / "trajectories", overwrite=True)
    except md.MDInstabilityError as err:
        raise EstimateError(f"MD blew up: {err}") from err
    transport = analysis.analyze(result.trajectories, species=species, charge_e=charges[species])
    _plots(transport, out)
    report = {
        "schema": "superionic.conductivity.estimate/1",
        "superionic_version": __version__,
        "settings": settings.to_dict(),
        "structure": {
            "input": str(settings.structure),
            "formula": structure.composition.reduced_formula,
            "charges_e": charges,
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
            "trajectories": [str(p.relative_to(out)) for p in result.paths],
            "mean_temperature_K": [m.mean_temperature_K for m in result.members],
        },
        "transport": transport.to_dict(),
        "warnings": warnings + result.warnings + list(transport.warnings),
        "environment": environment(),
        "wall_time_s": time.perf_counter() - wall_start,
    }
    write_json_atomic(out / "report.json", report)
    return report, transport


def _plots(transport, out: Path) -> None:
    from superionic import analysis

    analysis.plot_msd(transport, out / "msd.png")
    if len(transport.results) >= 2:
        analysis.plot_arrhenius(transport, out / "arrhenius.png")


def analyze_trajectories(
    paths: Sequence[str | Path],
    out_dir: str | Path | None,
    *,
    species: str = "Li",
    charges_e: Mapping[str, float] | None = None,
    temperatures_K: Sequence[float] | None = None,
    topology: str | Path | None = None,
) -> tuple[dict, Any]:
    """``conductivity analyze``: the analysis part of the workflow on existing trajectories."""
    from superionic import analysis

    temperatures = list(temperatures_K or [None]) * (len(paths) if len(temperatures_K or []) <= 1 else 1)
    if len(temperatures) != len(paths):
        raise ValueError(
            f"--temperatures has {len(temperatures_K or [])} values for {len(paths)} trajectories; give one per "
            "file or one for all"
        )
    trajectories = [
        analysis.read_trajectory(p, charges_e=charges_e, topology=topology, temperature_K=t)
        for p, t in zip(paths, temperatures, strict=True)
    ]
    transport = analysis.analyze(trajectories, species=species)
    report = {
        "schema": "superionic.conductivity.analyze/1",
        "superionic_version": __version__,
        "inputs": [str(p) for p in paths],
        "settings": {"species": species, "charges_e": charges_e, "temperatures_K": temperatures_K},
        "transport": transport.to_dict(),
        "environment": environment(),
    }
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        _plots(transport, Path(out_dir))
        write_json_atomic(Path(out_dir) / "report.json", report)
    return report, transport
