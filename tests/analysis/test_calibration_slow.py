"""Larger calibration sweep of the 95 % interval of D (minutes; run with SUPERIONIC_SLOW=1 or ``-m slow``)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from superionic.analysis import fit_diffusion
from tests.analysis.analysis_walks import gaussian_walks, lattice_hop_walks

DT_PS = 0.05


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "n_walkers", "n_frames", "rate"),
    [
        ("gaussian", 1, 2000, None),
        ("gaussian", 4, 300, None),
        ("gaussian", 64, 200, None),
        ("lattice", 8, 1000, 0.02),
        ("lattice", 32, 300, 0.2),
        ("lattice", 4, 3000, 0.01),
        ("noisy", 16, 600, None),
    ],
)
def test_interval_coverage_sweep(kind, n_walkers, n_frames, rate):
    # A fixed seed per configuration: Python's hash() of a str changes between processes (PYTHONHASHSEED),
    # which made this sweep draw new walks in every CI run. The lattice N=4 case sits at ~93.5 % coverage
    # (4 seeds x 1,000 walks: 93.1-94.1 %), close enough to the band's edge that fresh draws fail now and then.
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{n_walkers}-{n_frames}".encode()))
    n_seeds = 1000
    if kind == "lattice":
        hop = 2.5
        true_d = rate * hop**2 / (6 * DT_PS)
        walks = lattice_hop_walks(rng, n_seeds, n_frames, n_walkers, rate, hop)
    else:
        true_d = 0.2
        walks = gaussian_walks(rng, n_seeds, n_frames, n_walkers, true_d, DT_PS)
        if kind == "noisy":  # vibration about the walk, comparable to 10 frames of diffusion
            walks = walks + rng.normal(scale=np.sqrt(2 * true_d * DT_PS * 10), size=walks.shape)
    hits = []
    for w in walks:
        low, high = fit_diffusion(w, DT_PS).D_A2_per_ps_ci95
        hits.append(low <= true_d <= high)
    coverage = float(np.mean(hits))
    print(f"{kind} N={n_walkers} F={n_frames}: coverage {coverage:.3f}")
    assert 0.92 <= coverage <= 0.98  # the band; the binomial SE of 1000 seeds is 0.7 %
