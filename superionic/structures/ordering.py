"""Ordering of disordered structures: whole atoms on a supercell that keep the material.

An ordering chooses, on every partially occupied site of the supercell, one element or a vacancy so that, all
together:

1. each element's count is its expected count (the sum of its occupancies) rounded up or down;
2. the cell's net formal charge is as small as that rounding allows (zero for a neutral input);
3. no two atoms are closer than ``min_distance_factor`` x the sum of their covalent radii, unless both sit on
   fully occupied sites (the input's own geometry): of a group of split sites, only positions that exclude each
   other are occupied.

This is a small integer program (a variable per site and element, a constraint per clashing pair), solved
exactly by HiGHS through ``scipy.optimize.milp``. Written here because neither pymatgen's
``OrderDisorderedStructureTransformation`` (Ewald enumeration: exponential in the disordered sites, and blind to
split-site clashes) nor random draws followed by deleting the clashing atoms (which loses atoms and neutrality:
a Li5.5La3Nb1.75Y0.25O12 garnet lost 15 of 44 Li that way) do all three. Random weights on the sites make
different seeds give different orderings of the same quality.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from superionic.structures._errors import StructureError

__all__ = ["DISTANCE_FACTORS", "Ordering", "OrderingError", "order_structure"]

#: Tried in turn: the first exclusion factor (x sum of covalent radii) under which an ordering exists is used.
#: 0.75 separates split sites (typically 0.5–1.2 Å apart) from bonded neighbours; lower values admit crowded but
#: physical orderings where a structure's partial sites leave no other choice.
DISTANCE_FACTORS = (0.75, 0.7, 0.65, 0.6, 0.55, 0.5)
_FULL = 1.0 - 1e-3  # a site with at least this total occupancy is always occupied
_WHOLE = 1e-6  # an expected count this close to an integer is that integer


class OrderingError(StructureError):
    """No ordering keeps the composition and the minimum distances together."""


@dataclasses.dataclass(frozen=True)
class Ordering:
    """One ordered supercell of a disordered structure.

    Attributes:
      atoms: the ordered supercell (ASE ``Atoms``; cell = input cell x supercell).
      supercell: the diagonal repetition of the input cell.
      expected_counts: per element, the sum of its occupancies over the supercell.
      counts: per element, the atoms placed (each within one of its expected count).
      charges_e: the formal charges used for the neutrality condition.
      net_charge_e: the ordered cell's net formal charge (0 for a neutral input).
      min_distance_factor: atoms placed on partial sites are at least this x the sum of covalent radii apart.
      on_partial_site: [N] bool, the atoms placed on a partially occupied (or mixed) site of the input.
      candidate_energies_eV_per_atom: when this ordering was chosen from several by energy, their energies.
    """

    atoms: object
    supercell: tuple[int, int, int]
    expected_counts: dict[str, float]
    counts: dict[str, int]
    charges_e: dict[str, float]
    net_charge_e: float
    min_distance_factor: float
    on_partial_site: np.ndarray
    candidate_energies_eV_per_atom: tuple[float, ...] | None = None

    @property
    def formula(self) -> str:
        return self.atoms.get_chemical_formula()  # type: ignore[attr-defined]

    @property
    def warning(self) -> str | None:
        """Said when rounding on this supercell could not keep the cell neutral."""
        if abs(self.net_charge_e) < 1e-6:
            return None
        return (
            f"the ordered cell {self.formula} has a net formal charge of {self.net_charge_e:+g} e: rounding the "
            "occupancies on this supercell could not keep it neutral"
        )

    def to_dict(self) -> dict:
        """JSON-ready summary (everything but the atoms)."""
        return {
            "disordered_input": True,
            "method": "integer program: composition within rounding, least net charge, split sites apart",
            "formula": self.formula,
            "supercell": list(self.supercell),
            "expected_counts": dict(self.expected_counts),
            "counts": dict(self.counts),
            "charges_e": dict(self.charges_e),
            "net_charge_e": self.net_charge_e,
            "min_distance_factor": self.min_distance_factor,
            "candidate_energies_eV_per_atom": self.candidate_energies_eV_per_atom,
        }


@dataclasses.dataclass(frozen=True)
class _Sites:
    """The supercell's sites: which are fixed, and the choices on the others."""

    frac: np.ndarray  # [S, 3]
    lattice: np.ndarray  # [3, 3] rows
    elements: list[str]  # every element, in the order of first appearance
    fixed: dict[int, str]  # site -> its one element
    options: list[tuple[int, str, float]]  # (site, element, occupancy) of the non-fixed sites: the variables
    full: set[int]  # non-fixed sites that must be occupied (total occupancy 1)
    expected: dict[str, float]  # element -> sum of occupancies


