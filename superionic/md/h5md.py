"""H5MD trajectories exactly as laid out in ``docs/h5md_layout.md`` (writer, and a small reader to ASE/pymatgen).

One file per member (temperature/replica). Frames are appended per chunk and flushed, so a killed run leaves a
readable file; on restart the file is truncated back to the last checkpointed frame and appended to.
Files end in ``.h5md`` (MDAnalysis picks its reader from the extension). A topology file (first frame as PDB) is written beside it, so that ``MDAnalysis.Universe("x.pdb", "x.h5md")`` works.
"""

from __future__ import annotations

import dataclasses
import getpass
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np
from ase import Atoms

import superionic

__all__ = ["H5MDWriter", "Trajectory", "read_atoms", "read_structures", "read_trajectory", "write_topology"]

OBSERVABLES: dict[str, tuple[str, tuple[int, ...]]] = {
    "temperature": ("K", ()),
    "potential_energy": ("eV", ()),
    "kinetic_energy": ("eV", ()),
    "conserved_energy": ("eV", ()),
    "pressure": ("GPa", ()),
    "stress": ("GPa", (3, 3)),
    "volume": ("Angstrom^3", ()),
}


def _time_series(
    group: h5py.Group, shape: tuple[int, ...], dtype, unit: str | None, chunk_frames: int
) -> None:
    group.create_dataset(
        "step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(max(chunk_frames, 16),)
    )
    t = group.create_dataset(
        "time", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(max(chunk_frames, 16),)
    )
    t.attrs["unit"] = "ps"
    v = group.create_dataset(
        "value", shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(chunk_frames, *shape)
    )
    if unit is not None:
        v.attrs["unit"] = unit


def _append(group: h5py.Group, step: np.ndarray, time: np.ndarray, value: np.ndarray) -> None:
    n0, n = group["step"].shape[0], len(step)
    for name, data in (("step", step), ("time", time), ("value", value)):
        ds = group[name]
        ds.resize(n0 + n, axis=0)
        ds[n0:] = data


def _truncate(group: h5py.Group, n_frames: int) -> None:
    for name in ("step", "time", "value"):
        group[name].resize(n_frames, axis=0)


