"""The discovery loop: references -> (generate -> relax with the student -> screen on the hull -> oracle ->
learn) x rounds -> hand-off to conductivity screening.

Every stage reads its input from the database and writes its output there; finished stages are recorded in the
database metadata and oracle results are written task by task, so a run stopped at any moment (Ctrl-C,
kill -9) resumes where it stopped and never repeats a finished oracle call. Randomness: one seed, mixed with
the round index. Energies eV/atom, e_above_hull meV/atom.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from superionic.discovery import generators as gen
from superionic.discovery import hull as hull_mod
from superionic.discovery.compute import executor, run_tasks
from superionic.discovery.config import ConfigError, DiscoveryConfig
from superionic.discovery.oracle import (
    OracleUnavailable,
    committee_energy_task,
    cp2k_available,
    oracle_task,
    student_relax_task,
)
from superionic.discovery.store import Store, atoms_from_dict, atoms_to_dict, structure_of

STUDENT_CHUNK = 128  # structures per student task (one batched relaxation, one compiled shape)


@dataclass
class Progress:
    """Stage messages and per-stage progress bars (tqdm on stderr); silent when disabled."""

    enabled: bool = True
    log: Callable[[str], None] = field(default=lambda message: print(message, file=sys.stderr, flush=True))

    def message(self, text: str) -> None:
        if self.enabled:
            self.log(text)

    def bar(self, total: int, desc: str):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="struct", disable=not self.enabled, file=sys.stderr)


class Loop:
    """One discovery run bound to its database (see the module docstring)."""

    def __init__(self, config: DiscoveryConfig, progress: Progress | None = None, client=None) -> None:
        self.config = config
        self.progress = progress or Progress()
        self.out = Path(config.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        db = config.database if "://" in config.database else str(self.out / config.database)
        self.store = Store(db)
        self.store.bind(config.fingerprint(), config.to_dict())
        self.client = client
        self.timings: dict[str, float] = {}
        self.events_path = self.out / "oracle_calls.jsonl"  # one line per oracle structure computed (audit)

    # ------------------------------------------------------------------------------------------ helpers
    def _timed(self, name: str, function: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = function()
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        return result

    def members(self, round_index: int) -> list[str]:
        """Committee for screening in ``round_index``: fine-tuned members of the previous round, if any."""
        from superionic.discovery.learning import member_paths

        s = self.config.screening
        if round_index > 1 and self.config.learning.enabled:
            paths = member_paths(self.out / "models", round_index - 1, s.committee_size)
            if all(Path(p).is_file() for p in paths):
                return paths
        return [s.student]

    def oracle_spec(self) -> dict[str, Any]:
        o = self.config.oracle
        return {
            "kind": o.kind,
            "name": o.name,
            "calculator": o.calculator,
            "parameters": dict(o.parameters),
            "relax": o.relax,
            "relax_fmax_eV_per_A": o.relax_fmax_eV_per_A,
            "relax_max_steps": o.relax_max_steps,
        }

    def check_oracle(self) -> None:
        """Fail before any work when the oracle cannot run here."""
        o = self.config.oracle
        if o.kind == "cp2k":
            reason = cp2k_available()
            if reason:
                raise OracleUnavailable(reason)
        elif o.kind == "potential":
            from superionic.discovery.oracle import cached_potential

            cached_potential(o.name)
        else:
            from superionic.discovery.oracle import make_calculator

            make_calculator(self.oracle_spec())

    # ------------------------------------------------------------------------------------------- stages
    def run(self) -> dict[str, Any]:
        """Every unfinished stage of every round, then the report (hand-off: :meth:`handoff`)."""
        self.check_oracle()
        for name in self.config.elements:
            self._check_student_covers(name)
        self._timed("references", self.references)
        for r in range(1, self.config.rounds + 1):
            self.progress.message(f"round {r}/{self.config.rounds}")
            self._timed(f"round_{r}", lambda r=r: self.round(r))
        return self.report()

    def _check_student_covers(self, symbol: str) -> None:
        from superionic.discovery.oracle import cached_potential
        from superionic.potentials import UnknownElementError

        try:
            cached_potential(self.config.screening.student).species_indices([_z(symbol)])
        except UnknownElementError as err:
            raise ConfigError(f"screening.student: {err}") from err

    def references(self) -> None:
        c = self.config
        if not self.store.is_done("references.generate"):
            refs = self._reference_structures()
            with self.store.transaction():
                for k, ref in enumerate(refs):
                    atoms = _atoms(ref.structure)
                    self.store.add(
                        atoms,
                        data={"initial": atoms_to_dict(atoms)},
                        kind="reference",
                        uid=f"ref-{k:04d}",
                        reduced_formula=ref.formula,
                        round=0,
                        stage="generated",
                        source=ref.source,
                    )
            self.store.mark_done("references.generate")
            self.progress.message(
                f"references: {len(refs)} structures ({self.store.count(kind='reference')} in db)"
            )
        if not self.store.is_done("references.relax"):
            self._student_relax(self.store.rows(kind="reference", stage="generated"), [c.screening.student])
            self.store.mark_done("references.relax")
        if not self.store.is_done("references.select"):
            per = c.oracle.reference_prototypes_per_composition
            relaxed = self.store.rows(kind="reference", stage="relaxed")
            # Rank each composition's prototypes by the oracle's single point at the student geometry when
            # the oracle is a potential (cheap), else by the student: a poor student must not hide the
            # ground state (e.g. rock-salt LiCl) from the oracle.
            rank = {row.id: row.e_student_eV_per_atom for row in relaxed}
            if c.oracle.kind == "potential":
                energies = self._committee_energies([c.oracle.name], [row.data["student"] for row in relaxed])
                rank = {row.id: e[0] for row, e in zip(relaxed, energies, strict=True)}
            by_formula: dict[str, list] = {}
            for row in relaxed:
                by_formula.setdefault(row.reduced_formula, []).append(row)
            with self.store.transaction():
                for rows in by_formula.values():
                    seeds = [row for row in rows if not row.source.startswith("prototype:")]
                    others = sorted(
                        (row for row in rows if row.source.startswith("prototype:")),
                        key=lambda row: (rank[row.id], row.id),
                    )
                    for row in seeds + others[:per]:
                        self.store.update(row.id, stage="selected")
            self.store.mark_done("references.select")
        self._oracle(self.store.rows(kind="reference", stage="selected"), "references")
        self.store.mark_done("references.oracle")

    def _reference_structures(self) -> list[hull_mod.ReferenceStructure]:
        c = self.config
        refs: list[hull_mod.ReferenceStructure] = []
        for path in c.seeds:
            structure = _read_seed(path)
            if hull_mod.excluded(
                structure.composition.reduced_formula, c.exclude_formulas, c.exclude_systems
            ):
                raise ConfigError(
                    f"seed {Path(path).name} ({structure.composition.reduced_formula}) is excluded by "
                    "exclude_formulas/exclude_systems: remove it from seeds"
                )
            refs.append(hull_mod.ReferenceStructure(structure, f"seed:{Path(path).name}"))
        if c.reference_entries:
            entries = hull_mod.entries_from_json(c.reference_entries)
            refs += [
                r for r in entries if not hull_mod.excluded(r.formula, c.exclude_formulas, c.exclude_systems)
            ]
            return refs
        for symbol in c.elements:
            refs += hull_mod.element_prototypes(symbol, max_atoms=min(8, c.reference_max_atoms))
        for composition in hull_mod.ionic_binaries(c.elements):
            if hull_mod.excluded(composition.reduced_formula, c.exclude_formulas, c.exclude_systems):
                continue
            refs += hull_mod.binary_prototypes(composition, max_atoms=c.reference_max_atoms)
        return refs

    def round(self, r: int) -> None:
        if not self.store.is_done(f"r{r}.generate"):
            self._timed("generate", lambda: self.generate(r))
            self.store.mark_done(f"r{r}.generate")
        members = self.members(r)
        if not self.store.is_done(f"r{r}.relax"):
            self._timed(
                "student_relax",
                lambda: self._student_relax(
                    self.store.rows(kind="candidate", round=r, stage="generated"), members
                ),
            )
            self._dedupe_relaxed(r)
            self.store.mark_done(f"r{r}.relax")
        if not self.store.is_done(f"r{r}.screen"):
            self._timed("screen", lambda: self.screen(r, members))
            self.store.mark_done(f"r{r}.screen")
        self._timed(
            "oracle",
            lambda: self._oracle(
                self.store.rows(kind="candidate", round=r, stage="selected"), f"round {r} oracle"
            ),
        )
        self.store.mark_done(f"r{r}.oracle")
        if not self.store.is_done(f"r{r}.hull"):
            self.update_oracle_hull()
            self.store.mark_done(f"r{r}.hull")
        if self.config.learning.enabled and r < self.config.rounds and not self.store.is_done(f"r{r}.learn"):
            self._timed("learn", lambda: self.learn(r, members))
            self.store.mark_done(f"r{r}.learn")
        if not self.store.is_done(f"r{r}.statistics"):
            self.store.set_round_statistics(r, self.statistics(r, members))
            self.store.mark_done(f"r{r}.statistics")

    def generate(self, r: int) -> None:
        c, g = self.config, self.config.generators
        rng = np.random.default_rng([c.seed, r])
        parents = self._parents(r)
        candidates: list[gen.Candidate] = []
        if g.substitution:
            candidates += gen.ionic_substitutions(parents, c.elements, g.substitution_threshold)
        if g.saps:
            candidates += gen.saps(parents, c.elements, rng, g.substitution_threshold, g.saps_max_per_orbit)
        candidates = [
            cand
            for cand in candidates
            if {el.symbol for el in cand.structure.composition.elements} <= set(c.elements)
        ]
        candidates.sort(key=lambda cand: -(cand.probability or 0.0))
        if g.random_structures:
            # The compositions of the most probable substitutions (candidates are sorted by probability).
            compositions = list(dict.fromkeys(cand.formula for cand in candidates))
            compositions = compositions[: max(1, g.max_candidates_per_round // 10)]
            from pymatgen.core import Composition

            candidates += gen.random_structures(
                [Composition(f) for f in compositions], rng, g.random_per_composition, g.random_max_atoms
            )
        known = [structure_of(atoms_from_dict(row.data["initial"])) for row in self.store.rows()]
        kept, dropped = gen.deduplicate(candidates, known)
        # Substitutions first (by probability), then SAPS and random, up to the budget; keep the best of each.
        kept = _cap(kept, g.max_candidates_per_round)
        with self.store.transaction():
            for k, cand in enumerate(kept):
                plain = cand.structure.copy()
                plain.remove_oxidation_states()
                atoms = _atoms(plain)
                self.store.add(
                    atoms,
                    data={"initial": atoms_to_dict(atoms), "provenance": cand.provenance()},
                    kind="candidate",
                    uid=f"r{r}-{k:04d}",
                    reduced_formula=cand.formula,
                    round=r,
                    stage="generated",
                    generator=cand.generator,
                    parent=cand.parent or "",
                    spacegroup=cand.spacegroup or "",
                    substitution=json.dumps(cand.substitution),
                )
        self.progress.message(
            f"round {r}: {len(candidates)} generated from {len(parents)} parents, {len(dropped)} duplicates, "
            f"{len(kept)} kept"
        )

    def _parents(self, r: int) -> list[tuple[str, Any]]:
        """Seeds, then every oracle-confirmed candidate within the screening threshold of the hull."""
        parents = [(Path(p).stem, _read_seed(p)) for p in self.config.seeds]
        limit = self.config.screening.e_above_hull_max_meV
        for row in self.store.rows(kind="candidate", stage="oracle_done"):
            if row.round < r and row.get("ehull_oracle_meV", np.inf) <= limit:
                parents.append((row.uid, structure_of(row.toatoms())))
        return parents

    def _student_relax(self, rows: Sequence, members: Sequence[str]) -> None:
        s = self.config.screening
        chunks = [rows[k : k + STUDENT_CHUNK] for k in range(0, len(rows), STUDENT_CHUNK)]
        bar = self.progress.bar(len(rows), "student relax")

        def store(k: int, results: list[dict]) -> None:
            with self.store.transaction():
                for row, result in zip(chunks[k], results, strict=True):
                    self._store_student(row, result)
            bar.update(len(results))

        run_tasks(
            self.client,
            student_relax_task,
            [
                (
                    list(members),
                    [row.data["initial"] for row in chunk],
                    s.relax_fmax_eV_per_A,
                    s.relax_max_steps,
                )
                for chunk in chunks
            ],
            store,
        )
        bar.close()

    def _store_student(self, row, result: dict) -> None:
        if result["failure"]:
            self.store.update(row.id, stage="relax_failed", relax_error=result["failure"])
            return
        energies = np.asarray(result["member_energies_eV_per_atom"])
        atoms = atoms_from_dict(result["atoms"])
        self.store.update(
            row.id,
            atoms=atoms,
            data={"student": result["atoms"], "student_member_energies_eV_per_atom": energies.tolist()},
            stage="relaxed",
            e_student_eV_per_atom=float(energies.mean()),
            e_student_std_meV_per_atom=float(1e3 * energies.std()),
            student_converged=bool(result["converged"]),
            volume_change_percent=float(result["volume_change_percent"]),
            spacegroup_relaxed=gen.spacegroup_symbol(structure_of(atoms)),
        )

    def _dedupe_relaxed(self, r: int) -> None:
        from pymatgen.analysis.structure_matcher import StructureMatcher

        matcher = StructureMatcher()
        earlier: dict[str, list[tuple[str, Any]]] = {}
        for row in self.store.rows():
            if row.stage in ("generated", "duplicate") or (row.kind == "candidate" and row.round == r):
                continue
            earlier.setdefault(row.reduced_formula, []).append((row.uid, structure_of(row.toatoms())))
        with self.store.transaction():
            for row in self.store.rows(kind="candidate", round=r, stage="relaxed"):
                structure = structure_of(row.toatoms())
                same = earlier.setdefault(row.reduced_formula, [])
                match = next((uid for uid, other in same if matcher.fit(structure, other)), None)
                if match is not None:
                    self.store.update(row.id, stage="duplicate", duplicate_of=match)
                else:
                    same.append((row.uid, structure))

    # ------------------------------------------------------------------------------------------ screening
    def student_reference_energies(self, members: Sequence[str]) -> dict[str, list[float]]:
        """Per formula, the lowest energy (eV/atom) of each committee member over the relaxed references
        (single points at the student-relaxed geometries) and the oracle-confirmed finds."""
        rows = [
            row
            for row in self.store.rows()
            if (row.kind == "reference" and row.stage in ("relaxed", "selected", "oracle_done"))
            or (row.kind == "candidate" and row.stage == "oracle_done")
        ]
        structures = [row.data["student"] for row in rows]
        energies = self._committee_energies(members, structures)
        best: dict[str, list[float]] = {}
        for row, values in zip(rows, energies, strict=True):
            current = best.get(row.reduced_formula)
            best[row.reduced_formula] = (
                list(values) if current is None else [min(a, b) for a, b in zip(current, values, strict=True)]
            )
        return best

    def _committee_energies(self, members: Sequence[str], structures: Sequence[dict]) -> list[list[float]]:
        chunks = [structures[k : k + 256] for k in range(0, len(structures), 256)]
        out: list[list[list[float]]] = [[] for _ in chunks]

        def keep(k, result):
            out[k] = result

        run_tasks(self.client, committee_energy_task, [(list(members), chunk) for chunk in chunks], keep)
        return [values for chunk in out for values in chunk]

    def screen(self, r: int, members: Sequence[str]) -> None:
        s = self.config.screening
        reference = self.student_reference_energies(members)
        rows = self.store.rows(kind="candidate", round=r, stage="relaxed")
        if not rows:
            return
        diagrams = [
            hull_mod.phase_diagram(
                [(f, values[m] * hull_mod.atoms_per_formula(f)) for f, values in reference.items()]
            )
            for m in range(len(members))
        ]
        scored = []
        with self.store.transaction():
            for row in rows:
                energies = row.data["student_member_energies_eV_per_atom"]
                ehull = np.array(
                    [
                        hull_mod.e_above_hull_meV(d, row.reduced_formula, e)
                        for d, e in zip(diagrams, energies, strict=True)
                    ]
                )
                acquisition = float(ehull.mean() - s.uncertainty_weight * ehull.std())
                self.store.update(
                    row.id,
                    stage="screened",
                    ehull_student_meV=float(ehull.mean()),
                    ehull_student_std_meV=float(ehull.std()),
                    acquisition_meV=acquisition,
                )
                scored.append((acquisition, row.id))
        chosen = [row_id for acquisition, row_id in sorted(scored) if acquisition <= s.e_above_hull_max_meV]
        chosen = chosen[: s.oracle_per_round]
        with self.store.transaction():
            for row_id in chosen:
                self.store.update(row_id, stage="selected")
        self.progress.message(
            f"round {r}: {len(rows)} screened, {sum(a <= s.e_above_hull_max_meV for a, _ in scored)} within "
            f"{s.e_above_hull_max_meV:g} meV/atom of the student hull (minus {s.uncertainty_weight:g} sigma), "
            f"{len(chosen)} sent to the oracle"
        )

    # --------------------------------------------------------------------------------------------- oracle
    def _oracle(self, rows: Sequence, label: str) -> None:
        """Oracle calls for ``rows`` (stage ``selected``) in chunks; each result is stored as it arrives."""
        if not rows:
            return
        size = self.config.oracle.chunk_size
        chunks = [rows[k : k + size] for k in range(0, len(rows), size)]
        bar = self.progress.bar(len(rows), f"{label} ({self.config.oracle.kind}:{self.config.oracle.name})")
        spec = self.oracle_spec()

        def store(k: int, results: list[dict]) -> None:
            with self.store.transaction():
                for row, result in zip(chunks[k], results, strict=True):
                    if "error" in result:
                        self.store.update(row.id, stage="oracle_failed", oracle_error=result["error"])
                    else:
                        self.store.update(
                            row.id,
                            atoms=atoms_from_dict(result["atoms"]),
                            data={"oracle": result["atoms"], "oracle_frames": result["frames"]},
                            stage="oracle_done",
                            e_oracle_eV_per_atom=float(result["energy_eV_per_atom"]),
                            oracle_converged=bool(result["converged"]),
                            oracle_steps=int(result["steps"]),
                        )
            with self.events_path.open("a") as log:
                for row in chunks[k]:
                    log.write(json.dumps({"uid": row.uid, "label": label}) + "\n")
            bar.update(len(results))

        run_tasks(
            self.client,
            oracle_task,
            [(spec, [row.data["student"] for row in chunk]) for chunk in chunks],
            store,
        )
        bar.close()

    def oracle_hull(self):
        """PhaseDiagram of the oracle: references and confirmed candidates (lowest per composition)."""
        entries = [
            (row.reduced_formula, row.e_oracle_eV_per_atom * hull_mod.atoms_per_formula(row.reduced_formula))
            for row in self.store.rows(stage="oracle_done")
        ]
        return hull_mod.phase_diagram(entries)

    def update_oracle_hull(self) -> None:
        diagram = self.oracle_hull()
        with self.store.transaction():
            for row in self.store.rows(stage="oracle_done"):
                ehull = hull_mod.e_above_hull_meV(diagram, row.reduced_formula, row.e_oracle_eV_per_atom)
                self.store.update(row.id, ehull_oracle_meV=round(float(ehull), 6))

    # ------------------------------------------------------------------------------------------- learning
    def learn(self, r: int, members: Sequence[str]) -> None:
        from superionic.discovery.learning import fine_tune_committee

        frames = [
            atoms_from_dict(f)
            for row in self.store.rows(stage="oracle_done")
            for f in row.data["oracle_frames"]
        ]
        size = self.config.screening.committee_size
        start = list(members) if len(members) == size else [members[0]] * size
        self.progress.message(f"round {r}: fine-tuning {size} student(s) on {len(frames)} oracle frames")
        fine_tune_committee(start, frames, self.config.learning, self.out / "models", r, self.config.seed)

    # ---------------------------------------------------------------------------------------- statistics
    def statistics(self, r: int, members: Sequence[str]) -> dict[str, Any]:
        s = self.config.screening
        rows = self.store.rows(kind="candidate", round=r)
        stage_counts = {
            stage: sum(row.stage == stage for row in rows)
            for stage in ("duplicate", "oracle_done", "oracle_failed")
        }
        oracle_rows = [row for row in rows if row.stage == "oracle_done"]
        confirmed = [row for row in oracle_rows if row.ehull_oracle_meV <= s.e_above_hull_max_meV]
        near = [row for row in rows if row.get("acquisition_meV", np.inf) <= s.e_above_hull_max_meV]
        # Student vs oracle on the oracle's structures: the screening committee's energy error (eV/atom ->
        # meV/atom) and its e_above_hull error.
        student_at_oracle = (
            self._committee_energies(members, [row.data["oracle"] for row in oracle_rows])
            if oracle_rows
            else []
        )
        energy_errors = [
            1e3 * (np.mean(e) - row.e_oracle_eV_per_atom)
            for e, row in zip(student_at_oracle, oracle_rows, strict=True)
        ]
        hull_errors = [row.ehull_student_meV - row.ehull_oracle_meV for row in oracle_rows]
        stable = sorted(
            {
                row.reduced_formula
                for row in self.store.rows(stage="oracle_done")
                if row.ehull_oracle_meV <= 1e-6
            }
        )
        return {
            "round": r,
            "generated": len(rows),
            "duplicates_after_relaxation": stage_counts["duplicate"],
            "relaxed": sum(row.get("e_student_eV_per_atom") is not None for row in rows),
            "near_hull_student": len(near),
            "sent_to_oracle": len(oracle_rows) + stage_counts["oracle_failed"],
            "oracle_failed": stage_counts["oracle_failed"],
            "confirmed_by_oracle": len(confirmed),
            # Failed oracle calls (rejected, collapsed) count as misses.
            "hit_rate": len(confirmed) / sent
            if (sent := len(oracle_rows) + stage_counts["oracle_failed"])
            else None,
            "student_energy_mae_meV_per_atom": float(np.mean(np.abs(energy_errors)))
            if energy_errors
            else None,
            "student_ehull_mae_meV_per_atom": float(np.mean(np.abs(hull_errors))) if hull_errors else None,
            "committee": [Path(m).parent.name if m.endswith(".npz") else m for m in members],
            "stable_phases_on_oracle_hull": stable,
            "new_on_hull_this_round": sorted(
                row.reduced_formula for row in oracle_rows if row.ehull_oracle_meV <= 1e-6
            ),
        }

    # -------------------------------------------------------------------------------------------- report
    def ranked_candidates(self) -> list[dict[str, Any]]:
        rows = sorted(
            self.store.rows(kind="candidate", stage="oracle_done"),
            key=lambda row: (row.ehull_oracle_meV, row.id),
        )
        return [
            {
                "uid": row.uid,
                "formula": row.reduced_formula,
                "round": row.round,
                "generator": row.generator,
                "parent": row.parent,
                "substitution": json.loads(row.substitution),
                "spacegroup_generated": row.spacegroup,
                "spacegroup_relaxed": row.get("spacegroup_relaxed"),
                "e_oracle_eV_per_atom": row.e_oracle_eV_per_atom,
                "ehull_oracle_meV": row.ehull_oracle_meV,
                "ehull_student_meV": row.get("ehull_student_meV"),
                "ehull_student_std_meV": row.get("ehull_student_std_meV"),
            }
            for row in rows
        ]

    def report(self) -> dict[str, Any]:
        refs = self.store.rows(kind="reference", stage="oracle_done")
        prototype_counts: dict[str, int] = {}
        for row in self.store.rows(kind="reference"):
            if row.source.startswith("prototype:"):
                prototype_counts[row.reduced_formula] = prototype_counts.get(row.reduced_formula, 0) + 1
        report = {
            "schema": "superionic.discovery/1",
            "config": self.config.to_dict(),
            "database": self.store.url,
            "rounds": self.store.round_statistics(),
            "candidates": self.ranked_candidates(),
            "references": {
                "count_oracle": len(refs),
                "completeness": hull_mod.completeness(
                    list(self.config.elements),
                    sorted({row.reduced_formula for row in refs}),
                    prototype_counts,
                ),
                "source": "reference_entries file"
                if self.config.reference_entries
                else "AFLOW prototypes in pymatgen + seeds",
            },
            "timings_s": self.timings,
        }
        _write_json(self.out / "report.json", report)
        return report


# ---------------------------------------------------------------------------------------------- helpers


def _z(symbol: str) -> int:
    from ase.data import atomic_numbers

    return atomic_numbers[symbol]


def _atoms(structure):
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_atoms(structure)


def _read_seed(path: str):
    """An ordered pymatgen structure of a seed file (one-line errors for bad files and disordered ones)."""
    from superionic.structures import StructureError, read_structure

    try:
        structure = read_structure(path)
    except StructureError as err:
        raise ConfigError(str(err)) from err
    if not structure.is_ordered:
        raise ConfigError(
            f"seed {Path(path).name} is disordered (partial occupancies): give an ordered cell, e.g. one "
            "ordering from `conductivity estimate` or pymatgen's OrderDisorderedStructureTransformation"
        )
    structure.remove_oxidation_states()
    return structure


def _cap(candidates: list, limit: int) -> list:
    """At most ``limit`` candidates, taking turns between generators (each in its own order)."""
    groups: dict[str, list] = {}
    for cand in candidates:
        groups.setdefault(cand.generator, []).append(cand)
    out: list = []
    while len(out) < limit and any(groups.values()):
        for name in ("substitution", "saps", "random"):
            if groups.get(name) and len(out) < limit:
                out.append(groups[name].pop(0))
    return out


def _write_json(path: Path, data: dict) -> None:
    from superionic.records import json_safe

    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(json_safe(data), indent=1))
    tmp.replace(path)


def run_discovery(config: DiscoveryConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Run (or resume) every round of ``config`` and the hand-off; returns the report (also ``report.json``)."""
    from superionic.discovery.handoff import handoff

    with executor(config.compute) as client:
        loop = Loop(config, progress, client)
        start = time.perf_counter()
        report = loop.run()
        report["loop_wall_s"] = time.perf_counter() - start
        if config.handoff.enabled:
            start = time.perf_counter()
            report["transport"] = handoff(loop)
            report["handoff_wall_s"] = time.perf_counter() - start
        _write_json(loop.out / "report.json", report)
    return report
