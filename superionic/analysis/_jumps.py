"""Site-to-site jumps of the mobile ions: residence-time filtered visits, occupancies, rates per jump type with
Poisson intervals over independent blocks, jump diffusivity, and collective (correlated) jumps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import constants, stats

from superionic.analysis._diffusion import Z95
from superionic.analysis._sites import Sites
from superionic.analysis._units import KB_EV_PER_K

#: Planck constant in eV·ps, for the transition-state-theory barrier of a single temperature.
H_EV_PS = constants.h / constants.e / constants.pico


@dataclass(frozen=True)
class SiteVisits:
    """Jumps of the ions of one run, after the residence-time filter.

    Attributes:
        held: ``[F, N]`` the site each ion belongs to in each frame: the last site where it stayed at least the
            minimum residence time (transit and short rattles belong to the site it came from); -1 before its first.
        from_site, to_site: ``[J]`` site indices of each jump.
        ion: ``[J]`` index of the jumping ion (among the mobile ions).
        leave_frame: ``[J]`` last frame on the old site; arrive_frame: ``[J]`` first frame on the new one.
    """

    held: np.ndarray
    from_site: np.ndarray
    to_site: np.ndarray
    ion: np.ndarray
    leave_frame: np.ndarray
    arrive_frame: np.ndarray

    @property
    def n_jumps(self) -> int:
        return int(self.from_site.size)


def find_jumps(states: np.ndarray, min_residence_frames: int) -> SiteVisits:
    """Jumps from per-frame site states, with a residence-time filter.

    A visit is a run of frames on one site (frames in transit between two stays on the same site join them).
    A visit shorter than ``min_residence_frames`` is a rattle, not a jump: it is dropped and the ion stays with
    the site it came from (before its first kept visit an ion belongs to no site). A jump is a change of site
    between two consecutive kept visits.

    Args:
        states: ``[F, N]`` site index per frame and ion, -1 in transit (from :func:`assign_sites`).
        min_residence_frames: >= 1.
    """
    if min_residence_frames < 1:
        raise ValueError(f"min_residence_frames={min_residence_frames} must be >= 1")
    n_frames, n_ions = states.shape
    held = np.full((n_frames, n_ions), -1, dtype=np.int64)
    jumps: list[np.ndarray] = []
    for ion in range(n_ions):
        column = states[:, ion]
        on = np.flatnonzero(column >= 0)
        if on.size == 0:
            continue
        sites = column[on]
        change = np.flatnonzero(np.diff(sites) != 0) + 1
        start, end = np.concatenate([[0], change]), np.concatenate([change, [on.size]]) - 1
        site, first, last = sites[start], on[start], on[end]
        keep = (last - first + 1) >= min_residence_frames
        if not keep.any():
            continue  # never settled on a site: no jumps, and no site to hold it
        site, first, last = site[keep], first[keep], last[keep]
        # merge consecutive visits of the same site (a dropped rattle between them)
        new = np.concatenate([[True], site[1:] != site[:-1]])
        site, first = site[new], first[new]
        last = np.maximum.reduceat(last, np.flatnonzero(new))
        bounds = np.concatenate([first, [n_frames]])
        for k in range(site.size):
            held[bounds[k] : bounds[k + 1], ion] = site[k]
        if site.size > 1:
            jumps.append(
                np.stack([site[:-1], site[1:], np.full(site.size - 1, ion), last[:-1], first[1:]], axis=1)
            )
    table = np.concatenate(jumps) if jumps else np.zeros((0, 5), dtype=np.int64)
    order = np.argsort(table[:, 4], kind="stable")
    table = table[order]
    return SiteVisits(
        held=held,
        from_site=table[:, 0],
        to_site=table[:, 1],
        ion=table[:, 2],
        leave_frame=table[:, 3],
        arrive_frame=table[:, 4],
    )


def poisson_rate_interval(
    n_events: float, exposure: float, dispersion: float = 1.0, level: float = 0.95
) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson rate, widened for overdispersion.

    With dispersion φ >= 1 (variance/mean of the counts), the count behaves like φ × a Poisson count of n/φ
    events (quasi-Poisson); the Garwood interval of n/φ is scaled back by φ. n = 0 gives (0, upper bound).

    >>> [round(x, 3) for x in poisson_rate_interval(10, 2.0)]
    [2.398, 9.195]
    """
    phi = max(1.0, float(dispersion))
    n_eff = n_events / phi
    alpha = 1.0 - level
    low = 0.0 if n_eff <= 0 else float(stats.chi2.ppf(alpha / 2, 2 * n_eff) / 2)
    high = float(stats.chi2.ppf(1 - alpha / 2, 2 * n_eff + 2) / 2)
    return low * phi / exposure, high * phi / exposure


