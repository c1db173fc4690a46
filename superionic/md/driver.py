"""``run``: the host-side driver. Python runs only between compiled chunks: neighbour-list recovery, instability
checks, H5MD output, checkpoints, progress.

Chunk protocol (the guarantee behind "no step lost, no wrong step kept"): every chunk starts from a saved carry;
if any member's neighbour list overflowed (or its cells became too small for the box) during the chunk, the whole
chunk is discarded, the lists are reallocated with more room from the chunk's start positions, and the chunk is
run again. Only then are frames written, flushed, and the checkpoint replaced (atomically).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax_md import space

import superionic
from superionic.md import neighbors as nl
from superionic.md import units
from superionic.md.config import MDConfig
from superionic.md.engine import Carry, ChunkSpec, make_chunk_fn, make_init_fn, make_observe_fn
from superionic.md.ensembles import Integrator, make_integrator, shield_energy_fn
from superionic.md.h5md import H5MDWriter, read_trajectory, write_topology
from superionic.md.system import System, cell_from_box
from superionic.potentials.jaxmd import perpendicular_widths

__all__ = ["MDInstabilityError", "MDResult", "MemberSummary", "run"]

CHECKPOINT_VERSION = 2  # 2: neighbour capacity holds the packed table's width and the periodic images
# MDConfig fields that may change between a run and its restart (they do not change the trajectory).
_RESTART_MUTABLE = {"production_ps", "progress", "chunk_steps"}


class MDInstabilityError(RuntimeError):
    """The dynamics became non-finite or exploded; frames before the failure are kept in the trajectory files."""


@dataclasses.dataclass(frozen=True)
class MemberSummary:
    """One member (temperature, replica) of a run, as read back from its trajectory."""

    temperature_K: float
    replica: int
    trajectory: Path
    topology: Path
    n_frames: int
    mean_temperature_K: float
    std_temperature_K: float
    conserved_drift_eV_per_atom_per_ps: float
    mean_pressure_GPa: float
    mean_volume_A3: float


@dataclasses.dataclass(frozen=True)
class MDResult:
    members: tuple[MemberSummary, ...]
    checkpoint: Path
    n_atoms: int
    wall_s: float
    steps_run: int
    ns_per_day: float  # simulated time per member per day of wall time (this call, compilation included)
    atom_steps_per_s: float  # members x atoms x steps per second (this call)
    neighbor_reallocations: int = 0  # chunks redone after a neighbour-list overflow (this call)
    chunk_timings: tuple[tuple[int, float], ...] = ()  # (steps, wall seconds incl. I/O) per chunk (this call)

    @property
    def steady_atom_steps_per_s(self) -> float:
        """Throughput without compilation: chunks after the first of each compiled program."""
        timed = self.chunk_timings[1:] if len(self.chunk_timings) > 1 else self.chunk_timings
        steps, wall = sum(t[0] for t in timed), sum(t[1] for t in timed)
        return self.n_members * self.n_atoms * steps / wall if wall > 0 else float("nan")

    @property
    def n_members(self) -> int:
        return len(self.members)

    @property
    def trajectories(self) -> list[Path]:
        return [m.trajectory for m in self.members]

    def summary(self) -> str:
        lines = ["  T_target  replica  frames   <T>/K    sd(T)/K  drift/(meV/atom/ps)  <P>/GPa"]
        for m in self.members:
            lines.append(
                f"  {m.temperature_K:8.1f}  {m.replica:7d}  {m.n_frames:6d}  {m.mean_temperature_K:8.2f}  "
                f"{m.std_temperature_K:8.2f}  {1e3 * m.conserved_drift_eV_per_atom_per_ps:19.3e}  "
                f"{m.mean_pressure_GPa:7.3f}"
            )
        lines.append(
            f"  {self.n_atoms} atoms, {self.ns_per_day:.3g} ns/day, {self.atom_steps_per_s:.3g} atom-steps/s"
        )
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class _Bound:
    neighbor_fn: Any
    energy_fn: Callable[..., Any]
    reach_A: float  # cutoff + skin: how far a pair can be and still need to be in the list
    name: str
    sha256: str


def _bind_potential(potential, box, system: System, config: MDConfig) -> _Bound:
    """A potential (``jax_md_neighbor_energy``, ``cutoff_A``, ``name``) or a jax-md ``(neighbor_fn, energy_fn)``
    pair built for ``space.periodic_general(box, fractional_coordinates=True)`` with ``dr_threshold = skin_A``."""
    if hasattr(potential, "jax_md_neighbor_energy"):
        neighbor_fn, energy_fn = potential.jax_md_neighbor_energy(
            box,
            jnp.asarray(system.numbers),
            skin_A=config.skin_A,
            capacity_multiplier=config.capacity_multiplier,
        )
        fingerprint = getattr(potential, "fingerprint", None)
        sha = fingerprint() if callable(fingerprint) else ""
        return _Bound(neighbor_fn, energy_fn, potential.cutoff_A + config.skin_A, potential.name, sha)
    if isinstance(potential, (tuple, list)) and len(potential) == 2:
        neighbor_fn, energy_fn = potential
        half_width = 0.5 * min(perpendicular_widths(system.cell_A))
        return _Bound(neighbor_fn, energy_fn, half_width, "custom", "")
    raise TypeError(
        "potential must have a jax_md_neighbor_energy method (superionic.potentials) or be a jax-md "
        f"(neighbor_fn, energy_fn) pair, got {type(potential).__name__}"
    )


def _dtype(precision: str):
    if precision == "float64":
        if not jax.config.jax_enable_x64:
            raise ValueError(
                'precision="float64" needs 64-bit JAX: call jax.config.update("jax_enable_x64", True) first'
            )
        return jnp.float64
    return jnp.float32


def _member_keys(seed: int, config: MDConfig) -> np.ndarray:
    """One key per member, fold_in(fold_in(seed, round(T / mK)), replica): a member's random stream depends on
    its own temperature and replica only, so it is the same whether it runs alone or in a batch."""
    base = jax.random.PRNGKey(seed)
    return np.stack(
        [jax.random.fold_in(jax.random.fold_in(base, round(t * 1000)), r) for _, t, r in config.members]
    )


@partial(jax.jit, static_argnums=3)
def _maxwell_boltzmann(keys, masses, kT, dtype) -> jax.Array:
    """Momenta [M, N, 3] drawn at kT[M] with exactly zero total momentum per member."""

    def one(key, kt):
        p = jnp.sqrt(masses[:, None] * kt) * jax.random.normal(key, (masses.shape[0], 3), dtype)
        return p - jnp.mean(p, axis=0, keepdims=True)

    return jax.vmap(one)(keys, kT)


def _file_stem(system: System, temperature_K: float, replica: int) -> str:
    return f"{system.name}_T{temperature_K:g}K_r{replica}"


def _fingerprint(system: System) -> str:
    h = hashlib.sha256()
    for a in (system.numbers.astype(np.int64), np.round(system.fractional, 8), np.round(system.cell_A, 8)):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------------------------
# Checkpoints: the carry's leaves + what is needed to rebuild its static structure.


def _save_checkpoint(path: Path, carry: Carry, boxes, meta: dict) -> None:
    leaves = jax.tree_util.tree_leaves(carry)
    arrays = {f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)}
    arrays["positions"] = np.asarray(carry.state.position)
    arrays["boxes"] = np.asarray(boxes)
    tmp = path.with_suffix(".tmp.npz")
    with open(tmp, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _load_checkpoint(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        arrays = {k: z[k] for k in z.files if k != "meta"}
    if meta.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {path} has version {meta.get('version')}, expected {CHECKPOINT_VERSION}"
        )
    return meta, arrays


# --------------------------------------------------------------------------------------------------------------


class _Run:
    """Everything one ``run`` call needs, bound once (private; ``run`` is the interface)."""

    def __init__(self, system: System, potential, config: MDConfig, out_dir: Path):
        self.system, self.config, self.out_dir = system, config, out_dir
        self.dtype = _dtype(config.precision)
        self.box = jnp.asarray(system.box, self.dtype)
        _, shift_fn = space.periodic_general(self.box, fractional_coordinates=True)
        self.bound = _bind_potential(potential, self.box, system, config)
        self.energy_fn = shield_energy_fn(self.bound.energy_fn)
        self.neighbor_fn = self.bound.neighbor_fn
        self.masses = jnp.asarray(system.masses_amu, self.dtype)
        self.n_atoms = system.n_atoms
        members = config.members
        self.M = len(members)
        self.member_T = np.array([t for _, t, _ in members])
        self.kT = jnp.asarray(units.kT_eV(self.member_T), self.dtype)
        t_max = np.maximum(config.max_temperature_factor * self.member_T, self.member_T + 5000.0)
        self.max_kT = jnp.asarray(units.kT_eV(t_max), self.dtype)
        start = (
            self.member_T
            if config.equilibration_start_K is None
            else np.full(self.M, config.equilibration_start_K)
        )
        self.kT_start = jnp.asarray(units.kT_eV(start), self.dtype)
        self.keys = _member_keys(config.seed, config)

        common = dict(
            timestep_fs=config.timestep_fs,
            thermostat_tau_fs=config.thermostat_tau_fs,
            chain_length=config.thermostat_chain_length,
            barostat_tau_fs=config.barostat_tau_fs,
            pressure_GPa=config.pressure_GPa,
            langevin_friction_per_ps=config.langevin_friction_per_ps,
        )
        self.prod = make_integrator(
            config.ensemble, self.energy_fn, shift_fn, self.box, self.masses, **common
        )
        eq_kind = "npt_nose_hoover" if config.ensemble == "npt_nose_hoover" else "nve"
        self.eq = make_integrator(eq_kind, self.energy_fn, shift_fn, self.box, self.masses, **common)

        positions0 = jnp.broadcast_to(jnp.asarray(system.fractional, self.dtype), (self.M, self.n_atoms, 3))
        boxes0 = jnp.broadcast_to(self.box, (self.M, 3, 3))
        self.positions0, self.boxes0 = positions0, boxes0

        save = config.save_every_steps
        self.eq_steps = math.ceil(config.equilibration_steps / save) * save
        self.prod_steps = config.production_steps
        self.paths = [out_dir / (_file_stem(system, t, r) + ".h5md") for _, t, r in members]
        self.topologies = [p.with_suffix(".pdb") for p in self.paths]
        self.checkpoint = out_dir / f"{system.name}.checkpoint.npz"
        self._compiled: dict[str, Any] = {}
        self.reallocations = 0
        self.chunk_timings: list[tuple[int, float]] = []

    # -- compiled pieces ----------------------------------------------------------------------------------------
    def integrator(self, phase: str) -> Integrator:
        return self.eq if phase == "equilibration" else self.prod

    def observe_fn(self, phase: str):
        key = f"observe_{phase}"
        if key not in self._compiled:
            self._compiled[key] = make_observe_fn(
                self.integrator(phase),
                self.energy_fn,
                write_velocities=self.config.write_velocities,
            )
        return self._compiled[key]

    def chunk_fn(self, phase: str):
        key = f"chunk_{phase}"
        if key not in self._compiled:
            c = self.config
            spec = ChunkSpec(
                n_frames=c.frames_per_chunk,
                save_every=c.save_every_steps,
                equilibrate=phase == "equilibration",
                ramp_steps=max(1, self.eq_steps // 2),
                berendsen_dt_over_tau=c.timestep_fs / c.equilibration_tau_fs,
            )
            self._compiled[key] = make_chunk_fn(
                self.integrator(phase),
                self.neighbor_fn,
                self.observe_fn(phase),
                spec,
                skin_A=c.skin_A,
                reach_A=self.bound.reach_A,
            )
        return self._compiled[key]

    def init_carry(self, phase: str, positions, momenta, boxes, exact_capacity=None) -> Carry:
        integ = self.integrator(phase)
        nbrs = nl.allocate_batch(self.neighbor_fn, positions, boxes, exact_capacity=exact_capacity)
        keys = jax.vmap(lambda k: jax.random.fold_in(k, 1 if phase == "production" else 0))(
            jnp.asarray(self.keys)
        )
        if "init" + phase not in self._compiled:
            self._compiled["init" + phase] = make_init_fn(integ, self.neighbor_fn)
        return self._compiled["init" + phase](keys, positions, momenta, self.kT, nbrs, boxes)

    def boxes(self, phase: str, carry: Carry):
        return jax.vmap(self.integrator(phase).box_fn)(carry.state)

    # -- frames → files -----------------------------------------------------------------------------------------
    def to_file_units(self, frames: dict, step: np.ndarray) -> list[dict]:
        """Frames (leaves [F, M, ...], internal units) → one dict per member in file units."""
        f = {k: np.asarray(v, dtype=np.float64) if k != "image" else np.asarray(v) for k, v in frames.items()}
        cell = cell_from_box(f["box"])  # [F, M, 3, 3] rows
        frac = f["fractional"] + f["image"]
        positions = np.einsum("fmni,fmij->fmnj", frac, cell)
        ptensor = units.internal_to_gpa(f["pressure_tensor"])
        out = []
        for m in range(self.M):
            obs = {
                "temperature": units.kT_to_K(f["temperature"][:, m]),
                "potential_energy": f["potential_energy"][:, m],
                "kinetic_energy": f["kinetic_energy"][:, m],
                "conserved_energy": f["conserved_energy"][:, m],
                "pressure": np.trace(ptensor[:, m], axis1=-2, axis2=-1) / 3.0,
                "stress": -ptensor[:, m],
                "volume": f["volume"][:, m],
            }
            vel = None
            if "velocity" in f:
                vel = units.velocity_internal_to_A_per_ps(f["velocity"][:, m])
            out.append(
                dict(
                    step=step,
                    time_ps=step * self.config.timestep_fs / 1000.0,
                    positions_A=positions[:, m],
                    cell_A=cell[:, m],
                    observables=obs,
                    velocities_A_per_ps=vel,
                )
            )
        return out

    def parameters(self, temperature_K: float, replica: int) -> dict:
        c = self.config
        p = {
            "temperature_K": float(temperature_K),
            "timestep_fs": float(c.timestep_fs),
            "ensemble": c.ensemble,
            "seed": int(c.seed),
            "replica": int(replica),
            "potential_name": self.bound.name,
            "potential_sha256": self.bound.sha256,
            "superionic_version": superionic.__version__,
            "equilibration_ps": self.eq_steps * c.timestep_fs / 1000.0,
            "save_every_fs": c.save_every_steps * c.timestep_fs,
            "n_atoms": int(self.n_atoms),
            "system_name": self.system.name,
            "supercell": np.array(self.system.supercell, dtype=np.int64),
            "config_json": json.dumps(c.to_dict()),
        }
        if c.ensemble == "npt_nose_hoover":
            p["pressure_GPa"] = float(c.pressure_GPa)
        if c.ensemble in ("nvt_nose_hoover", "npt_nose_hoover"):
            p["thermostat_tau_fs"] = float(c.thermostat_tau_fs)
        if c.ensemble == "nvt_langevin":
            p["langevin_friction_per_ps"] = float(c.langevin_friction_per_ps)
        return p


def run(
    system: System,
    potential,
    config: MDConfig,
    out_dir: str | Path,
    *,
    restart: bool = False,
    overwrite: bool = False,
) -> MDResult:
    """Run MD for every member (temperature x replica) of ``config`` in one compiled program; write one H5MD file
    (plus a PDB topology) per member into ``out_dir`` and a checkpoint after every chunk.

    Args:
      system: from :func:`superionic.md.prepare_system`.
      potential: a ``superionic.potentials`` potential (``cutoff``, ``jax_md_neighbor_energy``), an object with the
        same interface (e.g. :class:`superionic.md.LennardJones`), or a jax-md ``(neighbor_fn, energy_fn)`` pair
        built on ``space.periodic_general(system.box, fractional_coordinates=True)`` with ``dr_threshold =
        config.skin_A``.
      config: :class:`MDConfig`.
      out_dir: output directory (created).
      restart: continue from ``out_dir``'s checkpoint (appending to the same files; the result equals an
        uninterrupted run). Without a checkpoint the run starts from scratch.
      overwrite: replace existing output files of a fresh run (otherwise existing files are an error).

    Raises:
      MDInstabilityError: a member's temperature became non-finite or exploded (frames before it are kept).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    r = _Run(system, potential, config, out_dir)
    wall0 = time.perf_counter()

    resume = restart and r.checkpoint.exists()
    if resume:
        meta, arrays = _load_checkpoint(r.checkpoint)
        _check_compatible(meta, r, config)
        phase, step_done, frames_written = meta["phase"], meta["step"], meta["frames_written"]
        capacity = nl.Capacity.from_list(meta["capacity"])
        positions = jnp.asarray(arrays["positions"], r.dtype)
        boxes = jnp.asarray(arrays["boxes"], r.dtype)
        template = r.init_carry(phase, positions, jnp.zeros_like(positions), boxes, capacity)
        leaves, treedef = jax.tree_util.tree_flatten(template)
        saved = [arrays[f"leaf_{i}"] for i in range(len(leaves))]
        if any(np.shape(a) != np.shape(b) for a, b in zip(saved, leaves, strict=True)):
            raise ValueError(
                f"checkpoint {r.checkpoint} does not match this system/config (array shapes differ)"
            )
        carry = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(a, b.dtype) for a, b in zip(saved, leaves, strict=True)]
        )
        writers = None
        if phase == "production":
            writers = _open_writers(r, resume_frames=frames_written)
    else:
        existing = [p for p in [*r.paths, *r.topologies, r.checkpoint] if p.exists()]
        if existing and not overwrite:
            raise FileExistsError(
                f"{existing[0]} exists: continue that run with restart=True (--restart) or replace it with "
                "overwrite=True (--overwrite)"
            )
        for p in existing:
            p.unlink()
        momenta = _maxwell_boltzmann(jnp.asarray(r.keys), r.masses, r.kT, r.dtype)
        phase = "equilibration" if r.eq_steps > 0 else "production"
        carry = r.init_carry(phase, r.positions0, momenta, r.boxes0)
        step_done, frames_written, writers = 0, 0, None

    total = r.eq_steps + r.prod_steps
    done = (r.eq_steps + step_done) if phase == "production" else step_done
    bar = _progress(config, total, done)
    steps_run = 0
    try:
        if phase == "equilibration":
            carry, n = _run_phase(r, "equilibration", carry, step_done, r.eq_steps, None, 0, bar)
            steps_run += n
            # Production starts from the equilibrated positions, momenta (and box), with fresh thermostat variables.
            boxes = r.boxes("equilibration", carry)
            # The neighbour capacity carries over (it grows only if the equilibrated positions need more), so
            # the production program has the shapes the equilibration already needed.
            capacity = nl.capacity_of(carry.nbrs)
            carry = r.init_carry("production", carry.state.position, carry.state.momentum, boxes, capacity)
            phase, step_done, frames_written = "production", 0, 0
        if writers is None:
            writers = _open_writers(r, resume_frames=None)
            first = jax.tree_util.tree_map(lambda x: x[None], r.observe_fn("production")(carry, r.kT))
            per_member = r.to_file_units(first, np.array([0]))
            for w, frame, top in zip(writers, per_member, r.topologies, strict=True):
                w.append(**frame)
                w.flush()
                write_topology(top, system.numbers, frame["positions_A"][0], frame["cell_A"][0])
            frames_written = 1
            _checkpoint(r, carry, "production", 0, frames_written)
        carry, n = _run_phase(r, "production", carry, step_done, r.prod_steps, writers, frames_written, bar)
        steps_run += n
    finally:
        if bar is not None:
            bar.close()
        for w in writers or []:
            w.close()

    wall = time.perf_counter() - wall0
    result = _summarise(r, wall, steps_run)
    if config.progress:
        print(result.summary())
    return result


