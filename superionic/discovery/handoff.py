"""Hand-off to transport: stable Li candidates -> ``conductivity estimate`` (its Python API, quick preset) ->
a ranked table (σ(300 K) with its 95 % interval, Ea, GNoME 1000 K class, e_above_hull, provenance) as CSV,
JSON and a plot.

Each estimate runs in its own Python process (a Dask task on a cluster) with a time limit: one that runs out of
time is reported as such, never with a number. Units: mS/cm, eV, meV/atom.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from superionic.discovery.compute import run_tasks
from superionic.discovery.store import structure_of


def estimate_task(
    structure_path: str, out_dir: str, settings: dict[str, Any], time_limit_s: float | None
) -> dict:
    """``estimate_conductivity`` on one structure in a child process; returns its report (or why there is none)."""
    code = (
        "import json, sys\n"
        "from superionic.estimate import EstimateSettings, estimate_conductivity\n"
        "args = json.loads(sys.argv[1])\n"
        "settings = EstimateSettings.from_preset(args.pop('preset'), **args)\n"
        "estimate_conductivity(settings, log=lambda m: print(m, file=sys.stderr, flush=True))\n"
    )
    args = {**settings, "structure": structure_path, "out_dir": out_dir, "progress": False}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    log = Path(out_dir) / "estimate.log"
    try:
        with log.open("w") as handle:
            completed = subprocess.run(
                [sys.executable, "-c", code, json.dumps(args)],
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=time_limit_s,
                check=False,
            )
    except subprocess.TimeoutExpired:
        return {
            "status": "time limit",
            "detail": f"stopped after {time_limit_s:.0f} s (handoff.time_limit_minutes)",
        }
    report_path = Path(out_dir) / "report.json"
    if completed.returncode != 0 or not report_path.is_file():
        tail = log.read_text().strip().splitlines()[-1:] or [""]
        return {"status": "failed", "detail": tail[0][:300]}
    return {"status": "done", "report": json.loads(report_path.read_text())}


def handoff(loop) -> dict[str, Any]:
    """Estimate the top candidates of ``loop`` and write ``transport/ranked.{csv,json,png}``."""
    from pymatgen.io.cif import CifWriter

    h = loop.config.handoff
    out = loop.out / "transport"
    out.mkdir(exist_ok=True)
    chosen = [
        c
        for c in loop.ranked_candidates()
        if c["ehull_oracle_meV"] <= h.e_above_hull_max_meV and h.species in _elements(c["formula"])
    ][: h.top]
    if not chosen:
        loop.progress.message(
            f"hand-off: no {h.species} candidate within {h.e_above_hull_max_meV:g} meV/atom"
        )
    settings = {"preset": h.preset, "species": h.species, "seed": loop.config.seed}
    if h.potential:
        settings["potential"] = h.potential
    tasks = []
    for c in chosen:
        row = loop.store.rows(uid=c["uid"])[0]
        path = out / f"{c['uid']}_{c['formula']}.cif"
        CifWriter(structure_of(row.toatoms())).write_file(path)
        limit = None if h.time_limit_minutes is None else 60.0 * h.time_limit_minutes
        tasks.append((str(path), str(out / c["uid"]), settings, limit))
    results: list[dict] = [{} for _ in tasks]
    bar = loop.progress.bar(len(tasks), "transport (conductivity estimate)")

    def keep(k: int, result: dict) -> None:
        results[k] = result
        bar.update(1)

    run_tasks(loop.client, estimate_task, tasks, keep)
    bar.close()
    table = [_table_row(c, r, h.conductor_threshold_mS_per_cm) for c, r in zip(chosen, results, strict=True)]
    table.sort(key=lambda t: (t["sigma_300K_mS_per_cm"] is None, -(t["sigma_300K_mS_per_cm"] or 0.0)))
    for rank, t in enumerate(table, 1):
        t["rank"] = rank
    _write_table(out, table)
    if table:
        _plot(out / "ranked.png", table)
    return {"table": table, "csv": str(out / "ranked.csv"), "settings": settings}


def _elements(formula: str) -> set[str]:
    from pymatgen.core import Composition

    return {el.symbol for el in Composition(formula).elements}


def _table_row(candidate: dict, result: dict, threshold: float) -> dict[str, Any]:
    row = {
        "uid": candidate["uid"],
        "formula": candidate["formula"],
        "ehull_oracle_meV": candidate["ehull_oracle_meV"],
        "generator": candidate["generator"],
        "parent": candidate["parent"],
        "substitution": candidate["substitution"],
        "spacegroup_relaxed": candidate["spacegroup_relaxed"],
        "status": result.get("status", "not run"),
        "detail": result.get("detail", ""),
        "sigma_300K_mS_per_cm": None,
        "sigma_300K_ci95_mS_per_cm": None,
        "Ea_eV": None,
        "Ea_ci95_eV": None,
        "gnome_superionic_1000K": None,
        "conductor": None,
        "warnings": [],
    }
    report = result.get("report")
    if report:
        transport = report["transport"]
        sigma = transport.get("sigma_300K_mS_per_cm")
        row.update(
            sigma_300K_mS_per_cm=sigma,
            sigma_300K_ci95_mS_per_cm=transport.get("sigma_300K_mS_per_cm_ci95"),
            Ea_eV=transport.get("Ea_eV"),
            Ea_ci95_eV=transport.get("Ea_eV_ci95"),
            gnome_superionic_1000K=transport.get("gnome_superionic_1000K"),
            conductor=None if sigma is None else bool(sigma >= threshold),
            warnings=list(report.get("warnings", [])),
            potential=report["potential"]["name"],
            md_wall_s=report.get("wall_time_s"),
        )
    return row


def _write_table(out: Path, table: list[dict]) -> None:
    (out / "ranked.json").write_text(json.dumps(table, indent=1, default=str))
    columns = [
        "rank",
        "uid",
        "formula",
        "sigma_300K_mS_per_cm",
        "sigma_300K_ci95_mS_per_cm",
        "Ea_eV",
        "Ea_ci95_eV",
        "gnome_superionic_1000K",
        "conductor",
        "ehull_oracle_meV",
        "generator",
        "parent",
        "substitution",
        "spacegroup_relaxed",
        "status",
    ]
    with (out / "ranked.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for t in table:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in t.items()})


def _plot(path: Path, table: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for t in table:
        if t["sigma_300K_mS_per_cm"] is None:
            continue
        low, high = t["sigma_300K_ci95_mS_per_cm"] or (None, None)
        y = t["sigma_300K_mS_per_cm"]
        err = None if low is None else [[y - low], [high - y]]
        ax.errorbar(t["ehull_oracle_meV"], y, yerr=err, fmt="o", capsize=3)
        ax.annotate(t["formula"], (t["ehull_oracle_meV"], y), textcoords="offset points", xytext=(4, 4))
    ax.set_yscale("log")
    ax.set_xlabel("e above hull (oracle), meV/atom")
    ax.set_ylabel("σ(300 K), mS/cm (95 % interval)")
    ax.set_title("discovery hand-off: ranked candidates")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
