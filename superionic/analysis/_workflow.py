"""``conductivity analyze``: existing trajectories (ours or other codes') → transport, optionally the mechanism →
``report.json`` and plots. The analysis half of the workflow; the MD half is :mod:`superionic.estimate`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def write_plots(transport, out: Path) -> None:
    """``msd.png`` and, with two or more temperatures, ``arrhenius.png`` of a transport report in ``out``."""
    from superionic.analysis._plots import plot_arrhenius, plot_msd

    plot_msd(transport, out / "msd.png")
    if len(transport.results) >= 2:
        plot_arrhenius(transport, out / "arrhenius.png")


def analyze_trajectories(
    paths: Sequence[str | Path],
    out_dir: str | Path | None,
    *,
    species: str = "Li",
    charges_e: Mapping[str, float] | None = None,
    temperatures_K: Sequence[float] | None = None,
    topology: str | Path | None = None,
    frame_interval_ps: float | None = None,
    mechanism: bool = False,
    sites: str | None = None,
) -> tuple[dict, Any]:
    """``conductivity analyze``: the analysis part of the workflow on existing trajectories; with ``mechanism``
    (or ``sites``, a structure file whose mobile-ion sites to use) also sites, jumps, barriers and pathways."""
    from superionic import __version__
    from superionic.analysis._mechanism import analyze_mechanism
    from superionic.analysis._report import analyze
    from superionic.records import environment, write_json_atomic
    from superionic.trajectory import read_trajectory

    temperatures = list(temperatures_K or [None]) * (len(paths) if len(temperatures_K or []) <= 1 else 1)
    if len(temperatures) != len(paths):
        raise ValueError(
            f"--temperatures has {len(temperatures_K or [])} values for {len(paths)} trajectories; give one per "
            "file or one for all"
        )
    trajectories = [
        read_trajectory(
            p, charges_e=charges_e, topology=topology, temperature_K=t, frame_interval_ps=frame_interval_ps
        )
        for p, t in zip(paths, temperatures, strict=True)
    ]
    transport = analyze(trajectories, species=species)
    how = None
    if mechanism or sites is not None:
        how = analyze_mechanism(trajectories, species=species, reference=sites, transport=transport)
    out = None if out_dir is None else Path(out_dir)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_plots(transport, out)
    settings = {"species": species, "charges_e": charges_e, "temperatures_K": temperatures_K, "sites": sites}
    report = {
        "schema": "superionic.conductivity.analyze/1",
        "superionic_version": __version__,
        "inputs": [str(p) for p in paths],
        "settings": {**settings, "mechanism": how is not None},
        "transport": transport.to_dict(),
        **({} if how is None else {"mechanism": how.to_dict(how.write(out) if out is not None else None)}),
        "environment": environment(),
    }
    if out is not None:
        write_json_atomic(out / "report.json", report)
    return report, transport