def _open_writers(r: _Run, resume_frames: int | None) -> list[H5MDWriter]:
    return [
        H5MDWriter(
            path,
            numbers=r.system.numbers,
            masses_amu=r.system.masses_amu,
            charges_e=r.system.charges_e,
            parameters=r.parameters(t, rep),
            write_velocities=r.config.write_velocities,
            position_dtype=r.config.trajectory_precision or r.config.precision,
            resume_frames=resume_frames,
        )
        for path, (_, t, rep) in zip(r.paths, r.config.members, strict=True)
    ]


def _check_compatible(meta: dict, r: _Run, config: MDConfig) -> None:
    if meta["fingerprint"] != _fingerprint(r.system):
        raise ValueError(f"checkpoint {r.checkpoint} belongs to a different system; use another out_dir")
    old = meta["config"]
    new = config.to_dict()
    differ = sorted(k for k in new if k not in _RESTART_MUTABLE and old.get(k) != new[k])
    if differ:
        raise ValueError(
            f"cannot restart with changed settings {differ} (only {sorted(_RESTART_MUTABLE)} may change); "
            "start a new run in another out_dir"
        )


def _checkpoint(r: _Run, carry: Carry, phase: str, step: int, frames_written: int) -> None:
    meta = {
        "version": CHECKPOINT_VERSION,
        "phase": phase,
        "step": int(step),
        "frames_written": int(frames_written),
        "capacity": nl.capacity_of(carry.nbrs).to_list(),
        "config": r.config.to_dict(),
        "fingerprint": _fingerprint(r.system),
        "superionic_version": superionic.__version__,
    }
    _save_checkpoint(r.checkpoint, carry, r.boxes(phase, carry), meta)


