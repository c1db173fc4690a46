"""``run``: the host-side driver. Python runs only between compiled chunks: neighbour-list recovery, instability
checks, output, checkpoints; the progress bar advances from inside a chunk, frame by frame.

Chunk protocol (the guarantee behind "no step lost, no wrong step kept"): every chunk starts from a saved carry;
if any member's neighbour list overflowed (or its cells became too small for the box) during the chunk, the whole
chunk is discarded, the lists are reallocated with more room from the chunk's start positions, and the chunk is
run again. Only then are frames written, flushed, and the checkpoint replaced (atomically).

Two parts: :class:`_Stepper` (the compiled side: integrators, chunk, observables, units) and an output
(:class:`~superionic.md.output.FileOutput` with checkpoints, or :class:`~superionic.md.output.MemoryOutput`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms
from jax_md import space

import superionic
from superionic import units
from superionic.md import neighbors as nl
from superionic.md.config import MDConfig
from superionic.md.engine import Carry, ChunkSpec, make_chunk_fn, make_init_fn, make_observe_fn
from superionic.md.ensembles import Integrator, make_integrator, shield_energy_fn
from superionic.md.output import FileOutput, MemoryOutput
from superionic.md.result import MDInstabilityError, MDResult, summarise_member
from superionic.md.system import System
from superionic.structures import cell_from_box, perpendicular_widths

__all__ = ["MDPotential", "run"]


class MDPotential(Protocol):
    """What ``run`` needs of a potential: a name, a cutoff and a jax-md ``(neighbor_fn, energy_fn)`` binding for
    fractional coordinates in ``box`` (columns = lattice vectors). :class:`superionic.potentials.Potential` and
    :class:`superionic.md.LennardJones` are ones."""

    name: str
    cutoff_A: float

    def jax_md_neighbor_energy(self, box, atomic_numbers, *, skin_A: float, capacity_multiplier: float): ...


@dataclasses.dataclass(frozen=True)
class _Bound:
    neighbor_fn: Any
    energy_fn: Callable[..., Any]
    reach_A: float  # cutoff + skin: how far a pair can be and still need to be in the list
    name: str
    sha256: str


def _bind_potential(potential, box, system: System, config: MDConfig) -> _Bound:
    """An :class:`MDPotential` or a jax-md ``(neighbor_fn, energy_fn)`` pair built for
    ``space.periodic_general(box, fractional_coordinates=True)`` with ``dr_threshold = system.skin_A``."""
    if hasattr(potential, "jax_md_neighbor_energy"):
        neighbor_fn, energy_fn = potential.jax_md_neighbor_energy(
            box,
            jnp.asarray(system.numbers),
            skin_A=system.skin_A,
            capacity_multiplier=config.capacity_multiplier,
        )
        fingerprint = getattr(potential, "fingerprint", None)
        sha = fingerprint() if callable(fingerprint) else ""
        return _Bound(neighbor_fn, energy_fn, potential.cutoff_A + system.skin_A, potential.name, sha)
    if isinstance(potential, (tuple, list)) and len(potential) == 2:
        neighbor_fn, energy_fn = potential
        half_width = 0.5 * min(perpendicular_widths(system.cell_A))
        return _Bound(neighbor_fn, energy_fn, half_width, "custom", "")
    raise TypeError(
        "potential must have a jax_md_neighbor_energy method (superionic.potentials) or be a jax-md "
        f"(neighbor_fn, energy_fn) pair, got {type(potential).__name__}"
    )


def _precision(potential, config: MDConfig) -> tuple[Any, str]:
    """The run's precision: ``config.precision`` if set (the potential is cast to it), else the potential's own
    dtype (float32 for potentials without one)."""
    own = getattr(potential, "dtype", None)
    own = None if own is None else str(np.dtype(own))
    precision = config.precision or own or "float32"
    if own is not None and own != precision:
        potential = potential.astype(precision)  # asked for explicitly: never a silent cast
    return potential, precision


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


# --------------------------------------------------------------------------------------------------------------


class _Stepper:
    """The compiled side of one ``run`` call, bound once: integrators, chunk, observables, unit conversion."""

    def __init__(self, system: System, potential, config: MDConfig, precision: str, on_frame=None):
        self.system, self.config, self.precision = system, config, precision
        self.on_frame = on_frame  # called from inside a chunk after each frame (progress)
        self.dtype = _dtype(precision)
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
                skin_A=self.system.skin_A,
                reach_A=self.bound.reach_A,
                on_frame=self.on_frame,
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
        """What a member's trajectory records as ``/parameters`` (docs/h5md_layout.md)."""
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
            "skin_A": float(self.system.skin_A),
            "precision": self.precision,
            "config_json": json.dumps(c.to_dict()),
        }
        if c.ensemble == "npt_nose_hoover":
            p["pressure_GPa"] = float(c.pressure_GPa)
        if c.ensemble in ("nvt_nose_hoover", "npt_nose_hoover"):
            p["thermostat_tau_fs"] = float(c.thermostat_tau_fs)
        if c.ensemble == "nvt_langevin":
            p["langevin_friction_per_ps"] = float(c.langevin_friction_per_ps)
        return p