def _sites(structure) -> _Sites:
    from superionic.structures.io import _symbol

    fixed, options, full, expected, elements = {}, [], set(), {}, []
    for i, site in enumerate(structure):
        occupancy: dict[str, float] = {}
        for species, occ in site.species.items():
            symbol = _symbol(species)
            occupancy[symbol] = occupancy.get(symbol, 0.0) + float(occ)
        for el, occ in occupancy.items():
            expected[el] = expected.get(el, 0.0) + occ
            if el not in elements:
                elements.append(el)
        total = sum(occupancy.values())
        if len(occupancy) == 1 and total >= _FULL:
            fixed[i] = next(iter(occupancy))
            continue
        if total >= _FULL:
            full.add(i)
        options.extend((i, el, occ) for el, occ in occupancy.items())
    return _Sites(
        frac=np.asarray(structure.frac_coords) % 1.0,
        lattice=np.asarray(structure.lattice.matrix),
        elements=elements,
        fixed=fixed,
        options=options,
        full=full,
        expected=expected,
    )


def _clashes(structure, sites: _Sites, factor: float) -> tuple[list[tuple[int, int]], set[int]]:
    """Pairs of variables that cannot both be chosen, and variables that clash with a fixed atom."""
    from ase.data import atomic_numbers, covalent_radii

    radius = {el: float(covalent_radii[atomic_numbers[el]]) for el in sites.elements}
    by_site: dict[int, list[int]] = {}
    for v, (i, _, _) in enumerate(sites.options):
        by_site.setdefault(i, []).append(v)
    reach = 2.0 * factor * max(radius.values())
    centres, neighbours, _, distances = structure.get_neighbor_list(reach)
    pairs, forbidden = set(), set()
    for i, j, d in zip(centres.tolist(), neighbours.tolist(), distances.tolist(), strict=True):
        if i == j or (i in sites.fixed and j in sites.fixed):
            continue
        for u in by_site.get(i, []):
            el_u = sites.options[u][1]
            if j in sites.fixed:
                if d < factor * (radius[el_u] + radius[sites.fixed[j]]):
                    forbidden.add(u)
                continue
            for v in by_site[j]:
                if u < v and d < factor * (radius[el_u] + radius[sites.options[v][1]]):
                    pairs.add((u, v))
    return sorted(pairs), forbidden


class _Program:
    """The integer program of one supercell at one exclusion factor; ``solve(weights)`` gives one ordering."""

    def __init__(self, structure, sites: _Sites, charges_e: Mapping[str, float], factor: float):
        from scipy.optimize import LinearConstraint
        from scipy.sparse import coo_array

        self.sites, self.factor = sites, factor
        pairs, forbidden = _clashes(structure, sites, factor)
        n_var, elements = len(sites.options), sites.elements
        n_el = len(elements)
        # columns: x (one per option), d (|count - expected| per element), t (|net charge|)
        self.n_x, n_col = n_var, n_var + n_el + 1
        fixed_count = {el: sum(1 for e in sites.fixed.values() if e == el) for el in elements}
        fixed_charge = sum(charges_e[el] * fixed_count[el] for el in elements)
        rows, cols, vals, lower, upper = [], [], [], [], []

        def row(entries: Sequence[tuple[int, float]], lo: float, hi: float) -> None:
            r = len(lower)
            for c, v in entries:
                rows.append(r)
                cols.append(c)
                vals.append(v)
            lower.append(lo)
            upper.append(hi)

        by_site: dict[int, list[int]] = {}
        for v, (i, _, _) in enumerate(sites.options):
            by_site.setdefault(i, []).append(v)
        for i, variables in by_site.items():  # one element (or a vacancy) per site
            row([(v, 1.0) for v in variables], 1.0 if i in sites.full else 0.0, 1.0)
        for u, v in pairs:  # split sites and other clashes: at most one of the two
            row([(u, 1.0), (v, 1.0)], 0.0, 1.0)
        charge_entries = []
        for k, el in enumerate(elements):
            variables = [v for v, (_, e, _) in enumerate(sites.options) if e == el]
            free = sites.expected[el] - fixed_count[el]
            whole = abs(free - round(free)) < _WHOLE
            lo, hi = (round(free), round(free)) if whole else (math.floor(free), math.ceil(free))
            row([(v, 1.0) for v in variables], lo, hi)  # the count within rounding
            d = n_var + k  # d_k >= |count - expected|
            row([(v, 1.0) for v in variables] + [(d, -1.0)], -np.inf, free)
            row([(v, -1.0) for v in variables] + [(d, -1.0)], -np.inf, -free)
            charge_entries += [(v, charges_e[el]) for v in variables]
        t = n_col - 1  # t >= |net charge|
        row([*charge_entries, (t, -1.0)], -np.inf, -fixed_charge)
        row([(c, -v) for c, v in charge_entries] + [(t, -1.0)], -np.inf, fixed_charge)
        matrix = coo_array((vals, (rows, cols)), shape=(len(lower), n_col)).tocsr()
        self.constraints = LinearConstraint(matrix, lower, upper)
        self.upper = np.ones(n_col)
        self.upper[n_var:] = np.inf
        self.upper[sorted(forbidden)] = 0.0
        self.integrality = np.r_[np.ones(n_var), np.zeros(n_el + 1)]
        self.fixed_count, self.fixed_charge, self.charges_e = fixed_count, fixed_charge, charges_e

    def solve(self, weights: np.ndarray, time_limit_s: float) -> np.ndarray | None:
        """The chosen options (bool [n_x]) minimising 10 x |net charge| + Σ |count - expected| - a small random
        preference per option; None when infeasible."""
        from scipy.optimize import Bounds, milp

        cost = np.zeros(len(self.upper))
        cost[: self.n_x] = -1e-3 * weights / max(self.n_x, 1)
        cost[self.n_x : -1] = 1.0
        cost[-1] = 10.0
        result = milp(
            cost,
            constraints=self.constraints,
            integrality=self.integrality,
            bounds=Bounds(np.zeros(len(self.upper)), self.upper),
            options={"time_limit": time_limit_s},
        )
        if result.x is None:
            return None
        return np.asarray(result.x[: self.n_x]) > 0.5


