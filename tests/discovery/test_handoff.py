"""The hand-off runs ``conductivity estimate`` in a child process and turns its report into a table row."""

from __future__ import annotations

from pathlib import Path

from superionic.discovery.handoff import _table_row, estimate_task

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_estimate_task_runs_the_workflow_and_fills_a_table_row(tmp_path):
    settings = {
        "preset": "quick",
        "species": "Li",
        "seed": 3,
        "engine": "direct",  # the shipped default runs the MD itself: seconds, not the specialist's minutes
        "potential": "default",
        "temperatures_K": [900.0, 1200.0],
        "production_ps": 0.4,
        "equilibration_ps": 0.1,
        "target_atoms": 60,
        "relax_steps": 5,
    }
    result = estimate_task(str(EXAMPLES / "Li3N.cif"), str(tmp_path / "est"), settings, time_limit_s=600)
    assert result["status"] == "done", result.get("detail")
    report = result["report"]
    assert report["settings"]["engine"] == "direct" and report["structure"]["formula"] == "Li3N"
    candidate = {
        "uid": "c1",
        "formula": "Li3N",
        "ehull_oracle_meV": 0.0,
        "generator": "seed",
        "parent": "Li3N",
        "substitution": None,
        "spacegroup_relaxed": "P6/mmm",
    }
    row = _table_row(candidate, result, threshold=0.1)
    sigma = report["transport"]["sigma_300K_mS_per_cm"]
    assert row["sigma_300K_mS_per_cm"] == sigma and row["potential"] == "default"
    assert row["conductor"] == (None if sigma is None else sigma >= 0.1)


def test_estimate_task_reports_a_failure_without_a_number(tmp_path):
    result = estimate_task(str(tmp_path / "missing.cif"), str(tmp_path / "est"), {"preset": "quick"}, 60)
    assert result["status"] == "failed" and "missing.cif" in result["detail"]
    row = _table_row({k: None for k in ("uid", "formula", "ehull_oracle_meV", "generator", "parent",
                                        "substitution", "spacegroup_relaxed")}, result, 0.1)  # fmt: skip
    assert row["sigma_300K_mS_per_cm"] is None and row["status"] == "failed"
