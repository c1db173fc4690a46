"""Reference phases and the convex hull (pymatgen ``PhaseDiagram``) from energies of one potential or oracle.

There is no offline Materials Project data, so references are built here: the elements and the
charge-balanced binaries of the chemical space from pymatgen's bundled AFLOW prototype library (each
prototype decorated, scaled to ionic or atomic radii and relaxed; the lowest energy per composition counts),
the seeds (known ternaries) and the loop's own stable finds. :func:`completeness` says what this covers.
Users with Materials Project entries load them with :func:`entries_from_json` instead.
Energies in eV (total) and eV/atom; e_above_hull in meV/atom.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from pymatgen.core import Composition, Element, Species, Structure

# AFLOW prototype library shipped inside pymatgen (analysis/prototypes/aflow_prototypes.json.gz).
MAX_PROTOTYPE_ATOMS = 16


@cache
def aflow_prototypes() -> tuple[tuple[str, Structure], ...]:
    """(AFLOW label, structure) of every prototype in pymatgen's bundled library."""
    import pymatgen.analysis.prototypes as prototypes_module
    from pymatgen.util.provenance import StructureNL

    path = Path(prototypes_module.__file__).parent / "aflow_prototypes.json.gz"
    with gzip.open(path, "rt") as handle:
        data = json.load(handle)
    out = []
    for entry in data:
        snl = entry["snl"]
        structure = (snl if isinstance(snl, StructureNL) else StructureNL.from_dict(snl)).structure
        out.append((entry["tags"]["aflow"], structure))
    return tuple(out)


def _stoichiometry(structure: Structure) -> tuple[int, ...]:
    reduced, _ = structure.composition.get_reduced_composition_and_factor()
    return tuple(sorted(round(v) for v in reduced.values()))


@dataclass(frozen=True)
class ReferenceStructure:
    structure: Structure
    source: str  # "prototype:<AFLOW label>" | "seed:<file>" | "find:<id>" | "entries:<id>"

    @property
    def formula(self) -> str:
        return self.structure.composition.reduced_formula


def element_prototypes(symbol: str, max_atoms: int = 8) -> list[ReferenceStructure]:
    """The element in every one-element AFLOW prototype of at most ``max_atoms`` atoms, scaled so that the
    shortest bond is twice the atomic radius (covalent for halogens: Cl2 molecular crystals come out right)."""
    radius = Element(symbol).atomic_radius or Element(symbol).average_ionic_radius or 1.5
    out = []
    for label, prototype in aflow_prototypes():
        if len(prototype.composition.elements) != 1 or len(prototype) > max_atoms:
            continue
        structure = prototype.copy()
        structure.replace_species({structure.species[0]: Element(symbol)})
        out.append(ReferenceStructure(_scaled_to_bond(structure, 2.0 * float(radius)), f"prototype:{label}"))
    return out


