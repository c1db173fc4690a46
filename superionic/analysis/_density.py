"""Mobile-ion probability density on a grid, its free-energy landscape F = −kT ln P, volumetric export (Gaussian
cube or VASP CHGCAR, which VESTA and OVITO open) and the lowest-barrier percolating paths in 1, 2 and 3 dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers as symbol_to_z
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from superionic.analysis._frames import framework_mean, mean_cell_A, mobile_fractional
from superionic.analysis._trajectory import Trajectory
from superionic.analysis._units import KB_EV_PER_K


@dataclass(frozen=True)
class MobileIonDensity:
    """Time-averaged number density of the mobile ions on a grid over the cell.

    Attributes:
        ions_per_A3: ``[n_a, n_b, n_c]``, voxel (i, j, k) centred at fractional ((i+½)/n_a, ...); integrates to the
            number of mobile ions per cell (Σ ions_per_A3 · voxel_volume_A3 = n_ions).
        cell_A: mean cell, Å ``[3, 3]`` (rows = lattice vectors).
        n_ions: mobile ions per cell; n_samples: ion-frames histogrammed.
        smoothing_A: width of the Gaussian smoothing applied.
        framework_frac, framework_numbers: mean framework structure (for the volumetric file and site labels).
        temperature_K: temperature of the runs (None when they were pooled over temperatures).
    """

    ions_per_A3: np.ndarray
    cell_A: np.ndarray
    n_ions: int
    n_samples: int
    smoothing_A: float
    framework_frac: np.ndarray
    framework_numbers: np.ndarray
    temperature_K: float | None

    @property
    def voxel_volume_A3(self) -> float:
        return float(abs(np.linalg.det(self.cell_A)) / self.ions_per_A3.size)

    @property
    def detection_limit_ions_per_A3(self) -> float:
        """Density of one sample smeared over the smoothing volume: below it a voxel counts as never visited."""
        volume = max(self.voxel_volume_A3, (2 * np.pi) ** 1.5 * max(self.smoothing_A, 1e-9) ** 3)
        return 1.0 / (self.n_samples / self.n_ions) / volume

    def free_energy_eV(self, temperature_K: float | None = None) -> np.ndarray:
        """F = −kT ln(ρ/ρ_max), eV ``[n_a, n_b, n_c]``; +inf where the density is below the detection limit."""
        temperature = temperature_K if temperature_K is not None else self.temperature_K
        if temperature is None:
            raise ValueError("the density pools several temperatures; pass temperature_K= for F = −kT ln P")
        rho = self.ions_per_A3
        visited = rho > self.detection_limit_ions_per_A3
        with np.errstate(divide="ignore"):
            return np.where(visited, -KB_EV_PER_K * temperature * np.log(rho / rho.max()), np.inf)

    def write(self, path: str | Path) -> Path:
        """Write the density as a Gaussian cube (``.cube``) or a VASP CHGCAR (any other name), in ions/Å³ with
        the framework atoms; both open in VESTA and OVITO."""
        path = Path(path)
        if path.suffix.lower() == ".cube":
            from ase import Atoms
            from ase.io.cube import write_cube

            atoms = Atoms(numbers=self.framework_numbers, scaled_positions=self.framework_frac,
                          cell=self.cell_A, pbc=True)  # fmt: skip
            # ase's cube grid starts at the origin; ours is centred on voxels, so shift the origin by half a voxel
            origin_A = 0.5 * (np.ones(3) / np.array(self.ions_per_A3.shape)) @ self.cell_A
            with path.open("w") as handle:
                write_cube(handle, atoms, data=self.ions_per_A3, origin=origin_A,
                           comment=f"superionic mobile-ion density, ions/A^3, {self.n_ions} ions")  # fmt: skip
            return path
        from pymatgen.core import Lattice, Structure
        from pymatgen.io.vasp import Chgcar, Poscar

        structure = Structure(Lattice(self.cell_A), self.framework_numbers.tolist(), self.framework_frac)
        volume = abs(np.linalg.det(self.cell_A))
        # CHGCAR stores ρ·V_cell (VASP's convention; pymatgen and VESTA divide by the volume on reading)
        Chgcar(Poscar(structure), {"total": self.ions_per_A3 * volume}).write_file(str(path))
        return path


def mobile_ion_density(
    trajectories: Sequence[Trajectory],
    species: str,
    *,
    spacing_A: float = 0.2,
    smoothing_A: float = 0.2,
) -> MobileIonDensity:
    """Histogram the mobile ions (framework drift removed, fractional coordinates) of one or more runs of the same
    cell on a grid of about ``spacing_A``, smoothed with a periodic Gaussian of ``smoothing_A``.

    Args:
        trajectories: runs of the same cell (same atoms); their densities are pooled frame by frame.
        species: the mobile element.
        spacing_A: target voxel edge along each lattice vector.
        smoothing_A: Gaussian σ; 0 keeps the raw histogram.
    """
    mobile_z = symbol_to_z[species]
    first = trajectories[0]
    for t in trajectories[1:]:
        if not np.array_equal(t.atomic_numbers, first.atomic_numbers):
            raise ValueError(
                "a pooled density needs runs of the same cell and atoms; analyse the others separately"
            )
    cell = np.mean([mean_cell_A(t) for t in trajectories], axis=0)
    shape = np.maximum(8, np.ceil(np.linalg.norm(cell, axis=1) / spacing_A).astype(int))
    counts = np.zeros(shape)
    n_samples = 0
    for t in trajectories:
        frac = mobile_fractional(t, mobile_z).reshape(-1, 3)
        index = np.minimum((frac * shape).astype(int), shape - 1)
        counts += np.bincount(np.ravel_multi_index(index.T, shape), minlength=counts.size).reshape(shape)
        n_samples += len(frac)
    n_ions = int(np.sum(first.atomic_numbers == mobile_z))
    if smoothing_A > 0:
        voxel_A = np.linalg.norm(cell, axis=1) / shape
        counts = ndimage.gaussian_filter(counts, sigma=smoothing_A / voxel_A, mode="wrap")
    voxel_volume = abs(np.linalg.det(cell)) / counts.size
    frames = n_samples / n_ions
    temperatures = {t.temperature_K for t in trajectories}
    fw_frac, fw_z = framework_mean(first, mobile_z)
    return MobileIonDensity(
        ions_per_A3=counts / frames / voxel_volume,
        cell_A=cell,
        n_ions=n_ions,
        n_samples=n_samples,
        smoothing_A=smoothing_A,
        framework_frac=fw_frac,
        framework_numbers=fw_z,
        temperature_K=temperatures.pop() if len(temperatures) == 1 else None,
    )


@dataclass(frozen=True)
class PercolationPath:
    """The lowest free-energy threshold at which the visited region percolates in ``dimension`` dimensions.

    Attributes:
        dimension: 1, 2 or 3.
        barrier_eV: F at the bottleneck, relative to the density maximum (None: not percolating in the data).
        directions: winding vectors (in lattice vectors) of the percolating region at that threshold.
        bottleneck_frac: fractional coordinates of the bottleneck voxel.
        path_frac: a closed path through the region that winds once along ``directions[0]`` (unwrapped
            fractional coordinates, subsampled), ``[K, 3]``.
    """

    dimension: int
    barrier_eV: float | None
    directions: list[list[int]]
    bottleneck_frac: list[float] | None
    path_frac: np.ndarray | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "barrier_eV": self.barrier_eV,
            "directions": self.directions,
            "bottleneck_frac": self.bottleneck_frac,
            "path_frac": None if self.path_frac is None else np.round(self.path_frac, 4).tolist(),
        }


def _voxel_edges(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face-neighbour edges of a periodic grid: (u [E], v [E], lattice offset of v as seen from u [E, 3])."""
    index = np.arange(np.prod(shape)).reshape(shape)
    us, vs, offsets = [], [], []
    for axis in range(3):
        v = np.roll(index, -1, axis=axis)
        offset = np.zeros((*shape, 3), dtype=np.int64)
        edge = [slice(None)] * 3
        edge[axis] = -1
        offset[(*tuple(edge), axis)] = 1  # the last layer's +1 neighbour is layer 0 of the next cell
        us.append(index.ravel())
        vs.append(v.ravel())
        offsets.append(offset.reshape(-1, 3))
    return np.concatenate(us), np.concatenate(vs), np.concatenate(offsets)


