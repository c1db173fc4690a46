"""Training and fine-tuning: Adam (optax) on a Huber/MSE loss of energy per atom, forces and stress.

One compiled step per batch shape: structures are packed into bins of a fixed :class:`BatchShape`, so a run
compiles the training step once and the evaluation once. The state (weights, EMA of weights, optimiser
moments, epoch) is written after every epoch; a run restarted in the same folder continues from it and ends
bit-identical to an uninterrupted one, because every epoch's shuffle is a function of (seed, epoch) only.

Files in ``workdir``: ``train_config.json`` (the operative configuration), ``state.npz``
(resume), ``history.jsonl`` (one line of metrics per epoch), ``best.npz`` (EMA weights with the lowest
validation score, a normal superionic checkpoint) and ``last.npz``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import ase
import jax
import jax.numpy as jnp
import numpy as np
import optax

from superionic.potentials.checkpoint import save
from superionic.potentials.config import NequIPConfig
from superionic.potentials.nequip import init_params
from superionic.potentials.potential import Potential, energy_forces_stress
from superionic.training.batching import (
    BatchShape,
    StructureGraph,
    max_degree,
    pack_graphs,
    plan_batches,
    structure_graph,
)
from superionic.training.config import TrainConfig
from superionic.training.dataset import (
    composition_counts,
    dataset_statistics,
    initialise_normalisation,
    reference_energies,
)

GPA_PER_EV_PER_A3 = 160.21766208


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class LabelledGraphs:
    """Structures as neighbour graphs with their labels (eV, eV/Å, eV/Å^3; stress NaN where absent)."""

    graphs: list[StructureGraph]
    energy_eV: np.ndarray  # [S]
    forces: list[np.ndarray]  # S x [n, 3]
    stress: np.ndarray  # [S, 3, 3]

    def __len__(self) -> int:
        return len(self.graphs)


def prepare(dataset: Sequence[ase.Atoms], potential: Potential) -> LabelledGraphs:
    """Neighbour graphs (within the potential's cutoff) and labels of a labelled dataset."""
    graphs, energies, forces, stresses = [], [], [], []
    for k, atoms in enumerate(dataset):
        if atoms.calc is None:
            raise ValueError(f"structure {k} has no labels: label it first (superionic label)")
        graphs.append(structure_graph(atoms, potential.species_indices(atoms.numbers), potential.cutoff_A))
        energies.append(atoms.get_potential_energy())
        forces.append(np.asarray(atoms.get_forces(), np.float64))
        try:
            stresses.append(np.asarray(atoms.get_stress(voigt=False), np.float64))
        except Exception:  # ASE raises PropertyNotImplementedError when a label set has no stress
            stresses.append(np.full((3, 3), np.nan))
    return LabelledGraphs(graphs, np.asarray(energies), forces, np.asarray(stresses))


def batch_shape_for(data: LabelledGraphs, batch_size: int, slack: float = 1.15) -> BatchShape:
    """A shape holding ``batch_size`` average structures (and the largest one alone)."""
    nodes = np.array([g.num_nodes for g in data.graphs])
    edges = np.array([g.num_edges for g in data.graphs])
    n = max(int(nodes.max()) + 1, math.ceil(slack * batch_size * nodes.mean()) + 1)
    e = max(int(edges.max()), math.ceil(slack * batch_size * edges.mean()))
    degree = max(max_degree(g) for g in data.graphs)
    return BatchShape(64 * math.ceil(n / 64), 512 * math.ceil(e / 512), batch_size, degree)


def pack_labels(
    data: LabelledGraphs, members: Sequence[int], shape: BatchShape, dtype
) -> dict[str, jax.Array]:
    g_pad, n_pad = shape.num_graphs, shape.num_nodes
    energy = np.zeros(g_pad)
    num_atoms = np.zeros(g_pad)
    stress = np.zeros((g_pad, 3, 3))
    stress_mask = np.zeros(g_pad, bool)
    forces = np.zeros((n_pad, 3))
    start = 0
    for slot, k in enumerate(members):
        n = data.graphs[k].num_nodes
        energy[slot], num_atoms[slot] = data.energy_eV[k], n
        forces[start : start + n] = data.forces[k]
        if np.all(np.isfinite(data.stress[k])):
            stress[slot], stress_mask[slot] = data.stress[k], True
        start += n
    return {
        "energy": jnp.asarray(energy, dtype),
        "num_atoms": jnp.asarray(num_atoms, dtype),
        "forces": jnp.asarray(forces, dtype),
        "stress": jnp.asarray(stress, dtype),
        "stress_mask": jnp.asarray(stress_mask),
    }


def batches(data: LabelledGraphs, shape: BatchShape, order: Sequence[int], dtype):
    """Yield ``(graph_batch, labels, members)`` for the bins of ``order``."""
    for members in plan_batches(data.graphs, shape, order):
        graphs = [data.graphs[k] for k in members]
        yield pack_graphs(graphs, shape, dtype), pack_labels(data, members, shape, dtype), members


# ---------------------------------------------------------------------------------------------- loss


def _penalty(x: jax.Array, config: TrainConfig) -> jax.Array:
    if config.loss == "huber":
        return optax.huber_loss(x, delta=config.huber_delta)
    return 0.5 * x**2


def _masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    mask = jnp.broadcast_to(mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim)), x.shape)
    return jnp.sum(jnp.where(mask, x, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def errors(params, model: NequIPConfig, batch, labels) -> dict[str, jax.Array]:
    """Prediction minus label: energy per atom (eV), forces (eV/Å), stress (GPa), with their masks."""
    out = energy_forces_stress(params, model, batch)
    graph_mask = labels["num_atoms"] > 0
    return {
        "energy": (out["energy"] - labels["energy"]) / jnp.maximum(labels["num_atoms"], 1.0),
        "forces": out["forces"] - labels["forces"],
        "stress": (out["stress"] - labels["stress"]) * GPA_PER_EV_PER_A3,
        "energy_mask": graph_mask,
        "forces_mask": batch.node_mask,
        "stress_mask": labels["stress_mask"] & graph_mask,
    }


def loss_fn(params, model: NequIPConfig, config: TrainConfig, batch, labels) -> jax.Array:
    err = errors(params, model, batch, labels)
    loss = config.energy_weight * _masked_mean(_penalty(err["energy"], config), err["energy_mask"])
    loss += config.force_weight * _masked_mean(_penalty(err["forces"], config), err["forces_mask"])
    if config.stress_weight > 0:
        loss += config.stress_weight * _masked_mean(_penalty(err["stress"], config), err["stress_mask"])
    return loss


def error_sums(params, model: NequIPConfig, batch, labels) -> dict[str, jax.Array]:
    """Sums of absolute/squared errors and counts, to be accumulated into MAEs/RMSEs over a data set."""
    err = errors(params, model, batch, labels)
    out = {}
    for key in ("energy", "forces", "stress"):
        mask = err[f"{key}_mask"]
        full = jnp.broadcast_to(mask.reshape(mask.shape + (1,) * (err[key].ndim - mask.ndim)), err[key].shape)
        out[f"{key}_abs"] = jnp.sum(jnp.where(full, jnp.abs(err[key]), 0.0))
        out[f"{key}_sq"] = jnp.sum(jnp.where(full, err[key] ** 2, 0.0))
        out[f"{key}_count"] = jnp.sum(full)
    return out


def metrics_from_sums(sums: dict[str, float]) -> dict[str, float]:
    """E MAE/RMSE (meV/atom), F MAE/RMSE (meV/Å), S MAE (GPa); NaN where a quantity has no labels."""

    def mean(key, kind):
        count = sums[f"{key}_count"]
        return sums[f"{key}_{kind}"] / count if count else float("nan")

    return {
        "energy_mae_meV_per_atom": 1e3 * mean("energy", "abs"),
        "energy_rmse_meV_per_atom": 1e3 * math.sqrt(mean("energy", "sq")),
        "forces_mae_meV_per_A": 1e3 * mean("forces", "abs"),
        "forces_rmse_meV_per_A": 1e3 * math.sqrt(mean("forces", "sq")),
        "stress_mae_GPa": mean("stress", "abs"),
    }


# ---------------------------------------------------------------------------------------------- optimiser


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam direction (clipped, optionally with decoupled weight decay); the step applies -lr itself."""
    parts = []
    if config.grad_clip_norm is not None:
        parts.append(optax.clip_by_global_norm(config.grad_clip_norm))
    parts.append(optax.scale_by_adam())
    if config.weight_decay > 0:
        parts.append(optax.add_decayed_weights(config.weight_decay))
    return optax.chain(*parts)


def learning_rate(config: TrainConfig, epoch: float) -> float:
    """Learning rate at fractional ``epoch``: linear warm-up, then constant or cosine to the final fraction."""
    peak = config.learning_rate
    if epoch < config.warmup_epochs:
        return peak * (epoch + 1e-3) / config.warmup_epochs
    if config.schedule == "constant":
        return peak
    progress = min(1.0, (epoch - config.warmup_epochs) / max(config.epochs - config.warmup_epochs, 1e-9))
    low = config.final_lr_fraction
    return peak * (low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * progress)))


_COMPILED: dict[str, tuple] = {}
# Options that do not enter the compiled train step: the seed and the data order, the number of epochs, the batch
# size (a shape: jit keys on it itself) and the learning-rate schedule (the rate is an argument of the step).
# Leaving them out of the cache key lets committee members and successive rounds of a specialist share one
# compiled program; any other option (loss, weights, clipping, EMA, dtype, and any option added later) is keyed.
_NOT_IN_PROGRAM = (
    "seed",
    "epochs",
    "batch_size",
    "learning_rate",
    "schedule",
    "warmup_epochs",
    "final_lr_fraction",
)


def _compiled(model: NequIPConfig, config: TrainConfig):
    """Jitted train step and evaluation, cached per (model, loss and optimiser options): members of a committee,
    rounds of active learning and a resumed run do not recompile."""
    options = config.to_dict()
    program = {k: v for k, v in options.items() if k not in _NOT_IN_PROGRAM}
    key = json.dumps([model.to_dict(), program], sort_keys=True)
    if key not in _COMPILED:
        step = make_train_step(model, config, make_optimizer(config))
        _COMPILED[key] = (step, jax.jit(partial(error_sums, model=model)))
    return _COMPILED[key]


def make_train_step(model: NequIPConfig, config: TrainConfig, optimizer: optax.GradientTransformation):
    grad_fn = jax.value_and_grad(partial(loss_fn, model=model, config=config))

    @jax.jit
    def step(params, ema, opt_state, step_index, lr, batch, labels):
        loss, grads = grad_fn(params, batch=batch, labels=labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = jax.tree_util.tree_map(lambda p, u: p - lr * u.astype(p.dtype), params, updates)
        # EMA with a warm-up so early averages are not dominated by the random initialisation.
        decay = jnp.minimum(config.ema_decay, (1.0 + step_index) / (10.0 + step_index)).astype(lr.dtype)
        ema = jax.tree_util.tree_map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)
        return params, ema, opt_state, loss

    return step


# ---------------------------------------------------------------------------------------------- the run


@dataclass
class TrainResult:
    best: Potential  # EMA weights with the lowest validation score
    last: Potential
    history: list[dict[str, Any]]
    workdir: Path


def initial_potential(
    train_set: Sequence[ase.Atoms],
    model: NequIPConfig | dict,
    seed: int,
    dtype: str = "float32",
    name="trained",
) -> Potential:
    """A fresh potential whose normalisation (shift, scale, conv_denominator) is fitted to ``train_set``."""
    if isinstance(model, dict):
        model = dict(model)
        if "species" not in model:
            present = sorted({int(z) for a in train_set for z in a.numbers})
            model["species"] = [ase.data.chemical_symbols[z] for z in present]
        model = NequIPConfig.from_dict(model)
    params = init_params(model, jax.random.PRNGKey(seed), jnp.dtype(dtype))
    stats = dataset_statistics(train_set, model.species, model.cutoff_A)
    model, params = initialise_normalisation(model, params, stats)
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), params)
    potential = Potential(model, params, name, {"normalisation": _stats_dict(stats)})
    potential = _match_force_scale(potential, train_set[:32], stats.force_rms_eV_per_A)
    return refit_species_shifts(potential, train_set)


def refit_species_shifts(
    potential: Potential, train_set: Sequence[ase.Atoms], ridge: float = 1.0
) -> Potential:
    """Species shifts refitted to what the network leaves: E_label - E_model(shift = 0), by ridge regression.

    The prior of each shift is the least-squares reference energy of the species minus the network's energy
    of an isolated atom of it (its position-independent part, large after the force-scale matching), so
    species that the data cannot separate (always found together) get a sensible split instead of one that
    only fits the training compositions. Forces do not depend on the shifts: this can run after training.
    """
    params = dict(potential.params)
    params["species_shift_eV"] = jnp.zeros_like(params["species_shift_eV"])
    unshifted = Potential(potential.config, params, potential.name, potential.provenance)
    data = prepare(train_set, unshifted)
    shape = batch_shape_for(data, 16)
    energy_fn = jax.jit(lambda p, batch: energy_forces_stress(p, unshifted.config, batch)["energy"])
    predicted = np.zeros(len(data))
    for batch, _, members in batches(data, shape, range(len(data)), unshifted.dtype):
        predicted[members] = np.asarray(energy_fn(params, batch))[: len(members)]
    isolated = [ase.Atoms(s, cell=np.eye(3) * 3 * unshifted.cutoff_A, pbc=True) for s in potential.species]
    isolated_eV = np.array([r["energy"] for r in unshifted.evaluate(isolated)])
    counts = composition_counts(train_set, potential.species)
    prior = reference_energies(counts, data.energy_eV, ridge) - isolated_eV
    shifts = reference_energies(counts, data.energy_eV - predicted, ridge, prior)
    params["species_shift_eV"] = jnp.asarray(shifts, params["species_scale_eV"].dtype)
    return Potential(potential.config, params, potential.name, potential.provenance)


def _match_force_scale(potential: Potential, sample: Sequence[ase.Atoms], target_rms: float) -> Potential:
    """Rescale ``species_scale_eV`` so the untrained model's force RMS equals the labels' (data-dependent init).

    A randomly initialised NequIP's raw forces are far from unit RMS (how far depends on the architecture and
    cutoff), so scale = force RMS alone can leave the initial forces orders of magnitude too small.
    """
    predicted = np.concatenate([r["forces"].ravel() for r in potential.evaluate(list(sample))])
    rms = float(np.sqrt(np.mean(predicted**2)))
    if not np.isfinite(rms) or rms == 0.0:
        return potential
    params = dict(potential.params)
    params["species_scale_eV"] = params["species_scale_eV"] * (target_rms / rms)
    return Potential(potential.config, params, potential.name, potential.provenance)


def _stats_dict(stats) -> dict[str, Any]:
    return {
        "force_rms_eV_per_A": stats.force_rms_eV_per_A,
        "residual_energy_rms_eV_per_atom": stats.residual_energy_rms_eV_per_atom,
        "mean_neighbors": stats.mean_neighbors,
    }


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def train(
    initial: Potential,
    train_set: Sequence[ase.Atoms] | LabelledGraphs,
    val_set: Sequence[ase.Atoms] | LabelledGraphs,
    config: TrainConfig,
    workdir: str | os.PathLike,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
    max_epochs_this_call: int | None = None,
) -> TrainResult:
    """Train (or fine-tune) ``initial`` and return the best and last potentials; resumes from ``workdir``.

    ``max_epochs_this_call`` stops early (as an interruption would), leaving a resumable state.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    dtype = jnp.dtype(config.dtype)
    initial = initial.astype(config.dtype)
    train_data = train_set if isinstance(train_set, LabelledGraphs) else prepare(train_set, initial)
    val_data = val_set if isinstance(val_set, LabelledGraphs) else prepare(val_set, initial)
    if len(train_data) == 0 or len(val_data) == 0:
        raise ValueError("training needs at least one training and one validation structure")
    shape = batch_shape_for(train_data, config.batch_size)
    val_shape = batch_shape_for(val_data, config.batch_size)
    model = initial.config
    operative = {
        "training": config.to_dict(),
        "model": model.to_dict(),
        "initial_fingerprint": initial.fingerprint(),
        "num_train": len(train_data),
        "num_val": len(val_data),
        "batch_shape": dataclasses.asdict(shape),
    }
    run_id = _hash(operative)

    optimizer = make_optimizer(config)
    params = initial.params
    state = {"params": params, "ema": params, "opt_state": optimizer.init(params)}
    meta = {"run_id": run_id, "epoch": 0, "step": 0, "best_score": None, "best_epoch": None}
    history: list[dict[str, Any]] = []
    if (workdir / "state.npz").is_file():
        state, meta, history = _restore(workdir, state, run_id)
    (workdir / "train_config.json").write_text(json.dumps({**operative, "run_id": run_id}, indent=1))

    step_fn, eval_fn = _compiled(model, config)
    provenance = dict(provenance or {}) | dict(initial.provenance)
    stop_at = (
        config.epochs
        if max_epochs_this_call is None
        else min(config.epochs, meta["epoch"] + max_epochs_this_call)
    )
    while meta["epoch"] < stop_at:
        epoch = meta["epoch"]
        t0 = time.perf_counter()
        order = np.random.default_rng([config.seed, epoch]).permutation(len(train_data))
        bins = list(batches(train_data, shape, order, dtype))
        losses = []
        p, ema, opt = state["params"], state["ema"], state["opt_state"]
        for k, (batch, labels, _) in enumerate(bins):
            lr = jnp.asarray(learning_rate(config, epoch + k / len(bins)), dtype)
            p, ema, opt, loss = step_fn(p, ema, opt, jnp.asarray(meta["step"], dtype), lr, batch, labels)
            meta["step"] += 1
            losses.append(float(loss))
        if not np.all(np.isfinite(losses)):
            raise FloatingPointError(
                f"training loss became non-finite in epoch {epoch}: lower learning_rate or set grad_clip_norm"
            )
        state = {"params": p, "ema": ema, "opt_state": opt}
        val = evaluate_sums(eval_fn, ema, val_data, val_shape, dtype)
        score = (
            config.energy_weight * val["energy_mae_meV_per_atom"]
            + config.force_weight * val["forces_mae_meV_per_A"]
            + (config.stress_weight * 1e3 * val["stress_mae_GPa"] if config.stress_weight > 0 else 0.0)
        )
        meta["epoch"] = epoch + 1
        record = {
            "epoch": epoch + 1,
            "step": meta["step"],
            "lr": learning_rate(config, epoch + 1),
            "train_loss": float(np.mean(losses)),
            "seconds": round(time.perf_counter() - t0, 2),
            **{f"val_{k}": v for k, v in val.items()},
        }
        history.append(record)
        improved = meta["best_score"] is None or score < meta["best_score"]
        if improved:
            meta["best_score"], meta["best_epoch"] = score, epoch + 1
            _save_potential(initial, ema, workdir / "best.npz", provenance, record)
        _save_potential(initial, ema, workdir / "last.npz", provenance, record)
        _checkpoint(workdir, state, meta, history)
        if progress:
            print(_format(record, improved), file=sys.stderr, flush=True)
    from superionic.potentials.checkpoint import load_file

    best = load_file(workdir / "best.npz", dtype=config.dtype) if (workdir / "best.npz").is_file() else None
    last = Potential(model, state["ema"], initial.name, provenance)
    return TrainResult(best or last, last, history, workdir)


def evaluate_sums(eval_fn, params, data: LabelledGraphs, shape: BatchShape, dtype) -> dict[str, float]:
    totals: dict[str, float] = {}
    for batch, labels, _ in batches(data, shape, range(len(data)), dtype):
        for k, v in eval_fn(params, batch=batch, labels=labels).items():
            totals[k] = totals.get(k, 0.0) + float(v)
    return metrics_from_sums(totals)


def evaluate(potential: Potential, dataset: Sequence[ase.Atoms] | LabelledGraphs, batch_size: int = 16):
    """Validation metrics of ``potential`` on a labelled data set (see :func:`metrics_from_sums`)."""
    data = dataset if isinstance(dataset, LabelledGraphs) else prepare(dataset, potential)
    eval_fn = jax.jit(partial(error_sums, model=potential.config))
    return evaluate_sums(eval_fn, potential.params, data, batch_shape_for(data, batch_size), potential.dtype)


def _format(record: dict[str, Any], improved: bool) -> str:
    return (
        f"epoch {record['epoch']:4d}  loss {record['train_loss']:.4g}  lr {record['lr']:.2e}  "
        f"val E {record['val_energy_mae_meV_per_atom']:.2f} meV/atom  "
        f"F {record['val_forces_mae_meV_per_A']:.1f} meV/Å  S {record['val_stress_mae_GPa']:.3f} GPa  "
        f"({record['seconds']:.0f} s){'  *' if improved else ''}"
    )


def _save_potential(initial: Potential, params, path: Path, provenance: dict, record: dict) -> None:
    prov = dict(provenance) | {"training_epoch": record["epoch"], "validation": record}
    save(Potential(initial.config, params, initial.name, prov), path)


def _checkpoint(workdir: Path, state: dict, meta: dict, history: list[dict]) -> None:
    """Weights, EMA, optimiser moments (pytree leaves), epoch and history in one file, replaced atomically."""
    leaves = {f"leaf_{i:05d}": np.asarray(x) for i, x in enumerate(jax.tree_util.tree_leaves(state))}
    tmp = workdir / "state.partial.npz"
    np.savez(tmp, __meta__=np.array(json.dumps(meta)), __history__=np.array(json.dumps(history)), **leaves)
    os.replace(tmp, workdir / "state.npz")
    (workdir / "history.jsonl.partial").write_text("".join(json.dumps(r) + "\n" for r in history))
    os.replace(workdir / "history.jsonl.partial", workdir / "history.jsonl")


def _restore(workdir: Path, template: dict, run_id: str):
    with np.load(workdir / "state.npz", allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        history = json.loads(str(data["__history__"]))
        leaves = [data[k] for k in sorted(k for k in data.files if k.startswith("leaf_"))]
    if meta.get("run_id") != run_id:
        raise ValueError(
            f"{workdir} holds a different training run (other data, model or options); "
            "use a new workdir or delete its state.npz"
        )
    template_leaves, treedef = jax.tree_util.tree_flatten(template)
    leaves = [jnp.asarray(x, dtype=t.dtype) for x, t in zip(leaves, template_leaves, strict=True)]
    return jax.tree_util.tree_unflatten(treedef, leaves), meta, history