def ionic_binaries(elements: Iterable[str]) -> list[Composition]:
    """Charge-balanced binary compositions (common oxidation states) of the chemical space, e.g. LiCl, YCl3."""
    out = set()
    for a, b in itertools.combinations(sorted(elements), 2):
        for oa in Element(a).common_oxidation_states:
            for ob in Element(b).common_oxidation_states:
                if oa * ob >= 0:
                    continue
                g = np.gcd(abs(oa), abs(ob))
                out.add(Composition({a: abs(ob) // g, b: abs(oa) // g}).reduced_composition)
    return sorted(out, key=lambda c: c.reduced_formula)


def binary_prototypes(
    composition: Composition, max_atoms: int = MAX_PROTOTYPE_ATOMS
) -> list[ReferenceStructure]:
    """``composition`` (a charge-balanced binary) decorated onto every AFLOW prototype of its stoichiometry,
    the cation on the minority site and the anion on the majority site (or by electronegativity for 1:1),
    scaled so that the shortest cation-anion distance is the sum of Shannon ionic radii."""
    elements = sorted(composition.elements, key=lambda el: composition[el])
    counts = tuple(sorted(int(composition[el]) for el in elements))
    oxidation = composition.oxi_state_guesses(max_sites=-1)
    if not oxidation:
        return []
    states = oxidation[0]
    species = [Species(el.symbol, states[el.symbol]) for el in elements]
    out = []
    for label, prototype in aflow_prototypes():
        if len(prototype.composition.elements) != 2 or len(prototype) > max_atoms:
            continue
        if _stoichiometry(prototype) != counts:
            continue
        proto_elements = sorted(
            prototype.composition.elements, key=lambda el: (prototype.composition[el], el.X)
        )
        target = sorted(species, key=lambda sp: (composition[sp.symbol], Element(sp.symbol).X))
        structure = prototype.copy()
        structure.replace_species(dict(zip(proto_elements, target, strict=True)))
        bond = sum(float(sp.ionic_radius or Element(sp.symbol).atomic_radius) for sp in target)
        scaled = _scaled_to_bond(structure, bond, between_species=True)
        scaled.remove_oxidation_states()
        out.append(ReferenceStructure(scaled, f"prototype:{label}"))
    return out


def _scaled_to_bond(structure: Structure, bond_A: float, between_species: bool = False) -> Structure:
    distances = structure.distance_matrix
    if between_species:
        symbols = np.array([site.specie.symbol for site in structure])
        distances = np.where(symbols[:, None] != symbols[None, :], distances, np.inf)
    np.fill_diagonal(distances, np.inf)
    shortest = float(distances.min()) if np.isfinite(distances).any() else structure.lattice.a
    if not np.isfinite(shortest) or shortest <= 0:
        shortest = structure.lattice.a
    out = structure.copy()
    out.scale_lattice(structure.volume * (bond_A / shortest) ** 3)
    return out


def entries_from_json(path: str | Path) -> list[ReferenceStructure]:
    """Reference structures from a JSON list of pymatgen ``ComputedStructureEntry`` dictionaries (e.g. from the
    Materials Project API); they are recomputed with the oracle, so their energies are not mixed in."""
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    data = json.loads(Path(path).read_text())
    if isinstance(data, dict):
        data = data.get("entries", [data])
    out = []
    for k, item in enumerate(data):
        entry = ComputedStructureEntry.from_dict(item)
        out.append(ReferenceStructure(entry.structure, f"entries:{entry.entry_id or k}"))
    return out


def excluded(formula: str, exclude_formulas: Sequence[str], exclude_systems: Sequence[str]) -> bool:
    """True when ``formula`` is listed or lies in one of the chemical systems (all its elements, >= 2, in it)."""
    composition = Composition(formula)
    if composition.reduced_formula in {Composition(f).reduced_formula for f in exclude_formulas}:
        return True
    elements = {el.symbol for el in composition.elements}
    for system in exclude_systems:
        members = set(system.split("-"))
        if elements == members:
            return True
    return False


# --------------------------------------------------------------------------------------------------- the hull


def atoms_per_formula(formula: str) -> float:
    """Atoms in one formula unit as written (``Li3YCl6``: 10)."""
    return Composition(formula).num_atoms


def phase_diagram(entries: Sequence[tuple[str, float]]):
    """pymatgen ``PhaseDiagram`` from (formula, total energy per formula-as-written in eV) pairs.

    Only the lowest entry per composition matters; terminal elements must be present.
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    pd_entries = [PDEntry(Composition(formula), energy, name=formula) for formula, energy in entries]
    return PhaseDiagram(pd_entries)


def e_above_hull_meV(diagram, formula: str, energy_per_atom_eV: float) -> float:
    """Energy above the hull (meV/atom) of a composition at ``energy_per_atom_eV``; negative below it
    (the decomposition energy of a new stable phase)."""
    from pymatgen.analysis.phase_diagram import PDEntry

    composition = Composition(formula)
    entry = PDEntry(composition, energy_per_atom_eV * composition.num_atoms)
    _, e_hull = diagram.get_decomp_and_e_above_hull(entry, allow_negative=True)
    return 1e3 * float(e_hull)


def completeness(
    elements: Sequence[str], reference_formulas: Sequence[str], prototype_counts: dict[str, int]
) -> dict:
    """How complete the reference set is, for the report: which elements and binaries are covered and how
    many prototypes were tried for each; what is missing by construction."""
    formulas = set(reference_formulas)
    binaries = [c.reduced_formula for c in ionic_binaries(elements)]
    return {
        "elements_covered": [e for e in elements if Composition(e).reduced_formula in formulas],
        "elements_missing": [e for e in elements if Composition(e).reduced_formula not in formulas],
        "ionic_binaries_covered": [b for b in binaries if b in formulas],
        "ionic_binaries_missing": [b for b in binaries if b not in formulas],
        "prototypes_tried_per_composition": dict(sorted(prototype_counts.items())),
        "ternary_references": sorted(f for f in formulas if len(Composition(f).elements) >= 3),
        "not_covered": (
            "intermetallic binaries, off-stoichiometric (mixed-valence) binaries, and ternary phases other than "
            "the seeds and the loop's own finds: with no Materials Project data offline, a candidate can look "
            "more stable than it is against a missing phase; load MP entries (reference_entries) to close this"
        ),
    }