def _run_phase(
    r: _Run,
    phase: str,
    carry: Carry,
    step_done: int,
    n_steps: int,
    writers: Sequence[H5MDWriter] | None,
    frames_written: int,
    bar,
) -> tuple[Carry, int]:
    """Advance ``carry`` from ``step_done`` to ``n_steps``; write and checkpoint after each chunk."""
    c = r.config
    chunk = r.chunk_fn(phase)
    save = c.save_every_steps
    steps_run = 0
    while step_done < n_steps:
        n_active = min(c.frames_per_chunk, math.ceil((n_steps - step_done) / save))
        t_chunk = time.perf_counter()
        start = carry
        for _attempt in range(20):
            new, frames = chunk(start, r.kT, r.kT_start, r.max_kT, jnp.int32(step_done), jnp.int32(n_active))
            code = int(np.bitwise_or.reduce(np.asarray(new.nbrs.error.code).ravel())) & nl.RECOVERABLE_ERRORS
            if not code:
                break
            boxes = r.boxes(phase, start)
            capacity = nl.grown_capacity(start.nbrs, code, r.n_atoms, boxes=boxes, neighbor_fn=r.neighbor_fn)
            nbrs = nl.allocate_batch(r.neighbor_fn, start.state.position, boxes, min_capacity=capacity)
            if c.progress:
                tqdm_write(
                    f"neighbour list: {nl.describe_error(code)} at step {step_done}..; capacity "
                    f"{nl.capacity_of(start.nbrs)} -> {nl.capacity_of(nbrs)}, chunk redone"
                )
            start = dataclasses.replace(start, nbrs=nbrs, ref_box=boxes)
            r.reallocations += 1
        else:
            raise RuntimeError("neighbour list kept overflowing after 20 reallocations; check the structure")
        frames = {k: np.asarray(v)[:n_active] for k, v in frames.items()}
        steps = step_done + save * np.arange(1, n_active + 1)
        bad_steps = np.asarray(new.first_bad_step)
        finite = np.isfinite(frames["potential_energy"]).all(axis=1) & np.isfinite(
            frames["conserved_energy"]
        ).all(axis=1)
        if (bad_steps >= 0).any() or not finite.all():
            _fail(r, phase, frames, steps, bad_steps, finite, writers)
        if writers is not None:
            for w, member in zip(writers, r.to_file_units(frames, steps), strict=True):
                w.append(**member)
                w.flush()
            frames_written += n_active
        carry, start = new, None
        step_done += n_active * save
        steps_run += n_active * save
        _checkpoint(r, carry, phase, step_done, frames_written)
        if phase == "production":
            r.chunk_timings.append((n_active * save, time.perf_counter() - t_chunk))
        if bar is not None:
            bar.update(n_active * save)
            ps_done, ps_total = (x * c.timestep_fs / 1000 for x in (step_done, n_steps))
            bar.set_postfix_str(f"{phase} {ps_done:.2f}/{ps_total:.2f} ps, {_rate(bar, c):.3g} ns/day")
    return carry, steps_run