def _percolation_at(
    free_energy: np.ndarray, threshold: float, edges: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[int, list[list[int]], np.ndarray | None]:
    """(dimension, winding vectors, one winding loop as unwrapped voxel coordinates) of the region F <= threshold.

    Components come from scipy's connected_components; each component's voxels get an unwrapped image from a
    scipy breadth-first tree, and an edge that closes a loop with a net lattice shift is a winding vector: the
    rank of those vectors is the dimension in which that component percolates.
    """
    u, v, offset = edges
    inside = (free_energy <= threshold).ravel()
    keep = inside[u] & inside[v]
    u, v, offset = u[keep], v[keep], offset[keep]
    n = free_energy.size
    graph = coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # only components that cross the cell boundary somewhere can wind
    crossing = np.unique(labels[u[np.any(offset != 0, axis=1)]])
    if len(crossing) == 0:
        return 0, [], None
    # One breadth-first forest for all of them: a virtual root (index n) linked to one voxel of each.
    _, first_voxel = np.unique(labels, return_index=True)  # labels run 0..n_components-1
    roots = first_voxel[crossing]
    rows = np.concatenate([u, np.full(len(roots), n)])
    cols = np.concatenate([v, roots])
    forest = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    order, predecessors = breadth_first_order(forest, n, directed=False)
    predecessors = predecessors[:n]
    predecessors[predecessors == n] = -1  # the component roots
    shape = np.array(free_energy.shape)
    image = _tree_images(order[1:], predecessors, shape)
    winding = image[u] + offset - image[v]
    winds = np.any(winding != 0, axis=1)
    best: tuple[int, list[list[int]], np.ndarray | None] = (0, [], None)
    for component in np.unique(labels[u[winds]]):
        mine = winds & (labels[u] == component)
        rank = int(np.linalg.matrix_rank(winding[mine].astype(float)))
        if rank > best[0]:
            k = int(np.flatnonzero(mine)[0])
            loop = _winding_loop(int(u[k]), int(v[k]), winding[k], image, predecessors, shape)
            best = (rank, _independent_rows(winding[mine]), loop)
    return best


def _tree_images(reached: np.ndarray, predecessors: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Unwrapped lattice image of every voxel of a breadth-first forest (roots at image 0), ``[n, 3]`` int.

    A tree edge joins face neighbours, so its lattice offset follows from the two voxels' indices (a step from
    the last layer to layer 0 crosses into the next cell); the offsets are summed to the root by pointer
    doubling over the ``reached`` voxels only, until every pointer is at its root (log2 of the tree depth).
    """
    n = len(predecessors)
    parent_full = np.where(predecessors[reached] >= 0, predecessors[reached], reached)
    here = np.stack(np.unravel_index(reached, tuple(shape)), axis=1)
    there = np.stack(np.unravel_index(parent_full, tuple(shape)), axis=1)
    offset = (-np.rint((here - there) / shape)).astype(np.int64)  # of each voxel relative to its parent
    compact = np.full(n, -1, dtype=np.int64)
    compact[reached] = np.arange(len(reached))
    ancestor = compact[parent_full]
    while True:
        offset = offset + offset[ancestor]  # roots point to themselves with offset 0
        next_ancestor = ancestor[ancestor]
        if np.array_equal(next_ancestor, ancestor):
            break
        ancestor = next_ancestor
    image = np.zeros((n, 3), dtype=np.int64)
    image[reached] = offset
    return image


def _independent_rows(vectors: np.ndarray) -> list[list[int]]:
    rows: list[np.ndarray] = []
    first_nonzero = vectors[np.arange(len(vectors)), np.argmax(vectors != 0, axis=1)]
    unique = np.unique(vectors * np.sign(first_nonzero)[:, None], axis=0)  # a loop and its reverse are one
    for w in sorted(unique.tolist(), key=lambda x: np.abs(x).sum()):
        candidate = np.array([*rows, np.array(w)], dtype=float)
        if np.linalg.matrix_rank(candidate) > len(rows):
            rows.append(np.array(w))
    return [r.tolist() for r in rows]


def _winding_loop(
    u: int, v: int, winding: np.ndarray, image: np.ndarray, predecessors: np.ndarray, shape: np.ndarray
) -> np.ndarray:
    """Voxel path root → u, the edge u → v (which closes the loop with a net shift ``winding``), v → root;
    unwrapped fractional coordinates ``[K, 3]`` of a loop that winds once."""

    def to_root(node: int) -> list[int]:
        path = [node]
        while predecessors[path[-1]] >= 0:
            path.append(int(predecessors[path[-1]]))
        return path

    up, down = to_root(u)[::-1], to_root(v)
    voxels = np.array([np.unravel_index(x, tuple(shape)) for x in up + down])
    images = np.concatenate([image[up], image[down] + winding])
    return (voxels + 0.5) / shape + images


def percolation_paths(free_energy_eV: np.ndarray, resolution_eV: float = 0.002) -> list[PercolationPath]:
    """Lowest barriers for percolation in 1D, 2D and 3D through the landscape F (eV, +inf where unvisited).

    For each dimension d, the smallest threshold E for which the region F <= E contains a component that winds
    around the periodic cell in d independent directions (found by bisection on E: winding only grows with E).

    Args:
        free_energy_eV: ``[n_a, n_b, n_c]``.
        resolution_eV: bisection stops at this width.
    """
    edges = _voxel_edges(free_energy_eV.shape)  # type: ignore[arg-type]
    finite = free_energy_eV[np.isfinite(free_energy_eV)]
    top = float(finite.max())
    results = []
    dim_top, dirs_top, loop_top = _percolation_at(free_energy_eV, top, edges)
    low = float(finite.min())
    for dimension in (1, 2, 3):
        if dim_top < dimension:
            results.append(PercolationPath(dimension, None, [], None, None))
            continue
        lo, hi = low, top
        best = (dim_top, dirs_top, loop_top)
        while hi - lo > resolution_eV:
            mid = 0.5 * (lo + hi)
            found = _percolation_at(free_energy_eV, mid, edges)
            if found[0] >= dimension:
                hi, best = mid, found
            else:
                lo = mid
        # the bottleneck: the highest voxel on the loop
        loop = best[2]
        bottleneck = None
        if loop is not None:
            voxels = np.floor((loop - np.floor(loop)) * np.array(free_energy_eV.shape)).astype(int)
            values = free_energy_eV[voxels[:, 0], voxels[:, 1], voxels[:, 2]]
            bottleneck = ((voxels[np.argmax(values)] + 0.5) / np.array(free_energy_eV.shape)).tolist()
        stride = max(1, len(loop) // 200) if loop is not None else 1
        results.append(
            PercolationPath(
                dimension, hi - low, best[1], bottleneck, None if loop is None else loop[::stride]
            )
        )
    return results
