"""Formal charges (oxidation states) per element: the one place the package guesses them.

Conductivity needs the charge of the mobile ion (Nernst–Einstein, charge MSD) and the ordering of a disordered
structure needs every element's charge to keep the cell neutral. A charge that cannot be guessed is an error
that names the elements and how to give them (``--charges Li=1,La=3`` on the command line, ``charges_e=`` in
Python) — never a silent 0 e.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

from superionic.structures._errors import StructureError

__all__ = ["ChargeError", "charge_balance_warning", "formal_charges", "net_charge_e", "parse_charges"]

# Occupancy-refined structures are rarely exactly neutral: a net charge below this fraction of the cations'
# total charge is refinement noise (e.g. Li24.024P4S20Br4: 0.024 e of 44 e), above it the file misses atoms.
NEUTRALITY_TOLERANCE = 0.01


class ChargeError(StructureError):
    """An element whose formal charge cannot be guessed (give it explicitly)."""


def _amounts(composition) -> dict[str, float]:
    from pymatgen.core import Composition

    if not isinstance(composition, Composition):
        composition = Composition(composition)
    return {el.symbol: float(amount) for el, amount in composition.element_composition.items()}


def _formula(amounts: Mapping[str, float]) -> str:
    return "".join(el if amount == 1 else f"{el}{amount:.4g}" for el, amount in amounts.items())


def _pymatgen_guess(amounts: Mapping[str, float], fixed: Mapping[str, float]) -> dict[str, float] | None:
    """pymatgen's most probable charge-balanced guess (mixed valence averaged, e.g. Fe 8/3 in Fe3O4); integer
    compositions only."""
    import warnings

    from pymatgen.core import Composition

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns about elements without ICSD statistics
        guesses = Composition(amounts).oxi_state_guesses(
            oxi_states_override={el: [q] for el, q in fixed.items()}, max_sites=-1
        )
    return {el: float(q) for el, q in guesses[0].items()} if guesses else None


def _candidate_states(symbol: str) -> tuple[float, ...]:
    from pymatgen.core import Element

    element = Element(symbol)
    if element.is_noble_gas:
        return (0.0,)
    return tuple(float(q) for q in (element.icsd_oxidation_states or element.common_oxidation_states))


def _probability(symbol: str, charge: float) -> float:
    """How often pymatgen's ICSD statistics see this oxidation state (the table pymatgen's own guess ranks by)."""
    from pymatgen.core import Composition, Species

    if Composition.oxi_prob is None:  # loaded on first use of pymatgen's guesser
        Composition("Li2O").oxi_state_guesses()
    return float(Composition.oxi_prob.get(Species(symbol, charge), 0))  # type: ignore[union-attr]


def _single_valence_guess(
    amounts: Mapping[str, float], fixed: Mapping[str, float]
) -> tuple[dict[str, float], bool] | None:
    """One oxidation state per element for any composition, fractional ones included (pymatgen's guesser needs
    integer amounts): the most probable charge-balanced assignment, else each element's most probable state.

    Returns (charges, balanced), or None when some element has no known oxidation state."""
    free = [el for el in amounts if el not in fixed]
    options = [_candidate_states(el) for el in free]
    if any(not states for states in options):
        return None
    fixed_charge = sum(amounts[el] * q for el, q in fixed.items())
    best, best_score = None, -math.inf
    for states in itertools.product(*options):
        charges = dict(zip(free, states, strict=True))
        net = fixed_charge + sum(amounts[el] * q for el, q in charges.items())
        if abs(net) > NEUTRALITY_TOLERANCE * max(_cation_charge(amounts, {**fixed, **charges}), 1.0):
            continue
        score = sum(amounts[el] * _probability(el, q) for el, q in charges.items())
        if score > best_score:
            best, best_score = charges, score
    if best is not None:
        return {**fixed, **best}, True
    likeliest = {
        el: max(states, key=lambda q, el=el: _probability(el, q))
        for el, states in zip(free, options, strict=True)
    }
    return {**fixed, **likeliest}, False


def _cation_charge(amounts: Mapping[str, float], charges: Mapping[str, float]) -> float:
    return sum(amounts[el] * q for el, q in charges.items() if q > 0 and el in amounts)


def net_charge_e(composition, charges_e: Mapping[str, float]) -> float:
    """Σ amount × charge over the composition's elements (e).

    >>> net_charge_e("Li3N", {"Li": 1, "N": -3})
    0.0
    """
    return float(sum(amount * charges_e[el] for el, amount in _amounts(composition).items()))


def charge_balance_warning(composition, charges_e: Mapping[str, float]) -> str | None:
    """A warning when the charges leave the composition clearly non-neutral (beyond refinement noise).

    >>> charge_balance_warning("Li35.76La24Zr16O96", {"Li": 1, "La": 3, "Zr": 4, "O": -2})[:60]
    'Li35.76La24Zr16O96 is not charge-neutral with Li+1 La+3 Zr+4'
    """
    amounts = _amounts(composition)
    net = net_charge_e(amounts, charges_e)
    if abs(net) <= NEUTRALITY_TOLERANCE * max(_cation_charge(amounts, charges_e), 1.0):
        return None
    states = " ".join(f"{el}{charges_e[el]:+g}" for el in amounts)
    return (
        f"{_formula(amounts)} is not charge-neutral with {states} (net {net:+.3g} e): the structure may miss "
        "atoms or carry wrong occupancies; its composition is kept as given"
    )


def formal_charges(
    composition, charges_e: Mapping[str, float] | None = None, *, strict: bool = True
) -> dict[str, float]:
    """The formal charge (e) of every element of ``composition``.

    Args:
      composition: a pymatgen ``Composition``, a formula (``"Li7La3Zr2O12"``) or ``{symbol: amount}``; amounts
        may be fractional, as in a disordered structure (``"Li5.5La3Nb1.75Y0.25O12"``).
      charges_e: charges known per element; they are used as given and the others are guessed to balance them.
      strict: when an element's charge cannot be guessed, raise :class:`ChargeError` (default) or give it NaN.

    The guess is pymatgen's most probable charge-balanced assignment (mixed valence averaged) for integer
    compositions, else the most probable charge-balanced assignment of one oxidation state per element, else
    each element's most probable state (check :func:`charge_balance_warning`).

    >>> formal_charges("Li5.5La3Nb1.75Y0.25O12")
    {'Li': 1.0, 'La': 3.0, 'Nb': 5.0, 'Y': 3.0, 'O': -2.0}
    >>> formal_charges("Li3PS4", {"S": -2})
    {'Li': 1.0, 'P': 5.0, 'S': -2.0}
    """
    amounts = _amounts(composition)
    given = {el: float(q) for el, q in (charges_e or {}).items() if el in amounts}
    if all(el in given for el in amounts):
        return {el: given[el] for el in amounts}
    guess = None
    if all(float(a).is_integer() for a in amounts.values()):
        guess = _pymatgen_guess(amounts, given)
    if guess is None:
        single = _single_valence_guess(amounts, given)
        guess = single[0] if single is not None else None
    if guess is not None:
        return {el: float(guess[el]) for el in amounts}
    unknown = [el for el in amounts if el not in given and not _candidate_states(el)]
    if strict:
        example = ",".join(f"{el}=..." for el in unknown)
        raise ChargeError(
            f"cannot guess the oxidation state of {', '.join(unknown)} in {_formula(amounts)}: give the charges "
            f"explicitly, e.g. --charges {example} (charges_e={{...}} in Python)"
        )
    partial = _single_valence_guess({el: a for el, a in amounts.items() if el not in unknown}, given)
    known = partial[0] if partial is not None else {}
    return {el: float(known.get(el, math.nan)) for el in amounts}


def parse_charges(text: str) -> dict[str, float]:
    """``"Li=1,La=3,O=-2"`` → ``{"Li": 1.0, "La": 3.0, "O": -2.0}`` (charges in e), with one-line errors.

    >>> parse_charges("Li=1, S=-1.5")
    {'Li': 1.0, 'S': -1.5}
    """
    from ase.data import atomic_numbers

    out: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        symbol, sep, value = item.partition("=")
        symbol = symbol.strip()
        try:
            charge = float(value)
        except ValueError:
            charge = math.nan
        if not sep or symbol not in atomic_numbers or symbol == "X" or not math.isfinite(charge):
            raise ChargeError(f"invalid charge {item!r}: use ELEMENT=CHARGE pairs in e, e.g. Li=1,La=3,O=-2")
        out[symbol] = charge
    return out
