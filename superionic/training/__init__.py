"""Training, fine-tuning and distillation of superionic potentials; labelling with teachers; committees.

Typical use::

    from superionic.training import PotentialTeacher, label_structures, read_labelled, train, initial_potential
    label_structures(structures, PotentialTeacher(load("sevennet-0")), "labels/")   # resumable
    data = read_labelled("labels/")
    initial = initial_potential(data, {"num_layers": 2, "hidden_irreps": "32x0e+16x1e", "sh_lmax": 1}, seed=0)
    result = train(initial, data[:900], data[900:], TrainConfig(epochs=50), "runs/mine")  # resumable
    result.best  # a Potential; runs/mine/best.npz loads with superionic.potentials.load

Units: eV, eV/Å, eV/Å^3 for labels; metrics in meV/atom, meV/Å and GPa.
"""

from superionic.training.batching import (
    BatchShape,
    StructureGraph,
    pack_graphs,
    plan_batches,
    structure_graph,
)
from superionic.training.committee import Committee, load_committee, train_committee
from superionic.training.config import RunConfig, TrainConfig
from superionic.training.dataset import (
    DatasetStatistics,
    composition_split,
    dataset_statistics,
    drop_force_outliers,
    initialise_normalisation,
    reduced_formula,
)
from superionic.training.labelling import (
    CalculatorTeacher,
    PotentialTeacher,
    attach_labels,
    label_structures,
    read_labelled,
)
from superionic.training.sampling import md_snapshots, rattle, strain, substitute
from superionic.training.trainer import TrainResult, evaluate, initial_potential, train

__all__ = [
    "BatchShape",
    "CalculatorTeacher",
    "Committee",
    "DatasetStatistics",
    "PotentialTeacher",
    "RunConfig",
    "StructureGraph",
    "TrainConfig",
    "TrainResult",
    "attach_labels",
    "composition_split",
    "dataset_statistics",
    "drop_force_outliers",
    "evaluate",
    "initial_potential",
    "initialise_normalisation",
    "label_structures",
    "load_committee",
    "md_snapshots",
    "pack_graphs",
    "plan_batches",
    "rattle",
    "read_labelled",
    "reduced_formula",
    "strain",
    "structure_graph",
    "substitute",
    "train",
    "train_committee",
]
