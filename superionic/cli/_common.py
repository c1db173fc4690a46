"""What every command shares: flag definitions with units, value parsing, one-line errors, ``--debug``.

A time flag takes a number with a unit (``50ps``, ``2fs``, ``0.1ns``); a bare number means the unit its help text
names (ps for ``--time``, fs for ``--timestep``). Temperatures are kelvin: a list (``700 900``) or an inclusive
range ``START:STOP:STEP`` (``700:1300:200``). Charges are ``ELEMENT=CHARGE`` pairs in e (``Li=1,La=3,O=-2``).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

_TIME_UNITS_FS = {"fs": 1.0, "ps": 1e3, "ns": 1e6}
_NUMBER = r"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (``prog: error: message``) and exit status 2, as every command here, and
    no abbreviated flags (``--temp`` is not ``--temperatures``: a typo must not pass for another flag)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _time_fs(text: str, bare_unit: str) -> float:
    match = re.fullmatch(rf"\s*{_NUMBER}\s*(fs|ps|ns)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: give a number with a unit, e.g. 50ps or 2fs"
        )
    value = float(match.group(1)) * _TIME_UNITS_FS[match.group(2) or bare_unit]
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"invalid time {text!r}: must be a finite, non-negative time")
    return value


def time_ps(text: str) -> float:
    """``"50ps"``, ``"2 fs"``, ``"0.1ns"`` → ps; a bare number is ps.

    >>> time_ps("50ps"), time_ps("500fs"), time_ps("0.1ns"), time_ps("7")
    (50.0, 0.5, 100.0, 7.0)
    """
    return _time_fs(text, "ps") / 1e3


def timestep_fs(text: str) -> float:
    """``"2fs"``, ``"0.002ps"`` → fs; a bare number is fs (``--timestep 2`` is 2 fs).

    >>> timestep_fs("2"), timestep_fs("2fs"), timestep_fs("0.001ps")
    (2.0, 2.0, 1.0)
    """
    return _time_fs(text, "fs")


def pressure_GPa(text: str) -> float:
    """``"1.5GPa"`` or ``"1.5"`` → GPa.

    >>> pressure_GPa("0.1GPa"), pressure_GPa("2")
    (0.1, 2.0)
    """
    match = re.fullmatch(rf"\s*{_NUMBER}\s*(GPa)?\s*", text)
    if not match or not math.isfinite(float(match.group(1))):
        raise argparse.ArgumentTypeError(f"invalid pressure {text!r}: give GPa, e.g. 0.1GPa")
    return float(match.group(1))


def temperatures_K(text: str) -> tuple[float, ...]:
    """One temperature (``"900"``, ``"900K"``) or an inclusive range ``"700:1300:200"``, kelvin.

    >>> temperatures_K("700:1300:200"), temperatures_K("800K")
    ((700.0, 900.0, 1100.0, 1300.0), (800.0,))
    """
    if ":" in text:
        parts = text.split(":")
        try:
            start, stop, step = (float(p.strip().removesuffix("K")) for p in parts)
        except ValueError as err:
            raise argparse.ArgumentTypeError(
                f"invalid range {text!r}: use START:STOP:STEP, e.g. 700:1300:200"
            ) from err
        if not (step > 0 and stop >= start > 0 and math.isfinite(stop)) or (stop - start) / step > 1000:
            raise argparse.ArgumentTypeError(f"invalid range {text!r}: need 0 < START <= STOP and STEP > 0")
        return tuple(start + i * step for i in range(round((stop - start) / step) + 1))
    try:
        value = float(text.strip().removesuffix("K"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"invalid temperature {text!r} (kelvin, e.g. 900 or 700:1300:200)"
        ) from err
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"invalid temperature {text!r}: must be a positive number of kelvin")
    return (value,)


def flatten(groups: Sequence[tuple[float, ...]] | None) -> tuple[float, ...] | None:
    """The values of a ``nargs="+"`` flag whose items each parse to a tuple (``--temperatures 700:900:100 1200``)."""
    return None if groups is None else tuple(v for group in groups for v in group)


def supercell(text: str) -> tuple[int, int, int] | None:
    """``"auto"`` → None, ``"2x2x3"`` → (2, 2, 3).

    >>> supercell("2x2x3"), supercell("auto")
    ((2, 2, 3), None)
    """
    if text == "auto":
        return None
    match = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text)
    if not match or min(int(g) for g in match.groups()) < 1 or max(int(g) for g in match.groups()) > 100:
        raise argparse.ArgumentTypeError(f"invalid supercell {text!r}: use auto or AxBxC, e.g. 2x2x3")
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def charges(text: str) -> dict[str, float]:
    """``"Li=1,La=3,O=-2"`` → {"Li": 1.0, ...} (e)."""
    from superionic.structures import parse_charges

    try:
        return parse_charges(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def element(text: str) -> str:
    from ase.data import atomic_numbers

    if text not in atomic_numbers or text == "X":
        raise argparse.ArgumentTypeError(f"{text!r} is not a chemical element (e.g. Li, Na)")
    return text


# ------------------------------------------------------------------------------------------- shared flags


def add_potential(parser: argparse.ArgumentParser, extra: str = "") -> None:
    parser.add_argument(
        "--potential",
        default="default",
        help=f"registered name (default, sevennet-0, ...) or checkpoint path (.npz){extra}; default: default",
    )


def add_species_and_charges(parser: argparse.ArgumentParser, species_default: str | None) -> None:
    parser.add_argument(
        "--species",
        type=element,
        default=species_default,
        help="the mobile ion (chemical symbol); default: " + (species_default or "Li if present"),
    )
    parser.add_argument(
        "--charges",
        type=charges,
        metavar="EL=Q,...",
        help="formal charges in e, e.g. Li=1,La=3,Zr=4,O=-2; elements left out are guessed "
        "(pymatgen's oxidation states)",
    )


def add_temperatures(parser: argparse.ArgumentParser, default: str | None, what: str) -> None:
    parser.add_argument(
        "--temperatures",
        type=temperatures_K,
        nargs="+",
        metavar="T",
        default=None if default is None else [temperatures_K(t) for t in default.split()],
        help=f"{what} in K: a list (700 900 1100) or a range START:STOP:STEP (700:1300:200)"
        + (f"; default: {default}" if default else ""),
    )


_MD_TIMES = (
    ("time", time_ps, "production (analysed) MD time per temperature, e.g. 50ps (bare number: ps)"),
    ("equilibration", time_ps, "discarded MD time before it, e.g. 5ps (bare number: ps)"),
    ("timestep", timestep_fs, "MD time step, e.g. 2fs (bare number: fs)"),
)


def add_md_times(parser: argparse.ArgumentParser, defaults: dict[str, str] | None) -> None:
    """--time, --equilibration (bare number: ps) and --timestep (bare number: fs); without ``defaults`` they
    default to None (the preset's)."""
    for name, parse, text in _MD_TIMES:
        given = (defaults or {}).get(name)
        shown = given or "the preset's"
        parser.add_argument(
            f"--{name}",
            type=parse,
            default=None if given is None else parse(given),
            help=f"{text}; default: {shown}",
        )


def parse_args(parser: argparse.ArgumentParser, argv) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status when argparse exited (--help, --version, a usage error)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def add_md_run(parser: argparse.ArgumentParser, ensembles: Sequence[str], ensemble_default: str) -> None:
    """--ensemble, --replicas, --target-atoms, --supercell, --seed."""
    parser.add_argument(
        "--ensemble",
        choices=list(ensembles),
        default=ensemble_default,
        help="nvt: Nosé–Hoover chain; npt: Nosé–Hoover with isotropic cell fluctuations"
        + ("; nve; langevin: NVT Langevin (BAOAB)" if "nve" in ensembles else "")
        + f"; default: {ensemble_default}",
    )
    parser.add_argument(
        "--replicas", type=positive_int, default=1, help="independent runs per temperature; default: 1"
    )
    parser.add_argument(
        "--target-atoms",
        type=positive_int,
        default=None,
        help="smallest MD cell in atoms (the supercell grows along its narrowest direction until it holds "
        "them); default: the preset's, 100 for superionic md",
    )
    parser.add_argument(
        "--supercell",
        type=supercell,
        default=None,
        help="repetition of the input cell, AxBxC (e.g. 2x2x3), or auto (default): the smallest with every "
        "width >= 2 x cutoff and at least --target-atoms atoms",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (orderings, velocities); default: 0")


def add_output(parser: argparse.ArgumentParser, out_help: str, out_default: str | None) -> None:
    parser.add_argument("--out", default=out_default, help=out_help)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_debug(parser)


def add_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error instead of one line"
    )


# ------------------------------------------------------------------------------------------- running


# What a command refuses with one line: bad input and settings (ValueError: structures, charges, trajectories,
# potentials), missing or existing files (OSError), unusable input files of any reader (KeyError from h5py
# groups), and failed runs (RuntimeError: MD instability, the workflow's EstimateError).
USER_ERRORS = (ValueError, OSError, KeyError, RuntimeError)


def run_command(prog: str, debug: bool, body: Callable[[], int]) -> int:
    """Run ``body``; an exception becomes ``prog: error: <first line>`` on stderr and exit status 1, unless
    ``debug`` (then the traceback is shown). Python warnings from other packages are silenced, ours are printed
    as one ``warning:`` line each on stdout; jax's notes that float64 arrays are stored as float32 (the
    documented default precision, not a user error) never reach the terminal."""
    with _quiet_warnings(debug):
        try:
            return body()
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except Exception as err:  # one line for every failure; --debug shows where it came from
            if debug:
                traceback.print_exc()
            text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)  # KeyError quotes
            lines = text.strip().splitlines()
            message = lines[0] if lines else type(err).__name__
            if not isinstance(err, USER_ERRORS):
                message = (
                    f"internal error: {type(err).__name__}: {message} (rerun with --debug for the traceback)"
                )
            print(f"{prog}: error: {message}", file=sys.stderr)
            return EXIT_ERROR


@contextlib.contextmanager
def _quiet_warnings(debug: bool) -> Iterator[None]:
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if "superionic" in str(filename) and issubclass(category, UserWarning):
            print(f"warning: {message}", flush=True)
        elif debug:
            print(f"{filename}:{lineno}: {category.__name__}: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", message=r"Explicitly requested dtype .*float64.* truncated")
        original, warnings.showwarning = warnings.showwarning, show
        try:
            yield
        finally:
            warnings.showwarning = original


def not_implemented(command: str) -> int:
    """Say honestly that ``command`` does not exist yet and return exit status 2."""
    print(f"{command}: not implemented yet", file=sys.stderr)
    return EXIT_USAGE
