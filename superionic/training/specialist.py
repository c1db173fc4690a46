"""Per-material specialists: a small, fast student trained on teacher labels of ONE material.

A universal student small enough for long MD on a CPU cannot match SevenNet-0 on every chemistry; on one
material's potential-energy surface it can (published practice: a few hundred teacher-labelled configurations
of one material, resampled in active-learning rounds, reproduce its Li transport). The builder:

1. **Samples the material** around the given ordered, relaxed cell(s): rattles (0.02-0.15 Å), small strains
   (<= 3 %), mobile ions moved part-way towards neighbouring mobile-ion sites and into voids (hop paths), and
   compressed close contacts (short-range repulsion), plus frames of a short MD of the teacher itself at the
   highest temperature (+10 %), and labels them with the teacher (JAX batches).
2. **Trains a student**: a fresh small NequIP on the material's elements (``student="fresh"``) or the shipped
   universal ``default`` fine-tuned on the material (``"fine-tune"``), as a committee of ``committee_size``
   members that differ in their seed.
3. **Active learning in rounds**: short MD of the student itself at the highest target temperature (+10 %);
   the committee's force disagreement picks frames; the teacher labels them, which also measures the student's
   error on configurations it generated itself; they join the data and the committee is trained further. It
   stops when both the disagreement and the teacher-measured error are under their thresholds, after
   ``max_rounds``, or when the time budget is spent (the card says which).
4. Saves ``specialist.npz`` (loads with ``superionic.potentials.load``) and ``specialist.json`` (the model card:
   data, rounds, metrics, wall time) in the work directory.

The production MD with the specialist and its audit against the teacher (:mod:`superionic.training.audit`)
are the caller's (``conductivity estimate``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ase
import ase.io
import numpy as np
from ase.data import atomic_numbers

from superionic.potentials.config import NequIPConfig
from superionic.potentials.potential import Potential
from superionic.training.audit import compare
from superionic.training.committee import Committee
from superionic.training.config import TrainConfig
from superionic.training.dataset import drop_force_outliers
from superionic.training.labelling import PotentialTeacher, attach_labels
from superionic.training.sampling import rattle, strain

# The fresh student: NequIP with 2 interaction layers, l = 2 hidden features and a 5 Å cutoff (receptive field
# 10 Å), plus a fixed ZBL repulsion in close contacts: without it a fresh student trained at a high learning
# rate collapsed in its own MD (Li6PS5Cl, quick preset: 42,607 meV/Å on its own frames; with it 404).
# The l = 2 features and the cutoff were chosen on fixed Li6PS5Cl data, scored on 24 teacher-labelled frames of
# a student's production MD (120 epochs; 900 / 1100 / 1300 K, meV/Å): the default's shape (64x0e+32x1e,
# 4.5 Å) 60 / 67 / 96; wider (96x0e+48x1e) 62 / 70 / 100; + 16x2e 50 / 57 / 79; + 32x2e 49 / 57 / 77;
# + 16x2e at 5 Å 45 / 52 / 72 (docs/benchmarks/specialist_training.md).
SPECIALIST_MODEL: dict[str, Any] = {
    "num_layers": 2,
    "hidden_irreps": "64x0e+32x1e+16x2e",
    "sh_lmax": 2,
    "cutoff_A": 5.0,
    "num_radial_basis": 8,
    "cutoff_function": "polynomial",
    "radial_mlp": [32],
    "pair_repulsion": "zbl",
}

# Peak learning rate per student unless ``SpecialistSettings.training`` sets one. Measured on Li6PS5Cl
# (docs/benchmarks/specialist_training.md): a fresh student underfits at 5e-3 (86.6 meV/Å on the validation
# set after 120 epochs) and reaches 48.4 at 5e-2; a fine-tuned one breaks in its own MD at 5e-2 (it loses the
# default's short-range repulsion), so it keeps 5e-3.
STUDENT_LEARNING_RATE = {"fresh": 5e-2, "fine-tune": 5e-3}
# Seeds of the final fit's data order, apart from the rounds' (seed + 100 x round + member).
FINAL_FIT_SEED_OFFSET = 99_999
#: A hop may bring the moved ion no closer to any atom than this share of its nearest-neighbour distance before
#: the move (closer contacts are compress_contact's job, at 75-90 %).
HOP_MIN_DISTANCE_FRACTION = 0.8


@dataclass(frozen=True)
class SpecialistSettings:
    """How a specialist is built (every field is recorded in its card).

    Attributes:
      temperatures_K: temperatures the specialist must hold; active-learning MD runs at 1.1 x the highest.
      mobile_species: the element whose hops are sampled.
      seed: fixes sampling, initial weights and MD.
      initial_structures: configurations sampled and labelled before the first training.
      rattle_A: range of Gaussian displacement sizes (per component, Å) of the rattled samples.
      max_strain: largest strain component of the strained samples.
      student: "fresh" (a new model on the material's elements) or "fine-tune" (the shipped default).
      model: architecture of a fresh student (see :data:`SPECIALIST_MODEL`).
      committee_size: members trained with different seeds; their force spread picks new frames.
      epochs_initial / epochs_per_round: training epochs on the first data and after each round.
      epochs_final: after the last round, the specialist (member 0) is trained this many more epochs on all
        the data, with a full learning-rate schedule (0: none). The rounds' short trainings only have to find
        the next frames; the production MD runs with this final fit.
      final_model: fields that differ from ``model`` (e.g. ``{"num_layers": 3}``) of a fresh student that
        the final fit trains from scratch on all the data, at the fresh student's learning rate, instead of
        member 0 going on; None: member 0 goes on. The rounds need a fast student, the production MD an
        accurate one. Whole LGPS `paper` builds, audited on the specialist's own 1000 K MD: a fresh 3-layer
        final student (60 epochs) 37.4 meV/Å, the 2-layer member 0 trained on (160 epochs) 41.9, 3-layer
        students in the rounds too 51.9 (4 rounds in its budget instead of 6). The `paper` preset uses
        ``{"num_layers": 3}`` (docs/benchmarks/specialist_training.md).
      max_rounds: active-learning rounds at most.
      md_ps_per_round: student MD per round (ps).
      rounds_md_cell: where each round's student MD runs: "labelling" (the labelling cell(s)) or "production"
        (the production MD's own cell, which the caller passes as ``exploration_cells``; the labelling cells
        when it passes none). The production cell holds more atoms, so a round meets more of what production
        will meet: a 3-layer LGPS student whose rounds ran on the 47-atom cell blew up 9.5 ps into its
        production on the 188-atom cell, where two PS4 units met that none of its labelled structures held.
        Its rounds label fewer, larger frames (``frames_per_round`` x labelling-cell atoms / production-cell
        atoms, at least 4), so the labelled atoms and the training cost per round stay the same.
      teacher_md_ps / teacher_md_frames: a short MD of the teacher itself at 1.1 x the highest temperature
        before the first training, and how many of its frames join the first data (0 ps: none).
      frames_per_round: frames labelled per round (the most disputed ones).
      md_equilibration_ps: thermalisation before the frames of each teacher/student MD are taken (ps).
      disagreement_threshold_meV_per_A / error_threshold_meV_per_A: stop when the committee's mean force
        spread and the teacher-measured force MAE on the round's frames are both below these.
      time_budget_s: stop starting new rounds after this much wall time (the card says so).
      unusable_error_meV_per_A: while the last round's student error on its own frames is above this, the
        specialist is not usable yet and the time budget counts double (rounds up to ``max_rounds`` still).
        The quick preset's one round left OBELiX Li2SiS3, Li3PS4 and Li5AlS4 at 885, 384 and 560 meV/Å, and
        their audits at 88-302 meV/Å.
      min_rounds: rounds run even when the time budget is spent. The first round is where the student meets
        its own MD; without it the OBELiX NASICON, whose teacher MD and first training took the whole budget on a
        loaded CPU, went to production at 151 meV/Å.
      validation_fraction: share of each batch of labels kept for validation.
      max_sample_force_eV_per_A: sampled configurations whose largest teacher force component exceeds this
        are dropped before training (counted in the card). The teacher's own MD at 1.1 x the highest
        temperature stays under ~10 eV/Å (NASICON 1320 K, sulfides and chlorides lower); a 0.15 Å rattle of
        a stiff P-O bond reaches hundreds, and a few such outliers dominated both the loss and the validation
        error that picks the best epoch (OBELiX NASICON: validation MAE 1.2 eV/Å).
      training: :class:`TrainConfig` fields of every training; without ``learning_rate`` the student's own
        (:data:`STUDENT_LEARNING_RATE`).
      max_refits / refit_epochs: when the production MD with the specialist blows up, it is refitted at most
        this often (:func:`refit_after_blow_up`: the teacher labels the configurations that led into the
        blow-up, and the specialist trains this many more epochs on all the data) and its MD starts again.
    """

    temperatures_K: tuple[float, ...] = (1000.0,)
    mobile_species: str = "Li"
    seed: int = 0
    initial_structures: int = 96
    rattle_A: tuple[float, float] = (0.02, 0.15)
    max_strain: float = 0.03
    student: Literal["fresh", "fine-tune"] = "fresh"
    model: dict[str, Any] = field(default_factory=lambda: dict(SPECIALIST_MODEL))
    committee_size: int = 3
    epochs_initial: int = 60
    epochs_per_round: int = 20
    epochs_final: int = 0
    final_model: dict[str, Any] | None = None
    max_rounds: int = 4
    md_ps_per_round: float = 2.0
    rounds_md_cell: Literal["labelling", "production"] = "labelling"
    teacher_md_ps: float = 0.6
    teacher_md_frames: int = 30
    frames_per_round: int = 24
    md_equilibration_ps: float = 0.2
    disagreement_threshold_meV_per_A: float = 30.0
    error_threshold_meV_per_A: float = 40.0
    time_budget_s: float = 1800.0
    unusable_error_meV_per_A: float = 160.0
    min_rounds: int = 1
    validation_fraction: float = 0.15
    max_sample_force_eV_per_A: float = 30.0
    max_refits: int = 2
    refit_epochs: int = 20
    training: dict[str, Any] = field(
        default_factory=lambda: {
            "batch_size": 4,
            "loss": "huber",
            "huber_delta": 0.01,
            "energy_weight": 1.0,
            "force_weight": 1.0,
            "stress_weight": 0.02,
            "ema_decay": 0.99,
            "warmup_epochs": 1.0,
        }
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures_K", tuple(float(t) for t in self.temperatures_K))
        if not self.temperatures_K or min(self.temperatures_K) <= 0:
            raise ValueError(f"temperatures_K must be positive, got {self.temperatures_K}")
        if self.mobile_species not in atomic_numbers:
            raise ValueError(f"unknown mobile species {self.mobile_species!r}")
        if self.rounds_md_cell not in ("labelling", "production"):
            raise ValueError(
                f"rounds_md_cell must be 'labelling' or 'production', got {self.rounds_md_cell!r}"
            )
        if self.student not in ("fresh", "fine-tune"):
            raise ValueError(f"student must be 'fresh' or 'fine-tune', got {self.student!r}")
        if self.committee_size < 2:
            raise ValueError("committee_size must be >= 2: the committee's spread picks the new frames")
        if self.initial_structures < 8:
            raise ValueError("initial_structures must be >= 8")
        if self.final_model is not None and self.epochs_final < 1:
            raise ValueError("final_model needs epochs_final >= 1: the final fit trains it from scratch")
        unknown = set(self.final_model or {}) - {f.name for f in dataclasses.fields(NequIPConfig)}
        if unknown:
            raise ValueError(
                f"final_model has unknown fields {sorted(unknown)}: it takes NequIPConfig fields"
            )

    @property
    def final_architecture(self) -> dict[str, Any] | None:
        """The final fit's fresh student: ``model`` with ``final_model``'s fields (None: no fresh student)."""
        return None if self.final_model is None else {**self.model, **self.final_model}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------- sampling


def _mobile_indices(atoms: ase.Atoms, mobile: str) -> np.ndarray:
    return np.flatnonzero(np.asarray(atoms.get_chemical_symbols()) == mobile)


def hop(atoms: ase.Atoms, mobile: str, rng: np.random.Generator, attempts: int = 100) -> ase.Atoms:
    """Copy with one mobile ion moved part-way (20-50 %) towards a neighbouring mobile ion's site (along the
    hop path) or, half of the time, 0.5-1.5 Å in a random direction (into a void). A move that brings the ion
    closer to any atom than :data:`HOP_MIN_DISTANCE_FRACTION` of its nearest-neighbour distance is drawn again
    (in a dense oxide a random 1.5 Å step lands on an oxygen: forces of hundreds of eV/Å that no MD visits;
    in Li2O only ~12 % of draws pass, and the saddle of the real hop, the O-O edge centre, sits at 82 %);
    after ``attempts`` draws the one that keeps the ion farthest from its neighbours is taken."""
    ions = _mobile_indices(atoms, mobile)
    if len(ions) == 0:
        return atoms.copy()
    i = int(rng.choice(ions))
    everyone_else = [j for j in range(len(atoms)) if j != i]

    def nearest(a: ase.Atoms) -> float:
        return float(a.get_distances(i, everyone_else, mic=True).min()) if everyone_else else np.inf

    nearest_before = nearest(atoms)
    others = [j for j in ions if j != i]
    best, best_nearest = atoms.copy(), -np.inf
    for _ in range(attempts):
        out = atoms.copy()
        if others and rng.random() < 0.5:
            vectors = out.get_distances(i, others, mic=True, vector=True)
            lengths = np.linalg.norm(vectors, axis=1)
            near = np.flatnonzero(lengths < max(4.5, lengths.min() + 0.5))
            k = int(rng.choice(near))
            out.positions[i] += rng.uniform(0.2, 0.5) * vectors[k]
        else:
            direction = rng.normal(size=3)
            out.positions[i] += rng.uniform(0.5, 1.5) * direction / np.linalg.norm(direction)
        distance = nearest(out)
        if distance >= HOP_MIN_DISTANCE_FRACTION * nearest_before:
            return out
        if distance > best_nearest:
            best, best_nearest = out, distance
    return best


def compress_contact(
    atoms: ase.Atoms, rng: np.random.Generator, scale: tuple[float, float] = (0.75, 0.9)
) -> ase.Atoms:
    """Copy with one atom moved towards its nearest neighbour until their distance is 75-90 % of what it was
    (the short-range repulsion an MD at high temperature will meet)."""
    out = atoms.copy()
    i = int(rng.integers(len(out)))
    others = [j for j in range(len(out)) if j != i]
    vectors = out.get_distances(i, others, mic=True, vector=True)
    k = int(np.argmin(np.linalg.norm(vectors, axis=1)))
    out.positions[i] += (1.0 - rng.uniform(*scale)) * vectors[k]
    return out


def sample_material(
    cells: Sequence[ase.Atoms], count: int, settings: SpecialistSettings, rng: np.random.Generator
) -> list[ase.Atoms]:
    """``count`` configurations around ``cells``: 40 % rattled, 20 % strained and rattled, 25 % hops of the
    mobile ion, 15 % compressed contacts (each of the last two also lightly rattled)."""
    low, high = settings.rattle_A
    out = []
    for k in range(count):
        base = cells[k % len(cells)]
        kind = rng.random()
        if kind < 0.40:
            atoms = rattle(base, float(rng.uniform(low, high)), rng)
        elif kind < 0.60:
            atoms = rattle(strain(base, settings.max_strain / 2.0, rng), float(rng.uniform(low, high)), rng)
        elif kind < 0.85:
            atoms = rattle(hop(base, settings.mobile_species, rng), float(rng.uniform(low, 0.5 * high)), rng)
        else:
            atoms = rattle(compress_contact(base, rng), float(rng.uniform(low, 0.5 * high)), rng)
        atoms.info["sample"] = ("rattle", "strain", "hop", "contact")[
            int(np.searchsorted([0.40, 0.60, 0.85], kind, side="right"))
        ]
        out.append(atoms)
    return out


# ---------------------------------------------------------------------------------------------- cells


def _smallest_supercell(
    structure, mobile_species: str, *, min_width_A: float, target_atoms: int, max_atoms: int
):
    """(cell, repetition) with the fewest atoms over the given cell and its primitive cell: OBELiX's hexagonal
    NASICON cell has 108 atoms and its rhombohedral primitive 36, while an fcc argyrodite's 52-atom cubic cell
    is wide enough alone and its 13-atom primitive needs 8 copies."""
    from superionic import structures

    options = []
    for cell in {id(c): c for c in (structure, structures.primitive_cell(structure))}.values():
        mobile = cell.composition.element_composition[mobile_species] if not cell.is_ordered else None
        for limit in (max_atoms, None):  # None: no cell under max_atoms is wide enough; take the narrowest
            try:
                reps = structures.choose_supercell(
                    cell.lattice.matrix,
                    cell.composition.num_atoms,
                    min_width_A=min_width_A,
                    target_atoms=target_atoms if limit else 0,
                    max_atoms=limit,
                    mobile_per_cell=mobile,
                )
            except structures.SupercellError:
                continue
            options.append((limit is None, cell.composition.num_atoms * math.prod(reps), cell, reps))
            break
    if not options:
        raise structures.SupercellError(f"no labelling cell of {structure.composition.reduced_formula} found")
    _, _, cell, reps = min(options, key=lambda o: o[:2])
    return cell, reps


def labelling_cells(
    structure,
    charges_e: dict[str, float],
    teacher: Potential,
    *,
    mobile_species: str = "Li",
    count: int = 2,
    min_width_A: float = 6.0,
    target_atoms: int = 24,
    max_atoms: int = 96,
    seed: int = 0,
) -> tuple[list[ase.Atoms], list[ase.Atoms]]:
    """Small cells of the material to label and to run active-learning MD on, relaxed by the teacher: the
    smallest supercell (of the given cell or of its primitive cell) at least ``min_width_A`` wide with
    ``target_atoms`` atoms that holds whole mobile ions (``count`` different orderings of a disordered
    structure; the crystal itself when ordered); larger than ``max_atoms`` only when no smaller cell is wide
    enough.

    Returns (cells, the teacher-labelled frames of their relaxations, free training data near the minimum).
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from superionic import structures
    from superionic.training.batched_relax import relax_structures

    structure, reps = _smallest_supercell(
        structure, mobile_species, min_width_A=min_width_A, target_atoms=target_atoms, max_atoms=max_atoms
    )
    if structure.is_ordered:
        cells = [AseAtomsAdaptor.get_atoms(structure * reps)]
    else:
        orderings = structures.order_structure(structure, reps, charges_e, n_orderings=count, seed=seed)
        cells = [o.atoms for o in orderings]
    results = relax_structures(teacher, cells, fmax_eV_per_A=0.05, max_steps=150, record_frames=True)
    relaxed = [r.atoms.copy() for r in results]
    for atoms in relaxed:
        atoms.calc = None
    return relaxed, [frame for r in results for frame in r.frames]


