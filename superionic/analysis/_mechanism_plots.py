"""PNG plots of the mechanism analysis: jump network on the structure (projected on the a–b plane), jump rates
vs 1/T per jump type, density slices and radial distribution functions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from superionic.analysis._plots import _figure

if TYPE_CHECKING:
    from superionic.analysis._mechanism import MechanismReport


def _save(fig, plt, path: str | Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_jump_network(report: MechanismReport, path: str | Path) -> Path:
    """Sites (coloured by type) and the jumps between them at the highest temperature, projected along c onto the
    Cartesian x–y plane of the cell; line width grows with the number of jumps."""
    plt = _figure()
    sites = report.sites
    res = report.results[-1]
    xyz = sites.cart_coords_A
    fig, ax = plt.subplots(figsize=(6, 5.4))
    a, b = sites.cell_A[0, :2], sites.cell_A[1, :2]
    outline = np.array([[0, 0], a, a + b, b, [0, 0]])
    ax.plot(outline[:, 0], outline[:, 1], color="0.6", lw=0.8)
    matrix = res.site_matrix + res.site_matrix.T
    most = max(int(matrix.max()), 1)
    i, j = np.nonzero(np.triu(matrix))
    vectors = sites.vectors_A(i, j)
    for start, vec, count in zip(xyz[i], vectors, matrix[i, j], strict=True):
        end = start + vec
        ax.plot([start[0], end[0]], [start[1], end[1]], color="C3", alpha=0.7, lw=0.5 + 3.5 * count / most)
    for t, label in enumerate(sites.type_labels):
        mine = sites.site_types == t
        ax.scatter(xyz[mine, 0], xyz[mine, 1], s=40, label=label, zorder=3, edgecolor="k", linewidth=0.4)
    fw = res.density.framework_frac @ res.density.cell_A
    ax.scatter(fw[:, 0], fw[:, 1], s=12, marker="x", color="0.3", label="framework", zorder=2)
    ax.set_aspect("equal")
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.set_title(
        f"{report.species} jumps at {res.temperature_K:g} K ({res.n_jumps} jumps; width ∝ count)", fontsize=9
    )
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, plt, path)


def plot_jump_rates_arrhenius(report: MechanismReport, path: str | Path) -> Path:
    """Rate of every jump type vs 1000/T with 95 % intervals, and the Arrhenius fit where there is one."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for k, barrier in enumerate(report.barriers):
        color = f"C{k % 10}"
        rates = [r for res in report.results for r in res.rates if r.name == barrier.name]
        x = np.array([1000.0 / r.temperature_K for r in rates])
        y = np.array([r.rate_per_ps for r in rates])
        low = np.array([r.rate_per_ps_ci95[0] for r in rates])
        high = np.array([r.rate_per_ps_ci95[1] for r in rates])
        label = barrier.name
        if barrier.fit is not None:
            fit = barrier.fit
            label += f": Ea = {fit.Ea_eV:.2f} [{fit.Ea_eV_ci95[0]:.2f}, {fit.Ea_eV_ci95[1]:.2f}] eV"
            temps = np.linspace(min(fit.temperatures_K) * 0.95, max(fit.temperatures_K) * 1.05, 50)
            mean, _ = fit.ln_D_at(temps)
            ax.plot(1000.0 / temps, np.exp(mean), "-", color=color, lw=1)
        ax.errorbar(x, y, yerr=[y - low, high - y], fmt="o", color=color, capsize=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel("escape rate per occupied site (1/ps)")
    ax.set_title("jump rates per type (95 % intervals)", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, plt, path)


def plot_density_slices(report: MechanismReport, path: str | Path) -> Path:
    """Mobile-ion density at the highest temperature: one slice per lattice direction through the densest voxel
    (fractional axes), sites within half a voxel layer marked."""
    plt = _figure()
    res = report.results[-1]
    rho = res.density.ions_per_A3
    peak = np.unravel_index(np.argmax(rho), rho.shape)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.9))
    names = "abc"
    for axis, ax in enumerate(axes):
        plane = np.take(rho, peak[axis], axis=axis)
        u, v = [k for k in range(3) if k != axis]
        image = ax.imshow(plane.T, origin="lower", extent=(0, 1, 0, 1), cmap="magma", aspect="auto")
        frac = report.sites.frac_coords
        level = (peak[axis] + 0.5) / rho.shape[axis]
        near = np.abs(((frac[:, axis] - level + 0.5) % 1.0) - 0.5) < 1.0 / rho.shape[axis]
        ax.scatter(frac[near, u], frac[near, v], s=14, facecolor="none", edgecolor="c", linewidth=0.8)
        ax.set_xlabel(f"{names[u]} (fractional)")
        ax.set_ylabel(f"{names[v]} (fractional)")
        ax.set_title(f"{names[axis]} = {level:.2f}", fontsize=9)
        fig.colorbar(image, ax=ax, label=f"{report.species} density (1/Å³)")
    fig.suptitle(f"{report.species} density at {res.temperature_K:g} K (sites: circles)", fontsize=9)
    return _save(fig, plt, path)


def plot_rdfs(report: MechanismReport, path: str | Path) -> Path:
    """Partial RDFs at the highest temperature, and the framework RDF at the start vs the end of the run."""
    plt = _figure()
    res = report.results[-1]
    fig, (ax, ax_fw) = plt.subplots(1, 2, figsize=(10, 3.8))
    for rdf in res.rdfs:
        ax.plot(rdf.r_A, rdf.smoothed(), lw=1.0, label="–".join(rdf.pair))
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r)")
    ax.set_title(f"partial RDFs at {res.temperature_K:g} K", fontsize=9)
    ax.legend(fontsize=7)
    check = res.framework_check
    if check is not None:
        ax_fw.plot(
            check.start.r_A, check.start.smoothed(), label=f"start (WA {check.wendt_abraham_start:.2f})"
        )
        ax_fw.plot(check.end.r_A, check.end.smoothed(), label=f"end (WA {check.wendt_abraham_end:.2f})")
        ax_fw.set_title(f"framework {'–'.join(check.pair)} RDF: start vs end of the run", fontsize=9)
        ax_fw.legend(fontsize=7)
    ax_fw.set_xlabel("r (Å)")
    ax_fw.set_ylabel("g(r)")
    return _save(fig, plt, path)