def dispersion_index(counts: np.ndarray, exposures: np.ndarray) -> float:
    """Pearson dispersion φ = Σ (n_b − k·τ_b)² / (k·τ_b) / (B − 1) of block counts n_b with exposures τ_b
    (1 for Poisson counts; > 1 when events cluster, e.g. back-and-forth jumps of one vacancy); 1 when undefined."""
    counts = np.asarray(counts, dtype=np.float64)
    exposures = np.asarray(exposures, dtype=np.float64)
    used = exposures > 0
    total = counts[used].sum()
    if used.sum() < 2 or total <= 0:
        return 1.0
    expected = total / exposures[used].sum() * exposures[used]
    return float(np.sum((counts[used] - expected) ** 2 / expected) / (used.sum() - 1))


@dataclass(frozen=True)
class JumpTypeRate:
    """Rate of one jump type (site type → site type) at one temperature.

    Attributes:
        from_type, to_type: site-type labels.
        n_jumps: jumps counted.
        exposure_ion_ps: total time ions spent on sites of ``from_type`` (ion·ps).
        rate_per_ps: escape rate from an occupied ``from_type`` site by this jump type, n_jumps / exposure (1/ps);
            ``rate_per_ps_ci95`` its 95 % interval (Garwood, widened by ``dispersion``).
        dispersion: quasi-Poisson dispersion φ of the per-block counts (used when > 1).
        n_blocks: independent blocks (time blocks × replicas) behind φ.
        hop_length_A: mean site-to-site distance of these jumps.
        barrier_tst_eV: single-temperature free-energy barrier from transition-state theory,
            ΔF‡ = −kT ln(k h / kT), with ``barrier_tst_eV_ci95``; not an Arrhenius activation energy.
    """

    from_type: str
    to_type: str
    n_jumps: int
    exposure_ion_ps: float
    rate_per_ps: float
    rate_per_ps_ci95: tuple[float, float]
    dispersion: float
    n_blocks: int
    hop_length_A: float
    temperature_K: float

    @property
    def name(self) -> str:
        return f"{self.from_type} -> {self.to_type}"

    @property
    def rate_relative_se(self) -> float:
        """sqrt(φ/n): relative standard error of the rate (inf without jumps)."""
        return float(np.sqrt(max(1.0, self.dispersion) / self.n_jumps)) if self.n_jumps else float("inf")

    def _tst(self, rate: float) -> float | None:
        kt = KB_EV_PER_K * self.temperature_K
        return None if rate <= 0 else float(-kt * np.log(rate * H_EV_PS / kt))

    @property
    def barrier_tst_eV(self) -> float | None:
        return self._tst(self.rate_per_ps)

    @property
    def barrier_tst_eV_ci95(self) -> tuple[float | None, float | None]:
        low, high = self.rate_per_ps_ci95
        return self._tst(high), self._tst(low)  # a higher rate is a lower barrier

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_type": self.from_type,
            "to_type": self.to_type,
            "n_jumps": self.n_jumps,
            "exposure_ion_ps": self.exposure_ion_ps,
            "rate_per_ps": self.rate_per_ps,
            "rate_per_ps_ci95": list(self.rate_per_ps_ci95),
            "dispersion": self.dispersion,
            "n_blocks": self.n_blocks,
            "hop_length_A": self.hop_length_A,
            "barrier_tst_single_temperature_eV": self.barrier_tst_eV,
            "barrier_tst_single_temperature_eV_ci95": list(self.barrier_tst_eV_ci95),
        }