def order_structure(
    structure,
    supercell: Sequence[int] = (1, 1, 1),
    charges_e: Mapping[str, float] | None = None,
    *,
    n_orderings: int = 1,
    seed: int = 0,
    distance_factors: Sequence[float] = DISTANCE_FACTORS,
    time_limit_s: float = 30.0,
) -> list[Ordering]:
    """``n_orderings`` orderings of a (possibly) disordered pymatgen ``Structure`` on ``structure * supercell``.

    Args:
      structure: the disordered structure (checked, e.g. by :func:`superionic.structures.read_structure`).
      supercell: the repetition, e.g. from :func:`superionic.structures.choose_supercell` with the mobile ion's
        count per cell, so that rounding cannot lose it.
      charges_e: a formal charge per element; default :func:`superionic.structures.formal_charges` of the
        structure's composition (which raises when it cannot guess one).
      n_orderings: how many (different random site preferences, all of the same composition and charge).
      seed: the random site preferences.
      distance_factors: exclusion factors tried in turn (see :data:`DISTANCE_FACTORS`).
      time_limit_s: HiGHS's time limit per solve.

    Raises:
      OrderingError: no ordering at the smallest factor (the structure's partial sites cannot hold the
        composition apart), or an element without a charge.
    """
    if charges_e is None:
        from superionic.structures.charges import formal_charges

        charges_e = formal_charges(structure.composition)
    present = {species.symbol for site in structure for species in site.species.elements}
    missing = sorted(present - set(charges_e))
    if missing:
        raise OrderingError(f"no formal charge for {', '.join(missing)}: pass a charge for every element")
    reps = tuple(int(r) for r in supercell)
    big = structure * reps
    sites = _sites(big)
    rng = np.random.default_rng(seed)
    for factor in distance_factors:
        program = _Program(big, sites, charges_e, factor)
        chosen = program.solve(rng.random(program.n_x), time_limit_s)
        if chosen is None:
            continue
        orderings = []
        for k in range(n_orderings):
            if k > 0:
                chosen = program.solve(rng.random(program.n_x), time_limit_s)
            orderings.append(_ordering(program, chosen, reps))  # type: ignore[arg-type]
        return orderings
    raise OrderingError(
        f"cannot order {structure.composition.reduced_formula} on a {'x'.join(map(str, reps))} supercell: its "
        f"partially occupied sites cannot hold the composition with atoms >= {distance_factors[-1]} x the sum of "
        "covalent radii apart; check the occupancies and split sites in the file"
    )


def _ordering(program: _Program, chosen: np.ndarray, reps: tuple[int, int, int]) -> Ordering:
    from ase import Atoms

    sites = program.sites
    placed = sorted([*sites.fixed.items(), *(sites.options[v][:2] for v in np.flatnonzero(chosen))])
    counts = {el: sum(1 for _, e in placed if e == el) for el in sites.elements}
    atoms = Atoms(
        symbols=[el for _, el in placed],
        scaled_positions=sites.frac[[i for i, _ in placed]],
        cell=sites.lattice,
        pbc=True,
    )
    return Ordering(
        atoms=atoms,
        supercell=reps,
        expected_counts={el: float(sites.expected[el]) for el in sites.elements},
        counts={el: n for el, n in counts.items() if n > 0},
        charges_e={el: float(program.charges_e[el]) for el in sites.elements},
        net_charge_e=float(sum(program.charges_e[el] * n for el, n in counts.items())),
        min_distance_factor=program.factor,
        on_partial_site=np.array([i not in sites.fixed for i, _ in placed]),
    )
