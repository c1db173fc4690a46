"""Readers: superionic's H5MD layout, any H5MD MDAnalysis reads, and every trajectory format ASE reads
(ASE .traj, extended XYZ, VASP XDATCAR, ...). All return an unwrapped :class:`Trajectory`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from ase.data import atomic_numbers as symbol_to_z
from ase.data import chemical_symbols

from superionic.analysis._conductivity import guess_formal_charges
from superionic.analysis._trajectory import Trajectory
from superionic.analysis._unwrap import unwrap_positions

FORMATS = ("superionic-h5md", "h5md", "ase", "xdatcar")
_H5_SUFFIXES = (".h5", ".h5md", ".hdf5", ".hdf")
_LENGTH_TO_A = {"Angstrom": 1.0, "angstrom": 1.0, "A": 1.0, "nm": 10.0, "pm": 0.01}
_TIME_TO_PS = {"ps": 1.0, "fs": 1e-3, "ns": 1e3}

ChargeSpec = Mapping[str, float] | Sequence[float] | np.ndarray | None
SpeciesSpec = Sequence[str | int] | np.ndarray | None


def read_trajectory(
    path: str | Path,
    *,
    temperature_K: float | None = None,
    species: SpeciesSpec = None,
    charges: ChargeSpec = None,
    format: str | None = None,
    frame_interval_ps: float | None = None,
    topology: str | Path | None = None,
) -> Trajectory:
    """Read a trajectory file into an unwrapped :class:`Trajectory`.

    Args:
        path: H5MD (``.h5``/``.h5md``), or anything ASE reads (``.traj``, ``.extxyz``, ``XDATCAR``, ...).
        temperature_K: the run's temperature; overrides the file's ``/parameters`` attribute.
        species: per-atom chemical symbols or atomic numbers ``[N]``, for files that do not store them
            (e.g. H5MD written by MDAnalysis); overrides the file.
        charges: formal charges in e, per atom ``[N]`` or per element (``{"Li": 1, "N": -3}``); overrides the
            file's ``charge`` dataset. Default: the file's, else pymatgen's oxidation-state guess.
        format: one of ``FORMATS``; default from the suffix and, for HDF5, from the file's content.
        frame_interval_ps: time between frames, for formats without times (ASE .traj, XDATCAR); overrides them.
        topology: a structure file of the same atoms in the same order (PDB, GRO, CIF, POSCAR; MDAnalysis'
            convention) giving the elements of a file that stores none; overrides the file. Default for a file
            without species: a same-stem ``.pdb`` or ``.gro`` beside it (as superionic and MDAnalysis users write).

    Returns:
        A :class:`Trajectory`; positions unwrapped with the NPT-safe scheme of ``unwrap_positions`` (a no-op on
        files already unwrapped, like superionic's).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"trajectory file {path} does not exist")
    fmt = format or _detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is not one of {FORMATS}")
    if fmt == "superionic-h5md":
        raw = _read_superionic_h5md(path)
    elif fmt == "h5md":
        raw = _read_mdanalysis_h5md(path)
    else:
        raw = _read_ase(path, "vasp-xdatcar" if fmt == "xdatcar" else None)
    raw["metadata"].update({"source": str(path), "format": fmt})

    numbers = raw["atomic_numbers"]
    if topology is None and numbers is None:
        topology = next(
            (c for c in (path.with_suffix(".pdb"), path.with_suffix(".gro")) if c.is_file()), None
        )
    if species is not None:
        numbers = _species_to_z(species)
    elif topology is not None:
        numbers = _species_from_topology(Path(topology))
        raw["metadata"]["species_from"] = str(topology)
    if numbers is None:
        raise ValueError(
            f"{path} does not say which element each atom is; pass species=[...] (symbols or Z) or a topology "
            "file (e.g. a .pdb of the same atoms)"
        )
    n_atoms = raw["positions_A"].shape[1]
    if numbers.shape != (n_atoms,):
        given = f"topology {topology}" if species is None and topology is not None else "species"
        raise ValueError(f"{given} has {numbers.shape[0]} entries but {path} has {n_atoms} atoms")

    times_ps = raw["times_ps"]
    if frame_interval_ps is not None:
        times_ps = np.arange(raw["positions_A"].shape[0]) * float(frame_interval_ps)
    if times_ps is None:
        raise ValueError(f"{path} stores no frame times; pass frame_interval_ps= (time between frames in ps)")

    return Trajectory(
        positions_A=unwrap_positions(raw["positions_A"], raw["cells_A"]),
        cells_A=raw["cells_A"],
        times_ps=np.asarray(times_ps, dtype=np.float64) - float(times_ps[0]),
        atomic_numbers=numbers,
        charges_e=_resolve_charges(charges, raw.get("charges_e"), numbers),
        temperature_K=temperature_K if temperature_K is not None else raw.get("temperature_K"),
        metadata=raw["metadata"],
    )


def _detect_format(path: Path) -> str:
    if path.suffix.lower() in _H5_SUFFIXES:
        with h5py.File(path, "r") as f:
            layout = "particles/all/species" in f and "particles/all/position" in f
        return "superionic-h5md" if layout else "h5md"
    if "XDATCAR" in path.name.upper():
        return "xdatcar"
    return "ase"


def _species_to_z(species: SpeciesSpec) -> np.ndarray:
    out = []
    for s in species:  # type: ignore[union-attr]
        if isinstance(s, str):
            if s not in symbol_to_z:
                raise ValueError(f"unknown chemical symbol {s!r} in species")
            out.append(symbol_to_z[s])
        else:
            out.append(int(s))
    return np.asarray(out, dtype=np.int64)


def _species_from_topology(topology: Path) -> np.ndarray:
    """Atomic numbers ``[N]`` from a structure file of the same atoms (read with ASE)."""
    from ase.io import read

    if not topology.is_file():
        raise FileNotFoundError(f"topology file {topology} does not exist")
    try:
        atoms = read(topology)
    except Exception as err:  # ASE raises many types for unreadable files
        raise ValueError(f"cannot read topology {topology}: {err}".splitlines()[0]) from err
    return atoms.numbers.astype(np.int64)


def _resolve_charges(charges: ChargeSpec, from_file: np.ndarray | None, numbers: np.ndarray) -> np.ndarray:
    if charges is None:
        return (
            np.asarray(from_file, dtype=np.float64)
            if from_file is not None
            else guess_formal_charges(numbers)
        )
    if isinstance(charges, Mapping):
        symbols = [chemical_symbols[z] for z in numbers]
        base = (
            np.asarray(from_file, dtype=np.float64)
            if from_file is not None
            else guess_formal_charges(numbers)
        )
        return np.array([float(charges[s]) if s in charges else base[i] for i, s in enumerate(symbols)])
    arr = np.asarray(charges, dtype=np.float64)
    if arr.shape != numbers.shape:
        raise ValueError(
            f"charges has shape {arr.shape}; give one per atom {numbers.shape} or a dict per element"
        )
    return arr


def _unit_factor(dataset: h5py.Dataset, table: dict[str, float], what: str) -> float:
    unit = dataset.attrs.get("unit", None)
    if unit is None:
        return 1.0  # H5MD without units: take ours (Å, ps), as the layout says
    unit = unit.decode() if isinstance(unit, bytes) else str(unit)
    if unit not in table:
        raise ValueError(f"{dataset.name}: unsupported {what} unit {unit!r}; expected one of {sorted(table)}")
    return table[unit]


def _attr_to_python(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_attr_to_python(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read_box(box: h5py.Group, n_frames: int) -> np.ndarray:
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
    with h5py.File(path, "r") as f:
        part = f["particles/all"]
        pos = part["position/value"]
        positions = np.asarray(pos, dtype=np.float64) * _unit_factor(pos, _LENGTH_TO_A, "length")
        time = part["position/time"]
        times = np.asarray(time, dtype=np.float64) * _unit_factor(time, _TIME_TO_PS, "time")
        cells = _read_box(part["box"], positions.shape[0])
        numbers = np.asarray(part["species"], dtype=np.int64)
        charges = np.asarray(part["charge"], dtype=np.float64) if "charge" in part else None
        params = (
            {k: _attr_to_python(v) for k, v in f["parameters"].attrs.items()} if "parameters" in f else {}
        )
    temperature = params.get("temperature_K")
    return {
        "positions_A": positions,
        "cells_A": cells,
        "times_ps": times,
        "atomic_numbers": numbers,
        "charges_e": charges,
        "temperature_K": float(temperature) if temperature is not None else None,
        "metadata": {"parameters": params},
    }


def _read_mdanalysis_h5md(path: Path) -> dict[str, Any]:
    """Any H5MD file MDAnalysis' H5MDReader reads (units converted by MDAnalysis to Å and ps)."""
    import MDAnalysis as mda

    with h5py.File(path, "r") as f:
        group = f["particles"][next(iter(f["particles"]))]
        numbers = None
        if "species" in group:  # H5MD allows a fixed dataset or a time series (then the first frame)
            species = group["species"]
            species = species if isinstance(species, h5py.Dataset) else species["value"][0]
            numbers = np.asarray(species, dtype=np.int64)
        data = next((group[k]["value"] for k in ("position", "velocity", "force") if k in group), None)
        if data is None:
            raise ValueError(f"{path} has no particles/<group>/position; it is not an H5MD trajectory")
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
            raise ValueError(
                f"{path} has no periodic box; diffusion in a solid needs the cell of every frame"
            )
        cells[i] = ts.triclinic_dimensions
        times[i] = ts.time
    return {
        "positions_A": positions,
        "cells_A": cells,
        "times_ps": times,
        "atomic_numbers": numbers,
        "charges_e": None,
        "temperature_K": None,
        "metadata": {},
    }


def _read_ase(path: Path, ase_format: str | None) -> dict[str, Any]:
    """Every format ``ase.io.read`` knows; times from ``atoms.info['time_ps']`` when present."""
    from ase.io import read

    frames = read(path, index=":", format=ase_format)
    if len(frames) < 3:
        raise ValueError(f"{path} holds {len(frames)} frame(s); an MSD needs a trajectory of many frames")
    numbers = frames[0].numbers.astype(np.int64)
    if any(not np.array_equal(a.numbers, numbers) for a in frames):
        raise ValueError(
            f"{path}: the atoms change between frames; diffusion analysis needs a fixed atom list"
        )
    times = [a.info.get("time_ps") for a in frames]
    charges = frames[0].get_initial_charges()
    return {
        "positions_A": np.stack([a.get_positions() for a in frames]),
        "cells_A": np.stack([a.cell.array for a in frames]),
        "times_ps": np.asarray(times, dtype=np.float64) if all(t is not None for t in times) else None,
        "atomic_numbers": numbers,
        "charges_e": charges if np.any(charges != 0) else None,
        "temperature_K": None,
        "metadata": {},
    }
