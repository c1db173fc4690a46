"""Sites of the mobile ions: from a reference structure (its mobile-ion sites, Wyckoff-labelled) or discovered
as the peaks of the mobile-ion density; and the assignment of every ion in every frame to a site."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers as symbol_to_z
from ase.data import chemical_symbols
from scipy import ndimage
from scipy.spatial import cKDTree

from superionic.analysis._frames import framework_mean, mean_cell_A
from superionic.analysis._trajectory import Trajectory

#: The 27 lattice translations that contain the minimum image in any cell that is not extremely skewed.
_IMAGES = np.array(list(product((-1, 0, 1), repeat=3)), dtype=np.float64)  # [27, 3]

#: Default site radius as a fraction of the shortest site–site distance: spheres of 0.4·d leave a transit gap of
#: 0.2·d between neighbouring sites, so an ion vibrating about its site is never counted at the next one.
RADIUS_FRACTION_OF_SEPARATION = 0.4

#: Symmetry tolerances tried when labelling discovered sites (Å); the one finding the most operations wins.
SYMPREC_CANDIDATES_A = (0.05, 0.1, 0.2, 0.3, 0.45)


@dataclass(frozen=True)
class Sites:
    """The sites of the mobile species in the simulation cell.

    Attributes:
        frac_coords: fractional coordinates in ``cell_A``, wrapped to [0, 1), ``[S, 3]``.
        cell_A: the cell they refer to, Å ``[3, 3]`` (rows = lattice vectors; the trajectory's mean cell).
        type_labels: names of the site types, e.g. ``("Li 1b", "Li 2c")`` (element, Wyckoff multiplicity per
            conventional cell and letter); ``[T]``.
        site_types: index into ``type_labels`` of every site, ``[S]`` int.
        radius_A: an ion within this distance of a site is on it; between spheres it is in transit.
        source: where the sites came from ("reference structure <file>" or "mobile-ion density peaks").
        space_group: international symbol found for framework + sites (None when not determined).
        symprec_A: the symmetry tolerance used for the labels.
    """

    frac_coords: np.ndarray
    cell_A: np.ndarray
    type_labels: tuple[str, ...]
    site_types: np.ndarray
    radius_A: float
    source: str
    space_group: str | None = None
    symprec_A: float | None = None

    def __post_init__(self) -> None:
        n_sites = self.frac_coords.shape[0]
        if self.frac_coords.shape != (n_sites, 3) or self.site_types.shape != (n_sites,):
            raise ValueError(
                f"frac_coords {self.frac_coords.shape} and site_types {self.site_types.shape} disagree"
            )
        if n_sites == 0:
            raise ValueError("no sites: give a reference structure that contains the mobile species")
        if not self.radius_A > 0:
            raise ValueError(f"site radius {self.radius_A} Å must be positive")

    @property
    def n_sites(self) -> int:
        return int(self.frac_coords.shape[0])

    @property
    def n_types(self) -> int:
        return len(self.type_labels)

    @property
    def cart_coords_A(self) -> np.ndarray:
        """Cartesian coordinates, Å ``[S, 3]``."""
        return self.frac_coords @ self.cell_A

    @property
    def sites_per_type(self) -> np.ndarray:
        """Number of sites of each type, ``[T]``."""
        return np.bincount(self.site_types, minlength=self.n_types)

    def vectors_A(self, from_sites: np.ndarray, to_sites: np.ndarray) -> np.ndarray:
        """Minimum-image vectors between sites, Å ``[K, 3]``."""
        return min_image_vectors(self.frac_coords[to_sites] - self.frac_coords[from_sites], self.cell_A)

    def distance_matrix_A(self) -> np.ndarray:
        """Minimum-image distances between all sites, Å ``[S, S]``."""
        diff = self.frac_coords[None, :, :] - self.frac_coords[:, None, :]
        return np.linalg.norm(min_image_vectors(diff, self.cell_A), axis=-1)

    def shortest_separation_A(self) -> float:
        dist = self.distance_matrix_A()
        np.fill_diagonal(dist, np.inf)
        return float(dist.min()) if self.n_sites > 1 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "n_sites": self.n_sites,
            "space_group": self.space_group,
            "symprec_A": self.symprec_A,
            "radius_A": self.radius_A,
            "types": list(self.type_labels),
            "sites_per_type": {t: int(n) for t, n in zip(self.type_labels, self.sites_per_type, strict=True)},
            "frac_coords": np.round(self.frac_coords, 5).tolist(),
            "site_types": [self.type_labels[t] for t in self.site_types],
            "cell_A": self.cell_A.tolist(),
        }


def min_image_vectors(diff_frac: np.ndarray, cell_A: np.ndarray) -> np.ndarray:
    """Shortest Cartesian vectors, Å ``[..., 3]``, of fractional differences ``[..., 3]`` over the 27 nearest
    images (exact for any cell whose reduced form is not extremely skewed)."""
    wrapped = diff_frac - np.rint(diff_frac)
    candidates = (wrapped[..., None, :] + _IMAGES) @ cell_A  # [..., 27, 3]
    best = np.argmin(np.einsum("...ki,...ki->...k", candidates, candidates), axis=-1)
    return np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]


def default_radius_A(sites_frac: np.ndarray, cell_A: np.ndarray) -> float:
    """RADIUS_FRACTION_OF_SEPARATION × the shortest distance between two sites."""
    diff = sites_frac[None, :, :] - sites_frac[:, None, :]
    dist = np.linalg.norm(min_image_vectors(diff, cell_A), axis=-1)
    np.fill_diagonal(dist, np.inf)
    shortest = float(dist.min()) if len(sites_frac) > 1 else 2.0
    return RADIUS_FRACTION_OF_SEPARATION * shortest


def _wyckoff_labels(
    cell_A: np.ndarray, frac: np.ndarray, numbers: np.ndarray, symprec_A: float
) -> tuple[list[str], str, int, np.ndarray]:
    """Symmetry of a structure by spglib (through pymatgen) at ``symprec_A``: per-atom
    '<multiplicity per conventional cell><letter>' labels, the space-group symbol, the number of symmetry
    operations and each atom's orbit (index of its first equivalent atom, ``[N]``)."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    structure = Structure(Lattice(cell_A), [chemical_symbols[z] for z in numbers], frac)
    data = SpacegroupAnalyzer(structure, symprec=symprec_A).get_symmetry_dataset()
    if data is None:
        return ["1a"] * len(numbers), "P1", 1, np.arange(len(numbers))
    orbit = np.asarray(data.equivalent_atoms)
    cells_in_conventional = abs(np.linalg.det(data.std_lattice)) / abs(np.linalg.det(cell_A))
    orbit_size = np.bincount(orbit, minlength=len(numbers))
    labels = [
        f"{max(1, round(orbit_size[orbit[i]] * cells_in_conventional))}{data.wyckoffs[i]}"
        for i in range(len(numbers))
    ]
    return labels, str(data.international), len(data.rotations), orbit


def _type_labels(
    element: str, wyckoff: Sequence[str], orbit: np.ndarray
) -> tuple[tuple[str, ...], np.ndarray]:
    """Site types from symmetry orbits: one type per orbit, named '<element> <wyckoff>' (suffixed when two orbits
    share a Wyckoff position, which happens for positions with free parameters)."""
    orbits = list(dict.fromkeys(orbit.tolist()))  # in order of first appearance
    names: list[str] = []
    for o in orbits:
        base = f"{element} {wyckoff[orbit.tolist().index(o)]}"
        names.append(base if base not in names else f"{base}#{sum(n.startswith(base) for n in names) + 1}")
    order = np.argsort(names, kind="stable")
    sorted_names = tuple(names[i] for i in order)
    rank = {orbits[i]: k for k, i in enumerate(order)}
    return sorted_names, np.array([rank[o] for o in orbit.tolist()], dtype=np.int64)


def label_sites_by_symmetry(
    cell_A: np.ndarray,
    site_frac: np.ndarray,
    mobile_z: int,
    framework_frac: np.ndarray,
    framework_z: np.ndarray,
    symprec_candidates_A: Sequence[float] = SYMPREC_CANDIDATES_A,
) -> tuple[tuple[str, ...], np.ndarray, str, float]:
    """Group sites into types by the symmetry of framework + sites (the sites carry the mobile species).

    Wyckoff letters are those of spglib's standard setting for framework + sites; where the space group allows
    several origins (e.g. Pm-3m: 1a↔1b), the letters of a reference CIF may be the other equivalent choice.
    The tolerance is chosen as the one (among ``symprec_candidates_A``, each below half the shortest site
    separation) that finds the most symmetry operations: discovered sites are noisy by a few hundredths of an Å.

    Returns:
        ``(type_labels, site_types [S], space_group, symprec_A)``.
    """
    frac = np.concatenate([framework_frac, site_frac])
    numbers = np.concatenate([framework_z, np.full(len(site_frac), mobile_z)])
    separation = default_radius_A(site_frac, cell_A) / RADIUS_FRACTION_OF_SEPARATION
    best = None
    for symprec in symprec_candidates_A:
        if symprec >= 0.5 * separation and best is not None:
            break
        found = _wyckoff_labels(cell_A, frac, numbers, symprec)
        if best is None or found[2] > best[1][2]:
            best = (symprec, found)
    assert best is not None
    symprec, (labels, group, _, orbit) = best
    orbit = orbit[len(framework_z) :]
    types, site_types = _type_labels(chemical_symbols[mobile_z], labels[len(framework_z) :], orbit)
    return types, site_types, group, symprec


def _as_structure(reference: Any):
    from pymatgen.core import Structure

    if isinstance(reference, Structure):
        return reference
    if isinstance(reference, str | Path):
        path = Path(reference)
        if not path.is_file():
            raise FileNotFoundError(f"reference structure {path} does not exist")
        try:
            return Structure.from_file(path)
        except Exception:  # pymatgen raises many types; fall back to ASE's readers (PDB, ...)
            from ase.io import read
            from pymatgen.io.ase import AseAtomsAdaptor

            return AseAtomsAdaptor.get_structure(read(path))
    from ase import Atoms

    if isinstance(reference, Atoms):
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_structure(reference)
    raise TypeError(
        f"reference must be a structure file, a pymatgen Structure or ASE Atoms, got {type(reference)}"
    )


def sites_from_structure(
    reference: Any,
    traj: Trajectory,
    species: str,
    *,
    radius_A: float | None = None,
    symprec_A: float = 0.1,
    max_mismatch_A: float = 0.75,
) -> Sites:
    """The reference structure's sites of ``species`` mapped onto the trajectory's cell.

    The reference (a CIF of the unit cell, ordered or with partial occupancies, or the simulation cell itself)
    is symmetry-analysed in its own cell, so its sites keep their Wyckoff labels; it is then repeated to the
    trajectory's supercell (the integer matrix that maps its lattice onto the trajectory's mean cell) and
    shifted so that its framework atoms fall on the trajectory's time-averaged framework.

    Args:
        reference: a structure file (CIF, POSCAR, PDB, ...), a pymatgen ``Structure`` or ASE ``Atoms``.
        traj: the trajectory whose cell the sites are for.
        species: the mobile element.
        radius_A: site radius; default RADIUS_FRACTION_OF_SEPARATION × the shortest site separation.
        symprec_A: symmetry tolerance for the reference's Wyckoff labels.
        max_mismatch_A: largest mean distance between reference and trajectory framework accepted.
    """
    mobile_z = symbol_to_z[species]
    ref = _as_structure(reference)
    name = Path(reference).name if isinstance(reference, str | Path) else type(reference).__name__
    is_mobile = np.array([species in [e.symbol for e in site.species.elements] for site in ref])
    if not is_mobile.any():
        raise ValueError(f"reference structure {name} has no {species} sites")
    ref_z = np.array([max(site.species.items(), key=lambda kv: kv[1])[0].Z for site in ref])
    wyckoff, group, _, ref_orbit = _wyckoff_labels(ref.lattice.matrix, ref.frac_coords, np.where(is_mobile, mobile_z, ref_z),
                                        symprec_A)  # fmt: skip

    cell = mean_cell_A(traj)
    tiling = np.rint(cell @ np.linalg.inv(ref.lattice.matrix))
    mismatch = np.linalg.norm(tiling @ ref.lattice.matrix - cell) / np.linalg.norm(cell)
    if abs(np.linalg.det(tiling)) < 0.5 or mismatch > 0.1:
        raise ValueError(
            f"the cell of reference {name} does not tile the trajectory's cell (best integer supercell is off by "
            f"{mismatch:.0%}); give a reference in the trajectory's orientation, e.g. the MD input structure"
        )
    translations = _lattice_points(tiling)  # [n_cells, 3] in reference fractional units
    to_super = np.linalg.inv(tiling)
    frac = ((ref.frac_coords[None, :, :] + translations[:, None, :]) @ to_super).reshape(-1, 3)
    index = np.tile(np.arange(len(ref)), len(translations))

    fw_frac, fw_z = framework_mean(traj, mobile_z)
    shift = _best_shift(frac[~is_mobile[index]], ref_z[index][~is_mobile[index]], fw_frac, fw_z, cell,
                        max_mismatch_A, name)  # fmt: skip
    site_frac = frac[is_mobile[index]] + shift
    site_frac -= np.floor(site_frac)
    orbit = ref_orbit[index][is_mobile[index]]
    types, site_types = _type_labels(species, [wyckoff[i] for i in index[is_mobile[index]]], orbit)
    return Sites(
        frac_coords=site_frac,
        cell_A=cell,
        type_labels=types,
        site_types=site_types,
        radius_A=float(radius_A) if radius_A is not None else default_radius_A(site_frac, cell),
        source=f"reference structure {name}",
        space_group=group,
        symprec_A=symprec_A,
    )


def _lattice_points(tiling: np.ndarray) -> np.ndarray:
    """Integer translations (reference fractional units) of the distinct reference cells inside the supercell
    ``tiling`` @ reference lattice."""
    corners = np.array(list(product((0, 1), repeat=3))) @ tiling
    low, high = corners.min(axis=0), corners.max(axis=0)
    grid = np.stack(np.meshgrid(*[np.arange(lo, hi + 1) for lo, hi in zip(low, high, strict=True)],
                                indexing="ij"), axis=-1).reshape(-1, 3)  # fmt: skip
    inside = grid @ np.linalg.inv(tiling)
    keep = np.all((inside > -1e-8) & (inside < 1 - 1e-8), axis=1)
    points = grid[keep].astype(np.float64)
    if len(points) != round(abs(np.linalg.det(tiling))):
        raise ValueError(
            f"could not enumerate the {abs(np.linalg.det(tiling)):.0f} cells of the reference tiling"
        )
    return points


def _best_shift(
    ref_frac: np.ndarray,
    ref_z: np.ndarray,
    traj_frac: np.ndarray,
    traj_z: np.ndarray,
    cell_A: np.ndarray,
    max_mismatch_A: float,
    name: str,
) -> np.ndarray:
    """The origin shift (fractional) that puts the reference's framework on the trajectory's mean framework."""
    if len(traj_frac) == 0 or len(ref_frac) == 0:
        return np.zeros(3)
    candidates = traj_frac[0] - ref_frac[ref_z == traj_z[0]]
    if len(candidates) == 0:
        raise ValueError(
            f"reference {name} has no {chemical_symbols[traj_z[0]]}, which the trajectory's framework has"
        )
    best_cost, best = np.inf, np.zeros(3)
    same = traj_z[:, None] == ref_z[None, :]
    for shift in candidates:
        diff = (ref_frac + shift)[None, :, :] - traj_frac[:, None, :]
        wrapped = diff - np.rint(diff)
        dist = np.linalg.norm(wrapped @ cell_A, axis=-1)
        cost = float(np.mean(np.where(same, dist, np.inf).min(axis=1)))
        if cost < best_cost:
            best_cost, best = cost, shift
    if best_cost > max_mismatch_A:
        raise ValueError(
            f"the framework of reference {name} does not match the trajectory's (mean mismatch {best_cost:.2f} Å "
            f"> {max_mismatch_A} Å); give the structure the MD started from"
        )
    return best


def sites_from_density(
    density: Any,
    traj: Trajectory,
    species: str,
    *,
    min_separation_A: float = 1.0,
    min_occupancy: float = 0.02,
    radius_A: float | None = None,
) -> Sites:
    """Sites discovered as the peaks of the mobile-ion density, grouped into types by symmetry.

    A peak is a local maximum of the (smoothed) density within ``min_separation_A``; it is kept when the ions
    found within ``0.5·min_separation_A`` of it amount to at least ``min_occupancy`` ions on average (rarely
    visited points are transit, not sites). Its position is the density-weighted centroid around the peak.

    Args:
        density: a :class:`MobileIonDensity` of this trajectory (or of all runs of the same cell).
        traj: a trajectory of the cell (for the framework's mean structure used by the symmetry labels).
        species: the mobile element.
        min_separation_A: two sites are at least this far apart.
        min_occupancy: mean number of ions within half that distance for a peak to count as a site.
        radius_A: site radius; default RADIUS_FRACTION_OF_SEPARATION × the shortest site separation.
    """
    mobile_z = symbol_to_z[species]
    rho = density.ions_per_A3
    shape = np.array(rho.shape)
    cell = density.cell_A
    spacing = np.linalg.norm(cell, axis=1) / shape  # Å per voxel along each lattice vector
    half_width = np.maximum(1, np.ceil(0.5 * min_separation_A / spacing).astype(int))
    is_peak = rho == ndimage.maximum_filter(rho, size=tuple(2 * half_width + 1), mode="wrap")
    peaks = np.argwhere(is_peak & (rho > 0))
    # occupancy within 0.5·min_separation of each peak, and the density-weighted centroid there
    offsets = np.stack(np.meshgrid(*[np.arange(-h, h + 1) for h in half_width], indexing="ij"), -1).reshape(
        -1, 3
    )
    within = np.linalg.norm((offsets / shape) @ cell, axis=1) <= 0.5 * min_separation_A
    offsets = offsets[within]
    voxels = (peaks[:, None, :] + offsets[None, :, :]) % shape  # [P, K, 3]
    weights = rho[voxels[..., 0], voxels[..., 1], voxels[..., 2]] * density.voxel_volume_A3  # ions per voxel
    occupancy = weights.sum(axis=1)
    centroid = peaks + np.einsum("pk,ki->pi", weights, offsets) / np.maximum(occupancy, 1e-300)[:, None]
    order = np.argsort(-occupancy)
    keep_frac: list[np.ndarray] = []
    for p in order:
        if occupancy[p] < min_occupancy:
            break
        frac = (centroid[p] + 0.5) / shape  # voxel centres sit at (i + 0.5)/n
        frac -= np.floor(frac)
        if keep_frac:
            diff = np.asarray(keep_frac) - frac
            if np.linalg.norm(min_image_vectors(diff, cell), axis=-1).min() < min_separation_A:
                continue  # a shoulder of a site already kept
        keep_frac.append(frac)
    if not keep_frac:
        raise ValueError(
            f"no {species} site found in the density (no peak holds {min_occupancy} ions); run longer or lower "
            "min_occupancy"
        )
    site_frac = np.asarray(keep_frac)
    fw_frac, fw_z = framework_mean(traj, mobile_z)
    types, site_types, group, symprec = label_sites_by_symmetry(cell, site_frac, mobile_z, fw_frac, fw_z)
    return Sites(
        frac_coords=site_frac,
        cell_A=cell,
        type_labels=types,
        site_types=site_types,
        radius_A=float(radius_A) if radius_A is not None else default_radius_A(site_frac, cell),
        source="mobile-ion density peaks",
        space_group=group,
        symprec_A=symprec,
    )


def assign_sites(mobile_frac: np.ndarray, sites: Sites) -> np.ndarray:
    """The site each ion is on in each frame, ``[F, N]`` int; -1 where it is farther than ``sites.radius_A``
    from every site (in transit).

    Args:
        mobile_frac: fractional coordinates of the mobile ions, wrapped to [0, 1), ``[F, N, 3]`` (each frame in
            its own cell; distances are measured in the sites' mean cell).
    """
    n_frames, n_ions, _ = mobile_frac.shape
    # site images that can be within radius_A of a point of the cell [0, 1)³ (the 27 images, trimmed to a margin)
    widths_A = abs(np.linalg.det(sites.cell_A)) / np.linalg.norm(
        np.cross(sites.cell_A[[1, 2, 0]], sites.cell_A[[2, 0, 1]]), axis=1
    )
    margin = sites.radius_A / widths_A
    frac = (sites.frac_coords[None, :, :] + _IMAGES[:, None, :]).reshape(-1, 3)
    near = np.all((frac > -margin - 1e-9) & (frac < 1 + margin + 1e-9), axis=1)
    site_of_image = np.tile(np.arange(sites.n_sites), len(_IMAGES))[near]
    tree = cKDTree(frac[near] @ sites.cell_A)
    dist, index = tree.query(mobile_frac.reshape(-1, 3) @ sites.cell_A, distance_upper_bound=sites.radius_A)
    found = np.isfinite(dist)
    states = np.full(dist.shape, -1, dtype=np.int64)
    states[found] = site_of_image[index[found]]
    return states.reshape(n_frames, n_ions)