@dataclass(frozen=True)
class RunJumps:
    """The jumps of one run (one replica) with the frame blocks they fall in."""

    visits: SiteVisits
    states: np.ndarray  # [F, N] raw site states (-1 in transit)
    frame_interval_ps: float
    n_blocks: int

    @property
    def block_of_frame(self) -> np.ndarray:
        n_frames = self.states.shape[0]
        return np.minimum((np.arange(n_frames) * self.n_blocks) // n_frames, self.n_blocks - 1)


def block_exposures(run: RunJumps, sites: Sites) -> np.ndarray:
    """Ion·ps held on each site type in each block, ``[B, T]``."""
    held = run.visits.held
    block = np.broadcast_to(run.block_of_frame[:, None], held.shape)
    mask = held >= 0
    index = block[mask] * sites.n_types + sites.site_types[held[mask]]
    counts = np.bincount(index, minlength=run.n_blocks * sites.n_types).reshape(run.n_blocks, sites.n_types)
    return counts * run.frame_interval_ps


def block_counts(run: RunJumps, sites: Sites) -> np.ndarray:
    """Jumps per block and jump type, ``[B, T, T]`` (by arrival frame)."""
    v = run.visits
    block = run.block_of_frame[v.arrive_frame]
    index = (block * sites.n_types + sites.site_types[v.from_site]) * sites.n_types + sites.site_types[
        v.to_site
    ]
    size = run.n_blocks * sites.n_types**2
    return np.bincount(index, minlength=size).reshape(run.n_blocks, sites.n_types, sites.n_types)


def jump_rates(runs: list[RunJumps], sites: Sites, temperature_K: float) -> list[JumpTypeRate]:
    """Rates of every observed jump type, pooled over the runs (replicas) at one temperature."""
    counts = np.concatenate([block_counts(r, sites) for r in runs])  # [B, T, T]
    exposure = np.concatenate([block_exposures(r, sites) for r in runs])  # [B, T]
    hop = {}
    for r in runs:
        v = r.visits
        lengths = np.linalg.norm(sites.vectors_A(v.from_site, v.to_site), axis=1)
        for a, b, length in zip(
            sites.site_types[v.from_site], sites.site_types[v.to_site], lengths, strict=True
        ):
            hop.setdefault((int(a), int(b)), []).append(float(length))
    rates = []
    for a in range(sites.n_types):
        for b in range(sites.n_types):
            n = int(counts[:, a, b].sum())
            if n == 0:
                continue
            tau = float(exposure[:, a].sum())
            phi = dispersion_index(counts[:, a, b], exposure[:, a])
            rates.append(
                JumpTypeRate(
                    from_type=sites.type_labels[a],
                    to_type=sites.type_labels[b],
                    n_jumps=n,
                    exposure_ion_ps=tau,
                    rate_per_ps=n / tau,
                    rate_per_ps_ci95=poisson_rate_interval(n, tau, phi),
                    dispersion=phi,
                    n_blocks=int(counts.shape[0]),
                    hop_length_A=float(np.mean(hop[(a, b)])),
                    temperature_K=temperature_K,
                )
            )
    return rates


def mean_with_se(series: list[np.ndarray]) -> tuple[float, float, float]:
    """Mean of correlated time series (one per independent run, pooled by length), its standard error and the
    effective number of independent samples.

    Var(mean of one run) = var(x)·τ/F with τ the integrated autocorrelation time (frames) from emcee's estimator
    (Sokal's automatic window, c = 5), corrected for its known bias: with the mean estimated from the run, the
    sample autocorrelation is low by ≈ τ/F at every lag (Priestley, Spectral Analysis and Time Series, 1981,
    §5.3), so the sum over the window (≈ c·τ) is low by ≈ 2c·τ²/F; τ solves τ − 2c·τ²/F = τ̂ (measured on site
    walks: without it, occupancy intervals covered 86 % at F ≈ 50 τ). τ is only trustworthy when F >> τ: the
    effective sample count F/τ is returned so that callers can flag short runs.
    """
    from emcee.autocorr import integrated_time

    window_c = 5.0
    lengths = np.array([len(x) for x in series], dtype=np.float64)
    weights = lengths / lengths.sum()
    means, variances, n_eff = [], [], 0.0
    for x in series:
        x = np.asarray(x, dtype=np.float64)
        tau_hat = float(integrated_time(x, c=window_c, tol=0, quiet=True)[0]) if x.std() > 0 else 1.0
        disc = 1.0 - 8.0 * window_c * tau_hat / len(x)
        # too short to correct (τ̂ > F/(8c)): take the largest τ the correction allows
        tau = (1.0 - np.sqrt(disc)) * len(x) / (4.0 * window_c) if disc > 0 else len(x) / (4.0 * window_c)
        tau = max(tau, tau_hat, 1.0)
        means.append(x.mean())
        variances.append(x.var() * tau / len(x))
        n_eff += len(x) / tau
    mean = float(np.dot(weights, means))
    return mean, float(np.sqrt(np.dot(weights**2, variances))), n_eff


@dataclass(frozen=True)
class Occupancy:
    """Mean occupancy of one site type: ions per site (the probability that a site of the type is occupied when
    ions never share a site), and the fraction of the ions on that type, each with a 95 % interval (normal, from
    the integrated autocorrelation time of the occupancy series).

    Attributes:
        effective_samples: run length over the autocorrelation time, summed over runs; below ~50 the interval
            is too narrow (the run spans too few occupancy fluctuations).
        in_sphere_ions_per_site: ions within the site radius per site (no interval; for comparison with tools
            that count this way).
    """

    site_type: str
    n_sites: int
    ions_per_site: float
    ions_per_site_ci95: tuple[float, float]
    fraction_of_ions: float
    fraction_of_ions_ci95: tuple[float, float]
    effective_samples: float
    in_sphere_ions_per_site: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "site_type": self.site_type,
            "n_sites": self.n_sites,
            "ions_per_site": self.ions_per_site,
            "ions_per_site_ci95": list(self.ions_per_site_ci95),
            "fraction_of_ions": self.fraction_of_ions,
            "fraction_of_ions_ci95": list(self.fraction_of_ions_ci95),
            "effective_samples": self.effective_samples,
            "in_sphere_ions_per_site": self.in_sphere_ions_per_site,
        }


