"""Candidate generators: ionic substitution, symmetry-aware partial substitution (SAPS), random symmetric structures.

Each returns :class:`Candidate` objects that carry their provenance (generator, parent, substitution, space
group). All randomness comes from a ``numpy.random.Generator``; the same seed gives the same candidates.
Lengths in Å.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymatgen.core import Composition, Element, Species, Structure


@dataclass
class Candidate:
    """A proposed structure and where it came from."""

    structure: Structure
    generator: str  # "substitution" | "saps" | "random" | "seed" | "prototype"
    parent: str | None = None  # reduced formula (or id) of the parent structure
    substitution: dict[str, str] = field(default_factory=dict)  # old species -> new species
    probability: float | None = None  # substitution probability (Hautier et al.), when defined
    spacegroup: str | None = None  # international symbol of the generated structure

    @property
    def formula(self) -> str:
        return self.structure.composition.reduced_formula

    def provenance(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "parent": self.parent,
            "substitution": dict(self.substitution),
            "probability": self.probability,
            "spacegroup": self.spacegroup,
        }


def spacegroup_symbol(structure: Structure, symprec: float = 0.1) -> str:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_symbol()
    except Exception:  # spglib finds nothing at this tolerance
        return "P1"


def oxidation_decorated(structure: Structure) -> Structure:
    """The structure with oxidation states (bond valence, else composition guesses); raises if none fit."""
    from pymatgen.analysis.bond_valence import BVAnalyzer

    if all(hasattr(sp, "oxi_state") and sp.oxi_state is not None for sp in structure.species):
        return structure
    try:
        return BVAnalyzer().get_oxi_state_decorated_structure(structure)
    except ValueError:
        guesses = structure.composition.oxi_state_guesses(max_sites=-1)
        if not guesses:
            raise ValueError(
                f"cannot assign oxidation states to {structure.composition.reduced_formula}"
            ) from None
        out = structure.copy()
        out.add_oxidation_state_by_element(guesses[0])
        return out


def _radius(species: Species) -> float:
    radius = species.ionic_radius
    return float(radius) if radius is not None else float(Element(species.symbol).atomic_radius)


def scale_for_substitution(structure: Structure, mapping: dict[Species, Species]) -> Structure:
    """Substitute species (oxidation-decorated) and scale the volume by the change of Σ n r_ion^3."""
    old = sum(_radius(sp) ** 3 for sp in structure.species)
    out = structure.copy()
    out.replace_species(mapping)
    new = sum(_radius(sp) ** 3 for sp in out.species)
    out.scale_lattice(structure.volume * new / old)
    return out


def ionic_substitutions(
    parents: Sequence[tuple[str, Structure]],
    elements: Iterable[str],
    threshold: float = 0.001,
) -> list[Candidate]:
    """Charge-balanced substitutions of whole species in each parent with probability above ``threshold``.

    Uses pymatgen's ``SubstitutionPredictor`` (Hautier et al. 2011, λ table shipped with pymatgen); only
    substitutions whose species all lie in ``elements`` are kept; the parent itself is not returned.
    """
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionPredictor

    allowed = set(elements)
    predictor = SubstitutionPredictor(threshold=threshold)
    out = []
    for parent_id, parent in parents:
        decorated = oxidation_decorated(parent)
        composition = Composition({sp: n for sp, n in decorated.composition.items()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predictions = predictor.composition_prediction(composition, to_this_composition=False)
        for prediction in sorted(predictions, key=lambda p: -p["probability"]):
            mapping = {old: new for old, new in prediction["substitutions"].items()}
            if all(old == new for old, new in mapping.items()):
                continue
            if not all(new.symbol in allowed for new in mapping.values()):
                continue
            structure = scale_for_substitution(decorated, mapping)
            out.append(
                Candidate(
                    structure=structure,
                    generator="substitution",
                    parent=parent_id,
                    substitution={str(o): str(n) for o, n in mapping.items() if o != n},
                    probability=float(prediction["probability"]),
                    spacegroup=spacegroup_symbol(structure),
                )
            )
    return out


def saps(
    parents: Sequence[tuple[str, Structure]],
    elements: Iterable[str],
    rng: np.random.Generator,
    threshold: float = 0.001,
    max_per_orbit: int = 2,
) -> list[Candidate]:
    """Symmetry-aware partial substitution: in the conventional cell, replace 1..all sites of one Wyckoff
    orbit with a species of the same oxidation state that the substitution table allows.

    For each (orbit, replacement, number of sites) at most ``max_per_orbit`` random site subsets are drawn;
    symmetry-equivalent results are removed later with :func:`deduplicate`.
    """
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    allowed = set(elements)
    table = SubstitutionProbability()
    out = []
    for parent_id, parent in parents:
        decorated = oxidation_decorated(parent)
        try:
            conventional = SpacegroupAnalyzer(decorated, symprec=0.1).get_conventional_standard_structure()
            symmetrized = SpacegroupAnalyzer(conventional, symprec=0.1).get_symmetrized_structure()
        except Exception:  # no symmetry found: SAPS needs orbits
            continue
        present = {sp.symbol: sp.oxi_state for sp in conventional.composition}
        for orbit in symmetrized.equivalent_indices:
            old = conventional[orbit[0]].specie
            options = []
            for symbol in sorted(allowed - {old.symbol}):
                if old.oxi_state not in Element(symbol).common_oxidation_states:
                    continue  # same charge keeps the cell neutral; only common oxidation states
                if present.get(symbol, old.oxi_state) != old.oxi_state:
                    continue  # Cl+ on a Li+ site beside Cl-: one element, two charges

                new = Species(symbol, old.oxi_state)
                if new not in table.species:
                    continue
                p = table.cond_prob(old, new)
                if p > threshold:
                    options.append((new, p))
            for new, p in options:
                for count in range(1, len(orbit) + 1):
                    subsets = _site_subsets(orbit, count, max_per_orbit, rng)
                    for subset in subsets:
                        structure = conventional.copy()
                        for i in subset:
                            structure.replace(i, new)
                        fraction = count / len(orbit)
                        scaled = _scale_partial(conventional, structure)
                        out.append(
                            Candidate(
                                structure=scaled,
                                generator="saps",
                                parent=parent_id,
                                substitution={str(old): f"{new} ({count}/{len(orbit)} of the orbit)"},
                                probability=float(p) * fraction,
                                spacegroup=spacegroup_symbol(scaled),
                            )
                        )
    return out


def _site_subsets(orbit: Sequence[int], count: int, limit: int, rng: np.random.Generator):
    total = _binomial(len(orbit), count)
    if total <= limit:
        return [list(c) for c in itertools.combinations(orbit, count)]
    return [sorted(rng.choice(orbit, size=count, replace=False).tolist()) for _ in range(limit)]


def _binomial(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)


def _scale_partial(before: Structure, after: Structure) -> Structure:
    old = sum(_radius(sp) ** 3 for sp in before.species)
    new = sum(_radius(sp) ** 3 for sp in after.species)
    out = after.copy()
    out.scale_lattice(before.volume * new / old)
    return out


def random_structures(
    compositions: Iterable[Composition],
    rng: np.random.Generator,
    per_composition: int = 2,
    max_atoms: int = 24,
    attempts: int = 20,
) -> list[Candidate]:
    """Random symmetric crystals of each composition with pyxtal (AIRSS-like starting points).

    The number of formula units is the largest that keeps the cell at most ``max_atoms``; space groups are
    drawn at random among those pyxtal can fill with that composition.
    """
    try:
        from pyxtal import pyxtal
    except ImportError as err:
        raise ImportError("random structures need pyxtal: pip install 'superionic[discovery]'") from err

    out = []
    for composition in compositions:
        reduced, _ = composition.get_reduced_composition_and_factor()
        symbols = [el.symbol for el in reduced.elements]
        per_fu = [int(reduced[el]) for el in reduced.elements]
        z = max(1, max_atoms // sum(per_fu))
        made = 0
        for _ in range(attempts * per_composition):
            if made >= per_composition:
                break
            group = int(rng.integers(2, 231))
            crystal = pyxtal()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    crystal.from_random(
                        3, group, symbols, [n * z for n in per_fu], random_state=int(rng.integers(2**31))
                    )
            except Exception:  # pyxtal: this composition does not fit this space group's Wyckoff sites
                continue
            if not crystal.valid:
                continue
            structure = crystal.to_pymatgen()
            if len(structure) > max_atoms:
                continue
            made += 1
            out.append(
                Candidate(
                    structure=structure,
                    generator="random",
                    parent=None,
                    substitution={},
                    probability=None,
                    spacegroup=spacegroup_symbol(structure),
                )
            )
    return out


def deduplicate(
    candidates: Sequence[Candidate], known: Sequence[Structure] = ()
) -> tuple[list[Candidate], list[int]]:
    """Candidates that match neither an earlier candidate nor a ``known`` structure (pymatgen
    ``StructureMatcher``, default tolerances); also returns the indices of the dropped ones."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher()
    kept: list[Candidate] = []
    dropped = []
    by_formula: dict[str, list[Structure]] = {}
    for s in known:
        by_formula.setdefault(s.composition.reduced_formula, []).append(s)
    for k, candidate in enumerate(candidates):
        same = by_formula.setdefault(candidate.formula, [])
        plain = _without_oxidation(candidate.structure)
        if any(matcher.fit(plain, other) for other in same):
            dropped.append(k)
            continue
        same.append(plain)
        kept.append(candidate)
    return kept, dropped


def _without_oxidation(structure: Structure) -> Structure:
    out = structure.copy()
    out.remove_oxidation_states()
    return out
