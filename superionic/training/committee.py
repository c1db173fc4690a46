"""Committees of potentials: mean prediction and spread (the uncertainty used for active learning).

Members share an architecture, so one compiled program evaluates them all, member by member (a vmapped
program may order float sums differently per member, and identical members must give exactly zero spread).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, partial

import ase
import jax
import jax.numpy as jnp
import numpy as np

from superionic.potentials.potential import Potential, energy_forces_stress
from superionic.potentials.registry import load


@dataclass(frozen=True)
class Committee:
    """N potentials with the same architecture and species (e.g. trained with different seeds)."""

    members: tuple[Potential, ...]

    def __post_init__(self) -> None:
        if len(self.members) < 1:
            raise ValueError("a committee needs at least one member")
        first = self.members[0]
        for m in self.members[1:]:
            if m.config != first.config:
                raise ValueError(
                    f"committee members must share one architecture: {m.name} differs from {first.name}"
                )

    @property
    def size(self) -> int:
        return len(self.members)

    @cached_property
    def _stacked_params(self):
        return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *[m.params for m in self.members])

    @cached_property
    def _evaluate_jit(self):
        # One compiled function applied member by member (not vmapped): a batched program may order float
        # sums differently per member, and identical members must give exactly zero spread.
        fn = jax.jit(partial(energy_forces_stress, config=self.members[0].config))

        def evaluate_all(stacked_params, batch):
            outs = [
                fn(jax.tree_util.tree_map(lambda x, i=i: x[i], stacked_params), batch=batch)
                for i in range(self.size)
            ]
            return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *outs)

        return evaluate_all

    def evaluate(self, atoms_list: ase.Atoms | Sequence[ase.Atoms]) -> list[dict[str, np.ndarray]]:
        """Per structure: ``energy``/``forces``/``stress`` (member mean) and ``*_std`` (member spread).

        Also ``members_energy`` [M] and ``members_forces`` [M, n, 3]. Spreads use ``ddof=0``: identical
        members give exactly zero. Units as in :meth:`Potential.evaluate`.
        """
        single = isinstance(atoms_list, ase.Atoms)
        atoms_list = [atoms_list] if single else list(atoms_list)
        batch = self.members[0].graph_batch(atoms_list)
        out = self._evaluate_jit(self._stacked_params, batch)
        energy = np.asarray(out["energy"], np.float64)  # [M, G]
        forces = np.asarray(out["forces"], np.float64)  # [M, N, 3]
        stress = np.asarray(out["stress"], np.float64)  # [M, G, 3, 3]
        results, start = [], 0
        for g, atoms in enumerate(atoms_list):
            f = forces[:, start : start + len(atoms)]
            start += len(atoms)
            results.append(
                {
                    "energy": energy[:, g].mean(),
                    "energy_std": energy[:, g].std(),
                    "forces": f.mean(axis=0),
                    "forces_std": f.std(axis=0),
                    "stress": stress[:, g].mean(axis=0),
                    "stress_std": stress[:, g].std(axis=0),
                    "members_energy": energy[:, g],
                    "members_forces": f,
                }
            )
        return results


def load_committee(
    names_or_paths: Sequence[str | os.PathLike | Potential], dtype: str = "float32"
) -> Committee:
    """A :class:`Committee` from registered names, checkpoint paths or potentials."""
    return Committee(tuple(load(p, dtype=dtype) for p in names_or_paths))


def train_committee(
    train_set: Sequence[ase.Atoms],
    val_set: Sequence[ase.Atoms],
    model: dict,
    config,
    workdir: str | os.PathLike,
    size: int,
    progress: bool = True,
) -> Committee:
    """Train ``size`` members that differ only in their seed (``config.seed + k``) in ``workdir/member_k``."""
    import dataclasses
    from pathlib import Path

    from superionic.training.trainer import initial_potential, train

    members = []
    for k in range(size):
        member_config = dataclasses.replace(config, seed=config.seed + k)
        initial = initial_potential(train_set, model, member_config.seed, member_config.dtype, f"member-{k}")
        result = train(
            initial, train_set, val_set, member_config, Path(workdir) / f"member_{k}", progress=progress
        )
        members.append(result.best)
    return Committee(tuple(members))