#: Fewer effective samples than this and an occupancy interval is flagged as unreliable (Sokal: F > 50 τ).
MIN_EFFECTIVE_SAMPLES = 50


def occupancies(runs: list[RunJumps], sites: Sites) -> list[Occupancy]:
    """Occupancy per site type by the residence-filtered assignment: an ion belongs to the last site where it
    stayed at least the minimum residence time (vibrating out of the sphere or rattling toward a neighbour does
    not empty its site), averaged over frames and runs. ``in_sphere_ions_per_site`` counts only ions inside the
    site radius, as GEMDAT and pymatgen's SiteOccupancyAnalyzer do (lower by the time in transit)."""
    out = []
    for t, label in enumerate(sites.type_labels):
        n_sites = int(sites.sites_per_type[t])
        per_site, fraction, in_sphere = [], [], []
        for r in runs:
            held = r.visits.held
            on_type = np.sum((held >= 0) & (sites.site_types[np.maximum(held, 0)] == t), axis=1)  # [F]
            per_site.append(on_type / n_sites)
            fraction.append(on_type / held.shape[1])
            raw = np.sum((r.states >= 0) & (sites.site_types[np.maximum(r.states, 0)] == t), axis=1)
            in_sphere.append(raw / n_sites)
        (m1, se1, n_eff), (m2, se2, _) = mean_with_se(per_site), mean_with_se(fraction)
        out.append(
            Occupancy(
                site_type=label,
                n_sites=n_sites,
                ions_per_site=m1,
                ions_per_site_ci95=(m1 - Z95 * se1, m1 + Z95 * se1),
                fraction_of_ions=m2,
                fraction_of_ions_ci95=(m2 - Z95 * se2, m2 + Z95 * se2),
                effective_samples=n_eff,
                in_sphere_ions_per_site=float(np.mean(np.concatenate(in_sphere))),
            )
        )
    return out


@dataclass(frozen=True)
class JumpDiffusivity:
    """D from the jumps, Σ|Δr|² / (6 N t) (the uncorrelated, 'Nernst–Einstein of the jumps' diffusivity).

    Attributes:
        D_A2_per_ps, D_A2_per_ps_ci95: estimate and 95 % interval (see :func:`jump_diffusivity`).
        n_jumps: jumps; mean_square_jump_A2: ⟨|Δr|²⟩.
        effective_samples: run length over the autocorrelation time of where the ions sit (summed over runs).
    """

    D_A2_per_ps: float
    D_A2_per_ps_ci95: tuple[float, float]
    n_jumps: int
    mean_square_jump_A2: float
    relative_se: float
    effective_samples: float

    @property
    def interval_reliable(self) -> bool:
        """False when the run spans fewer than MIN_EFFECTIVE_SAMPLES correlation times of where the ions sit:
        the slow part of the variance is then not measurable and the interval is too narrow."""
        return self.effective_samples >= MIN_EFFECTIVE_SAMPLES