# ---------------------------------------------------------------------------------------------- the build


@dataclass
class SpecialistResult:
    potential: Potential  # the final fit: what production MD runs with
    # member 0 after the final fit (before it, when the final fit was a fresh student of another architecture);
    # the others as they chose the last round's frames
    committee: Committee
    card: dict[str, Any]
    path: Path  # specialist.npz


def round_budget_s(settings: SpecialistSettings, rounds: Sequence[dict[str, Any]]) -> float:
    """Wall time (s) after which no new round starts: the budget, doubled while the last round's student
    error on its own frames says the specialist is not usable yet."""
    unusable = bool(rounds) and (
        rounds[-1]["student_force_mae_on_new_frames_meV_per_A"] > settings.unusable_error_meV_per_A
    )
    return settings.time_budget_s * (2.0 if unusable else 1.0)


def _split(structures: list[ase.Atoms], fraction: float, rng: np.random.Generator):
    order = rng.permutation(len(structures))
    n_val = max(1, round(fraction * len(structures)))
    return [structures[i] for i in order[n_val:]], [structures[i] for i in order[:n_val]]


def _train_config(
    settings: SpecialistSettings, seed: int, epochs: int, student: str | None = None
) -> TrainConfig:
    """Training settings of one fit; ``student`` ("fresh" or "fine-tune") picks the default learning rate
    (the build's own student unless given)."""
    values = {"learning_rate": STUDENT_LEARNING_RATE[student or settings.student]} | dict(settings.training)
    return TrainConfig(**values | {"seed": seed, "epochs": epochs})