def _fail(r: _Run, phase, frames, steps, bad_steps, finite, writers) -> None:
    """Write the good frames (production), then raise naming member, temperature and step."""
    first_bad_frame = len(steps)
    for m in range(r.M):
        if bad_steps[m] >= 0:
            first_bad_frame = min(first_bad_frame, int(np.searchsorted(steps, bad_steps[m])))
    if not finite.all():
        first_bad_frame = min(first_bad_frame, int(np.argmin(finite)))
    keep = first_bad_frame
    if writers is not None and keep > 0:
        good = jax.tree_util.tree_map(lambda x: x[:keep], frames)
        for w, member in zip(writers, r.to_file_units(good, steps[:keep]), strict=True):
            w.append(**member)
            w.flush()
    worst = [m for m in range(r.M) if bad_steps[m] >= 0] or list(range(r.M))
    m = worst[0]
    _, t, rep = r.config.members[m]
    step = int(bad_steps[m]) if bad_steps[m] >= 0 else int(steps[first_bad_frame])
    t_now = units.kT_to_K(float(frames["temperature"][min(first_bad_frame, len(steps) - 1), m]))
    raise MDInstabilityError(
        f"{phase}: member T={t:g} K replica {rep} became unstable at step {step} "
        f"(t = {step * r.config.timestep_fs / 1000:.3f} ps of {phase}; kinetic temperature {t_now:.4g} K, limit "
        f"{units.kT_to_K(float(r.max_kT[m])):.4g} K); "
        + (f"frames before it are kept in {r.paths[m].name}. " if writers else "no frames were written. ")
        + "Check the structure and potential, or lower timestep_fs"
    )


