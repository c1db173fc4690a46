"""The specialist builder (taught by the shipped `default`) and the audit (SevenNet-0 as the reference) on a
12-atom Li2O cell: tiny student, short training, seconds of work after compilation."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from pymatgen.core import Structure

from superionic import md
from superionic.estimate import EstimateError, specialist_warnings
from superionic.potentials import load
from superionic.training.audit import audit, compare, frames_from_trajectory
from superionic.training.dataset import drop_force_outliers
from superionic.training.labelling import attach_labels, read_labelled
from superionic.training.sampling import rattle
from superionic.training.specialist import (
    HOP_MIN_DISTANCE_FRACTION,
    SpecialistSettings,
    _smallest_supercell,
    build_specialist,
    hop,
    refit_after_blow_up,
    sample_material,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES, SHARED = REPO / "examples", REPO.parent / "shared"

pytestmark = pytest.mark.teacher

TINY_STUDENT = {
    "num_layers": 1,
    "hidden_irreps": "8x0e+4x1e",
    "sh_lmax": 1,
    "cutoff_A": 3.5,
    "num_radial_basis": 4,
    "cutoff_function": "polynomial",
    "radial_mlp": [8],
}


@pytest.fixture(scope="module")
def teacher():
    try:
        return load("sevennet-0")
    except Exception as err:  # the teacher extra (torch + sevenn) is part of the test set-up
        pytest.fail(f"SevenNet-0 is needed for these tests: {err}")


@pytest.fixture(scope="module")
def li2o():
    return bulk("OLi2", "fluorite", a=4.61, cubic=True)


def test_sampling_covers_rattles_strains_hops_and_contacts(li2o):
    rng = np.random.default_rng(0)
    settings = SpecialistSettings(initial_structures=40)
    samples = sample_material([li2o], 40, settings, rng)
    kinds = {a.info["sample"] for a in samples}
    assert kinds == {"rattle", "strain", "hop", "contact"}
    moved = hop(li2o, "Li", rng)
    displacement = np.linalg.norm(moved.positions - li2o.positions, axis=1)
    li = np.array(li2o.get_chemical_symbols()) == "Li"
    assert np.count_nonzero(displacement > 1e-9) == 1 and displacement[li].max() > 0.4  # one Li, moved far


def test_hops_do_not_land_on_atoms_and_the_force_cap_drops_outliers(li2o):
    # A random 0.5-1.5 Å step in a dense oxide often lands on an anion; hop() draws again until the moved ion
    # keeps >= 80 % of its nearest-neighbour distance (Li-O 2.0 Å here).
    rng = np.random.default_rng(1)
    nearest = []
    for _ in range(200):
        moved = hop(li2o, "Li", rng)
        i = int(np.argmax(np.linalg.norm(moved.positions - li2o.positions, axis=1)))
        nearest.append(moved.get_distances(i, [j for j in range(len(moved)) if j != i], mic=True).min())
    before = li2o.get_distances(0, list(range(1, len(li2o))), mic=True).min()
    assert min(nearest) >= HOP_MIN_DISTANCE_FRACTION * before - 1e-9

    def labelled(max_force):
        atoms = li2o.copy()
        forces = np.zeros((len(atoms), 3))
        forces[0, 2] = max_force
        atoms.calc = SinglePointCalculator(atoms, energy=0.0, forces=forces)
        return atoms

    kept = drop_force_outliers([labelled(5.0), labelled(-400.0), labelled(29.9)], 30.0)
    assert [float(np.abs(a.get_forces()).max()) for a in kept] == [5.0, 29.9]


def test_builder_learns_round_trips_and_its_audit_runs(li2o, tmp_path):
    # The builder does not care which potential teaches: the shipped `default` is a real teacher that compiles
    # in a fraction of SevenNet-0's time (teacher MD, labelling and the audit each compile one program), which
    # keeps this test to tens of seconds; SevenNet-0 as the teacher is what the validation runs measure
    # (scripts/specialist_validation.py) and what the audit test below uses.
    teacher = load("default")
    settings = SpecialistSettings(
        temperatures_K=(900.0,),
        initial_structures=24,
        model=TINY_STUDENT,
        committee_size=2,
        epochs_initial=12,
        epochs_per_round=4,
        epochs_final=3,
        max_rounds=2,
        time_budget_s=0.0,  # spent before the first round, which runs all the same (min_rounds=1)
        md_ps_per_round=0.1,
        teacher_md_ps=0.1,
        teacher_md_frames=4,
        frames_per_round=6,
        md_equilibration_ps=0.0,  # one compiled MD program per run instead of two
        training={"batch_size": 4, "learning_rate": 1e-2, "ema_decay": 0.5},
    )
    result = build_specialist([li2o], teacher, settings, tmp_path / "spec")
    card = result.card
    history = [
        [float(line.split('"val_forces_mae_meV_per_A": ')[1].split(",")[0]) for line in open(p)]
        for p in sorted((tmp_path / "spec").glob("round0_member*/history.jsonl"))
    ]
    # The students learned: the specialist (member 0, all epochs) more than halved its validation error after
    # the first epoch; the bootstrap member trains half the epochs.
    assert history[0][-1] < 0.5 * history[0][0] and all(h[-1] < 0.8 * h[0] for h in history)
    (round_,) = card["rounds"]
    assert card["stop_reason"].startswith("time budget 0 s spent") or card["stop_reason"] == (
        "converged: disagreement and teacher-measured error under their thresholds"
    )
    assert round_["md_frames"] >= 1 and round_["frames_labelled"] == min(6, round_["md_frames"])
    total = card["data"]["training_structures"] + card["data"]["validation_structures"]
    assert card["data"]["sampled_structures"] == 24 and card["data"]["teacher_md_frames"] == 4
    assert total == 24 + 4 - card["data"]["dropped_over_max_force"] + round_["frames_labelled"]
    kept = read_labelled([tmp_path / "spec" / name for name in card["data"]["files"]])
    assert len(kept) == total and all(np.abs(a.get_forces()).max() > 0 for a in kept)  # labels kept on disk
    assert card["teacher"]["sha256"] == teacher.fingerprint()
    assert set(card["wall_time_s"]) >= {"labelling_s", "training_s", "active_learning_md_s", "total_s"}
    again = load(result.path)
    frame = li2o.copy()
    frame.rattle(0.05, seed=1)
    assert again.evaluate(frame)[0]["energy"] == pytest.approx(result.potential.evaluate(frame)[0]["energy"])
    assert again.provenance["specialist_card"]["stop_reason"] == card["stop_reason"]
    # The production MD runs with the final fit (3 more epochs of member 0 on all the data), not the round's.
    final = tmp_path / "spec" / "final_member0"
    assert len(open(final / "history.jsonl").readlines()) == 3
    assert again.evaluate(frame)[0]["energy"] == pytest.approx(
        load(final / "best.npz").evaluate(frame)[0]["energy"]
    )

    # What conductivity estimate tells the user about the build, from its card: a warning when the student's
    # error on its own frames stayed above the target, an error (before production MD) when it is broken.
    def with_error(meV_per_A):
        return card | {"rounds": [round_ | {"student_force_mae_on_new_frames_meV_per_A": meV_per_A}]}

    assert specialist_warnings(with_error(30.0)) == []  # under the 40 meV/Å target
    (warning,) = specialist_warnings(with_error(120.0))
    assert "120 meV/Å" in warning and "target 40" in warning and card["stop_reason"] in warning
    with pytest.raises(EstimateError, match=r"specialist is broken: .* 40000 meV/Å"):
        specialist_warnings(with_error(4e4))

    system = md.prepare_system(li2o, again.cutoff_A, 0.5, supercell=(1, 1, 1), charges_e={"Li": 1, "O": -2})
    config = md.MDConfig(
        temperatures_K=(900.0,), production_ps=0.2, equilibration_ps=0.0, save_every_fs=20.0, progress=False
    )
    run = md.run(system, again, config, tmp_path / "md")
    report = audit(
        again, teacher, run.trajectories, [900.0], frames_per_temperature=4, threshold_meV_per_A=1e4
    )
    row = report.per_temperature[0]
    assert row.frames_audited == 4 and row.passed and report.passed and not report.warnings
    assert (
        0 < row.force_mae_meV_per_A < row.teacher_force_rms_meV_per_A
    )  # errors measured, smaller than forces


@pytest.fixture(scope="module")
def final_fit_build(tmp_path_factory):
    """A build whose final fit is a fresh 2-layer student and whose round ran on a 24-atom production cell."""
    li2o = bulk("OLi2", "fluorite", a=4.61, cubic=True)
    teacher = load("default")
    settings = SpecialistSettings(
        temperatures_K=(900.0,),
        initial_structures=16,
        model=TINY_STUDENT,
        final_model={"num_layers": 2},
        committee_size=2,
        epochs_initial=4,
        epochs_per_round=2,
        epochs_final=8,
        max_rounds=1,
        time_budget_s=0.0,
        md_ps_per_round=0.1,
        rounds_md_cell="production",
        teacher_md_ps=0.1,
        teacher_md_frames=4,
        frames_per_round=10,
        md_equilibration_ps=0.0,
        training={"batch_size": 4, "learning_rate": 1e-2, "ema_decay": 0.5},
    )
    production = li2o.repeat((2, 1, 1))
    work = tmp_path_factory.mktemp("final_fit") / "spec"
    return (
        settings,
        production,
        build_specialist([li2o], teacher, settings, work, exploration_cells=[production]),
    )


def test_the_final_fit_can_be_a_fresh_student_of_another_architecture(final_fit_build):
    """final_model: the rounds run the fast 1-layer student, the final fit trains a fresh 2-layer one from
    scratch on all the data, and that one is the saved specialist; the rounds' committee keeps its own.
    rounds_md_cell="production": the round's MD runs on the production cell, and labels fewer of its frames."""
    settings, production, result = final_fit_build
    work = result.path.parent
    (round_,) = result.card["rounds"]
    assert result.card["data"]["atoms_per_rounds_md_cell"] == [len(production)]
    # twice the atoms per frame: half the frames (10 -> 5), all of them the production cell's
    assert round_["frames_labelled"] == 5
    data = read_labelled([work / name for name in result.card["data"]["files"]])
    assert sum(len(a) == len(production) for a in data) == 5
    assert result.potential.config.num_layers == 2
    assert all(m.config.num_layers == 1 for m in result.committee.members)
    saved = load(result.path)
    assert saved.config.num_layers == 2
    assert result.card["settings"]["final_model"]["num_layers"] == 2
    history = (work / "final_member0" / "history.jsonl").read_text().splitlines()
    val = [float(line.split('"val_forces_mae_meV_per_A": ')[1].split(",")[0]) for line in history]
    # trained from scratch, it learned: its best epoch is well under its first
    assert len(val) == 8 and min(val) < 0.8 * val[0]
    # the card's validation error is the saved specialist's: the final fit's best epoch (by its weighted
    # energy + force + stress score, so not always the epoch of the lowest force error)
    best = load(work / "final_member0" / "best.npz").provenance["validation"]
    assert result.card["validation"]["forces_mae_meV_per_A"] == pytest.approx(
        best["val_forces_mae_meV_per_A"], rel=1e-3
    )
    assert best["val_forces_mae_meV_per_A"] == pytest.approx(val[best["epoch"] - 1], rel=1e-6)
    with pytest.raises(ValueError, match="final_model needs epochs_final"):
        dataclasses.replace(settings, epochs_final=0)
    with pytest.raises(ValueError, match=r"final_model has unknown fields \['layers'\]"):
        dataclasses.replace(settings, final_model={"layers": 3})


