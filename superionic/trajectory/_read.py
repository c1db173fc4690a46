"""``read_trajectory``: the package's one trajectory reader. superionic's H5MD layout (``docs/h5md_layout.md``),
any H5MD that MDAnalysis reads (species from the file, a ``--topology`` file or a same-stem ``.pdb``), and every
trajectory format ASE reads (ASE .traj, extended XYZ, VASP XDATCAR, ...)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers as symbol_to_z
from ase.data import chemical_symbols

from superionic.trajectory._trajectory import Trajectory
from superionic.trajectory._unwrap import unwrap_positions

__all__ = ["FORMATS", "TrajectoryError", "read_trajectory"]

FORMATS = ("superionic-h5md", "h5md", "ase", "xdatcar")
_H5_SUFFIXES = (".h5", ".h5md", ".hdf5", ".hdf")
_LENGTH_TO_A = {"Angstrom": 1.0, "angstrom": 1.0, "A": 1.0, "nm": 10.0, "pm": 0.01}
_TIME_TO_PS = {"ps": 1.0, "fs": 1e-3, "ns": 1e3}

ChargeSpec = Mapping[str, float] | Sequence[float] | np.ndarray | None
SpeciesSpec = Sequence[str | int] | np.ndarray | None


class TrajectoryError(ValueError):
    """A trajectory file that cannot be read as given (the message says what is missing and what to pass)."""


def read_trajectory(
    path: str | Path,
    *,
    temperature_K: float | None = None,
    species: SpeciesSpec = None,
    charges_e: ChargeSpec = None,
    topology: str | Path | None = None,
    format: str | None = None,
    frame_interval_ps: float | None = None,
) -> Trajectory:
    """Read a trajectory file into an unwrapped :class:`Trajectory`.

    Args:
      path: H5MD (``.h5``/``.h5md``), or anything ASE reads (``.traj``, ``.extxyz``, ``XDATCAR``, ...).
      temperature_K: the run's temperature; overrides the file's ``/parameters`` attribute.
      species: per-atom chemical symbols or atomic numbers ``[N]``; overrides the file and the topology.
      charges_e: formal charges in e, per atom ``[N]`` or per element (``{"Li": 1, "N": -3}``, the others from
        the file or guessed); default: the file's, else :func:`superionic.structures.formal_charges` (NaN for
        an element it cannot guess: analysis then asks for it).
      topology: a file with the atoms in order (PDB, GRO, CIF, POSCAR, ...), for an H5MD that stores no species
        (MDAnalysis' convention ``Universe(topology, trajectory)``); default: a ``.pdb`` (or ``.gro``) of the
        same stem beside ``path`` when there is one.
      format: one of ``FORMATS``; default from the suffix and, for HDF5, from the file's content.
      frame_interval_ps: time between frames, for formats without times (ASE .traj, XDATCAR); overrides them.

    Returns:
      A :class:`Trajectory`; positions unwrapped with :func:`superionic.trajectory.unwrap_positions` (a no-op
      on files already unwrapped, like superionic's). superionic's files also give steps, masses, observables,
      parameters and velocities.

    Raises:
      TrajectoryError: a missing, empty, corrupt or incomplete file, or inconsistent arguments.
    """
    path = Path(path)
    if not path.is_file():
        raise TrajectoryError(f"trajectory file not found: {path}")
    if path.stat().st_size == 0:
        raise TrajectoryError(f"trajectory file is empty: {path}")
    fmt = format or _detect_format(path)
    if fmt not in FORMATS:
        raise TrajectoryError(f"format={fmt!r} is not one of {', '.join(FORMATS)}")
    try:
        if fmt == "superionic-h5md":
            raw = _read_superionic_h5md(path)
        elif fmt == "h5md":
            raw = _read_mdanalysis_h5md(path)
        else:
            raw = _read_ase(path, "vasp-xdatcar" if fmt == "xdatcar" else None)
    except TrajectoryError:
        raise
    except Exception as err:  # h5py, MDAnalysis and ASE each fail in their own way on a corrupt file
        message = f"{type(err).__name__}: {err}".strip().splitlines()
        raise TrajectoryError(f"cannot read {path.name}: {message[0] if message else 'unreadable'}") from err
    raw["metadata"].update({"source": str(path), "format": fmt})
    n_frames, n_atoms = raw["positions_A"].shape[:2]
    if (
        n_frames == 0
        or not np.all(np.isfinite(raw["positions_A"]))
        or not np.all(np.isfinite(raw["cells_A"]))
    ):
        raise TrajectoryError(f"{path.name} holds no frames or non-finite positions/cells")
    if not np.all(np.abs(np.linalg.det(raw["cells_A"])) > 1.0):
        raise TrajectoryError(f"{path.name} has frames without a periodic cell (zero volume)")

    numbers = _atomic_numbers(path, raw["atomic_numbers"], species, topology, n_atoms, raw["metadata"])
    times_ps = raw["times_ps"]
    if frame_interval_ps is not None:
        if not frame_interval_ps > 0:
            raise TrajectoryError(f"frame_interval_ps must be positive, got {frame_interval_ps}")
        times_ps = np.arange(n_frames) * float(frame_interval_ps)
    if times_ps is None:
        raise TrajectoryError(
            f"{path.name} stores no frame times: give the time between frames (--frame-interval, frame_interval_ps=)"
        )
    temperature = temperature_K if temperature_K is not None else raw.get("temperature_K")
    if temperature is not None and not temperature > 0:
        raise TrajectoryError(f"temperature {temperature} K of {path.name} is not positive")
    try:
        return Trajectory(
            # superionic's files hold unwrapped positions by construction (docs/h5md_layout.md)
            positions_A=raw["positions_A"]
            if fmt == "superionic-h5md"
            else unwrap_positions(raw["positions_A"], raw["cells_A"]),
            cells_A=raw["cells_A"],
            times_ps=np.asarray(times_ps, dtype=np.float64) - float(times_ps[0]),
            atomic_numbers=numbers,
            charges_e=_charges(charges_e, raw.get("charges_e"), numbers),
            temperature_K=temperature,
            metadata=raw["metadata"],
            steps=raw.get("steps"),
            masses_amu=raw.get("masses_amu"),
            observables=raw.get("observables", {}),
            parameters=raw.get("parameters", {}),
            velocities_A_per_ps=raw.get("velocities_A_per_ps"),
        )
    except ValueError as err:
        raise TrajectoryError(f"{path.name}: {err}") from err


def _detect_format(path: Path) -> str:
    import h5py

    if path.suffix.lower() in _H5_SUFFIXES:
        try:
            with h5py.File(path, "r") as f:
                ours = "particles/all/species" in f and "particles/all/position" in f
        except OSError as err:
            raise TrajectoryError(f"cannot read {path.name}: not an HDF5 file ({err})") from err
        return "superionic-h5md" if ours else "h5md"
    if "XDATCAR" in path.name.upper():
        return "xdatcar"
    return "ase"


def _species_to_z(species: SpeciesSpec) -> np.ndarray:
    out = []
    for s in species:  # type: ignore[union-attr]
        if isinstance(s, str):
            if s not in symbol_to_z or s == "X":
                raise TrajectoryError(f"unknown chemical symbol {s!r} in species")
            out.append(symbol_to_z[s])
        else:
            out.append(int(s))
    return np.asarray(out, dtype=np.int64)


def _species_from_topology(topology: Path) -> np.ndarray:
    """Atomic numbers from a topology file: PDB/GRO/PSF through MDAnalysis, anything else through ASE."""
    if not topology.is_file():
        raise TrajectoryError(f"topology file not found: {topology}")
    try:
        if topology.suffix.lower() in {".pdb", ".gro", ".psf", ".pqr"}:
            import warnings

            import MDAnalysis as mda

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MDAnalysis warns about PDB fields a crystal does not use
                universe = mda.Universe(str(topology))
            if not hasattr(universe.atoms, "elements"):
                raise TrajectoryError(
                    f"{topology.name} names no elements; give a topology with element columns"
                )
            return _species_to_z([e.strip().capitalize() for e in universe.atoms.elements])
        from ase.io import read

        return read(topology).numbers.astype(np.int64)
    except TrajectoryError:
        raise
    except Exception as err:
        raise TrajectoryError(f"cannot read topology {topology.name}: {type(err).__name__}: {err}") from err


def _atomic_numbers(path: Path, from_file, species, topology, n_atoms: int, metadata: dict) -> np.ndarray:
    if species is not None:
        numbers, origin = _species_to_z(species), "species"
    elif from_file is not None and topology is None:
        numbers, origin = from_file, path.name
    else:
        beside = (
            path.with_suffix(".pdb"),
            path.with_suffix(".gro"),
        )  # as superionic and MDAnalysis users write
        top = Path(topology) if topology is not None else next((p for p in beside if p.is_file()), None)
        if top is None:
            raise TrajectoryError(
                f"{path.name} does not say which element each atom is: give a topology (--topology FILE, "
                "topology= in Python) or species=[...]"
            )
        numbers, origin = _species_from_topology(top), top.name
        metadata["species_from"] = str(top)
    if numbers.shape != (n_atoms,):
        raise TrajectoryError(f"{origin} has {numbers.shape[0]} atoms but {path.name} has {n_atoms}")
    if np.any(numbers < 1) or np.any(numbers >= len(chemical_symbols)):
        raise TrajectoryError(f"{origin} holds atomic numbers that are not elements")
    return numbers


def _charges(charges_e: ChargeSpec, from_file: np.ndarray | None, numbers: np.ndarray) -> np.ndarray:
    from superionic.structures import formal_charges

    symbols = [chemical_symbols[z] for z in numbers]
    if charges_e is not None and not isinstance(charges_e, Mapping):
        per_atom = np.asarray(charges_e, dtype=np.float64)
        if per_atom.shape != numbers.shape:
            raise TrajectoryError(
                f"charges_e has shape {per_atom.shape}; give one per atom {numbers.shape} or a dict per element"
            )
        return per_atom
    given = dict(charges_e or {})
    if from_file is not None:
        base = np.asarray(from_file, dtype=np.float64)
        return np.array([float(given[s]) if s in given else base[i] for i, s in enumerate(symbols)])
    per_element = formal_charges(Counter(symbols), given, strict=False)
    return np.array([per_element[s] for s in symbols])


def _unit_factor(dataset, table: dict[str, float], what: str) -> float:
    unit = dataset.attrs.get("unit", None)
    if unit is None:
        return 1.0  # H5MD without units: take ours (Å, ps), as the layout says
    unit = unit.decode() if isinstance(unit, bytes) else str(unit)
    if unit not in table:
        raise TrajectoryError(
            f"{dataset.name}: unsupported {what} unit {unit!r}; expected one of {sorted(table)}"
        )
    return table[unit]


def _attr_to_python(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_attr_to_python(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read_box(box, n_frames: int) -> np.ndarray:
    import h5py

    edges = box["edges"]
    if isinstance(edges, h5py.Group):
        value = edges["value"]
        cells = np.asarray(value, dtype=np.float64) * _unit_factor(value, _LENGTH_TO_A, "length")
    else:  # time-independent box, stored as a plain dataset
        cells = np.broadcast_to(np.asarray(edges, dtype=np.float64), (n_frames, *edges.shape)).copy()
        cells *= _unit_factor(edges, _LENGTH_TO_A, "length")
    if cells.shape[-1] == 3 and cells.ndim == 2:  # cuboid edges [F, 3] -> diagonal matrices
        cells = np.einsum("fi,ij->fij", cells, np.eye(3))
    return cells


def _read_superionic_h5md(path: Path) -> dict[str, Any]:
    """superionic's layout (docs/h5md_layout.md), read directly with h5py."""
    import h5py

    with h5py.File(path, "r") as f:
        part = f["particles/all"]
        pos = part["position/value"]
        positions = np.asarray(pos, dtype=np.float64) * _unit_factor(pos, _LENGTH_TO_A, "length")
        time = part["position/time"]
        times = np.asarray(time, dtype=np.float64) * _unit_factor(time, _TIME_TO_PS, "time")
        params = (
            {k: _attr_to_python(v) for k, v in f["parameters"].attrs.items()} if "parameters" in f else {}
        )
        observables = {k: np.asarray(f["observables"][k]["value"]) for k in f.get("observables", {})}
        raw = {
            "positions_A": positions,
            "cells_A": _read_box(part["box"], positions.shape[0]),
            "times_ps": times,
            "steps": np.asarray(part["position/step"], dtype=np.int64),
            "atomic_numbers": np.asarray(part["species"], dtype=np.int64),
            "charges_e": np.asarray(part["charge"], dtype=np.float64) if "charge" in part else None,
            "masses_amu": np.asarray(part["mass"], dtype=np.float64) if "mass" in part else None,
            "observables": {k: v for k, v in observables.items() if len(v) == positions.shape[0]},
            "parameters": params,
            "velocities_A_per_ps": np.asarray(part["velocity/value"]) if "velocity" in part else None,
        }
    temperature = params.get("temperature_K")
    raw["temperature_K"] = float(temperature) if temperature is not None else None
    raw["metadata"] = {}
    return raw


def _read_mdanalysis_h5md(path: Path) -> dict[str, Any]:
    """Any H5MD file MDAnalysis' H5MDReader reads (units converted by MDAnalysis to Å and ps)."""
    import h5py
    import MDAnalysis as mda

    with h5py.File(path, "r") as f:
        if "particles" not in f or not len(f["particles"]):
            raise TrajectoryError(f"{path.name} has no /particles group; it is not an H5MD trajectory")
        group = f["particles"][next(iter(f["particles"]))]
        numbers = None
        if "species" in group:  # H5MD allows a fixed dataset or a time series (then the first frame)
            species = group["species"]
            species = species if isinstance(species, h5py.Dataset) else species["value"][0]
            numbers = np.asarray(species, dtype=np.int64)
        data = next((group[k]["value"] for k in ("position", "velocity", "force") if k in group), None)
        if data is None:
            raise TrajectoryError(
                f"{path.name} has no particles/<group>/position; it is not an H5MD trajectory"
            )
        n_atoms = int(data.shape[1])
    # An empty universe instead of MDAnalysis' minimal-topology parser, which only knows the group name
    # "trajectory"; MDAnalysis' reader still does the reading and the unit conversion.
    universe = mda.Universe.empty(n_atoms, trajectory=False)
    universe.load_new(str(path), format="H5MD")
    n_frames = universe.trajectory.n_frames
    positions = np.empty((n_frames, universe.atoms.n_atoms, 3))
    cells = np.empty((n_frames, 3, 3))
    times = np.empty(n_frames)
    for i, ts in enumerate(universe.trajectory):
        positions[i] = ts.positions
        if ts.dimensions is None:
            raise TrajectoryError(
                f"{path.name} has no periodic box; diffusion in a solid needs every frame's cell"
            )
        cells[i] = ts.triclinic_dimensions
        times[i] = ts.time
    return {
        "positions_A": positions,
        "cells_A": cells,
        "times_ps": times,
        "atomic_numbers": numbers,
        "metadata": {},
    }


def _read_ase(path: Path, ase_format: str | None) -> dict[str, Any]:
    """Every format ``ase.io.read`` knows; times from ``atoms.info['time_ps']`` when present."""
    from ase.io import read

    frames = read(path, index=":", format=ase_format)
    if not frames:
        raise TrajectoryError(f"{path.name} holds no frames")
    numbers = frames[0].numbers.astype(np.int64)
    if any(not np.array_equal(a.numbers, numbers) for a in frames):
        raise TrajectoryError(
            f"{path.name}: the atoms change between frames; a trajectory needs a fixed atom list"
        )
    times = [a.info.get("time_ps") for a in frames]
    charges = frames[0].get_initial_charges()
    return {
        "positions_A": np.stack([a.get_positions() for a in frames]),
        "cells_A": np.stack([a.cell.array for a in frames]),
        "times_ps": np.asarray(times, dtype=np.float64) if all(t is not None for t in times) else None,
        "atomic_numbers": numbers,
        "charges_e": charges if np.any(charges != 0) else None,
        "metadata": {},
    }
