"""Where a run's frames and checkpoints go: H5MD files (+ PDB topology, + an atomic checkpoint after every chunk)
in an output folder, or memory (:class:`MemoryOutput`, for scripts and tests: nothing is written).

Both take frames per member in file units (``docs/h5md_layout.md``) and give back one
:class:`superionic.trajectory.Trajectory` per member at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

import superionic
from superionic.md.h5md import H5MDWriter, write_topology
from superionic.md.system import System
from superionic.trajectory import Trajectory, read_trajectory

__all__ = ["CHECKPOINT_VERSION", "FileOutput", "MemoryOutput", "fingerprint"]

CHECKPOINT_VERSION = 3  # 3: the skin is the system's; 2: neighbour capacity holds the packed width and images
# MDConfig fields that may change between a run and its restart (they do not change the trajectory).
_RESTART_MUTABLE = {"production_ps", "progress", "chunk_steps"}


def fingerprint(system: System) -> str:
    """A hash of what makes a system (atoms, positions, cell, skin): a checkpoint belongs to exactly one."""
    h = hashlib.sha256()
    for a in (system.numbers.astype(np.int64), np.round(system.fractional, 8), np.round(system.cell_A, 8)):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr(round(system.skin_A, 8)).encode())
    return h.hexdigest()[:16]


def file_stem(system: System, temperature_K: float, replica: int) -> str:
    return f"{system.name}_T{temperature_K:g}K_r{replica}"


class MemoryOutput:
    """Frames kept in memory; no checkpoints (a run kept in memory cannot be restarted)."""

    def __init__(self, system: System, members: Sequence[tuple[int, float, int]], parameters: Sequence[dict]):
        self.system, self.members, self.parameters = system, list(members), list(parameters)
        self._frames: list[list[dict]] = [[] for _ in self.members]

    def start(self, restart: bool, overwrite: bool) -> None:
        if restart:
            raise ValueError(
                "restart needs an output folder (out_dir): a run kept in memory has no checkpoint"
            )

    def load_checkpoint(self) -> None:
        return None

    def open(self, resume_frames: int | None) -> None:
        del resume_frames

    def append(self, per_member: Sequence[Mapping[str, Any]]) -> None:
        for store, frames in zip(self._frames, per_member, strict=True):
            store.append(frames)

    def checkpoint(self, carry, boxes, meta: dict) -> None:
        del carry, boxes, meta

    def close(self) -> None:
        pass

    def kept(self, m: int) -> str:
        return "the run had no out_dir, so no frames are kept. "

    def paths(self) -> list[tuple[Path | None, Path | None]]:
        return [(None, None)] * len(self.members)

    @property
    def checkpoint_path(self) -> None:
        return None

    def trajectories(self) -> list[Trajectory]:
        out = []
        for store, params, (_, temperature, _) in zip(
            self._frames, self.parameters, self.members, strict=True
        ):
            if not store:
                raise ValueError("no frames were produced")

            def cat(key: str, store=store) -> np.ndarray:
                return np.concatenate([np.asarray(f[key]) for f in store])

            velocities = None if store[0]["velocities_A_per_ps"] is None else cat("velocities_A_per_ps")
            out.append(
                Trajectory(
                    positions_A=cat("positions_A"),
                    cells_A=cat("cell_A"),
                    times_ps=cat("time_ps"),
                    atomic_numbers=np.asarray(self.system.numbers),
                    charges_e=np.asarray(self.system.charges_e),
                    temperature_K=float(temperature),
                    metadata={"source": "memory", "format": "superionic-memory"},
                    steps=cat("step"),
                    masses_amu=np.asarray(self.system.masses_amu),
                    observables={
                        k: np.concatenate([np.asarray(f["observables"][k]) for f in store])
                        for k in store[0]["observables"]
                    },
                    parameters=params,
                    velocities_A_per_ps=velocities,
                )
            )
        return out


class FileOutput:
    """One H5MD file (flushed per chunk) and one PDB topology per member, and an atomic checkpoint, in ``out_dir``."""

    def __init__(
        self,
        out_dir: Path,
        system: System,
        members: Sequence[tuple[int, float, int]],
        parameters: Sequence[dict],
        write_velocities: bool,
        position_dtype: str = "float32",
    ):
        self.out_dir, self.system, self.members = Path(out_dir), system, list(members)
        self.parameters, self.write_velocities = list(parameters), write_velocities
        self.position_dtype = (
            position_dtype  # storage of positions and velocities (the simulation's, by default)
        )
        self.files = [self.out_dir / (file_stem(system, t, r) + ".h5md") for _, t, r in self.members]
        self.topologies = [p.with_suffix(".pdb") for p in self.files]
        self.checkpoint_path = self.out_dir / f"{system.name}.checkpoint.npz"
        self._writers: list[H5MDWriter] = []
        self._resume = False

    def start(self, restart: bool, overwrite: bool) -> None:
        """Create the folder; a fresh run refuses (or, with ``overwrite``, removes) an earlier run's files."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._resume = restart and self.checkpoint_path.exists()
        if self._resume:
            return
        existing = [p for p in [*self.files, *self.topologies, self.checkpoint_path] if p.exists()]
        if existing and not overwrite:
            raise FileExistsError(
                f"{existing[0]} exists: continue that run with restart=True (--restart) or replace it with "
                "overwrite=True (--overwrite)"
            )
        for p in existing:
            p.unlink()

    def load_checkpoint(self) -> tuple[dict, dict[str, np.ndarray]] | None:
        """(meta, arrays) of the checkpoint to resume from, or None for a fresh run."""
        if not self._resume:
            return None
        with np.load(self.checkpoint_path) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in z.files if k != "meta"}
        if meta.get("version") != CHECKPOINT_VERSION:
            raise ValueError(
                f"checkpoint {self.checkpoint_path} has version {meta.get('version')}, expected "
                f"{CHECKPOINT_VERSION}; start a new run in another out_dir"
            )
        if meta["fingerprint"] != fingerprint(self.system):
            raise ValueError(
                f"checkpoint {self.checkpoint_path} belongs to a different system; use another out_dir"
            )
        return meta, arrays

    @staticmethod
    def check_compatible(meta: dict, config_dict: dict) -> None:
        old = meta["config"]
        differ = sorted(k for k in config_dict if k not in _RESTART_MUTABLE and old.get(k) != config_dict[k])
        if differ:
            raise ValueError(
                f"cannot restart with changed settings {differ} (only {sorted(_RESTART_MUTABLE)} may change); "
                "start a new run in another out_dir"
            )

    def open(self, resume_frames: int | None) -> None:
        """Open the writers: new files, or existing ones truncated to ``resume_frames``."""
        self._writers = [
            H5MDWriter(
                path,
                numbers=self.system.numbers,
                masses_amu=self.system.masses_amu,
                charges_e=self.system.charges_e,
                parameters=params,
                write_velocities=self.write_velocities,
                position_dtype=self.position_dtype,
                resume_frames=resume_frames,
            )
            for path, params in zip(self.files, self.parameters, strict=True)
        ]
        self._new = resume_frames is None

    def append(self, per_member: Sequence[Mapping[str, Any]]) -> None:
        """Append and flush one chunk's frames per member; the first frame of a new file also gives the topology."""
        for w, frames, top in zip(self._writers, per_member, self.topologies, strict=True):
            w.append(**frames)
            w.flush()
            if self._new:
                write_topology(top, self.system.numbers, frames["positions_A"][0], frames["cell_A"][0])
        self._new = False

    def checkpoint(self, carry, boxes, meta: dict) -> None:
        """Replace the checkpoint atomically: the carry's leaves and what rebuilds its static structure."""
        leaves = jax.tree_util.tree_leaves(carry)
        arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)}
        arrays["positions"] = np.asarray(carry.state.position)
        arrays["boxes"] = np.asarray(boxes)
        meta = {
            **meta,
            "version": CHECKPOINT_VERSION,
            "fingerprint": fingerprint(self.system),
            "superionic_version": superionic.__version__,
        }
        tmp = self.checkpoint_path.with_suffix(".tmp.npz")
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.checkpoint_path)

    def close(self) -> None:
        for w in self._writers:
            w.close()

    def kept(self, m: int) -> str:
        return f"frames before it are kept in {self.files[m].name}. "

    def paths(self) -> list[tuple[Path | None, Path | None]]:
        return list(zip(self.files, self.topologies, strict=True))

    def trajectories(self) -> list[Trajectory]:
        return [read_trajectory(p) for p in self.files]
