"""``TrainConfig``: every knob of a training run, saved beside its output (the "operative" config)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, loss and batching of a training run.

    Attributes:
        seed: fixes initial weights and the shuffling of every epoch (runs are reproducible).
        epochs: passes over the training set.
        batch_size: structures per batch (the padded node/edge sizes follow from the data).
        learning_rate: peak learning rate of Adam.
        schedule: ``"cosine"`` (linear warm-up, cosine decay to ``final_lr_fraction``) or ``"constant"``.
        warmup_epochs: length of the linear warm-up.
        final_lr_fraction: learning rate at the end, as a fraction of the peak.
        loss: ``"huber"`` (GNoME, with ``huber_delta``) or ``"mse"``.
        huber_delta: Huber threshold, in the units of each term (eV/atom, eV/Å, GPa).
        energy_weight / force_weight / stress_weight: weights of the per-atom energy, force component and
            stress component (GPa) terms.
        grad_clip_norm: global gradient-norm clip (``None``: no clipping).
        weight_decay: decoupled weight decay (AdamW); 0 for plain Adam.
        ema_decay: decay of the exponential moving average of the weights used for validation and saving.
        dtype: ``"float32"`` or ``"float64"``.
    """

    seed: int = 0
    epochs: int = 100
    batch_size: int = 16
    learning_rate: float = 2e-3
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = 1.0
    final_lr_fraction: float = 0.02
    loss: Literal["huber", "mse"] = "huber"
    huber_delta: float = 0.01
    energy_weight: float = 1.0
    force_weight: float = 1.0
    stress_weight: float = 0.0
    grad_clip_norm: float | None = 10.0
    weight_decay: float = 0.0
    ema_decay: float = 0.99
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {self.loss!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be >= 1")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if min(self.energy_weight, self.force_weight, self.stress_weight) < 0:
            raise ValueError("loss weights must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        from superionic.records import dataclass_from_dict

        return dataclass_from_dict(cls, data, "training")


@dataclass(frozen=True)
class RunConfig:
    """A whole ``superionic train`` run as read from a TOML/JSON file.

    ``train``/``val`` are labelled files or chunk folders; ``model`` holds :class:`NequIPConfig` fields
    (``species`` defaults to the elements of the data); ``init_from`` fine-tunes a checkpoint or registered
    potential (its architecture is then used and ``model`` must be empty).
    """

    train: tuple[str, ...]
    val: tuple[str, ...]
    workdir: str
    model: Mapping[str, Any] = field(default_factory=dict)
    training: TrainConfig = field(default_factory=TrainConfig)
    init_from: str | None = None
    name: str = "trained"

    @classmethod
    def read(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no training config at {path}")
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{path}: unknown sections {sorted(unknown)}; known: {sorted(known)}")
        for key in ("train", "val", "workdir"):
            if key not in data:
                raise ValueError(
                    f"{path}: missing '{key}' (labelled data files/folders and an output folder)"
                )
        base = path.parent

        def paths(value) -> tuple[str, ...]:
            value = [value] if isinstance(value, str) else value
            return tuple(str((base / v).resolve()) for v in value)

        if data.get("init_from") and data.get("model"):
            raise ValueError(f"{path}: give either init_from (fine-tuning) or model, not both")
        return cls(
            train=paths(data["train"]),
            val=paths(data["val"]),
            workdir=str((base / data["workdir"]).resolve()),
            model=dict(data.get("model", {})),
            training=TrainConfig.from_dict(data.get("training", {})),
            init_from=data.get("init_from"),
            name=data.get("name", "trained"),
        )

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["training"] = self.training.to_dict()
        out["model"] = dict(self.model)
        return out
