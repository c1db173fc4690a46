"""Reading every structure format the same way, the input checks, formal charges, supercell choice."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from superionic import structures
from superionic.structures import ChargeError, StructureError, SupercellError

from ..conftest import EXAMPLES


def test_every_format_reads_the_same_crystal(tmp_path):
    li2o = bulk("OLi2", "fluorite", a=4.61, cubic=True)
    write(tmp_path / "POSCAR", li2o, format="vasp")
    write(tmp_path / "li2o.extxyz", li2o)
    write(tmp_path / "ase.json", li2o, format="json")
    (tmp_path / "pmg.json").write_text(json.dumps(AseAtomsAdaptor.get_structure(li2o).as_dict()))
    reference = structures.read_structure(EXAMPLES / "Li2O.cif")
    for name in ("POSCAR", "li2o.extxyz", "ase.json", "pmg.json"):
        s = structures.read_structure(tmp_path / name)
        assert s.composition == reference.composition, name
        assert s.volume == pytest.approx(reference.volume, rel=1e-6), name
    assert structures.as_structure(li2o).composition == reference.composition


def test_disordered_cif_keeps_its_occupancies():
    s = structures.read_structure(EXAMPLES / "garnet_LLTSO_disordered.cif")
    assert not s.is_ordered
    assert s.composition["Li"] == pytest.approx(44.136, abs=1e-3)


@pytest.mark.parametrize(
    ("content", "name", "pattern"),
    [
        ("", "empty.cif", "is empty"),
        ("data_x\n_cell_length_a 3\nthis is not a cif\n", "corrupt.cif", "cannot read corrupt.cif"),
        ("%PDF", "structure.pdf", "unknown structure format"),
        ("{not json", "bad.json", "not valid JSON"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, content, name, pattern):
    (tmp_path / name).write_text(content)
    with pytest.raises(StructureError, match=pattern) as info:
        structures.read_structure(tmp_path / name)
    assert "\n" not in str(info.value)
    with pytest.raises(StructureError, match="not found"):
        structures.read_structure(tmp_path / "missing.cif")


def test_overlapping_atoms_are_refused_naming_the_pair_and_distance():
    atoms = Atoms("Li2N", positions=[[0, 0, 0], [0.004, 0, 0], [2, 2, 2]], cell=np.eye(3) * 5, pbc=True)
    with pytest.raises(StructureError, match=r"atoms 0 \(Li\) and 1 \(Li\) are 0\.004 Å apart"):
        structures.as_structure(atoms)
    ok = Atoms("Li2N", positions=[[0, 0, 0], [0.6, 0, 0], [2, 2, 2]], cell=np.eye(3) * 5, pbc=True)
    assert len(structures.as_structure(ok)) == 3  # 0.6 Å is above the 0.5 Å limit


def test_split_sites_may_be_close_but_full_sites_may_not():
    lattice = Lattice.cubic(6.0)
    split = Structure(lattice, [{"Li": 0.5}, {"Li": 0.5}, "Cl"], [[0, 0, 0], [0.05, 0, 0], [0.5, 0.5, 0.5]])
    assert len(structures.check_structure(split)) == 3  # 0.3 Å apart, each half occupied: a split site
    full = Structure(lattice, ["Li", "Li", "Cl"], [[0, 0, 0], [0.05, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(StructureError, match=r"0\.3 Å apart"):
        structures.check_structure(full)


@pytest.mark.parametrize(
    ("atoms", "pattern"),
    [
        (Atoms("Li", positions=[[np.nan, 0, 0]], cell=np.eye(3) * 4, pbc=True), "non-finite position"),
        (Atoms("Li", cell=np.zeros((3, 3)), pbc=True), "no usable periodic cell"),
        (Atoms("Li", cell=np.eye(3) * 4, pbc=[True, True, False]), "not periodic"),
        (Atoms("Li", cell=[[4, 0, 0], [0, 4, 0], [np.inf, 0, 4]], pbc=True), "non-finite cell"),
    ],
)
def test_unusable_cells_and_positions(atoms, pattern):
    with pytest.raises(StructureError, match=pattern):
        structures.as_structure(atoms)


def test_occupancies_above_one_are_refused(tmp_path):
    from pymatgen.io.cif import CifWriter

    s = Structure(Lattice.cubic(5.0), [{"Li": 0.7, "Na": 0.3}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    text = str(CifWriter(s)).replace(" 0.7\n", " 1.7\n")
    assert " 1.7\n" in text
    (tmp_path / "over.cif").write_text(text)
    with pytest.raises(StructureError, match=r"over\.cif") as info:
        structures.read_structure(tmp_path / "over.cif")
    assert "\n" not in str(info.value)


def test_formal_charges():
    assert structures.formal_charges("Li3PS4") == {"Li": 1.0, "P": 5.0, "S": -2.0}
    # fractional (disordered) compositions: one state per element, charge-balanced
    assert structures.formal_charges("Li5.5La3Nb1.75Y0.25O12") == {
        "Li": 1.0, "La": 3.0, "Nb": 5.0, "Y": 3.0, "O": -2.0
    }  # fmt: skip
    # given charges are kept and the rest balance them
    assert structures.formal_charges("Li3PS4", {"Li": 1}) == {"Li": 1.0, "P": 5.0, "S": -2.0}
    assert structures.formal_charges("Li2S", {"Li": 0.8, "S": -1.6}) == {"Li": 0.8, "S": -1.6}
    # mixed valence: pymatgen's average
    assert structures.formal_charges("Fe3O4")["Fe"] == pytest.approx(8 / 3)
    # a composition that is not neutral with any common states: the likeliest ones, and a warning to show
    charges = structures.formal_charges("Li35.76La24Zr16O96")
    assert charges == {"Li": 1.0, "La": 3.0, "Zr": 4.0, "O": -2.0}
    warning = structures.charge_balance_warning("Li35.76La24Zr16O96", charges)
    assert "not charge-neutral" in warning and "net -20.2 e" in warning
    assert (
        structures.charge_balance_warning("Li24.024P4S20Br4", structures.formal_charges("Li24.024P4S20Br4"))
        is None
    )


def test_unknown_charge_is_an_error_naming_the_flag_never_zero():
    with pytest.raises(ChargeError, match=r"oxidation state of Mt .*--charges Mt=\.\.\."):
        structures.formal_charges("LiMt")
    charges = structures.formal_charges("LiMt", strict=False)
    assert charges["Li"] == 1.0 and math.isnan(charges["Mt"])


def test_parse_charges():
    assert structures.parse_charges("Li=1,La=3,O=-2") == {"Li": 1.0, "La": 3.0, "O": -2.0}
    for bad in ("Li", "Li=one", "Xx=1", "Li=nan", ""):
        with pytest.raises(ChargeError, match="ELEMENT=CHARGE"):
            structures.parse_charges(bad)


def test_supercell_holds_a_dilute_mobile_ion_or_says_why_not():
    cell = np.eye(3) * 6.0
    # 0.02 Li per cell: about 50 cells hold one Li (a 2x2x2 cell, wide enough, would round it away)
    reps = structures.choose_supercell(cell, 5, min_width_A=11.0, mobile_per_cell=0.02, max_atoms=2000)
    expected = 0.02 * math.prod(reps)
    assert round(expected) >= 1 and abs(round(expected) - expected) <= 0.1 * expected
    with pytest.raises(SupercellError, match=r"0\.002 mobile ions per cell.*--supercell"):
        structures.choose_supercell(cell, 5, min_width_A=11.0, mobile_per_cell=0.002, max_atoms=2000)