class H5MDWriter:
    """Append-only writer of one member's trajectory.

    Args:
      path: the ``.h5`` file.
      numbers, masses_amu, charges_e: per-atom constants [N].
      parameters: scalars/strings for ``/parameters`` (see the layout document).
      write_velocities: create ``/particles/all/velocity``.
      position_dtype: storage type of positions and velocities (the simulation's precision: float32 halves the
        file and its I/O; float32 keeps unwrapped positions of a 100 Å path to ~1e-5 Å).
      resume_frames: open an existing file and truncate it to this many frames (restart) instead of creating it.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        numbers: np.ndarray,
        masses_amu: np.ndarray,
        charges_e: np.ndarray,
        parameters: Mapping[str, object],
        write_velocities: bool = False,
        position_dtype: np.dtype | type | str = np.float32,
        resume_frames: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.write_velocities = write_velocities
        if resume_frames is not None:
            self._f = h5py.File(self.path, "a")
            for group in self._groups():
                _truncate(group, resume_frames)
            self._f.flush()
            return
        n = len(numbers)
        chunk_frames = max(1, min(64, (1 << 20) // max(24 * n, 1)))
        f = self._f = h5py.File(self.path, "w")
        h5 = f.create_group("h5md")
        h5.attrs["version"] = np.array([1, 1], dtype=np.int32)
        h5.create_group("author").attrs["name"] = _user()
        creator = h5.create_group("creator")
        creator.attrs["name"] = "superionic"
        creator.attrs["version"] = superionic.__version__
        part = f.create_group("particles/all")
        box = part.create_group("box")
        box.attrs["dimension"] = 3
        box.attrs["boundary"] = np.array([b"periodic"] * 3)
        _time_series(box.create_group("edges"), (3, 3), np.float64, "Angstrom", chunk_frames)
        position_dtype = np.dtype(position_dtype)
        _time_series(part.create_group("position"), (n, 3), position_dtype, "Angstrom", chunk_frames)
        if write_velocities:
            _time_series(part.create_group("velocity"), (n, 3), position_dtype, "Angstrom ps-1", chunk_frames)
        part.create_dataset("species", data=np.asarray(numbers, dtype=np.int32))
        part.create_dataset("charge", data=np.asarray(charges_e, dtype=np.float64)).attrs["unit"] = "e"
        part.create_dataset("mass", data=np.asarray(masses_amu, dtype=np.float64)).attrs["unit"] = "amu"
        obs = f.create_group("observables")
        for name, (unit, shape) in OBSERVABLES.items():
            _time_series(obs.create_group(name), shape, np.float64, unit, 256)
        obs["stress"].attrs["sign_convention"] = (
            "ASE: -pressure tensor (tensile positive); pressure = -trace/3"
        )
        params = f.create_group("parameters")
        for key, value in parameters.items():
            params.attrs[key] = value
        f.flush()

    def _groups(self) -> list[h5py.Group]:
        f = self._f
        groups = [f["particles/all/box/edges"], f["particles/all/position"]]
        if "velocity" in f["particles/all"]:
            groups.append(f["particles/all/velocity"])
        groups += [f["observables"][name] for name in f["observables"]]
        return groups

    @property
    def n_frames(self) -> int:
        return int(self._f["particles/all/position/step"].shape[0])

    def append(
        self,
        step: np.ndarray,
        time_ps: np.ndarray,
        positions_A: np.ndarray,
        cell_A: np.ndarray,
        observables: Mapping[str, np.ndarray],
        velocities_A_per_ps: np.ndarray | None = None,
    ) -> None:
        """Append F frames: step [F], time_ps [F], unwrapped positions [F, N, 3], cell rows [F, 3, 3],
        observables ``{name: [F, ...]}`` in the units of ``OBSERVABLES``, velocities [F, N, 3] (if enabled)."""
        step = np.asarray(step, dtype=np.int64)
        time_ps = np.asarray(time_ps, dtype=np.float64)
        part = self._f["particles/all"]
        _append(part["box/edges"], step, time_ps, cell_A)
        _append(part["position"], step, time_ps, positions_A)
        if self.write_velocities:
            if velocities_A_per_ps is None:
                raise ValueError("this trajectory stores velocities; pass velocities_A_per_ps")
            _append(part["velocity"], step, time_ps, velocities_A_per_ps)
        for name in OBSERVABLES:
            _append(self._f["observables"][name], step, time_ps, observables[name])

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if self._f.id.valid:
            self._f.close()

    def __enter__(self) -> H5MDWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def write_topology(
    path: str | Path, numbers: np.ndarray, positions_A: np.ndarray, cell_A: np.ndarray
) -> Path:
    """First frame as PDB (element names, CRYST1 cell) for ``MDAnalysis.Universe(pdb, h5)``."""
    import ase.io

    path = Path(path)
    if len(numbers) > 99_999:
        raise ValueError("PDB topology cannot hold more than 99,999 atoms")
    ase.io.write(
        path, Atoms(numbers=numbers, positions=positions_A, cell=cell_A, pbc=True), format="proteindatabank"
    )
    return path


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """A whole H5MD trajectory in memory (numpy, units as in the layout document)."""

    positions_A: np.ndarray  # [F, N, 3] unwrapped
    cell_A: np.ndarray  # [F, 3, 3] rows = lattice vectors
    time_ps: np.ndarray  # [F]
    step: np.ndarray  # [F]
    numbers: np.ndarray  # [N]
    charges_e: np.ndarray  # [N]
    masses_amu: np.ndarray  # [N]
    observables: dict[str, np.ndarray]
    parameters: dict[str, object]
    velocities_A_per_ps: np.ndarray | None = None


def read_trajectory(path: str | Path) -> Trajectory:
    with h5py.File(path, "r") as f:
        part = f["particles/all"]
        return Trajectory(
            positions_A=part["position/value"][()],
            cell_A=part["box/edges/value"][()],
            time_ps=part["position/time"][()],
            step=part["position/step"][()],
            numbers=part["species"][()],
            charges_e=part["charge"][()],
            masses_amu=part["mass"][()],
            observables={k: f["observables"][k]["value"][()] for k in f["observables"]},
            parameters={
                k: (v.item() if isinstance(v, np.generic) else v) for k, v in f["parameters"].attrs.items()
            },
            velocities_A_per_ps=part["velocity/value"][()] if "velocity" in part else None,
        )


def read_atoms(path: str | Path, index: slice | int = slice(None)) -> list[Atoms]:
    """Frames as ASE ``Atoms`` (unwrapped positions, cell, charges, masses; ``info`` has step and time_ps;
    velocities in ASE units when stored)."""
    from ase import units as ase_units

    traj = read_trajectory(path)
    frames = range(len(traj.step))[index] if isinstance(index, slice) else [range(len(traj.step))[index]]
    out = []
    for i in frames:
        atoms = Atoms(numbers=traj.numbers, positions=traj.positions_A[i], cell=traj.cell_A[i], pbc=True)
        atoms.set_masses(traj.masses_amu)
        atoms.set_initial_charges(traj.charges_e)
        if traj.velocities_A_per_ps is not None:
            atoms.set_velocities(traj.velocities_A_per_ps[i] / (1000.0 * ase_units.fs))
        atoms.info.update(step=int(traj.step[i]), time_ps=float(traj.time_ps[i]))
        out.append(atoms)
    return out


def read_structures(path: str | Path, index: slice | int = slice(None)) -> list:
    """Frames as pymatgen ``Structure`` objects (positions unwrapped, so sites may lie outside the cell)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    return [AseAtomsAdaptor.get_structure(a) for a in read_atoms(path, index)]
