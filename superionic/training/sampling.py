"""Structures to label: ordering of disordered crystals, rattles, strains, substitutions, MD snapshots.

Every helper takes a ``numpy.random.Generator`` so a sampling run is reproducible from one seed.
Lengths in Å, temperatures in K, strains dimensionless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import ase
import numpy as np
from ase.data import atomic_numbers, covalent_radii

VACANCY = "X"


class OrderingError(ValueError):
    """A disordered structure could not be turned into an ordered one."""


def _site_options(structure) -> list[tuple[list[str], np.ndarray]]:
    """Per site: candidate elements (vacancy ``"X"`` last) and their probabilities."""
    options = []
    for site in structure:
        symbols, occupancies = [], []
        for species, occupancy in site.species.items():
            symbol = getattr(species, "symbol", None) or getattr(species, "element", None)
            symbol = str(getattr(symbol, "symbol", symbol))
            if symbol not in atomic_numbers:
                raise OrderingError(f"site with unknown species {species!r}: replace dummy species first")
            symbols.append(symbol)
            occupancies.append(float(occupancy))
        total = sum(occupancies)
        if total < 1.0 - 1e-3:
            symbols.append(VACANCY)
            occupancies.append(1.0 - total)
        p = np.asarray(occupancies)
        options.append((symbols, p / p.sum()))
    return options


def symmetrize(structure, symprecs_A: Sequence[float] = (0.1, 0.2, 0.3)):
    """The primitive standard cell with idealised (symmetrised) positions, or ``structure`` if none is found.

    Experimental CIFs with positional noise (OBELiX adds σ = 0.01 in fractional coordinates) give very short
    bonds; spglib's idealisation averages the noise over each symmetry orbit. Occupancies are kept.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    for symprec in symprecs_A:
        try:
            return SpacegroupAnalyzer(structure, symprec=symprec).get_primitive_standard_structure()
        except Exception:  # spglib finds no consistent symmetry at this tolerance: try a looser one
            continue
    return structure


def order_structure(structure, rng: np.random.Generator, min_distance_factor: float = 0.75) -> ase.Atoms:
    """One ordered realisation of a (possibly) disordered pymatgen ``Structure``.

    Each site draws an element (or a vacancy) with its occupancy as probability; the drawn composition is
    then corrected to the rounded expected composition (the cell's own stoichiometry) by moving atoms between
    sites that allow them; finally atoms closer than ``min_distance_factor`` times the sum of covalent radii
    to another atom (split sites) are removed, the most crowded first. Fast and robust for any cell size;
    different ``rng`` states give different orderings.
    """
    options = _site_options(structure)
    choice = [symbols[rng.choice(len(symbols), p=p)] for symbols, p in options]
    expected: dict[str, float] = {}
    for symbols, p in options:
        for s, w in zip(symbols, p, strict=True):
            expected[s] = expected.get(s, 0.0) + w
    target = {s: round(w) for s, w in expected.items() if s != VACANCY}
    _fix_composition(options, choice, target, rng)
    keep = [i for i, s in enumerate(choice) if s != VACANCY]
    if not keep:
        raise OrderingError("ordering left no atoms: check the occupancies")
    atoms = ase.Atoms(
        symbols=[choice[i] for i in keep],
        scaled_positions=np.asarray(structure.frac_coords)[keep] % 1.0,
        cell=np.asarray(structure.lattice.matrix),
        pbc=True,
    )
    partial = np.array([len(options[i][0]) > 1 for i in keep])  # only atoms of shared/split sites may go
    return remove_close_contacts(atoms, min_distance_factor, removable=partial)


def _fix_composition(options, choice: list[str], target: Mapping[str, int], rng: np.random.Generator) -> None:
    """Move atoms between allowed sites until every element count equals ``target`` (in place, best effort)."""
    for _ in range(4 * len(choice)):
        counts = {s: choice.count(s) for s in target}
        over = [s for s in target if counts[s] > target[s]]
        under = [s for s in target if counts[s] < target[s]]
        if not over and not under:
            return
        moved = False
        for s in over:
            sites = [i for i, c in enumerate(choice) if c == s]
            for i in rng.permutation(sites):
                allowed = options[i][0]
                replacement = [u for u in under if u in allowed] or ([VACANCY] if VACANCY in allowed else [])
                if replacement:
                    choice[i] = replacement[0]
                    moved = True
                    break
        for s in under:
            if moved:
                break
            sites = [i for i, c in enumerate(choice) if s in options[i][0] and c != s]
            sites = [i for i in sites if choice[i] == VACANCY or choice[i] in over]
            if sites:
                choice[int(rng.choice(sites))] = s
                moved = True
        if not moved:
            return