def jump_diffusivity(runs: list[RunJumps], sites: Sites) -> JumpDiffusivity:
    """Σ|Δr|² / (6 N t) over the runs, with a 95 % interval.

    Written as Σ_t f_t·g_t (f_t: fraction of ion-time on site type t; g_t: Σ|Δr|² of the jumps leaving t per
    ion-time on t, over 6), its variance has two parts: the compound-Poisson scatter of the jumps given where
    the ions sat (φ·Σ|Δr|⁴, φ the block dispersion), and the slow fluctuation of where they sat, from the
    autocorrelation of the per-frame series Σ_ions g_type(ion) / N (at low T an ion stays long on the sites it
    rarely leaves, and the run samples few such stays).
    """
    n_types = sites.n_types
    sq_sum, tau, blocks, exposures, jump_sq = np.zeros(n_types), np.zeros(n_types), [], [], []
    ion_time = 0.0
    for r in runs:
        v = r.visits
        sq = np.sum(sites.vectors_A(v.from_site, v.to_site) ** 2, axis=1)
        jump_sq.append(sq)
        sq_sum += np.bincount(sites.site_types[v.from_site], weights=sq, minlength=n_types)
        tau += block_exposures(r, sites).sum(axis=0)
        blocks.append(np.bincount(r.block_of_frame[v.arrive_frame], minlength=r.n_blocks))
        exposures.append(np.bincount(r.block_of_frame, minlength=r.n_blocks).astype(float))
        n_frames, n_ions = r.states.shape
        ion_time += n_ions * (n_frames - 1) * r.frame_interval_ps
    sq = np.concatenate(jump_sq)
    total = float(sq.sum())
    scale = 1.0 / (6.0 * ion_time)
    if sq.size == 0:  # bound D by the Poisson upper limit of zero hops of the shortest site separation
        upper = poisson_rate_interval(0, 1.0)[1] * sites.shortest_separation_A() ** 2 * scale
        return JumpDiffusivity(0.0, (0.0, upper), 0, 0.0, float("inf"), 0.0)
    phi = max(1.0, dispersion_index(np.concatenate(blocks), np.concatenate(exposures)))
    var_jumps = phi * float(np.sum(sq**2)) * scale**2
    per_type = np.divide(
        sq_sum, 6.0 * tau, out=np.zeros(n_types), where=tau > 0
    )  # g_t, Å²/ps per ion-ps on t
    series = []
    for r in runs:
        held = r.visits.held
        g = np.where(held >= 0, per_type[sites.site_types[np.maximum(held, 0)]], 0.0)
        series.append(g.mean(axis=1))
    _, se_where, n_eff = mean_with_se(series)
    d = total * scale
    relative_se = float(np.sqrt(var_jumps + se_where**2) / d)
    n_equivalent = 1.0 / relative_se**2  # a Poisson count with the same relative error
    low, high = poisson_rate_interval(n_equivalent, 1.0)
    return JumpDiffusivity(
        D_A2_per_ps=d,
        D_A2_per_ps_ci95=(low / n_equivalent * d, high / n_equivalent * d),
        n_jumps=int(sq.size),
        mean_square_jump_A2=float(sq.mean()),
        relative_se=relative_se,
        effective_samples=n_eff,
    )


@dataclass(frozen=True)
class CollectiveJumps:
    """Jumps of different ions close in time and space, against the number expected if they were independent.

    Attributes:
        n_jumps, n_collective: jumps, and jumps with at least one partner (another ion's jump within
            ``window_ps`` whose start or end site lies within ``distance_A`` of this jump's start or end site).
        fraction, fraction_ci95: n_collective / n_jumps with its Clopper–Pearson interval.
        fraction_if_independent, fraction_if_independent_ci95: the same fraction after shifting each ion's jump
            times by an independent random offset (circularly), mean and 95 % range over ``n_shuffles``.
    """

    n_jumps: int
    n_collective: int
    fraction: float
    fraction_ci95: tuple[float, float]
    fraction_if_independent: float
    fraction_if_independent_ci95: tuple[float, float]
    window_ps: float
    distance_A: float
    n_shuffles: int

    @property
    def n_solo(self) -> int:
        return self.n_jumps - self.n_collective

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_jumps": self.n_jumps,
            "n_collective": self.n_collective,
            "n_solo": self.n_solo,
            "collective_fraction": self.fraction,
            "collective_fraction_ci95": list(self.fraction_ci95),
            "collective_fraction_if_independent": self.fraction_if_independent,
            "collective_fraction_if_independent_ci95": list(self.fraction_if_independent_ci95),
            "window_ps": self.window_ps,
            "distance_A": self.distance_A,
            "n_shuffles": self.n_shuffles,
        }