def _member_data(train_set: list[ase.Atoms], k: int, rng: np.random.Generator) -> list[ase.Atoms]:
    """Member 0 (the specialist) learns from all data; the others from bootstrap resamples of it, so that
    members started from the same weights (fine-tuning) still differ where the data is thin."""
    if k == 0:
        return train_set
    return [train_set[i] for i in rng.integers(0, len(train_set), len(train_set))]


def _member_epochs(epochs: int, k: int) -> int:
    """The committee's other members only have to disagree where the data is thin: half the epochs."""
    return epochs if k == 0 else max(1, epochs // 2)


def _initial_member(settings: SpecialistSettings, train_set: Sequence[ase.Atoms], k: int) -> Potential:
    from superionic.potentials.registry import load
    from superionic.training.trainer import refit_species_shifts

    if settings.student == "fine-tune":
        base = load("default")
        base.species_indices([z for a in train_set for z in set(a.numbers)])  # refuses uncovered elements
        return refit_species_shifts(base, list(train_set))
    return _fresh_student(settings.model, train_set, settings.seed + k, f"specialist-{k}")


def _fresh_student(
    architecture: dict[str, Any], train_set: Sequence[ase.Atoms], seed: int, name: str
) -> Potential:
    from superionic.training.trainer import initial_potential

    model = dict(architecture)
    model["species"] = sorted(
        {s for a in train_set for s in a.get_chemical_symbols()}, key=lambda s: atomic_numbers[s]
    )
    return initial_potential(list(train_set), model, seed=seed, name=name)


def _md_frames(
    potential: Potential,
    cells: Sequence[ase.Atoms],
    temperature_K: float,
    ps: float,
    count: int,
    seed: int,
    equilibration_ps: float,
) -> tuple[list[ase.Atoms], list[str]]:
    """``count`` frames spread over NVT MD of ``potential`` at ``temperature_K`` on each cell (``ps`` after
    ``equilibration_ps``), and the blow-ups (a cell whose MD failed gives no frames)."""
    from superionic import md
    from superionic.training.audit import frames_from_trajectory

    frames: list[ase.Atoms] = []
    blow_ups: list[str] = []
    per_cell = math.ceil(count / len(cells))
    for c, cell in enumerate(cells):
        system = md.prepare_system(
            cell,
            potential.cutoff_A,
            1.0,
            supercell=(1, 1, 1),
            charges_e={s: 0.0 for s in set(cell.get_chemical_symbols())},  # no conductivity from these runs
            name=f"cell{c}",
        )
        config = md.MDConfig(
            temperatures_K=(temperature_K,),
            production_ps=ps,
            equilibration_ps=equilibration_ps,
            save_every_fs=max(10.0, 1000.0 * ps / per_cell),
            seed=seed + c,
            progress=False,
        )
        try:
            result = md.run(system, potential, config)  # in memory
        except md.MDInstabilityError as err:
            blow_ups.append(str(err))
            continue
        for trajectory in result.trajectories:
            frames += [a for _, a in frames_from_trajectory(trajectory, per_cell)]
    return frames, blow_ups


def _exploration(
    cells: Sequence[ase.Atoms], exploration_cells: Sequence[ase.Atoms], settings: SpecialistSettings
) -> tuple[list[ase.Atoms], int]:
    """The cells of the rounds' MD and the frames each round labels (fewer when the frames are larger, so
    that the labelled atoms per round stay the same)."""
    if settings.rounds_md_cell == "labelling" or not exploration_cells:
        return list(cells), settings.frames_per_round
    explore = [c.copy() for c in exploration_cells]
    ratio = np.mean([len(c) for c in cells]) / np.mean([len(c) for c in explore])
    return explore, max(4, round(settings.frames_per_round * ratio))


def _teacher_labelled(teacher: Potential, structures: Sequence[ase.Atoms]) -> list[ase.Atoms]:
    """Copies of ``structures`` carrying the teacher's energy, forces and stress (labelled in JAX batches)."""
    labels = PotentialTeacher(teacher).label(list(structures))
    return [attach_labels(a, lab) for a, lab in zip(structures, labels, strict=True)]


def _disagreement(committee: Committee, frames: Sequence[ase.Atoms]) -> np.ndarray:
    """Mean force spread (meV/Å) of the committee on each frame."""
    return np.array([1e3 * float(np.mean(r["forces_std"])) for r in committee.evaluate(list(frames))])


def build_specialist(
    cells: Sequence[ase.Atoms],
    teacher: Potential,
    settings: SpecialistSettings,
    workdir: str | Path,
    progress: Callable[[str], None] | None = None,
    labelled: Sequence[ase.Atoms] = (),
    exploration_cells: Sequence[ase.Atoms] = (),
) -> SpecialistResult:
    """Build a specialist for the material of ``cells`` (ordered, relaxed cells, as small as its physics
    allows: labelling and active-learning MD run on them; ``labelled``: teacher-labelled configurations
    already at hand, e.g. the frames of the cells' relaxation; ``exploration_cells``: the production MD's
    cell(s), where the rounds' MD runs when ``settings.rounds_md_cell == "production"``). See the module
    docstring."""
    from superionic.potentials.checkpoint import save
    from superionic.training.trainer import train

    say = progress or (lambda message: None)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    timings = {"sampling_s": 0.0, "labelling_s": 0.0, "training_s": 0.0, "active_learning_md_s": 0.0}
    rng = np.random.default_rng(settings.seed)
    cells = [c.copy() for c in cells]
    explore_cells, frames_per_round = _exploration(cells, exploration_cells, settings)

    t0 = time.perf_counter()
    samples = sample_material(cells, settings.initial_structures, settings, rng)
    timings["sampling_s"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    hot = 1.1 * max(settings.temperatures_K)
    teacher_frames: list[ase.Atoms] = []
    teacher_blow_ups: list[str] = []
    if settings.teacher_md_ps > 0:
        # A short MD of the teacher itself: frames from the very distribution the production MD will visit
        # (thermal, correlated displacements that random rattles do not make).
        say(f"{teacher.name} MD at {hot:.0f} K, {settings.teacher_md_ps:g} ps on the labelling cell(s)")
        teacher_frames, teacher_blow_ups = _md_frames(
            teacher,
            cells,
            hot,
            settings.teacher_md_ps,
            settings.teacher_md_frames,
            settings.seed,
            settings.md_equilibration_ps,
        )
        for message in teacher_blow_ups:  # the reference itself is unstable here: say so, go on without
            say(f"warning: {teacher.name}'s own MD blew up ({message}); no teacher-MD frames from that cell")
        samples += teacher_frames
    timings["teacher_md_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say(f"labelling {len(samples)} configurations with {teacher.name}")
    sampled = _teacher_labelled(teacher, samples)
    timings["labelling_s"] += time.perf_counter() - t0
    kept = drop_force_outliers(sampled, settings.max_sample_force_eV_per_A)
    if len(kept) < len(sampled):
        say(
            f"dropped {len(sampled) - len(kept)} of {len(sampled)} sampled configurations with forces over "
            f"{settings.max_sample_force_eV_per_A:g} eV/Å"
        )
    train_set, val_set = _split(kept + list(labelled), settings.validation_fraction, rng)

    t0 = time.perf_counter()
    say(f"training {settings.committee_size} {settings.student} students on {len(train_set)} configurations")
    members = [
        train(
            _initial_member(settings, train_set, k),
            _member_data(train_set, k, rng),
            val_set,
            _train_config(settings, settings.seed + k, _member_epochs(settings.epochs_initial, k)),
            workdir / f"round0_member{k}",
            progress=False,
        ).best
        for k in range(settings.committee_size)
    ]
    timings["training_s"] += time.perf_counter() - t0

    rounds: list[dict[str, Any]] = []
    stop_reason = f"max_rounds={settings.max_rounds} reached"
    for round_ in range(1, settings.max_rounds + 1):
        budget_s = round_budget_s(settings, rounds)
        if round_ > settings.min_rounds and time.perf_counter() - t_start > budget_s:
            stop_reason = f"time budget {budget_s:.0f} s spent" + (
                " (doubled: the student was still unusable)" if budget_s > settings.time_budget_s else ""
            )
            break
        committee = Committee(tuple(members))
        t0 = time.perf_counter()
        frames, blow_ups = _md_frames(
            members[0],
            explore_cells,
            hot,
            settings.md_ps_per_round,
            4 * frames_per_round,
            settings.seed + 1000 * round_,
            settings.md_equilibration_ps,
        )
        if not frames:
            stop_reason = f"round {round_}: the student's own MD blew up on every cell ({blow_ups[0]})"
            break
        timings["active_learning_md_s"] += time.perf_counter() - t0
        spread = _disagreement(committee, frames)
        picked = np.argsort(-spread)[:frames_per_round]
        chosen = [frames[i] for i in picked]
        t0 = time.perf_counter()
        new = _teacher_labelled(teacher, chosen)
        timings["labelling_s"] += time.perf_counter() - t0
        errors = compare(members[0], None, new)  # against the labels just made: no second teacher pass
        record = {
            "round": round_,
            "md_frames": len(frames),
            "md_blow_ups": blow_ups,
            "frames_labelled": len(new),
            "mean_disagreement_meV_per_A": float(np.mean(spread)),
            "max_disagreement_meV_per_A": float(np.max(spread)),
            "student_force_mae_on_new_frames_meV_per_A": errors["force_mae_meV_per_A"],
            "student_energy_mae_on_new_frames_meV_per_atom": errors["energy_mae_offset_removed_meV_per_atom"],
            "wall_s": round(time.perf_counter() - t_start, 1),
        }
        say(
            f"round {round_}: committee spread {record['mean_disagreement_meV_per_A']:.0f} meV/Å, student error "
            f"on its own frames {record['student_force_mae_on_new_frames_meV_per_A']:.0f} meV/Å"
        )
        rounds.append(record)
        new_train, new_val = _split(new, settings.validation_fraction, rng)
        train_set, val_set = train_set + new_train, val_set + new_val  # for the final fit also when converged
        if (
            record["mean_disagreement_meV_per_A"] < settings.disagreement_threshold_meV_per_A
            and record["student_force_mae_on_new_frames_meV_per_A"] < settings.error_threshold_meV_per_A
        ):
            stop_reason = "converged: disagreement and teacher-measured error under their thresholds"
            break
        t0 = time.perf_counter()
        # After the last round only member 0 goes on (into the final fit); the others would only pick the
        # frames of a round that will not run (two of the three members' training in that round).
        last_round = round_ == settings.max_rounds or (
            round_ + 1 > settings.min_rounds
            and time.perf_counter() - t_start > round_budget_s(settings, rounds)
        )
        members = [
            train(
                m,
                _member_data(train_set, k, rng),
                val_set,
                _train_config(
                    settings, settings.seed + 100 * round_ + k, _member_epochs(settings.epochs_per_round, k)
                ),
                workdir / f"round{round_}_member{k}",
                progress=False,
            ).best
            if k == 0 or not last_round
            else m
            for k, m in enumerate(members)
        ]
        timings["training_s"] += time.perf_counter() - t0

    from superionic.training.trainer import evaluate

    specialist_member = members[0]
    if settings.epochs_final > 0:
        t0 = time.perf_counter()
        seed = settings.seed + FINAL_FIT_SEED_OFFSET
        fresh = settings.final_model is not None
        say(
            f"final fit of the specialist: {settings.epochs_final} epochs on {len(train_set)} configurations"
            + (f", a fresh {settings.final_architecture['num_layers']}-layer student" if fresh else "")
        )
        start = (
            _fresh_student(settings.final_architecture, train_set, seed, "specialist-final")
            if fresh
            else members[0]
        )
        final = train(
            start,
            train_set,
            val_set,
            _train_config(settings, seed, settings.epochs_final, "fresh" if fresh else None),
            workdir / "final_member0",
            progress=False,
        ).best
        # A final student of another architecture cannot join the rounds' committee (one architecture per
        # committee): the committee then stays as the last round left it.
        if final.config == members[0].config:
            members[0] = final
        specialist_member = final
        timings["training_s"] += time.perf_counter() - t0
    validation = evaluate(specialist_member, val_set)
    # The teacher's labels are the costly part: keep them, so a specialist can be retrained or extended
    # (training.read_labelled reads these files) without labelling again.
    ase.io.write(workdir / "training_data.extxyz", train_set, format="extxyz")
    ase.io.write(workdir / "validation_data.extxyz", val_set, format="extxyz")
    card = {
        "kind": "superionic specialist",
        "material": sorted({a.get_chemical_formula(mode="metal") for a in cells}),
        "teacher": {"name": teacher.name, "sha256": teacher.fingerprint()},
        "student": settings.student,
        "settings": settings.to_dict(),
        "data": {
            "training_structures": len(train_set),
            "validation_structures": len(val_set),
            "sampled_structures": len(samples) - len(teacher_frames),
            "teacher_md_frames": len(teacher_frames),
            "dropped_over_max_force": len(sampled) - len(kept),
            "teacher_md_blow_ups": teacher_blow_ups,
            "atoms_per_labelling_cell": [len(c) for c in cells],
            "atoms_per_rounds_md_cell": [len(c) for c in explore_cells],
            "files": ["training_data.extxyz", "validation_data.extxyz"],
        },
        "rounds": rounds,
        "stop_reason": stop_reason,
        "validation": validation,
        "wall_time_s": {k: round(v, 1) for k, v in timings.items()}
        | {"total_s": round(time.perf_counter() - t_start, 1)},
    }
    specialist = Potential(
        specialist_member.config, specialist_member.params, "specialist", {"specialist_card": card}
    )
    path = save(specialist, workdir / "specialist.npz")
    (workdir / "specialist.json").write_text(json.dumps(card, indent=2, default=float) + "\n")
    return SpecialistResult(specialist, Committee(tuple(members)), card, path)


# ---------------------------------------------------------------------------------------------- refits

#: Configurations before a blow-up that :func:`refit_after_blow_up` has the teacher label (each also once
#: lightly rattled, so the refit sees the neighbourhood of the path and not only the path).
BLOW_UP_FRAMES = 12
BLOW_UP_RATTLE_A = 0.03


def refit_after_blow_up(
    result: SpecialistResult,
    teacher: Potential,
    frames_before: Sequence[ase.Atoms],
    failure: str,
    progress: Callable[[str], None] | None = None,
) -> SpecialistResult | None:
    """The specialist refitted after its MD blew up (on-the-fly learning, as VASP's and FLARE's do): the
    teacher labels the last :data:`BLOW_UP_FRAMES` configurations that led into the blow-up (``frames_before``,
    oldest first, e.g. :attr:`superionic.md.MDInstabilityError.frames_before`) and a lightly rattled copy of
    each; those under ``max_sample_force_eV_per_A`` join the data, and the specialist trains
    ``refit_epochs`` more epochs on all of it at the fine-tuning learning rate (it goes on from trained
    weights). The caller then runs its MD again from the start, so that every frame comes from one potential.

    The blown-up checkpoint is kept as ``specialist_blew_up_<k>.npz``; the card's ``refits`` records the
    failure, the frames and the specialist's error on them before and after. Returns None (nothing to learn
    from) when no configuration is left under the force limit or the settings allow no more refits.
    """
    from superionic.potentials.checkpoint import save
    from superionic.training.labelling import read_labelled
    from superionic.training.trainer import evaluate, train

    say = progress or (lambda message: None)
    card = json.loads(json.dumps(result.card, default=float))  # a copy: the old card stays the old one's
    settings = SpecialistSettings(**card["settings"])
    refits = card.setdefault("refits", [])
    if len(refits) >= settings.max_refits or not frames_before:
        return None
    t0 = time.perf_counter()
    k = len(refits) + 1
    rng = np.random.default_rng([settings.seed, k])
    chosen = [a.copy() for a in frames_before[-BLOW_UP_FRAMES:]]
    chosen += [rattle(a, BLOW_UP_RATTLE_A, rng) for a in chosen]
    say(f"refit {k}: {teacher.name} labels the {len(chosen)} configurations that led into the blow-up")
    labelled = _teacher_labelled(teacher, chosen)
    kept = drop_force_outliers(labelled, settings.max_sample_force_eV_per_A)
    if not kept:
        return None
    error_before = evaluate(result.potential, kept)["forces_mae_meV_per_A"]
    workdir = result.path.parent
    train_set = read_labelled(workdir / "training_data.extxyz")
    val_set = read_labelled(workdir / "validation_data.extxyz")
    new_train, new_val = _split(kept, settings.validation_fraction, rng)
    train_set, val_set = train_set + new_train, val_set + new_val
    say(f"refit {k}: {settings.refit_epochs} epochs on {len(train_set)} configurations")
    start = Potential(result.potential.config, result.potential.params, "specialist", {})
    refitted = train(
        start,
        train_set,
        val_set,
        _train_config(
            settings, settings.seed + FINAL_FIT_SEED_OFFSET + k, settings.refit_epochs, "fine-tune"
        ),
        workdir / f"refit{k}",
        progress=False,
    ).best
    error_after = evaluate(refitted, kept)["forces_mae_meV_per_A"]
    ase.io.write(workdir / "training_data.extxyz", train_set, format="extxyz")
    ase.io.write(workdir / "validation_data.extxyz", val_set, format="extxyz")
    result.path.replace(workdir / f"specialist_blew_up_{k}.npz")
    refits.append(
        {
            "refit": k,
            "after": failure,
            "configurations_labelled": len(labelled),
            "dropped_over_max_force": len(labelled) - len(kept),
            "force_mae_on_them_before_meV_per_A": error_before,
            "force_mae_on_them_after_meV_per_A": error_after,
            "epochs": settings.refit_epochs,
            "blown_up_checkpoint": f"specialist_blew_up_{k}.npz",
            "wall_s": round(time.perf_counter() - t0, 1),
        }
    )
    card["validation"] = evaluate(refitted, val_set)
    card["data"]["training_structures"], card["data"]["validation_structures"] = len(train_set), len(val_set)
    say(
        f"refit {k}: force error on those configurations {error_before:.0f} -> {error_after:.0f} meV/Å, "
        f"validation {card['validation']['forces_mae_meV_per_A']:.1f} meV/Å"
    )
    specialist = Potential(refitted.config, refitted.params, "specialist", {"specialist_card": card})
    path = save(specialist, workdir / "specialist.npz")
    (workdir / "specialist.json").write_text(json.dumps(card, indent=2, default=float) + "\n")
    return SpecialistResult(specialist, result.committee, card, path)


# ---------------------------------------------------------------------------------------------- the workflow


def specialist_for(
    structure,
    charges_e: dict[str, float],
    reference: Potential,
    *,
    temperatures_K: Sequence[float],
    mobile_species: str,
    student: str,
    preset: dict[str, Any],
    seed: int,
    workdir: str | Path,
    production_cell: ase.Atoms | None = None,
    log: Callable[[str], None] = print,
) -> SpecialistResult:
    """``conductivity estimate``'s specialist step: small cells of ``structure`` relaxed by ``reference``
    (their relaxation frames join the data), then :func:`build_specialist` with the preset's settings
    (``production_cell``: the production MD's cell, where the rounds' MD runs when the preset says so)."""
    t0 = time.perf_counter()
    cells, relaxation_frames = labelling_cells(
        structure, charges_e, reference, mobile_species=mobile_species, seed=seed
    )
    log(
        f"specialist: {len(cells)} cell(s) of {len(cells[0])} atoms relaxed by {reference.name} "
        f"({time.perf_counter() - t0:.0f} s); building a {student} student"
    )
    settings = SpecialistSettings(
        temperatures_K=tuple(temperatures_K),
        mobile_species=mobile_species,
        seed=seed,
        student=student,  # type: ignore[arg-type]
        **preset,
    )
    result = build_specialist(
        cells,
        reference,
        settings,
        workdir,
        progress=lambda m: log(f"specialist: {m}"),
        labelled=relaxation_frames,
        exploration_cells=[] if production_cell is None else [production_cell],
    )
    result.card["wall_time_s"]["cells_s"] = round(
        time.perf_counter() - t0 - result.card["wall_time_s"]["total_s"], 1
    )
    return result