class _Progress:
    """One tqdm bar per phase (equilibration, production), advanced frame by frame from inside the compiled chunk.
    A bar appears at its phase's first frame, after the compilation, so its rate and ETA are the run's own."""

    def __init__(self, timestep_fs: float, save_every: int, enabled: bool):
        self.timestep_fs, self.save_every, self.enabled = timestep_fs, save_every, enabled
        self.bar, self.phase, self.total, self.done, self._chunk_start = None, "", 0, 0, 0
        self._t0: tuple[float, int] | None = None

    def start_phase(self, phase: str, total: int, done: int) -> None:
        self.close()
        self.phase, self.total, self.done, self._chunk_start = phase, total, done, done
        if self.enabled and total > done:
            print(f"{phase}: compiling the MD program ...", flush=True)

    def on_frame(self, frame, n_active) -> None:  # runs on the host, called by jax.debug.callback
        if not self.enabled or int(frame) >= int(n_active):
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                initial=self.done,
                unit="step",
                desc=self.phase,
                dynamic_ncols=True,
                smoothing=0.3,
            )
            self._t0 = (time.perf_counter(), self.done)
        self.done += self.save_every
        self.bar.update(self.save_every)

    def chunk_started(self, step: int) -> None:
        self._chunk_start = step

    def chunk_redone(self) -> None:
        """A discarded chunk's frames do not count."""
        self.done = self._chunk_start
        if self.bar is not None:
            self.bar.n = self.done
            self.bar.refresh()

    def chunk_done(self, step: int) -> None:
        self.done = step
        if self.bar is None or self._t0 is None:
            return
        self.bar.n = step
        t0, n0 = self._t0
        elapsed = time.perf_counter() - t0
        ns_day = (step - n0) * self.timestep_fs * 1e-6 / elapsed * 86400.0 if elapsed > 0 else 0.0
        self.bar.set_postfix_str(f"{step * self.timestep_fs / 1000:.2f} ps, {ns_day:.3g} ns/day")

    def write(self, message: str) -> None:
        if self.enabled:
            from tqdm import tqdm

            tqdm.write(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self._t0 = None, None


@contextlib.contextmanager
def _float32_sums_allowed():
    """jax-md's ``high_precision_sum`` (kinetic energy, thermostat) asks for float64, which JAX truncates to float32
    with a UserWarning when x64 is off: that is the run's chosen precision, not something the user can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Explicitly requested dtype float64 requested in", category=UserWarning
        )
        yield


def run(
    system: System,
    potential,
    config: MDConfig,
    out_dir: str | Path | None = None,
    *,
    restart: bool = False,
    overwrite: bool = False,
) -> MDResult:
    """Run MD for every member (temperature x replica) of ``config`` in one compiled program.

    With ``out_dir``, one H5MD file (plus a PDB topology) per member and a checkpoint after every chunk are
    written there; without it, the trajectories are kept in memory (``result.trajectories``) and nothing is
    written.

    >>> from ase.build import bulk
    >>> from superionic import md
    >>> lj = md.LennardJones()                                  # argon-like, sigma 3.405 Å, cutoff 8.5 Å
    >>> system = md.prepare_system(bulk("Ar", "fcc", a=5.26, cubic=True), lj.cutoff_A, charges_e={"Ar": 0})
    >>> config = md.MDConfig(temperatures_K=(40.0,), production_ps=0.5, equilibration_ps=0.1, progress=False)
    >>> result = md.run(system, lj, config)                     # in memory
    >>> traj = result.trajectories[0]
    >>> traj.positions_A.shape, traj.frame_interval_ps          # 0.5 ps at one frame per 50 fs
    ((11, 256, 3), 0.05)
    >>> bool(20.0 < traj.observables["temperature"][1:].mean() < 60.0)
    True

    Args:
      system: from :func:`superionic.md.prepare_system` (it fixes the neighbour-list skin).
      potential: an :class:`MDPotential` (a ``superionic.potentials`` potential, :class:`superionic.md.LennardJones`)
        or a jax-md ``(neighbor_fn, energy_fn)`` pair built on ``space.periodic_general(system.box,
        fractional_coordinates=True)`` with ``dr_threshold = system.skin_A``.
      config: :class:`MDConfig`; its ``precision`` defaults to the potential's dtype.
      out_dir: output folder (created); None keeps everything in memory.
      restart: continue from ``out_dir``'s checkpoint (appending to the same files; the result equals an
        uninterrupted run). Without a checkpoint the run starts from scratch.
      overwrite: replace existing output files of a fresh run (otherwise existing files are an error).

    Raises:
      MDInstabilityError: a member's temperature became non-finite or exploded (frames before it are kept).
    """
    with _float32_sums_allowed():
        return _run(system, potential, config, out_dir, restart, overwrite)


def _run(system: System, potential, config: MDConfig, out_dir, restart: bool, overwrite: bool) -> MDResult:
    potential, precision = _precision(potential, config)
    progress = _Progress(config.timestep_fs, config.save_every_steps, config.progress)
    r = _Stepper(system, potential, config, precision, on_frame=progress.on_frame)
    parameters = [r.parameters(t, rep) for _, t, rep in config.members]
    output = (
        MemoryOutput(system, config.members, parameters)
        if out_dir is None
        else FileOutput(
            Path(out_dir),
            system,
            config.members,
            parameters,
            config.write_velocities,
            position_dtype=config.trajectory_precision or precision,
        )
    )
    output.start(restart, overwrite)
    wall0 = time.perf_counter()

    checkpoint = output.load_checkpoint()
    if checkpoint is not None:
        meta, arrays = checkpoint
        FileOutput.check_compatible(meta, config.to_dict())
        phase, step_done, frames_written = meta["phase"], meta["step"], meta["frames_written"]
        capacity = nl.Capacity.from_list(meta["capacity"])
        positions = jnp.asarray(arrays["positions"], r.dtype)
        boxes = jnp.asarray(arrays["boxes"], r.dtype)
        template = r.init_carry(phase, positions, jnp.zeros_like(positions), boxes, capacity)
        leaves, treedef = jax.tree_util.tree_flatten(template)
        saved = [arrays[f"leaf_{i}"] for i in range(len(leaves))]
        if any(np.shape(a) != np.shape(b) for a, b in zip(saved, leaves, strict=True)):
            raise ValueError(
                f"checkpoint in {out_dir} does not match this system/config (array shapes differ)"
            )
        carry = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(a, b.dtype) for a, b in zip(saved, leaves, strict=True)]
        )
        opened = phase == "production"
        if opened:
            output.open(resume_frames=frames_written)
    else:
        momenta = _maxwell_boltzmann(jnp.asarray(r.keys), r.masses, r.kT, r.dtype)
        phase = "equilibration" if r.eq_steps > 0 else "production"
        carry = r.init_carry(phase, r.positions0, momenta, r.boxes0)
        step_done, frames_written, opened = 0, 0, False

    steps_run = 0
    try:
        if phase == "equilibration":
            carry, n = _run_phase(r, "equilibration", carry, step_done, r.eq_steps, output, 0, progress)
            steps_run += n
            # Production starts from the equilibrated positions, momenta (and box), with fresh thermostat variables.
            boxes = r.boxes("equilibration", carry)
            # The neighbour capacity carries over (it grows only if the equilibrated positions need more), so
            # the production program has the shapes the equilibration already needed.
            capacity = nl.capacity_of(carry.nbrs)
            carry = r.init_carry("production", carry.state.position, carry.state.momentum, boxes, capacity)
            phase, step_done, frames_written = "production", 0, 0
        if not opened:
            output.open(resume_frames=None)
            opened = True
            first = jax.tree_util.tree_map(lambda x: x[None], r.observe_fn("production")(carry, r.kT))
            output.append(r.to_file_units(first, np.array([0])))
            frames_written = 1
            _checkpoint(r, output, carry, "production", 0, frames_written)
        carry, n = _run_phase(
            r, "production", carry, step_done, r.prod_steps, output, frames_written, progress
        )
        steps_run += n
    finally:
        progress.close()
        output.close()

    wall = time.perf_counter() - wall0
    trajectories = output.trajectories()
    members = tuple(
        summarise_member(traj, rep, path, top)
        for traj, (path, top), (_, _, rep) in zip(trajectories, output.paths(), config.members, strict=True)
    )
    sim_ns = steps_run * config.timestep_fs * 1e-6
    result = MDResult(
        members=members,
        trajectories=tuple(trajectories),
        checkpoint=output.checkpoint_path,
        n_atoms=r.n_atoms,
        wall_s=wall,
        steps_run=steps_run,
        ns_per_day=sim_ns / wall * 86400.0 if wall > 0 else float("nan"),
        atom_steps_per_s=r.M * r.n_atoms * steps_run / wall if wall > 0 else float("nan"),
        neighbor_reallocations=r.reallocations,
        chunk_timings=tuple(r.chunk_timings),
    )
    if config.progress:
        print(result.summary())
    return result


def _checkpoint(r: _Stepper, output, carry: Carry, phase: str, step: int, frames_written: int) -> None:
    meta = {
        "phase": phase,
        "step": int(step),
        "frames_written": int(frames_written),
        "capacity": nl.capacity_of(carry.nbrs).to_list(),
        "config": r.config.to_dict(),
    }
    output.checkpoint(carry, r.boxes(phase, carry), meta)


def _run_phase(
    r: _Stepper,
    phase: str,
    carry: Carry,
    step_done: int,
    n_steps: int,
    output,
    frames_written: int,
    progress: _Progress,
) -> tuple[Carry, int]:
    """Advance ``carry`` from ``step_done`` to ``n_steps``; output (production) and checkpoint after each chunk."""
    c = r.config
    chunk = r.chunk_fn(phase)
    save = c.save_every_steps
    steps_run = 0
    progress.start_phase(phase, n_steps, step_done)
    while step_done < n_steps:
        n_active = min(c.frames_per_chunk, math.ceil((n_steps - step_done) / save))
        t_chunk = time.perf_counter()
        start = carry
        progress.chunk_started(step_done)
        for _attempt in range(20):
            new, frames = chunk(start, r.kT, r.kT_start, r.max_kT, jnp.int32(step_done), jnp.int32(n_active))
            code = int(np.bitwise_or.reduce(np.asarray(new.nbrs.error.code).ravel())) & nl.RECOVERABLE_ERRORS
            if not code:
                break
            progress.chunk_redone()
            boxes = r.boxes(phase, start)
            capacity = nl.grown_capacity(start.nbrs, code, r.n_atoms, boxes=boxes, neighbor_fn=r.neighbor_fn)
            nbrs = nl.allocate_batch(r.neighbor_fn, start.state.position, boxes, min_capacity=capacity)
            progress.write(
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
            _fail(r, phase, frames, steps, bad_steps, finite, output, start)
        if phase == "production":  # equilibration frames are not written
            output.append(r.to_file_units(frames, steps))
            frames_written += n_active
        carry, start = new, None
        step_done += n_active * save
        steps_run += n_active * save
        _checkpoint(r, output, carry, phase, step_done, frames_written)
        if phase == "production":
            r.chunk_timings.append((n_active * save, time.perf_counter() - t_chunk))
        progress.chunk_done(step_done)
    progress.close()
    return carry, steps_run


def _fail(r: _Stepper, phase, frames, steps, bad_steps, finite, output, start: Carry) -> None:
    """Output the good frames (production), then raise naming member, temperature and step, with the failed
    member's configurations from the chunk's start (``start``) up to the failure."""
    first_bad_frame = len(steps)
    for m in range(r.M):
        if bad_steps[m] >= 0:
            first_bad_frame = min(first_bad_frame, int(np.searchsorted(steps, bad_steps[m])))
    if not finite.all():
        first_bad_frame = min(first_bad_frame, int(np.argmin(finite)))
    keep = first_bad_frame
    good = r.to_file_units(jax.tree_util.tree_map(lambda x: x[:keep], frames), steps[:keep]) if keep else []
    if phase == "production" and good:
        output.append(good)
    worst = [m for m in range(r.M) if bad_steps[m] >= 0] or list(range(r.M))
    m = worst[0]
    _, t, rep = r.config.members[m]
    step = int(bad_steps[m]) if bad_steps[m] >= 0 else int(steps[first_bad_frame])
    t_now = units.kT_to_K(float(frames["temperature"][min(first_bad_frame, len(steps) - 1), m]))
    cell = cell_from_box(np.asarray(r.boxes(phase, start), dtype=np.float64)[m])
    before = [Atoms(numbers=r.system.numbers, cell=cell, pbc=True)]
    before[0].set_scaled_positions(np.asarray(start.state.position, dtype=np.float64)[m])
    if good:
        before += [
            Atoms(numbers=r.system.numbers, positions=p, cell=c, pbc=True)
            for p, c in zip(good[m]["positions_A"], good[m]["cell_A"], strict=True)
        ]
    raise MDInstabilityError(
        f"{phase}: member T={t:g} K replica {rep} became unstable at step {step} "
        f"(t = {step * r.config.timestep_fs / 1000:.3f} ps of {phase}; kinetic temperature {t_now:.4g} K, limit "
        f"{units.kT_to_K(float(r.max_kT[m])):.4g} K); "
        + (output.kept(m) if phase == "production" else "no frames were written.").rstrip(),
        frames_before=tuple(before),
    )
