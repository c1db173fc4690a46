"""The discovery database: an ASE database (SQLite file by default; a ``postgresql://`` URL works the same).

One row per structure. Key-value pairs (searchable, scalars only, units in the names):

- ``kind``: ``reference`` or ``candidate``; ``uid``: a stable name (``ref-0003``, ``r1-0012``);
  ``reduced_formula``; ``round`` (0 for references); ``stage``: ``generated`` -> ``relaxed`` (student)
  -> ``duplicate`` | ``screened`` -> ``selected`` -> ``oracle_done`` | ``oracle_failed``;
- ``generator``, ``parent``, ``source``, ``spacegroup`` (generated), ``spacegroup_relaxed``;
- ``e_student_eV_per_atom``, ``e_student_std_meV_per_atom``, ``ehull_student_meV``, ``ehull_student_std_meV``;
- ``e_oracle_eV_per_atom``, ``ehull_oracle_meV``, ``volume_change_percent``, ``oracle_converged``.

``data`` holds the provenance, the generated and student-relaxed structures and the oracle's labelled frames
(training data). The row's atoms are the latest structure. Loop progress (finished stages, per-round
statistics) lives in the database metadata, so a run resumes from the database alone. Rows are only written by
the driver process; workers return results.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import ase
import numpy as np

STAGES = (
    "generated",
    "relaxed",
    "relax_failed",
    "duplicate",
    "screened",
    "selected",
    "oracle_done",
    "oracle_failed",
)


def connect(url_or_path: str):
    """An ASE database handle (SQLite for a file path, PostgreSQL for ``postgresql://...``)."""
    import ase.db

    return ase.db.connect(url_or_path, append=True)


def atoms_to_dict(atoms: ase.Atoms) -> dict[str, Any]:
    """Plain arrays of a structure and its labels, if any (energy eV, forces eV/Å, stress eV/Å^3, 3x3)."""
    out = {
        "numbers": np.asarray(atoms.numbers, np.int64),
        "positions": np.asarray(atoms.positions, np.float64),
        "cell": np.asarray(atoms.cell[:], np.float64),
    }
    if atoms.calc is not None and "energy" in atoms.calc.results:
        out["energy"] = float(atoms.calc.results["energy"])
        out["forces"] = np.asarray(atoms.calc.results["forces"], np.float64)
        if "stress" in atoms.calc.results:
            out["stress"] = np.asarray(atoms.get_stress(voigt=False), np.float64)
    return out


def atoms_from_dict(data: dict[str, Any]) -> ase.Atoms:
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.stress import full_3x3_to_voigt_6_stress

    atoms = ase.Atoms(
        numbers=np.asarray(data["numbers"]),
        positions=np.asarray(data["positions"]),
        cell=data["cell"],
        pbc=True,
    )
    if "energy" in data:
        labels = {"energy": float(data["energy"]), "forces": np.asarray(data["forces"])}
        if "stress" in data:
            labels["stress"] = full_3x3_to_voigt_6_stress(np.asarray(data["stress"]))
        atoms.calc = SinglePointCalculator(atoms, **labels)
    return atoms


def structure_of(atoms: ase.Atoms):
    """The pymatgen ``Structure`` of ``atoms`` (without its calculator: stored rows carry one)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = atoms.copy()
    atoms.calc = None
    return AseAtomsAdaptor.get_structure(atoms)


class Store:
    """The database plus the loop's bookkeeping (which stages are finished, per-round statistics)."""

    def __init__(self, url_or_path: str) -> None:
        self.url = url_or_path
        self.db = connect(url_or_path)

    # ----------------------------------------------------------------------------------------- metadata
    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.db.metadata)

    def _set_metadata(self, **changes) -> None:
        meta = self.metadata
        meta.update(json.loads(json.dumps(changes)))
        self.db.metadata = meta

    def bind(self, fingerprint: str, config: dict) -> None:
        """Tie the database to one configuration; refuse to resume a different one."""
        meta = self.metadata
        if meta.get("config_fingerprint") not in (None, fingerprint):
            raise ValueError(
                f"{self.url} holds a discovery run with a different configuration; use a new database "
                "(or out_dir) or restore the old configuration"
            )
        if "config_fingerprint" not in meta:
            self._set_metadata(config_fingerprint=fingerprint, config=config, done=[], rounds={})

    def is_done(self, stage: str) -> bool:
        return stage in self.metadata.get("done", [])

    def mark_done(self, stage: str) -> None:
        done = self.metadata.get("done", [])
        if stage not in done:
            self._set_metadata(done=[*done, stage])

    def round_statistics(self) -> dict[str, dict[str, Any]]:
        return self.metadata.get("rounds", {})

    def set_round_statistics(self, round_index: int, stats: dict[str, Any]) -> None:
        rounds = self.round_statistics()
        rounds[str(round_index)] = stats
        self._set_metadata(rounds=rounds)

    # ------------------------------------------------------------------------------------------- rows
    def add(self, atoms: ase.Atoms, data: dict[str, Any] | None = None, **key_value_pairs) -> int:
        return self.db.write(atoms, data=data or {}, **_clean(key_value_pairs))

    def update(self, row_id: int, atoms: ase.Atoms | None = None, data=None, **key_value_pairs) -> None:
        self.db.update(row_id, atoms=atoms, data=data, **_clean(key_value_pairs))

    def rows(self, **selection) -> list:
        """Rows matching key=value pairs, in id order (so every pass over them is deterministic)."""
        return sorted(self.db.select(**_clean(selection)), key=lambda row: row.id)

    def count(self, **selection) -> int:
        return self.db.count(**_clean(selection))

    def transaction(self):
        """Group many writes into one commit (ASE: ``with db:``)."""
        return self.db


def _clean(pairs: dict[str, Any]) -> dict[str, Any]:
    """ASE stores scalars only: numpy scalars become Python ones; None means 'leave unset'."""
    out = {}
    for key, value in pairs.items():
        if value is None:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def rows_to_table(rows: Iterable, keys: Iterable[str]) -> list[dict[str, Any]]:
    keys = list(keys)
    return [{k: row.get(k) for k in ["id", *keys]} for row in rows]