def test_a_refit_after_a_blow_up_learns_the_configurations_that_led_there(final_fit_build, tmp_path):
    """What conductivity estimate does when the specialist's MD blows up: the teacher labels the frames before
    it, the specialist trains on them too and replaces its checkpoint; the blown-up one is kept."""
    _, production, built = final_fit_build
    work = tmp_path / "spec"
    shutil.copytree(built.path.parent, work)
    result = dataclasses.replace(built, path=work / "specialist.npz")
    teacher = load("default")
    rng = np.random.default_rng(3)
    squeezed = production.copy()
    squeezed.set_cell(0.93 * production.cell[:], scale_atoms=True)
    # stand-ins for the frames that led into a blow-up: a squeezed, rattled cell no sample came near
    frames = [rattle(squeezed, 0.08, rng) for _ in range(8)]
    data = [work / "training_data.extxyz", work / "validation_data.extxyz"]
    before = len(read_labelled(data))
    refitted = refit_after_blow_up(result, teacher, frames, "equilibration: member T=900 K replica 0 blew up")
    (record,) = refitted.card["refits"]
    assert record["configurations_labelled"] == 16  # 8 frames and a rattled copy of each
    kept = 16 - record["dropped_over_max_force"]
    assert kept >= 8 and len(read_labelled(data)) == before + kept
    assert refitted.card["data"]["training_structures"] + refitted.card["data"]["validation_structures"] == (
        before + kept
    )
    # it learned them
    assert record["force_mae_on_them_after_meV_per_A"] < 0.7 * record["force_mae_on_them_before_meV_per_A"]
    assert (work / "specialist_blew_up_1.npz").is_file() and "refits" not in result.card
    again = load(work / "specialist.npz")
    assert again.provenance["specialist_card"]["refits"][0]["after"].startswith(
        "equilibration: member T=900 K"
    )
    frame = frames[0].copy()
    assert again.evaluate(frame)[0]["energy"] == pytest.approx(
        refitted.potential.evaluate(frame)[0]["energy"]
    )
    assert load(work / "specialist_blew_up_1.npz").evaluate(frame)[0]["energy"] == pytest.approx(
        result.potential.evaluate(frame)[0]["energy"]
    )
    # no more refits than the settings allow, and nothing to learn from no frames
    one = refitted.card | {"settings": refitted.card["settings"] | {"max_refits": 1}}
    assert refit_after_blow_up(dataclasses.replace(refitted, card=one), teacher, frames, "again") is None
    assert refit_after_blow_up(refitted, teacher, [], "again") is None


