"""``superionic label`` and ``superionic train`` in-process, on tiny data."""

from __future__ import annotations

import json

import ase.io
from conftest import TINY, structures, tiny_potential

from superionic.cli import label as label_cli
from superionic.cli import superionic
from superionic.cli import train as train_cli
from superionic.potentials import load, save


def test_label_then_train_then_resume(tmp_path, capsys):
    teacher = save(tiny_potential(seed=123), tmp_path / "teacher.npz")
    ase.io.write(tmp_path / "in.extxyz", structures(4, seed=0))
    for split, seed in (("train", 0), ("val", 1)):
        code = label_cli.main(
            [
                str(tmp_path / "in.extxyz"),
                "--teacher",
                str(teacher),
                "--out",
                str(tmp_path / split),
                "--copies",
                "2",
                "--rattle-A",
                "0.05",
                "--seed",
                str(seed),
                "--quiet",
            ]
        )
        assert code == 0
    model = {k: list(v) if isinstance(v, tuple) else v for k, v in TINY.items()}
    config = {
        "train": "train",
        "val": "val",
        "workdir": "run",
        "name": "cli-test",
        "model": model,
        "training": {"epochs": 2, "batch_size": 2, "learning_rate": 1e-2},
    }
    (tmp_path / "train.json").write_text(json.dumps(config))
    assert train_cli.main([str(tmp_path / "train.json"), "--quiet"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{") :])
    trained = load(summary["members"][0]["checkpoint"])
    assert trained.name == "cli-test" and trained.species == ("Li", "N", "S")
    assert summary["members"][0]["epoch"] in (1, 2)
    # Through the top-level command: the finished run resumes and does no more work.
    assert superionic.main(["train", str(tmp_path / "train.json"), "--quiet"]) == 0


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    assert train_cli.main([str(tmp_path / "missing.toml")]) == 1
    assert "no training config" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text(
        json.dumps({"train": "x", "val": "y", "workdir": "w", "trainning": {}})
    )
    assert train_cli.main([str(tmp_path / "bad.json")]) == 1
    err = capsys.readouterr().err
    assert "unknown sections ['trainning']" in err and err.count("\n") == 1
    assert label_cli.main([str(tmp_path / "nothing.cif"), "--out", str(tmp_path / "o")]) == 1
    assert "no structure file" in capsys.readouterr().err
