"""Ionic transport from MD trajectories: MSD, tracer and charge diffusivity, conductivity, Haven ratio,
Arrhenius fits and σ(300 K), each with a calibrated 95 % interval; plots. And the mechanism: sites and
occupancies, jumps and rates per jump type, barriers, density and percolation paths, RDFs (``analyze_mechanism``).

>>> from superionic import analysis
>>> report = analysis.analyze(["tests/data/li3n_vac_1200K.h5md"], species="Li")   # SevenNet-0 MD of Li3N
>>> result = report.results[0]
>>> result.temperature_K, result.frame_interval_ps, result.diffusion_observed
(1200.0, 0.02, True)
>>> sigma = report.sigma_at(1200.0)          # σ in mS/cm with its 95 % interval (no Arrhenius fit: one T)
>>> bool(sigma.ci95[0] < sigma.value < sigma.ci95[1])
True
>>> sorted(report.to_dict())[:3]             # the JSON schema uses the attribute names
['D0_cm2_per_s', 'D0_cm2_per_s_ci95', 'D_tracer_300K_cm2_per_s']

Reads files through :func:`superionic.trajectory.read_trajectory` (re-exported here). Imports no jax. Units are
in every name: Å, ps, e, K; results in cm²/s, mS/cm, eV.
"""

from superionic.analysis._arrhenius import ArrheniusFit, fit_arrhenius
from superionic.analysis._conductivity import (
    GNOME_THRESHOLD_MS_PER_CM,
    nernst_einstein_factor_mS_per_cm_per_cm2_per_s,
    ratio_interval_fieller,
)
from superionic.analysis._density import (
    MobileIonDensity,
    PercolationPath,
    mobile_ion_density,
    percolation_paths,
)
from superionic.analysis._diffusion import DiffusionFit, LineFit, calibrated_interval, fit_diffusion
from superionic.analysis._frames import remove_framework_drift
from superionic.analysis._jumps import find_jumps, poisson_rate_interval
from superionic.analysis._mechanism import MechanismReport, MechanismSettings, analyze_mechanism
from superionic.analysis._mechanism_plots import (
    plot_density_slices,
    plot_jump_network,
    plot_jump_rates_arrhenius,
    plot_rdfs,
)
from superionic.analysis._msd import collective_displacement, msd_all_origins
from superionic.analysis._plots import plot_arrhenius, plot_msd
from superionic.analysis._report import analyze, framework_rms_displacement
from superionic.analysis._results import (
    FRAMEWORK_RMS_LIMIT_A,
    Estimate,
    TemperatureResult,
    TransportReport,
    framework_melted,
)
from superionic.analysis._sites import Sites, assign_sites, sites_from_density, sites_from_structure
from superionic.analysis._structure_checks import partial_rdfs, self_van_hove
from superionic.analysis._workflow import analyze_trajectories, write_plots
from superionic.trajectory import Trajectory, read_trajectory

__all__ = [
    "FRAMEWORK_RMS_LIMIT_A",
    "GNOME_THRESHOLD_MS_PER_CM",
    "ArrheniusFit",
    "DiffusionFit",
    "Estimate",
    "LineFit",
    "MechanismReport",
    "MechanismSettings",
    "MobileIonDensity",
    "PercolationPath",
    "Sites",
    "TemperatureResult",
    "Trajectory",
    "TransportReport",
    "analyze",
    "analyze_mechanism",
    "analyze_trajectories",
    "assign_sites",
    "calibrated_interval",
    "collective_displacement",
    "find_jumps",
    "fit_arrhenius",
    "fit_diffusion",
    "framework_melted",
    "framework_rms_displacement",
    "mobile_ion_density",
    "msd_all_origins",
    "nernst_einstein_factor_mS_per_cm_per_cm2_per_s",
    "partial_rdfs",
    "percolation_paths",
    "plot_arrhenius",
    "plot_density_slices",
    "plot_jump_network",
    "plot_jump_rates_arrhenius",
    "plot_msd",
    "plot_rdfs",
    "poisson_rate_interval",
    "ratio_interval_fieller",
    "read_trajectory",
    "remove_framework_drift",
    "self_van_hove",
    "sites_from_density",
    "sites_from_structure",
    "write_plots",
]