def test_audit_warns_when_a_bad_student_misses(li2o, teacher, tmp_path):
    bad = load("default")
    params = dict(bad.params)
    params["species_scale_eV"] = params["species_scale_eV"] * 3.0  # forces three times too large
    bad = dataclasses.replace(bad, params=params, name="default-scaled")
    system = md.prepare_system(li2o, bad.cutoff_A, 0.5, supercell=(1, 1, 1), charges_e={"Li": 1, "O": -2})
    config = md.MDConfig(
        temperatures_K=(600.0,), production_ps=0.1, equilibration_ps=0.0, save_every_fs=20.0, progress=False
    )
    run = md.run(system, load("default"), config, tmp_path / "md")
    report = audit(
        bad, teacher, run.trajectories, [600.0], frames_per_temperature=3, threshold_meV_per_A=50.0
    )
    assert not report.passed
    assert report.warnings and "off by" in report.warnings[0] and "600 K" in report.warnings[0]
    # The rounds measure the student against the labels they just made (teacher=None): the same numbers as
    # evaluating the teacher again.
    frames = [a for _, a in frames_from_trajectory(run.trajectories[0], 3)]
    labelled = [attach_labels(a, r) for a, r in zip(frames, teacher.evaluate(frames), strict=True)]
    again, from_labels = compare(bad, teacher, frames), compare(bad, None, labelled)
    assert from_labels["force_mae_meV_per_A"] > 50.0
    for key, value in again.items():
        assert from_labels[key] == pytest.approx(value, rel=1e-5), key