def _collective_flags(
    times: np.ndarray, group: np.ndarray, ion: np.ndarray, ends: np.ndarray, linked: np.ndarray, window: float
) -> np.ndarray:
    """Boolean ``[J]``: the jump has a partner (other ion, same run, within ``window``, linked sites)."""
    order = np.argsort(times, kind="stable")
    t = times[order]
    hi = np.searchsorted(t, t + window, side="right")
    n_after = hi - np.arange(len(t)) - 1
    first = np.repeat(np.arange(len(t)), n_after)
    second = first + 1 + (np.arange(n_after.sum()) - np.repeat(np.cumsum(n_after) - n_after, n_after))
    i, j = order[first], order[second]
    ok = (group[i] == group[j]) & (ion[i] != ion[j])
    i, j = i[ok], j[ok]
    close = np.zeros(len(i), dtype=bool)
    for a in range(2):
        for b in range(2):
            close |= linked[ends[i, a], ends[j, b]]
    flags = np.zeros(len(times), dtype=bool)
    flags[i[close]] = True
    flags[j[close]] = True
    return flags


def collective_jumps(
    runs: list[RunJumps],
    sites: Sites,
    *,
    window_ps: float = 0.2,
    distance_A: float = 1.0,
    n_shuffles: int = 100,
    seed: int = 0,
) -> CollectiveJumps:
    """Count collective jumps and compare with independent timing (GEMDAT's criterion plus a null model)."""
    times, group, ion, ends, durations = [], [], [], [], []
    for g, r in enumerate(runs):
        v = r.visits
        times.append(0.5 * (v.leave_frame + v.arrive_frame) * r.frame_interval_ps)
        group.append(np.full(v.n_jumps, g))
        ion.append(v.ion)
        ends.append(np.stack([v.from_site, v.to_site], axis=1))
        durations.append(np.full(v.n_jumps, r.states.shape[0] * r.frame_interval_ps))
    t, grp, ions = np.concatenate(times), np.concatenate(group), np.concatenate(ion)
    end, period = np.concatenate(ends), np.concatenate(durations)
    linked = sites.distance_matrix_A() <= distance_A
    flags = _collective_flags(t, grp, ions, end, linked, window_ps)
    n, k = len(t), int(flags.sum())
    rng = np.random.default_rng(seed)
    null = []
    key = grp * (ions.max() + 1 if n else 1) + ions
    for _ in range(n_shuffles if n else 0):
        offset = rng.uniform(0.0, 1.0, key.max() + 1)[key] * period
        null.append(_collective_flags((t + offset) % period, grp, ions, end, linked, window_ps).mean())
    null = np.asarray(null) if null else np.zeros(1)
    ci = (
        (float(stats.beta.ppf(0.025, k, n - k + 1)) if k > 0 else 0.0,
         float(stats.beta.ppf(0.975, k + 1, n - k)) if k < n else 1.0)
        if n else (0.0, 1.0)
    )  # fmt: skip
    return CollectiveJumps(
        n_jumps=n,
        n_collective=k,
        fraction=k / n if n else 0.0,
        fraction_ci95=ci,
        fraction_if_independent=float(null.mean()),
        fraction_if_independent_ci95=(float(np.percentile(null, 2.5)), float(np.percentile(null, 97.5))),
        window_ps=window_ps,
        distance_A=distance_A,
        n_shuffles=n_shuffles,
    )


def jump_matrix(runs: list[RunJumps], sites: Sites) -> np.ndarray:
    """Jumps between every pair of sites, ``[S, S]`` (row: from, column: to), pooled over runs."""
    matrix = np.zeros((sites.n_sites, sites.n_sites), dtype=np.int64)
    for r in runs:
        np.add.at(matrix, (r.visits.from_site, r.visits.to_site), 1)
    return matrix
