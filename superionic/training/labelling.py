"""Label structures with a teacher (a superionic potential or any ASE calculator), resumably, in chunks.

Labels are energy (eV), forces (eV/Å) and stress (eV/Å^3, ASE sign), stored on ``ase.Atoms`` as a
``SinglePointCalculator`` and written to extended-XYZ chunk files ``chunk_00000.extxyz``, ... A finished
chunk is never recomputed, so an interrupted run continues where it stopped; ``manifest.json`` records the
teacher and a hash of the inputs so a resume with different inputs is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Protocol

import ase
import ase.io
import jax
import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import full_3x3_to_voigt_6_stress

from superionic.potentials.potential import Potential, energy_forces_stress
from superionic.training.batching import (
    BatchShape,
    max_degree,
    pack_graphs,
    plan_batches,
    shape_for,
    structure_graph,
)

# Up to 16 structures, 511 atoms and 24,576 edges per compiled batch (SevenNet-0 at 5 Å: ~50 edges/atom).
DEFAULT_TEACHER_SHAPE = BatchShape(512, 24576, 16)


class Teacher(Protocol):
    name: str

    def label(self, atoms_list: Sequence[ase.Atoms]) -> list[dict[str, np.ndarray]]:
        """Energy (eV), forces [n, 3] (eV/Å), stress [3, 3] (eV/Å^3) of each structure."""
        ...


class PotentialTeacher:
    """A superionic potential as teacher: structures are packed into fixed-shape batches (few compiles)."""

    def __init__(self, potential: Potential, shape: BatchShape = DEFAULT_TEACHER_SHAPE) -> None:
        self.potential = potential
        self.shape = shape
        self.name = f"superionic:{potential.name}:{potential.fingerprint()[:12]}"
        self._fn = jax.jit(partial(energy_forces_stress, config=potential.config))

    def _smallest_shape(self, chosen: Sequence, num_nodes: int, degree: int) -> BatchShape:
        """The smallest k/8 of the batch shape's edges (k = 1..8) that holds ``chosen``: at most 8 compiles
        per degree group."""
        nodes, edges = sum(g.num_nodes for g in chosen), sum(g.num_edges for g in chosen)
        for eighths in range(1, 9):
            shape = BatchShape(num_nodes, self.shape.num_edges * eighths // 8, self.shape.num_graphs, degree)
            if shape.holds(nodes, edges, len(chosen)):
                return shape
        return shape_for(chosen)  # one structure larger than the batch shape

    def label(self, atoms_list: Sequence[ase.Atoms]) -> list[dict[str, np.ndarray]]:
        p = self.potential
        graphs = [structure_graph(a, p.species_indices(a.numbers), p.cutoff_A) for a in atoms_list]
        # The model's dense neighbour table is num_nodes x (largest degree in the batch): one crowded atom
        # (a clash in an MD snapshot) would inflate the whole batch, and memory with it (22 GB seen with
        # SevenNet-0). So structures are grouped by degree (coarse steps: few compiles) and each group's node
        # capacity shrinks so that nodes x degree stays within twice the shape's edge budget.
        degrees = [max_degree(g, step=32) for g in graphs]
        results: list[dict[str, np.ndarray] | None] = [None] * len(graphs)
        for degree in sorted(set(degrees), reverse=True):
            group = [k for k in range(len(graphs)) if degrees[k] == degree]
            num_nodes = max(64, min(self.shape.num_nodes, 2 * self.shape.num_edges // degree))
            group_shape = BatchShape(num_nodes, self.shape.num_edges, self.shape.num_graphs, degree)
            order = sorted(group, key=lambda k: -graphs[k].num_edges)
            for members in plan_batches(graphs, group_shape, order):
                chosen = [graphs[k] for k in members]
                shape = self._smallest_shape(chosen, num_nodes, degree)
                out = self._fn(p.params, batch=pack_graphs(chosen, shape, p.dtype))
                forces = np.asarray(out["forces"], np.float64)
                start = 0
                for slot, k in enumerate(members):
                    n = graphs[k].num_nodes
                    results[k] = {
                        "energy": float(out["energy"][slot]),
                        "forces": forces[start : start + n],
                        "stress": np.asarray(out["stress"][slot], np.float64),
                    }
                    start += n
        return results  # type: ignore[return-value]


class CalculatorTeacher:
    """Any ASE calculator as teacher (CHGNet, SevenNet-torch, a DFT code), one structure at a time."""

    def __init__(self, calculator, name: str) -> None:
        self.calculator = calculator
        self.name = name

    def label(self, atoms_list: Sequence[ase.Atoms]) -> list[dict[str, np.ndarray]]:
        results = []
        for atoms in atoms_list:
            a = atoms.copy()
            a.calc = self.calculator
            results.append(
                {
                    "energy": float(a.get_potential_energy()),
                    "forces": np.asarray(a.get_forces(), np.float64),
                    "stress": np.asarray(a.get_stress(voigt=False), np.float64),
                }
            )
        return results


def attach_labels(atoms: ase.Atoms, label: dict[str, np.ndarray]) -> ase.Atoms:
    """Copy of ``atoms`` carrying ``label`` as a SinglePointCalculator (what extxyz writes and reads)."""
    out = atoms.copy()
    out.calc = SinglePointCalculator(
        out,
        energy=float(label["energy"]),
        forces=np.asarray(label["forces"]),
        stress=full_3x3_to_voigt_6_stress(np.asarray(label["stress"])),
    )
    return out


def inputs_hash(atoms_list: Sequence[ase.Atoms]) -> str:
    digest = hashlib.sha256()
    for a in atoms_list:
        digest.update(np.asarray(a.numbers, np.int64).tobytes())
        digest.update(np.round(np.asarray(a.positions, np.float64), 6).tobytes())
        digest.update(np.round(np.asarray(a.cell[:], np.float64), 6).tobytes())
    return digest.hexdigest()


def label_structures(
    atoms_list: Sequence[ase.Atoms],
    teacher: Teacher,
    out_dir: str | os.PathLike,
    chunk_size: int = 64,
    progress: bool = True,
) -> list[Path]:
    """Label ``atoms_list`` with ``teacher`` into ``out_dir/chunk_*.extxyz``; resumes finished chunks.

    Returns the chunk files in input order. ``atoms.info`` (e.g. ``source``, ``temperature_K``) is kept.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"teacher": teacher.name, "num_structures": len(atoms_list), "chunk_size": chunk_size}
    manifest["inputs_sha256"] = inputs_hash(atoms_list)
    manifest_path = out_dir / "manifest.json"
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        if previous != manifest:
            raise ValueError(
                f"{out_dir} holds labels of different inputs or teacher ({previous.get('teacher')}); "
                "use a new output folder or delete the old one"
            )
    else:
        manifest_path.write_text(json.dumps(manifest, indent=1))
    starts = range(0, len(atoms_list), chunk_size)
    paths = [out_dir / f"chunk_{k:05d}.extxyz" for k in range(len(starts))]
    todo = [(s, p) for s, p in zip(starts, paths, strict=True) if not p.is_file()]
    bar = tqdm(
        total=len(atoms_list),
        initial=len(atoms_list) - sum(min(chunk_size, len(atoms_list) - s) for s, _ in todo),
        disable=not progress,
        unit="struct",
        desc=f"label ({teacher.name})",
    )
    for start, path in todo:
        chunk = list(atoms_list[start : start + chunk_size])
        labelled = [attach_labels(a, lab) for a, lab in zip(chunk, teacher.label(chunk), strict=True)]
        partial_path = path.with_suffix(".partial")
        ase.io.write(partial_path, labelled, format="extxyz")
        os.replace(partial_path, path)
        bar.update(len(chunk))
    bar.close()
    return paths


def read_labelled(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[ase.Atoms]:
    """Labelled structures from extxyz files or folders of ``chunk_*.extxyz`` (finished chunks only)."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(p.glob("chunk_*.extxyz")))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(
                f"no labelled data at {p}: give extxyz files or folders of chunk_*.extxyz"
            )
    return [a for f in files for a in ase.io.read(f, index=":", format="extxyz")]