def test_labelling_cells_take_the_primitive_cell_only_when_it_is_smaller():
    def atoms(path):
        cell, reps = _smallest_supercell(
            Structure.from_file(path), "Li", min_width_A=6.0, target_atoms=24, max_atoms=96
        )
        return round(cell.composition.num_atoms * np.prod(reps))

    assert atoms(SHARED / "data/obelix/cifs/019.cif") == 36  # NASICON: one rhombohedral cell, not 108 atoms
    assert atoms(EXAMPLES / "garnet_LLTSO_disordered.cif") == 90  # garnet: the bcc primitive, not 180 atoms
    # Argyrodite: the 52-atom cubic cell is 9.8 Å wide; its 13-atom fcc primitive (5.7 Å) would need 8 copies.
    assert atoms(SHARED / "data/obelix/cifs/122.cif") == 52


def test_a_specialist_without_rounds_is_flagged():
    # OBELiX NASICON on a shared CPU: the 1500 s budget was spent before round 1, and the report said nothing.
    card = {"rounds": [], "stop_reason": "time budget 1500 s spent", "student": "fresh"}
    (warning,) = specialist_warnings(
        card | {"settings": {"max_rounds": 4, "error_threshold_meV_per_A": 40.0}}
    )
    assert "no active-learning round" in warning and "time budget 1500 s spent" in warning
    assert (
        specialist_warnings(card | {"settings": {"max_rounds": 0, "error_threshold_meV_per_A": 40.0}}) == []
    )


def test_audit_evaluates_large_frames_in_batches(li2o, monkeypatch):
    # 12 audit frames of a 432-atom cell in one SevenNet-0 batch asked for 27 GB; the audit now evaluates
    # at most AUDIT_BATCH_ATOMS atoms at a time, with the same results in the same order.
    from superionic.training import audit as audit_module

    potential = load("default")
    frames = []
    for seed in range(5):
        frame = li2o.copy()
        frame.rattle(0.05, seed=seed)
        frames.append(frame)
    sizes = []

    def evaluate(batch):
        sizes.append(sum(len(a) for a in batch))
        return potential.evaluate(batch)

    monkeypatch.setattr(audit_module, "AUDIT_BATCH_ATOMS", 24)
    batched = audit_module._in_batches(evaluate, frames)
    assert sizes == [24, 24, 12]
    for one, whole in zip(batched, potential.evaluate(frames), strict=True):
        np.testing.assert_allclose(one["forces"], whole["forces"], atol=1e-5)


def test_the_budget_doubles_while_the_student_is_unusable():
    """The quick preset's one round left OBELiX Li2SiS3 at 885 meV/Å on its own frames: such a specialist gets
    twice the time for more rounds; one near its target does not."""
    from superionic.training.specialist import round_budget_s

    settings = SpecialistSettings(time_budget_s=420.0)
    key = "student_force_mae_on_new_frames_meV_per_A"
    assert round_budget_s(settings, []) == 420.0
    assert round_budget_s(settings, [{key: 885.0}]) == 840.0
    assert round_budget_s(settings, [{key: 885.0}, {key: 60.0}]) == 420.0  # only the last round counts
    assert (
        round_budget_s(dataclasses.replace(settings, unusable_error_meV_per_A=1e9), [{key: 885.0}]) == 420.0
    )