def remove_close_contacts(
    atoms: ase.Atoms, factor: float = 0.75, removable: np.ndarray | None = None
) -> ase.Atoms:
    """Drop atoms closer than ``factor`` x (sum of covalent radii) to another atom, most conflicts first.

    ``removable`` [n] bool: only pairs of such atoms count (atoms drawn onto shared or split sites), so a
    fully occupied cation with a short bond, like Ti-O 1.63 Å in LATP, is never dropped).
    """
    from superionic.potentials.graph import neighbor_pairs

    atoms = atoms.copy()
    removable = np.ones(len(atoms), bool) if removable is None else np.asarray(removable, bool).copy()
    while len(atoms) > 1:
        radii = covalent_radii[atoms.numbers]
        i, j, shift = neighbor_pairs(atoms.positions, atoms.cell[:], atoms.pbc, 2.0 * radii.max() * factor)
        vectors = atoms.positions[j] - atoms.positions[i] + shift @ atoms.cell[:]
        close = (
            (np.linalg.norm(vectors, axis=1) < factor * (radii[i] + radii[j])) & removable[i] & removable[j]
        )
        if not close.any():
            break
        conflicts = np.bincount(i[close], minlength=len(atoms))
        worst = int(np.argmax(conflicts))
        del atoms[worst]
        removable = np.delete(removable, worst)
    return atoms


def rattle(
    atoms: ase.Atoms, stdev_A: float, rng: np.random.Generator, symbols: Sequence[str] | None = None
) -> ase.Atoms:
    """Copy with Gaussian displacements (stdev ``stdev_A`` per Cartesian component) of all atoms, or only of
    the elements in ``symbols`` (e.g. ``["Li"]`` to sample mobile-ion environments off their sites)."""
    out = atoms.copy()
    moved = np.ones(len(out), bool) if symbols is None else np.isin(out.get_chemical_symbols(), list(symbols))
    out.positions = out.positions + moved[:, None] * rng.normal(0.0, stdev_A, size=out.positions.shape)
    return out


def strain(atoms: ase.Atoms, stdev: float, rng: np.random.Generator) -> ase.Atoms:
    """Copy under a random symmetric strain (components ~ N(0, stdev)), atoms moving with the cell."""
    eps = rng.normal(0.0, stdev, size=(3, 3))
    eps = 0.5 * (eps + eps.T)
    out = atoms.copy()
    out.set_cell(out.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
    return out


def substitute(
    atoms: ase.Atoms, replacements: Mapping[str, str], fraction: float, rng: np.random.Generator
) -> ase.Atoms:
    """Copy with a random ``fraction`` of each element ``a`` in ``replacements`` turned into ``replacements[a]``."""
    out = atoms.copy()
    symbols = out.get_chemical_symbols()
    for old, new in replacements.items():
        if new not in atomic_numbers:
            raise ValueError(f"substitute: unknown element {new!r}")
        sites = [i for i, s in enumerate(symbols) if s == old]
        n = math.ceil(fraction * len(sites)) if sites else 0
        for i in rng.choice(sites, size=n, replace=False) if n else []:
            symbols[int(i)] = new
    out.set_chemical_symbols(symbols)
    return out


def md_snapshots(
    atoms: ase.Atoms,
    calculator,
    temperatures_K: Sequence[float],
    num_snapshots: int,
    interval_steps: int,
    rng: np.random.Generator,
    timestep_fs: float = 2.0,
    friction_per_fs: float = 0.02,
) -> list[ase.Atoms]:
    """Snapshots of ASE Langevin MD driven by ``calculator`` (teacher or student), cycling through temperatures.

    Each temperature starts from ``atoms`` with Maxwell–Boltzmann velocities; returns copies without calculator.
    """
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    snapshots: list[ase.Atoms] = []
    per_temperature = math.ceil(num_snapshots / len(temperatures_K))
    for temperature_K in temperatures_K:
        system = atoms.copy()
        system.calc = calculator
        MaxwellBoltzmannDistribution(system, temperature_K=temperature_K, rng=rng)
        dyn = Langevin(
            system,
            timestep=timestep_fs * units.fs,
            temperature_K=temperature_K,
            friction=friction_per_fs / units.fs,
            rng=rng,
        )
        for _ in range(per_temperature):
            dyn.run(interval_steps)
            snap = system.copy()
            snap.calc = None
            snap.info["temperature_K"] = float(temperature_K)
            snapshots.append(snap)
    return snapshots[:num_snapshots]
