"""PNG plots (matplotlib, Agg backend; no display needed): MSD with fit window, Arrhenius with extrapolation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superionic.analysis._diffusion import Z95
from superionic.analysis._results import TemperatureResult, TransportReport


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_msd(report_or_result: TransportReport | TemperatureResult, path: str | Path) -> Path:
    """Tracer MSD vs t for every temperature, and the window diagnostic, in one PNG.

    Top: MSD, the GLS line with its 95 % band, the fitting window shaded. Bottom: the apparent diffusivity
    (MSD(t) − intercept)/(6t), which levels off at D once motion is diffusive, against the fitted D and its
    95 % interval; a window placed before the plateau shows up here at a glance.

    Args:
        report_or_result: a :class:`TransportReport` (all temperatures) or one :class:`TemperatureResult`.
        path: output PNG.
    """
    plt = _figure()
    results = (
        report_or_result.results if isinstance(report_or_result, TransportReport) else [report_or_result]
    )
    fig, (ax, ax_d) = plt.subplots(2, 1, figsize=(6, 6.4), sharex=True, height_ratios=(3, 2))
    for res in results:
        fit = res.tracer
        (line,) = ax.plot(fit.time_ps, fit.msd, lw=1.2, label=f"{res.temperature_K:g} K")
        color = line.get_color()
        t = np.linspace(*fit.window_ps, 100)
        slope, intercept = fit.fit.slope_per_ps, fit.fit.intercept
        design = np.stack([t, np.ones_like(t)], axis=1)
        band = Z95 * np.sqrt(np.einsum("ki,ij,kj->k", design, fit.fit.param_cov, design))
        model = slope * t + intercept
        ax.plot(t, model, "--", color=color, lw=1.0)
        ax.fill_between(t, model - band, model + band, color=color, alpha=0.25, lw=0)
        for axis in (ax, ax_d):
            axis.axvspan(*fit.window_ps, color=color, alpha=0.06, lw=0)
        lag = fit.time_ps[1:]
        ax_d.plot(lag, (fit.msd[1:] - intercept) / (2 * fit.dimensions * lag), lw=1.0, color=color)
        low, high = fit.D_A2_per_ps_ci95
        ax_d.axhline(fit.D_A2_per_ps, color=color, lw=0.8, ls="--")
        if np.isfinite(high):
            ax_d.axhspan(low, high, color=color, alpha=0.2, lw=0)
    ax.set_ylabel(f"tracer MSD of {results[0].species} (Å²)")
    ax.set_title("MSD, GLS fit (dashed), 95 % band, fitting window (shaded)", fontsize=9)
    ax.legend(fontsize=8)
    d_max = max(2.0 * max(r.tracer.D_A2_per_ps for r in results), 1e-12)
    ax_d.set_ylim(0.0, d_max)
    ax_d.set_xlabel("lag time t (ps)")
    ax_d.set_ylabel("(MSD − c) / 6t (Å²/ps)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_arrhenius(report: TransportReport, path: str | Path) -> Path:
    """log10 D vs 1000/T with 95 % error bars, the weighted fit and its 95 % band extrapolated to 300 K.

    Temperatures where no diffusion was resolved are drawn as upper-bound markers.
    """
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for res in report.results:
        x = 1000.0 / res.temperature_K
        if res.diffusion_observed:
            d = res.D_tracer_cm2_per_s
            low, high = res.D_tracer_cm2_per_s_ci95  # type: ignore[misc]
            high = high if np.isfinite(high) else 10 * d
            ax.errorbar(
                x, d, yerr=[[d - low], [high - d]], fmt="o", color="C0", capsize=3,
                label="MD (95 % CI)" if res is report.results[0] else None,
            )  # fmt: skip
        else:
            ax.plot(x, res.D_tracer_cm2_per_s_upper95, "v", color="C3", label="upper bound (no hops)")
    arr = report.arrhenius
    if arr is not None:
        t_low = min(report.extrapolation_temperature_K, 300.0, float(arr.temperatures_K.min()))
        temps = np.linspace(t_low, float(arr.temperatures_K.max()) * 1.05, 200)
        mean, se = arr.ln_D_at(temps)
        ax.plot(1000.0 / temps, np.exp(mean), "-", color="C1", label=f"Ea = {arr.Ea_eV:.3f} eV")
        ax.fill_between(
            1000.0 / temps, np.exp(mean - arr.quantile * se), np.exp(mean + arr.quantile * se),
            color="C1", alpha=0.25, lw=0, label="95 % band",
        )  # fmt: skip
        t_x = report.extrapolation_temperature_K
        d_x, (low_x, high_x) = arr.D_at(t_x)
        ax.errorbar(
            1000.0 / t_x, d_x, yerr=[[d_x - low_x], [high_x - d_x]], fmt="s", color="C2", capsize=3,
            label=f"{t_x:g} K extrapolated (95 % CI)",
        )  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("1000 / T (1/K)")
    ax.set_ylabel(f"tracer D of {report.species} (cm²/s)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
