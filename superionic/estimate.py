"""The conductivity workflow: structure file → ordering → supercell → relaxation → batched MD → analysis → report.

Orchestration only: each step is a function of :mod:`superionic.structures`, :mod:`superionic.potentials`,
:mod:`superionic.md` or :mod:`superionic.analysis`. ``estimate_conductivity(settings)`` is what
``conductivity estimate`` runs (``conductivity analyze`` is :func:`superionic.analysis.analyze_trajectories`). The report is built once,
at the end, and written last and atomically (a ``report.json`` on disk is always a finished one).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from superionic import __version__, structures
from superionic.records import environment, write_json_atomic
from superionic.settings import ENSEMBLES, EstimateSettings

__all__ = ["EstimateError", "estimate_conductivity"]


class EstimateError(RuntimeError):
    """A failure of the workflow that is not bad input (the MD blew up, the specialist is broken)."""


# A student whose error on frames of its own MD exceeds this is not a potential of the material (its MD has
# left the configurations it learned: forces as large as the forces themselves); running production with it
# would only spend the MD's hours on numbers the audit must then reject.
BROKEN_SPECIALIST_meV_per_A = 1000.0


def specialist_warnings(card: dict) -> list[str]:
    """What the specialist's card says the user must know before trusting its MD: a build that stopped before
    its error on its own frames fell under the threshold. Raises :class:`EstimateError` when that error says
    the student is broken (its own MD left everything it learned), before any production MD."""
    rounds = card.get("rounds", [])
    if not rounds:
        if card["settings"].get("max_rounds", 0) == 0:
            return []
        # Stopped (e.g. by its time budget on a loaded CPU) before any round: never checked on its own MD.
        return [
            f"the specialist ran no active-learning round ({card['stop_reason']}): it was never checked on "
            "frames of its own MD; see the audit before trusting its numbers"
        ]
    last = rounds[-1]["student_force_mae_on_new_frames_meV_per_A"]
    threshold = card["settings"]["error_threshold_meV_per_A"]
    if last > BROKEN_SPECIALIST_meV_per_A:
        other_student = "fresh" if card["student"] == "fine-tune" else "fine-tune"
        raise EstimateError(
            f"the specialist is broken: its force error on frames of its own MD was {last:.0f} meV/Å in the "
            f"last active-learning round ({card['stop_reason']}); use --preset standard (more data and "
            f"training), --student {other_student}, or --engine direct"
        )
    if last > threshold:
        return [
            f"the specialist stopped ({card['stop_reason']}) with a force error of {last:.0f} meV/Å on frames "
            f"of its own MD in the last round (target {threshold:.0f}"
            + (", measured before the final fit" if card["settings"].get("epochs_final", 0) > 0 else "")
            + "): see the audit before trusting its numbers"
        ]
    return []


# Below this the ladder stops: a few picoseconds at lower temperatures see almost no Li hops, and 300 K is the
# temperature the Arrhenius line is extrapolated to, not one to extrapolate from.
LOWEST_LADDER_TEMPERATURE_K = 400.0


def temperatures_below_melting(
    temperatures_K: Sequence[float], melted_K: Sequence[float]
) -> tuple[float, ...]:
    """Temperatures to run when the framework melted at ``melted_K``: () unless fewer than two of
    ``temperatures_K`` held (one, for a single-temperature run): the Arrhenius fit needs two crystal
    temperatures. Otherwise the ladder continued downwards from its lowest temperature in its own mean step of
    1/T (15 % of T for a single temperature), one new temperature per melted one, none below
    ``LOWEST_LADDER_TEMPERATURE_K``.

    >>> temperatures_below_melting((900, 1100, 1300), (900, 1100, 1300))
    (780.0, 688.0, 616.0)
    >>> temperatures_below_melting((900, 1100, 1300), (1300,))
    ()
    >>> temperatures_below_melting((1400,), (1400,))
    (1217.0,)
    """
    ladder = sorted(temperatures_K)
    held = len(ladder) - len(melted_K)
    if not melted_K or held >= min(2, len(ladder)):
        return ()
    inverse_step = (
        (1.0 / ladder[0] - 1.0 / ladder[-1]) / (len(ladder) - 1) if len(ladder) > 1 else 0.15 / ladder[0]
    )
    below = (1.0 / (1.0 / ladder[0] + k * inverse_step) for k in range(1, len(melted_K) + 1))
    return tuple(float(round(t)) for t in below if t >= LOWEST_LADDER_TEMPERATURE_K)


def _run_md(
    system,
    potential,
    config,
    folder: Path,
    checkpoint: Path | None = None,
    refit: Callable[[Any], Any] | None = None,
):
    """``md.run`` → (its result, the potential that ran it); a blow-up becomes an :class:`EstimateError` that
    says what to do. ``checkpoint``: where the MD potential is saved, when it is a specialist. ``refit``: for a
    specialist, called with the blow-up's :class:`~superionic.md.MDInstabilityError`; it returns the refitted
    specialist, with which the MD starts again from the beginning, or None (then the error stands)."""
    from superionic import md

    refits = 0
    while True:
        try:
            return md.run(system, potential, config, folder, overwrite=True), potential
        except md.MDInstabilityError as err:
            if "specialist_card" not in potential.provenance:
                raise EstimateError(f"MD blew up: {err}") from err
            # A specialist that blows up has met configurations its training data never covered (measured: a
            # 3-layer LGPS student let two PS4 tetrahedra collapse into each other after 9.5 ps at 1000 K, a
            # P-P/S-S approach that none of its 270 labelled structures held). It learns them and runs again;
            # when it cannot, its numbers would not be the reference's, so no report is written.
            refitted = refit(err) if refit is not None else None
            if refitted is not None:
                potential, refits = refitted, refits + 1
                continue
            where = f" ({checkpoint})" if checkpoint else ""
            after = (
                f" after {refits} refit(s) on the configurations that led into earlier blow-ups"
                if refits
                else ""
            )
            raise EstimateError(
                f"MD with the specialist{where} blew up{after}, so it reached configurations its training data "
                f"did not cover: {err.failure.rstrip('.')}. Rerun with another --seed (a new build and "
                "trajectory), a larger --preset, or --engine direct (the reference itself: exact, 50-100x "
                "slower on a CPU)"
            ) from err


def _ordered(structure, potential, settings: EstimateSettings, charges, species: str, log):
    """The lowest-energy of ``n_orderings`` orderings of a disordered structure (by the potential's energy) on a
    supercell that holds the mobile ion: (ASE atoms, the :class:`~superionic.structures.Ordering`)."""
    reps = settings.supercell or structures.choose_supercell(
        structure.lattice.matrix,
        structure.composition.num_atoms,
        min_width_A=2.0 * potential.cutoff_A,
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
    chosen = dataclasses.replace(orderings[best], candidate_energies_eV_per_atom=tuple(energies))
    return chosen.atoms, chosen


def estimate_conductivity(settings: EstimateSettings, log: Callable[[str], None] = print) -> tuple[dict, Any]:
    """Run the whole workflow; return (report dict, analysis ``TransportReport``). Writes into settings.out_dir.

    Raises:
      ValueError: bad input or settings (found before any MD).
      EstimateError: the MD blew up, or the specialist is broken (found before the production MD).
    """
    from superionic import analysis, md, potentials

    settings.validate()
    wall_start = time.perf_counter()
    structure = structures.read_structure(settings.structure)
    species = structures.mobile_species(structure, settings.species)
    charges = structures.formal_charges(structure.composition, settings.charges_e)
    potential = potentials.load(settings.potential)
    potential.species_indices([el.Z for el in structure.composition.elements])  # else UnknownElementError
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").unlink(missing_ok=True)  # a stale report must not pass for this run's result
    if settings.supercell:  # transport needs ions that do not see their own images
        structures.require_width(
            structure.lattice.matrix, settings.supercell, min_width_A=2.0 * potential.cutoff_A
        )
    ordered = structure.is_ordered
    atoms, ordering = (
        (structure, None) if ordered else _ordered(structure, potential, settings, charges, species, log)
    )
    warnings: list[str] = []  # the workflow's own, said when found (the analysis' come with its table)

    def warn(*messages: str | None) -> None:
        warnings.extend(m for m in messages if m)
        for m in filter(None, messages):
            log(f"warning: {m}")

    balance = structures.charge_balance_warning(structure.composition, charges)
    warn(potential.accuracy_warning(), balance, ordering and ordering.warning)
    system = md.prepare_system(
        atoms, potential.cutoff_A, settings.skin_A, target_atoms=settings.target_atoms,
        max_atoms=settings.max_atoms, supercell=settings.supercell if ordered else (1, 1, 1), charges_e=charges,
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

    timing = {"preparation_s": time.perf_counter() - wall_start}
    md_potential, specialist = potential, None
    if settings.engine == "specialist" and "specialist_card" in potential.provenance:
        log(
            f"{settings.potential} is a specialist already: it runs the MD directly (no reference to audit it)"
        )
    elif settings.engine == "specialist":
        from superionic.settings import SPECIALIST_PRESETS
        from superionic.training.specialist import specialist_for

        specialist = specialist_for(
            structure, charges, potential, temperatures_K=settings.temperatures_K, mobile_species=species,
            student=settings.student, preset=SPECIALIST_PRESETS[settings.preset], seed=settings.seed,
            workdir=out / "specialist", production_cell=system.to_atoms(), log=log,
        )  # fmt: skip
        md_potential = specialist.potential
        timing["specialist_s"] = time.perf_counter() - wall_start - sum(timing.values())
        warn(*specialist_warnings(specialist.card))
    config = md.MDConfig(
        save_every_fs=settings.save_every_fs, ensemble=ENSEMBLES[settings.ensemble],
        temperatures_K=settings.temperatures_K, replicas=settings.replicas, timestep_fs=settings.timestep_fs,
        production_ps=settings.production_ps, equilibration_ps=settings.equilibration_ps, seed=settings.seed,
        progress=settings.progress,
    )  # fmt: skip
    log(
        f"MD: {system.n_atoms} atoms, {len(config.temperatures_K)} temperature(s) x {settings.replicas} "
        f"replica(s), {settings.equilibration_ps:g} + {settings.production_ps:g} ps at {settings.timestep_fs:g} fs"
    )
    checkpoint = specialist.path if specialist is not None else Path(settings.potential)
    refit = None
    if specialist is not None:
        from superionic.training.specialist import refit_after_blow_up

        def refit(err):
            nonlocal specialist
            warn(
                f"the specialist's MD blew up ({err.failure.rstrip('.')}): {potential.name} labels the "
                "configurations that led there, the specialist is refitted on them and its MD starts again"
            )
            refitted = refit_after_blow_up(
                specialist,
                potential,
                err.frames_before,
                err.failure,
                progress=lambda m: log(f"specialist: {m}"),
            )
            if refitted is None:
                return None
            specialist = refitted
            return refitted.potential

    t_md = time.perf_counter()
    result, md_potential = _run_md(system, md_potential, config, out / "trajectories", checkpoint, refit)
    timing["md_s"] = time.perf_counter() - t_md  # with the MD lost to blow-ups and the refits
    warn(*result.warnings)
    trajectories, members = list(result.trajectories), list(result.members)
    transport = analysis.analyze(trajectories, species=species, charge_e=charges[species])
    melted_K = [r.temperature_K for r in transport.results if r.framework_melted]
    lower = (
        temperatures_below_melting(settings.temperatures_K, melted_K) if settings.lower_when_melted else ()
    )
    below_melting = None
    if lower:
        # SevenNet-0 itself melts OBELiX Li2SiS3 at 900 K: the preset's ladder then holds no crystal at all,
        # and the crystal's transport has to be measured below it (the specialist learned the hotter, more
        # distorted configurations; the audit checks it on these frames as on the others).
        melted = ", ".join(f"{t:g} K" for t in melted_K)
        warn(
            f"the framework melted at {melted}, leaving fewer than two crystal temperatures: running "
            f"{', '.join(f'{t:g} K' for t in lower)} as well (--no-lower-when-melted to skip)"
        )
        t_md = time.perf_counter()
        below, md_potential = _run_md(
            system,
            md_potential,
            dataclasses.replace(config, temperatures_K=lower),
            out / "trajectories_below",
            checkpoint,  # no refit here: the trajectories above ran with this specialist, and must stay its
        )
        timing["md_s"] += time.perf_counter() - t_md
        warn(*below.warnings)
        trajectories += below.trajectories
        members += below.members
        below_melting = {"temperatures_K": list(lower), **below.to_dict(relative_to=out)}
        transport = analysis.analyze(trajectories, species=species, charge_e=charges[species])
    audit = None
    if specialist is not None and settings.audit_frames > 0:
        from superionic.training.audit import audit as audit_against

        t0 = time.perf_counter()
        log(f"audit: {potential.name} labels {settings.audit_frames} production frames per temperature")
        by_temperature = sorted(zip(trajectories, members, strict=True), key=lambda p: p[1].temperature_K)
        audit = audit_against(
            md_potential, potential, [t for t, _ in by_temperature], [m.temperature_K for _, m in by_temperature],
            frames_per_temperature=settings.audit_frames, threshold_meV_per_A=settings.audit_threshold_meV_per_A,
        )  # fmt: skip
        log(audit.summary())
        warn(*audit.warnings)
        timing["audit_s"] = time.perf_counter() - t0
    analysis.write_plots(transport, out)
    md_record = {"ensemble": config.ensemble, **result.to_dict(relative_to=out)}
    if below_melting is not None:  # every trajectory the transport came from, in one list
        md_record["trajectories"] += below_melting["trajectories"]
        md_record["mean_temperature_K"] += below_melting["mean_temperature_K"]
        md_record["below_melting"] = below_melting
    report = {
        "schema": "superionic.conductivity.estimate/1",
        "superionic_version": __version__,
        "settings": settings.to_dict(),
        "structure": {
            "input": str(settings.structure),
            "formula": structure.composition.reduced_formula,
            "charges_e": charges,
            "ordering": ordering.to_dict() if ordering else {"disordered_input": False},
            "md_cell_atoms": system.n_atoms,
            "md_supercell": list(system.supercell),
            "relaxation": relaxation,
        },
        "potential": potential.record(),
        **(
            {}
            if specialist is None
            else {"specialist": specialist.card | {"checkpoint": str(specialist.path.relative_to(out))}}
        ),
        **({} if audit is None else {"audit": audit.to_dict()}),
        "md": md_record,
        "transport": transport.to_dict(),
        "warnings": warnings + list(transport.warnings),
        "environment": environment(),
        "wall_time_s": time.perf_counter() - wall_start,
        "wall_time_split_s": timing | {"analysis_s": time.perf_counter() - wall_start - sum(timing.values())},
    }
    write_json_atomic(out / "report.json", report)
    return report, transport
