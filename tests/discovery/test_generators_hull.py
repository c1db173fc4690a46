"""Candidate generators (substitution table, SAPS, pyxtal), deduplication, prototype references and the hull."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition, Structure

from superionic.discovery import generators as gen
from superionic.discovery import hull
from tests.conftest import EXAMPLES

SEED_SC = EXAMPLES / "discovery" / "Li3ScCl6.cif"


@pytest.fixture(scope="module")
def li3sccl6() -> Structure:
    return Structure.from_file(SEED_SC)


def test_ionic_substitution_proposes_li3ycl6_with_provenance(li3sccl6):
    candidates = gen.ionic_substitutions([("Li3ScCl6", li3sccl6)], ["Li", "Cl", "Sc", "Y", "In"], 0.001)
    by_formula = {c.formula: c for c in candidates}
    assert set(by_formula) == {"Li3YCl6", "Li3InCl6"}  # the parent itself is not a candidate
    y = by_formula["Li3YCl6"]
    assert y.probability > 0.001 and y.parent == "Li3ScCl6"
    assert y.substitution == {"Sc3+": "Y3+"} and y.spacegroup == "C2/m"
    # Y3+ (1.04 Å) is larger than Sc3+ (0.885 Å): the cell grows with the summed ionic volumes Σ r^3
    # (by ~1.4 %: chloride dominates; the relaxation does the rest).
    expected = (6 * 1.67**3 + 3 * 0.90**3 + 1.04**3) / (6 * 1.67**3 + 3 * 0.90**3 + 0.885**3)
    assert y.structure.volume / li3sccl6.volume == pytest.approx(expected, rel=2e-3)
    assert sum(sp.oxi_state * n for sp, n in y.structure.composition.items()) == pytest.approx(0.0)


def test_saps_replaces_part_of_an_orbit_and_deduplicates(li3sccl6):
    rng = np.random.default_rng(0)
    candidates = gen.saps([("Li3ScCl6", li3sccl6)], ["Li", "Cl", "Sc", "Y"], rng, 0.001, max_per_orbit=3)
    formulas = {c.formula for c in candidates}
    # The conventional cell holds two Sc on one orbit: half or all of it becomes Y (Sc3+ -> Y3+ only: Cl-
    # and Li+ have no partner of the same charge in this space).
    half_formula = Composition("Li6ScYCl12").reduced_formula
    assert formulas == {half_formula, "Li3YCl6"}
    half = [c for c in candidates if c.formula == half_formula]
    assert all("1/2 of the orbit" in next(iter(c.substitution.values())) for c in half)
    # Both Sc sites are symmetry-equivalent: every half-substituted cell is the same structure.
    kept, dropped = gen.deduplicate(half)
    assert len(kept) == 1 and len(dropped) == len(half) - 1


def test_deduplicate_recognises_a_moved_copy_and_known_structures(li3sccl6):
    moved = li3sccl6.copy()
    moved.translate_sites(range(len(moved)), [0.13, 0.27, 0.41])
    moved.perturb(0.01, min_distance=0.0)
    other = li3sccl6.copy()
    other.replace_species({"Sc": "Y"})
    candidates = [gen.Candidate(moved, "saps"), gen.Candidate(other, "substitution")]
    kept, dropped = gen.deduplicate(candidates, known=[li3sccl6])
    assert [c.formula for c in kept] == ["Li3YCl6"] and dropped == [0]


def test_random_structures_have_the_composition_and_are_reproducible():
    pytest.importorskip("pyxtal")
    composition = Composition("Li3YCl6")
    first = gen.random_structures([composition], np.random.default_rng(3), per_composition=2, max_atoms=20)
    again = gen.random_structures([composition], np.random.default_rng(3), per_composition=2, max_atoms=20)
    assert len(first) == 2
    for a, b in zip(first, again, strict=True):
        assert a.structure.composition.reduced_formula == "Li3YCl6" and len(a.structure) <= 20
        assert a.spacegroup == b.spacegroup
        np.testing.assert_allclose(a.structure.lattice.matrix, b.structure.lattice.matrix)
        distances = a.structure.distance_matrix + 10 * np.eye(len(a.structure))
        assert distances.min() > 1.0  # pyxtal keeps atoms apart


def test_prototype_references_are_decorated_and_scaled():
    binaries = [c.reduced_formula for c in hull.ionic_binaries(["Li", "Cl", "Y", "Sc"])]
    assert binaries == ["LiCl", "ScCl3", "YCl3"]
    ycl3 = hull.binary_prototypes(Composition("YCl3"))
    labels = {r.source for r in ycl3}
    assert "prototype:AB3_mC16_12_g_ij" in labels  # the AlCl3 type, YCl3's own structure
    alcl3_type = next(r.structure for r in ycl3 if r.source == "prototype:AB3_mC16_12_g_ij")
    assert alcl3_type.composition.reduced_formula == "YCl3"
    # The shortest Y-Cl distance is the sum of the ionic radii (pymatgen: 1.04 + 1.67 Å).
    y = [i for i, site in enumerate(alcl3_type) if site.specie.symbol == "Y"]
    cl = [i for i, site in enumerate(alcl3_type) if site.specie.symbol == "Cl"]
    assert alcl3_type.distance_matrix[np.ix_(y, cl)].min() == pytest.approx(2.71, abs=0.01)
    licl = {r.source for r in hull.binary_prototypes(Composition("LiCl"))}
    assert "prototype:AB_cF8_225_a_b" in licl  # rock salt
    chlorine = hull.element_prototypes("Cl")
    assert all(r.formula == "Cl2" for r in chlorine) and len(chlorine) > 10


def test_e_above_hull_against_known_decomposition():
    # LiCl and YCl3 on the hull; Li3YCl6 -> 3 LiCl + YCl3 (10 atoms -> 6 + 4).
    e_licl, e_ycl3 = -3.0, -3.5  # eV/atom
    entries = [("Li", -1.9), ("Y", -6.4), ("Cl2", -1.8), ("LiCl", 2 * e_licl), ("YCl3", 4 * e_ycl3)]
    diagram = hull.phase_diagram(entries)
    mixture = (6 * e_licl + 4 * e_ycl3) / 10
    assert hull.e_above_hull_meV(diagram, "Li3YCl6", mixture + 0.012) == pytest.approx(12.0, abs=1e-6)
    assert hull.e_above_hull_meV(diagram, "Li3YCl6", mixture - 0.020) == pytest.approx(-20.0, abs=1e-6)
    assert hull.e_above_hull_meV(diagram, "LiCl", e_licl) == pytest.approx(0.0, abs=1e-9)


def test_exclusions_and_completeness():
    assert hull.excluded("Li3YCl6", [], ["Cl-Li-Y"])
    assert hull.excluded("Li6YCl9", [], ["Cl-Li-Y"])
    assert not hull.excluded("YCl3", [], ["Cl-Li-Y"]) and not hull.excluded("LiCl", [], ["Cl-Li-Y"])
    assert hull.excluded("Li3YCl6", ["Li3YCl6"], [])
    report = hull.completeness(["Li", "Cl", "Y"], ["Li", "Cl2", "LiCl"], {"LiCl": 50})
    assert report["elements_missing"] == ["Y"] and report["ionic_binaries_missing"] == ["YCl3"]


def test_collapsed_structures_are_flagged():
    from ase.build import bulk

    from superionic.discovery.oracle import unphysical

    sane = bulk("ClLi", "rocksalt", a=5.13, cubic=True)
    assert unphysical(sane) == ""
    collapsed = sane.copy()
    collapsed.positions[1] = collapsed.positions[0] + [0.3, 0.0, 0.0]
    assert unphysical(collapsed).startswith("collapsed")
