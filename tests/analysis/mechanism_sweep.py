"""The known-answer sweep of the mechanism analysis on site walks: per seed, four temperatures; whether each
rate, occupancy, jump D and barrier interval covers its true value. Used by the tests (few seeds by default,
many in the slow test) and runnable as a script that prints the coverage as JSON."""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from superionic.analysis import assign_sites, find_jumps, sites_from_structure
from superionic.analysis._frames import mobile_fractional
from superionic.analysis._jumps import RunJumps, jump_diffusivity, jump_rates, occupancies
from superionic.analysis._mechanism import fit_jump_barriers_from_rates

try:
    from tests.analysis import site_walks as sw
except ImportError:  # run as a script from this folder
    import site_walks as sw  # type: ignore[no-redef]

TEMPERATURES_K = (700.0, 833.0, 967.0, 1100.0)
TYPE_NAMES = {"A->B": "Li 1a -> Li 3d", "B->A": "Li 3d -> Li 1a", "B->B": "Li 3d -> Li 3d"}
SITE_TYPES = {"A": "Li 1a", "B": "Li 3d"}
#: 3 frames = 0.03 ps: longer than a one-frame rattle, short enough that a real stay is rarely missed
#: (P(stay < 0.03 ps) <= 1.2 % at 1100 K, well inside the rates' ~8 % standard error).
MIN_RESIDENCE_FRAMES = 3


def covered(interval, value) -> bool:
    return bool(interval[0] <= value <= interval[1])


#: Occupancy model: 40× faster exchange (≈ 0.05–0.16 escapes per frame at 1100 K), so a 4000-frame run holds
#: ~200 independent occupancy samples; only one-frame rattles are rare (0.2 %), since in-sphere occupancy counts them.
OCCUPANCY_ATTEMPT_PER_PS = 40 * sw.ATTEMPT_PER_PS
OCCUPANCY_TEMPERATURES_K = (700.0, 1100.0)


def one_seed(seed: int, n_blocks: int = 10) -> dict[str, bool | None]:
    """Coverage of every known answer for one seed (keys: what was checked)."""
    rng = np.random.default_rng(seed)
    out: dict[str, bool] = {}
    all_rates = []
    sites = None
    for temperature in TEMPERATURES_K:
        traj, truth = sw.walk_trajectory(rng, temperature)
        if sites is None:
            sites = sites_from_structure(sw.reference_structure(), traj, "Li")
        states = assign_sites(mobile_fractional(traj, 3), sites)
        run = RunJumps(find_jumps(states, MIN_RESIDENCE_FRAMES), states, 0.01, n_blocks)
        rates = jump_rates([run], sites, temperature)
        all_rates.extend(rates)
        by_name = {r.name: r for r in rates}
        for key, name in TYPE_NAMES.items():
            out[f"rate {key} {temperature:g}K"] = name in by_name and covered(
                by_name[name].rate_per_ps_ci95, truth.escape_per_ps[key]
            )
        jump_d = jump_diffusivity([run], sites)
        # None where the estimator itself flags its interval as too narrow (run too short for the slow part)
        out[f"D_jump {temperature:g}K"] = (
            covered(jump_d.D_A2_per_ps_ci95, truth.D_A2_per_ps) if jump_d.interval_reliable else None
        )
    barriers = {b.name: b for b in fit_jump_barriers_from_rates(all_rates)}
    for key, name in TYPE_NAMES.items():
        fit = barriers[name].fit if name in barriers else None
        out[f"Ea {key}"] = fit is not None and covered(fit.Ea_eV_ci95, sw.BARRIERS_EV[key])
    for temperature in OCCUPANCY_TEMPERATURES_K:
        traj, truth = sw.walk_trajectory(
            rng, temperature, attempt_per_ps=OCCUPANCY_ATTEMPT_PER_PS, rattle_probability=0.002
        )
        states = assign_sites(mobile_fractional(traj, 3), sites)
        run = RunJumps(find_jumps(states, 1), states, 0.01, n_blocks)
        for occ in occupancies([run], sites):
            key = next(k for k, v in SITE_TYPES.items() if v == occ.site_type)
            out[f"occupancy {key} {temperature:g}K"] = covered(
                occ.ions_per_site_ci95, truth.ions_per_site[key]
            )
    return out


def sweep(seeds: range) -> dict[str, float]:
    """Fraction of seeds whose interval covers the truth, per checked quantity (over the seeds where the
    estimator did not flag it as unreliable; ``flagged <key>``: the fraction it flagged)."""
    rows = [one_seed(s) for s in seeds]
    out = {}
    for k in rows[0]:
        values = [r[k] for r in rows if r[k] is not None]
        out[k] = float(np.mean(values)) if values else float("nan")
        if len(values) < len(rows):
            out[f"flagged {k}"] = 1.0 - len(values) / len(rows)
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    start = time.time()
    result = sweep(range(n))
    print(json.dumps({"n_seeds": n, "wall_s": round(time.time() - start, 1), "coverage": result}, indent=1))
