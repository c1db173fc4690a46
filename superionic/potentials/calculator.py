"""ASE calculator for superionic potentials: energy, free_energy, forces, stress."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from superionic.potentials.potential import Potential
from superionic.potentials.registry import load


class SuperionicCalculator(Calculator):
    """ASE calculator wrapping a :class:`Potential` (or a registered name / checkpoint path).

    ``stress`` is given only for fully periodic structures (eV/Å^3, Voigt order xx yy zz yz xz xy). A
    ``Potential`` keeps its own precision unless ``dtype`` asks for another; a name or path loads as float32 unless
    ``dtype`` says otherwise.

    >>> from ase.build import bulk
    >>> atoms = bulk("OLi2", "fluorite", a=4.61, cubic=True)
    >>> atoms.calc = SuperionicCalculator("default")
    >>> energy = atoms.get_potential_energy()                   # eV
    >>> bool(abs(atoms.get_forces().sum(axis=0)).max() < 1e-3)   # no net force: a real gradient of the energy
    True
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, potential: Potential | str, dtype: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(potential, Potential):
            self.potential = potential if dtype is None else load(potential, dtype=dtype)
        else:
            self.potential = load(potential, dtype=dtype or "float32")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        result = self.potential.evaluate(self.atoms)[0]
        energy = float(result["energy"])
        self.results = {"energy": energy, "free_energy": energy, "forces": np.asarray(result["forces"])}
        if self.atoms.pbc.all():
            self.results["stress"] = full_3x3_to_voigt_6_stress(np.asarray(result["stress"]))