def tqdm_write(msg: str) -> None:
    from tqdm import tqdm

    tqdm.write(msg)


def _progress(config: MDConfig, total: int, done: int):
    if not config.progress:
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=done, unit="step", dynamic_ncols=True, smoothing=0.1)
    bar._superionic_t0 = (time.perf_counter(), done)
    return bar


def _rate(bar, config: MDConfig) -> float:
    t0, n0 = bar._superionic_t0
    dt = time.perf_counter() - t0
    return 0.0 if dt <= 0 else (bar.n - n0) * config.timestep_fs * 1e-6 / dt * 86400.0


def _summarise(r: _Run, wall: float, steps_run: int) -> MDResult:
    members = []
    for path, top, (_, t, rep) in zip(r.paths, r.topologies, r.config.members, strict=True):
        traj = read_trajectory(path)
        obs, time_ps = traj.observables, traj.time_ps
        drift = float("nan")
        if len(time_ps) >= 2:
            drift = float(np.polyfit(time_ps, obs["conserved_energy"], 1)[0]) / r.n_atoms
        temps = obs["temperature"][1:] if len(time_ps) > 1 else obs["temperature"]
        members.append(
            MemberSummary(
                temperature_K=t,
                replica=rep,
                trajectory=path,
                topology=top,
                n_frames=len(time_ps),
                mean_temperature_K=float(np.mean(temps)),
                std_temperature_K=float(np.std(temps)),
                conserved_drift_eV_per_atom_per_ps=drift,
                mean_pressure_GPa=float(np.mean(obs["pressure"])),
                mean_volume_A3=float(np.mean(obs["volume"])),
            )
        )
    sim_ns = steps_run * r.config.timestep_fs * 1e-6
    return MDResult(
        members=tuple(members),
        checkpoint=r.checkpoint,
        n_atoms=r.n_atoms,
        wall_s=wall,
        steps_run=steps_run,
        ns_per_day=sim_ns / wall * 86400.0 if wall > 0 else float("nan"),
        atom_steps_per_s=r.M * r.n_atoms * steps_run / wall if wall > 0 else float("nan"),
        neighbor_reallocations=r.reallocations,
        chunk_timings=tuple(r.chunk_timings),
    )
