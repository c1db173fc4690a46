"""``analyze_mechanism``: where and how the ions move — sites and occupancies, jumps and their rates, jump vs MSD
diffusivity, collective jumps, barriers per jump type, density and percolation paths, structure checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers as symbol_to_z
from ase.data import chemical_symbols

from superionic.analysis._arrhenius import ArrheniusFit, fit_arrhenius
from superionic.analysis._conductivity import ratio_interval_fieller, tracer_D_to_cm2_per_s
from superionic.analysis._density import (
    MobileIonDensity,
    PercolationPath,
    mobile_ion_density,
    percolation_paths,
)
from superionic.analysis._frames import frame_interval_ps, mobile_fractional
from superionic.analysis._jumps import (
    MIN_EFFECTIVE_SAMPLES,
    CollectiveJumps,
    JumpDiffusivity,
    JumpTypeRate,
    Occupancy,
    RunJumps,
    collective_jumps,
    find_jumps,
    jump_diffusivity,
    jump_matrix,
    jump_rates,
    occupancies,
)
from superionic.analysis._report import _load, analyze
from superionic.analysis._results import TransportReport, _json_clean
from superionic.analysis._sites import Sites, assign_sites, sites_from_density, sites_from_structure
from superionic.analysis._structure_checks import (
    FrameworkRDFCheck,
    PartialRDF,
    SelfVanHove,
    framework_rdf_check,
    partial_rdfs,
    self_van_hove,
)
from superionic.analysis._trajectory import Trajectory

SCHEMA = "superionic.analysis.MechanismReport/1"

#: More than this fraction of ion-frames outside every site sphere means the sites do not describe where the
#: ions are (wrong reference, a melt, or a liquid-like sublattice).
MAX_TRANSIT_FRACTION = 0.35


@dataclass(frozen=True)
class MechanismSettings:
    """Settings of the mechanism analysis (saved in the report).

    Attributes:
        min_residence_ps: an ion must stay this long on a new site for the move to count as a jump (shorter
            stays are rattles across a boundary); 0.05 ps is about half a Li vibration period (5–10 THz).
        site_radius_A: site sphere radius (default 0.4 × the shortest site separation).
        n_blocks: time blocks per run for the Poisson dispersion and the occupancy intervals.
        collective_window_ps, collective_distance_A: GEMDAT-style criterion for two jumps to be collective.
        density_spacing_A, density_smoothing_A: grid of the mobile-ion density.
        site_min_occupancy: a density peak holding fewer ions than this (on average) is not a site.
        seed: of the random time shifts behind the independent-jumps baseline.
    """

    min_residence_ps: float = 0.05
    site_radius_A: float | None = None
    n_blocks: int = 10
    collective_window_ps: float = 0.2
    collective_distance_A: float = 1.0
    density_spacing_A: float = 0.2
    density_smoothing_A: float = 0.2
    site_min_occupancy: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        if self.min_residence_ps < 0 or self.n_blocks < 2:
            raise ValueError(
                f"need min_residence_ps >= 0 and n_blocks >= 2, got {self.min_residence_ps}, {self.n_blocks}"
            )
        if self.collective_window_ps <= 0 or self.density_spacing_A <= 0:
            raise ValueError("collective_window_ps and density_spacing_A must be positive")


@dataclass(frozen=True)
class TemperatureMechanism:
    """The mechanism at one temperature (all replicas pooled)."""

    temperature_K: float
    n_replicas: int
    n_frames: int
    frame_interval_ps: float
    n_ions: int
    min_residence_frames: int
    fraction_in_transit: float
    occupancy: list[Occupancy]
    rates: list[JumpTypeRate]
    type_matrix: np.ndarray  # [T, T] jumps by site-type pair
    site_matrix: np.ndarray  # [S, S] jumps by site pair
    n_jumps_without_filter: int
    jump_D: JumpDiffusivity
    msd_D_A2_per_ps: float | None
    msd_D_A2_per_ps_ci95: tuple[float, float] | None
    msd_D_relative_se: float | None
    collective: CollectiveJumps
    density: MobileIonDensity
    percolation: list[PercolationPath]
    rdfs: list[PartialRDF]
    framework_check: FrameworkRDFCheck | None
    van_hove: SelfVanHove
    warnings: list[str] = field(default_factory=list)

    @property
    def n_jumps(self) -> int:
        return int(self.type_matrix.sum())

    @property
    def dominant_jump(self) -> JumpTypeRate | None:
        return max(self.rates, key=lambda r: r.n_jumps) if self.rates else None

    @property
    def correlation_factor(self) -> float | None:
        """D_MSD / D_jump: 1 for uncorrelated jumps; < 1 when jumps are correlated (back-jumps, vacancy
        mechanism: the tracer correlation factor f)."""
        if self.msd_D_A2_per_ps is None or self.jump_D.D_A2_per_ps <= 0:
            return None
        return self.msd_D_A2_per_ps / self.jump_D.D_A2_per_ps

    @property
    def correlation_factor_ci95(self) -> tuple[float, float] | None:
        """Fieller interval treating the two estimates as independent; they come from the same ions, so the true
        interval is narrower: this one is conservative."""
        if self.correlation_factor is None or self.msd_D_relative_se is None:
            return None
        d_msd, d_jump = self.msd_D_A2_per_ps, self.jump_D.D_A2_per_ps
        return ratio_interval_fieller(
            d_msd,
            abs(d_msd) * self.msd_D_relative_se,
            d_jump,
            d_jump * self.jump_D.relative_se,  # type: ignore[arg-type]
        )

    def consistency(self) -> str:
        """Plain-language verdict on jump D vs MSD D."""
        f, ci = self.correlation_factor, self.correlation_factor_ci95
        if f is None:
            return "no jumps or no resolved MSD diffusivity: jump D and MSD D cannot be compared"
        if ci is None:
            return f"D_MSD/D_jump = {f:.2f}, too uncertain to bound (few jumps or a noisy MSD)"
        text = f"D_MSD/D_jump = {f:.2f} (95 % CI {ci[0]:.2f}–{ci[1]:.2f}): "
        if ci[0] <= 1.0 <= ci[1]:
            text += "jump and MSD diffusivities agree within their intervals"
            if f < 0.8:
                text += (
                    "; the estimate below 1 hints at correlated jumps (a tracer correlation factor f < 1, e.g. "
                    "vacancy back-jumps), which this run cannot resolve"
                )
            return text
        if ci[1] < 1.0:
            return text + (
                "the MSD diffusivity is lower than the jump diffusivity: successive jumps are correlated "
                "(back-jumps), the ratio is the tracer correlation factor f (vacancy mechanism: 0.78 fcc, "
                "0.65 bcc, 0.56 square, 0.33 honeycomb lattice)"
            )
        return text + (
            "the MSD diffusivity exceeds the jump diffusivity: displacement not captured by site-to-site jumps "
            "(unassigned regions, missing sites or liquid-like flow); check the sites and fraction_in_transit"
        )

    def to_dict(self, density_file: str | None = None) -> dict[str, Any]:
        dom = self.dominant_jump
        jd = self.jump_D
        msd_ci = self.msd_D_A2_per_ps_ci95
        rows, cols = np.nonzero(self.site_matrix)
        return _json_clean(
            {
                "temperature_K": self.temperature_K,
                "n_replicas": self.n_replicas,
                "n_frames": self.n_frames,
                "frame_interval_ps": self.frame_interval_ps,
                "n_mobile_ions": self.n_ions,
                "min_residence_frames": self.min_residence_frames,
                "fraction_in_transit": self.fraction_in_transit,
                "occupancy": [o.to_dict() for o in self.occupancy],
                "n_jumps": self.n_jumps,
                "n_jumps_without_residence_filter": self.n_jumps_without_filter,
                "jump_types": [r.to_dict() for r in self.rates],
                "dominant_jump_type": None if dom is None else dom.name,
                "jump_matrix_by_type": self.type_matrix.tolist(),
                "jump_matrix_by_site": [[int(i), int(j), int(self.site_matrix[i, j])] for i, j in zip(rows, cols, strict=True)],
                "D_jump_cm2_per_s": tracer_D_to_cm2_per_s(jd.D_A2_per_ps),
                "D_jump_cm2_per_s_ci95": [tracer_D_to_cm2_per_s(x) for x in jd.D_A2_per_ps_ci95],
                "mean_square_jump_A2": jd.mean_square_jump_A2,
                "D_jump_effective_samples": jd.effective_samples,
                "D_msd_cm2_per_s": None if self.msd_D_A2_per_ps is None else tracer_D_to_cm2_per_s(self.msd_D_A2_per_ps),
                "D_msd_cm2_per_s_ci95": None if msd_ci is None else [tracer_D_to_cm2_per_s(x) for x in msd_ci],
                "D_msd_over_D_jump": self.correlation_factor,
                "D_msd_over_D_jump_ci95": None if self.correlation_factor_ci95 is None else list(self.correlation_factor_ci95),
                "jump_vs_msd": self.consistency(),
                "collective": self.collective.to_dict(),
                "density": {
                    "file": density_file,
                    "grid_shape": list(self.density.ions_per_A3.shape),
                    "smoothing_A": self.density.smoothing_A,
                    "max_ions_per_A3": float(self.density.ions_per_A3.max()),
                },
                "percolation": [p.to_dict() for p in self.percolation],
                "rdf": {
                    "-".join(r.pair): {"r_A": np.round(r.r_A, 4).tolist(), "g": np.round(r.g, 4).tolist()}
                    for r in self.rdfs
                },
                "framework_rdf_check": None if self.framework_check is None else self.framework_check.to_dict(),
                "self_van_hove": self.van_hove.to_dict(),
                "warnings": list(self.warnings),
            }
        )  # fmt: skip


@dataclass(frozen=True)
class JumpBarrier:
    """Activation energy of one jump type from an Arrhenius fit of its rates over temperatures."""

    name: str
    fit: ArrheniusFit | None
    temperatures_K: list[float]
    n_jumps: list[int]
    single_temperature: JumpTypeRate | None  # the only temperature, when no fit is possible

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "jump_type": self.name,
            "temperatures_K": self.temperatures_K,
            "n_jumps": self.n_jumps,
        }
        if self.fit is not None:
            out.update(
                {
                    "method": f"Arrhenius fit of the rates over {len(self.temperatures_K)} temperatures",
                    "Ea_eV": self.fit.Ea_eV,
                    "Ea_eV_ci95": list(self.fit.Ea_eV_ci95),
                    # fit_arrhenius names its intercept for D; here it is ln of the rate prefactor in 1/ps
                    "prefactor_per_ps": float(np.exp(self.fit.ln_D0_cm2_per_s)),
                    "prefactor_per_ps_ci95": list(self.fit.D0_cm2_per_s_ci95),
                    "birge_ratio": self.fit.birge_ratio,
                }
            )
        else:
            r = self.single_temperature
            out.update(
                {
                    "method": "single temperature: transition-state-theory free-energy barrier "
                    "ΔF‡ = −kT ln(k h / kT), not an Arrhenius activation energy",
                    "Ea_eV": None,
                    "Ea_eV_ci95": None,
                    "barrier_tst_single_temperature_eV": None if r is None else r.barrier_tst_eV,
                    "barrier_tst_single_temperature_eV_ci95": None
                    if r is None
                    else list(r.barrier_tst_eV_ci95),
                }
            )
        return _json_clean(out)


def fit_jump_barriers(results: Sequence[TemperatureMechanism]) -> list[JumpBarrier]:
    """Per jump type, an Arrhenius fit of its rate over the temperatures of ``results``."""
    return fit_jump_barriers_from_rates([r for res in results for r in res.rates])


def fit_jump_barriers_from_rates(rates: Sequence[JumpTypeRate]) -> list[JumpBarrier]:
    """Per jump type, a weighted Arrhenius fit of its rate over the temperatures where it was seen (weights
    from the rates' relative standard errors sqrt(φ/n)); a single-temperature TST estimate where seen once."""
    barriers = []
    for name in sorted({r.name for r in rates}):
        seen = sorted((r for r in rates if r.name == name), key=lambda r: r.temperature_K)
        temps = [r.temperature_K for r in seen]
        fit = None
        if len(set(temps)) >= 2:
            values = np.array([r.rate_per_ps for r in seen])
            fit = fit_arrhenius(
                np.array(temps), values, values * np.array([r.rate_relative_se for r in seen])
            )
        barriers.append(JumpBarrier(name, fit, temps, [r.n_jumps for r in seen], None if fit else seen[-1]))
    return barriers


@dataclass(frozen=True)
class MechanismReport:
    """Sites, per-temperature mechanism and per-jump-type barriers; ``to_dict`` is the JSON schema."""

    species: str
    sites: Sites
    results: list[TemperatureMechanism]
    barriers: list[JumpBarrier]
    settings: MechanismSettings
    warnings: list[str]

    def write(self, out_dir: str | Path, *, plots: bool = True) -> dict[str, str]:
        """Write the density of every temperature (Gaussian cube, opens in VESTA and OVITO) and the plots."""
        from superionic.analysis._mechanism_plots import (
            plot_density_slices,
            plot_jump_network,
            plot_jump_rates_arrhenius,
            plot_rdfs,
        )

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        for res in self.results:
            name = f"density_{self.species}_{res.temperature_K:g}K.cube"
            res.density.write(out / name)
            files[f"density_{res.temperature_K:g}K"] = name
        if plots:
            files["jump_network"] = plot_jump_network(self, out / "jump_network.png").name
            files["jump_rates"] = plot_jump_rates_arrhenius(self, out / "jump_rates.png").name
            files["density_slices"] = plot_density_slices(self, out / "density_slices.png").name
            files["rdf"] = plot_rdfs(self, out / "rdf.png").name
        return files

    def to_dict(self, files: dict[str, str] | None = None) -> dict[str, Any]:
        files = files or {}
        hottest = self.results[-1]
        return _json_clean(
            {
                "schema": SCHEMA,
                "species": self.species,
                "settings": self.settings.__dict__,
                "sites": self.sites.to_dict(),
                "temperature_K": [r.temperature_K for r in self.results],
                "dominant_jump_type": None if hottest.dominant_jump is None else hottest.dominant_jump.name,
                "results": [r.to_dict(files.get(f"density_{r.temperature_K:g}K")) for r in self.results],
                "barriers": [b.to_dict() for b in self.barriers],
                "files": files,
                "warnings": list(self.warnings),
            }
        )


def _temperature_mechanism(
    replicas: list[Trajectory],
    sites: Sites,
    species: str,
    settings: MechanismSettings,
    transport: TransportReport,
) -> TemperatureMechanism:
    mobile_z = symbol_to_z[species]
    temperature = float(replicas[0].temperature_K)  # type: ignore[arg-type]
    dt = frame_interval_ps(replicas[0])
    min_frames = max(1, int(np.ceil(settings.min_residence_ps / dt - 1e-9)))
    runs, unfiltered, transit = [], 0, []
    for r in replicas:
        states = assign_sites(mobile_fractional(r, mobile_z), sites)
        transit.append(float(np.mean(states < 0)))
        runs.append(RunJumps(find_jumps(states, min_frames), states, frame_interval_ps(r), settings.n_blocks))
        unfiltered += find_jumps(states, 1).n_jumps
    rates = jump_rates(runs, sites, temperature)
    site_matrix = jump_matrix(runs, sites)
    type_matrix = np.zeros((sites.n_types, sites.n_types), dtype=np.int64)
    np.add.at(type_matrix, (sites.site_types[:, None].repeat(sites.n_sites, 1),
                            sites.site_types[None, :].repeat(sites.n_sites, 0)), site_matrix)  # fmt: skip
    matching = [t for t in transport.results if abs(t.temperature_K - temperature) < 0.01]
    msd = matching[0] if matching and matching[0].diffusion_observed else None
    density = mobile_ion_density(
        replicas, species, spacing_A=settings.density_spacing_A, smoothing_A=settings.density_smoothing_A
    )
    first = replicas[0]
    elements = sorted({chemical_symbols[z] for z in first.atomic_numbers}, key=lambda s: (s != species, s))
    pairs = [(species, e) for e in elements]
    check = framework_rdf_check(first, mobile_z)
    if check is not None and check.pair not in pairs:
        pairs.append(check.pair)
    result = TemperatureMechanism(
        temperature_K=temperature,
        n_replicas=len(replicas),
        n_frames=min(r.n_frames for r in replicas),
        frame_interval_ps=dt,
        n_ions=int(np.sum(first.atomic_numbers == mobile_z)),
        min_residence_frames=min_frames,
        fraction_in_transit=float(np.mean(transit)),
        occupancy=occupancies(runs, sites),
        rates=rates,
        type_matrix=type_matrix,
        site_matrix=site_matrix,
        n_jumps_without_filter=unfiltered,
        jump_D=jump_diffusivity(runs, sites),
        msd_D_A2_per_ps=None if msd is None else msd.tracer.D_A2_per_ps,
        msd_D_A2_per_ps_ci95=None if msd is None else msd.tracer.D_A2_per_ps_ci95,
        msd_D_relative_se=None if msd is None else msd.tracer.relative_se,
        collective=collective_jumps(
            runs,
            sites,
            window_ps=settings.collective_window_ps,
            distance_A=settings.collective_distance_A,
            seed=settings.seed,
        ),
        density=density,
        percolation=percolation_paths(density.free_energy_eV(temperature)),
        rdfs=partial_rdfs(first, pairs),
        framework_check=check,
        van_hove=self_van_hove(first, mobile_z),
    )
    return replace(result, warnings=_mechanism_warnings(result, species, check))


def _mechanism_warnings(
    result: TemperatureMechanism, species: str, check: FrameworkRDFCheck | None
) -> list[str]:
    """Plain-language warnings about one temperature's mechanism analysis."""
    warnings: list[str] = []
    label = f"{result.temperature_K:g} K"
    if result.fraction_in_transit > MAX_TRANSIT_FRACTION:
        warnings.append(
            f"{label}: {result.fraction_in_transit:.0%} of {species} positions are on no site (limit "
            f"{MAX_TRANSIT_FRACTION:.0%}): the sites do not describe this run (wrong reference, melt, or a "
            "liquid-like sublattice); jump numbers are unreliable"
        )
    if result.n_jumps < 10:
        warnings.append(
            f"{label}: only {result.n_jumps} {species} jumps; rates and barriers rest on very few events — run longer"
        )
    short = [o.site_type for o in result.occupancy if o.effective_samples < MIN_EFFECTIVE_SAMPLES]
    if short or not result.jump_D.interval_reliable:
        warnings.append(
            f"{label}: the run spans fewer than {MIN_EFFECTIVE_SAMPLES} correlation times of where the {species} "
            "ions sit (effective_samples in the report): the intervals of the occupancies and of D_jump are too "
            "narrow — run longer or add replicas"
        )
    if check is not None and check.melted:
        warnings.append(
            f"{label}: the framework's {'-'.join(check.pair)} RDF is liquid-like at the end of the run "
            f"(Wendt–Abraham ratio {check.wendt_abraham_end:.2f} > 0.14): the structure melted or amorphised"
        )
    return warnings


def analyze_mechanism(
    paths_or_trajectories: Sequence[str | Path | Trajectory] | str | Path | Trajectory,
    *,
    species: str = "Li",
    temperatures_K: Sequence[float] | float | None = None,
    reference: Any = None,
    transport: TransportReport | None = None,
    settings: MechanismSettings | None = None,
) -> MechanismReport:
    """How the ions move: sites, occupancies, jumps, rates, barriers, density, percolation, structure checks.

    All runs must be of the same cell (the site set is shared, so jump types match across temperatures); runs at
    the same temperature are replicas and are pooled.

    Args:
        paths_or_trajectories: files (see :func:`read_trajectory`) or :class:`Trajectory` objects.
        species: the mobile element.
        temperatures_K: one per input (or one for all), overriding the files'.
        reference: structure file / pymatgen Structure / ASE Atoms whose ``species`` sites are the sites
            (Wyckoff-labelled); default: sites discovered from the pooled mobile-ion density.
        transport: the :func:`analyze` report of the same runs, for jump vs MSD diffusivity (computed if None).
        settings: :class:`MechanismSettings`.

    Returns:
        A :class:`MechanismReport`; ``.to_dict()`` is JSON-ready, ``.write(dir)`` writes densities and plots.
    """
    if species not in symbol_to_z:
        raise ValueError(f"species={species!r} is not a chemical symbol (e.g. 'Li')")
    settings = settings or MechanismSettings()
    trajs = _load(paths_or_trajectories, temperatures_K)
    mobile_z = symbol_to_z[species]
    first = trajs[0]
    for t in trajs:
        if not np.array_equal(t.atomic_numbers, first.atomic_numbers):
            raise ValueError(
                "mechanism analysis needs runs of one cell with the same atoms (the sites are shared); "
                f"{t.metadata.get('source', 'a run')} differs — analyse it separately"
            )
    if not np.any(first.atomic_numbers == mobile_z):
        raise ValueError(f"{first.metadata.get('source', 'the trajectory')} has no {species} atoms")
    if transport is None:
        transport = analyze(trajs, species=species)
    if reference is not None:
        sites = sites_from_structure(reference, first, species, radius_A=settings.site_radius_A)
    else:
        pooled = mobile_ion_density(trajs, species, spacing_A=settings.density_spacing_A,
                                    smoothing_A=settings.density_smoothing_A)  # fmt: skip
        sites = sites_from_density(pooled, first, species, min_occupancy=settings.site_min_occupancy,
                                   radius_A=settings.site_radius_A)  # fmt: skip
    groups: dict[float, list[Trajectory]] = {}
    for t in trajs:
        groups.setdefault(round(float(t.temperature_K), 2), []).append(t)  # type: ignore[arg-type]
    results = [_temperature_mechanism(groups[k], sites, species, settings, transport) for k in sorted(groups)]
    barriers = fit_jump_barriers(results)
    warnings = [w for r in results for w in r.warnings]
    if len(results) == 1:
        warnings.append(
            "one temperature: barriers are single-temperature transition-state estimates, not Arrhenius "
            "activation energies; analyse runs at two or more temperatures for Ea"
        )
    return MechanismReport(species, sites, results, barriers, settings, warnings)
