"""Ionic transport from MD trajectories: MSD, tracer and charge diffusivity, conductivity, Haven ratio,
Arrhenius fits and σ(300 K), each with a calibrated 95 % interval; plots. And the mechanism: sites and
occupancies, jumps and rates per jump type, barriers, density and percolation paths, RDFs (``analyze_mechanism``).

Typical use::

    from superionic.analysis import analyze, plot_msd, plot_arrhenius
    report = analyze(["run_800K.h5", "run_1000K.h5", "run_1200K.h5"], species="Li")
    json.dump(report.to_dict(), open("report.json", "w"), indent=2)
    plot_arrhenius(report, "arrhenius.png")

Units are in every name: Å, ps, e, K; results in cm²/s, mS/cm, eV.
"""

from superionic.analysis._arrhenius import ArrheniusFit, fit_arrhenius
from superionic.analysis._conductivity import guess_formal_charges, ratio_interval_fieller
from superionic.analysis._density import (
    MobileIonDensity,
    PercolationPath,
    mobile_ion_density,
    percolation_paths,
)
from superionic.analysis._diffusion import DiffusionFit, LineFit, calibrated_interval, fit_diffusion
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
from superionic.analysis._readers import FORMATS, read_trajectory
from superionic.analysis._report import analyze, framework_rms_displacement
from superionic.analysis._results import TemperatureResult, TransportReport
from superionic.analysis._sites import Sites, assign_sites, sites_from_density, sites_from_structure
from superionic.analysis._structure_checks import partial_rdfs, self_van_hove
from superionic.analysis._trajectory import Trajectory
from superionic.analysis._units import (
    GNOME_THRESHOLD_MS_PER_CM,
    nernst_einstein_factor_mS_per_cm_per_cm2_per_s,
)
from superionic.analysis._unwrap import remove_framework_drift, unwrap_positions

__all__ = [
    "FORMATS",
    "GNOME_THRESHOLD_MS_PER_CM",
    "ArrheniusFit",
    "DiffusionFit",
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
    "assign_sites",
    "calibrated_interval",
    "collective_displacement",
    "find_jumps",
    "fit_arrhenius",
    "fit_diffusion",
    "framework_rms_displacement",
    "guess_formal_charges",
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
    "unwrap_positions",
]
