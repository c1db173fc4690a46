"""Relaxation of positions and cell before MD (ASE's FIRE on a Fréchet cell filter, any ASE calculator)."""

from __future__ import annotations

import dataclasses

from superionic.structures._errors import StructureError

__all__ = ["Relaxation", "relax"]


@dataclasses.dataclass(frozen=True)
class Relaxation:
    """What a relaxation did (eV, Å, %)."""

    steps: int
    converged: bool
    fmax_eV_per_A: float
    energy_change_eV_per_atom: float
    volume_change_percent: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def relax(atoms, calculator, *, steps: int, fmax_eV_per_A: float = 0.1, progress: bool = False):
    """Relax positions and cell of a copy of ``atoms`` with ``calculator`` for at most ``steps`` FIRE steps.

    Returns ``(relaxed atoms without calculator, Relaxation)``.

    Raises:
      StructureError: the relaxation produced non-finite positions or collapsed the cell (the potential does
        not describe this structure).
    """
    import numpy as np
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    if steps < 0 or not fmax_eV_per_A > 0:
        raise ValueError(f"need steps >= 0 and fmax_eV_per_A > 0, got {steps} and {fmax_eV_per_A}")
    atoms = atoms.copy()
    atoms.calc = calculator
    start_energy, start_volume = atoms.get_potential_energy(), atoms.get_volume()
    optimizer = FIRE(FrechetCellFilter(atoms), logfile=None)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, unit="step", desc="relax", dynamic_ncols=True, leave=False)
        optimizer.attach(lambda: bar.update(1))
    try:
        converged = bool(optimizer.run(fmax=fmax_eV_per_A, steps=steps))
    finally:
        if bar is not None:
            bar.close()
    energy, volume = atoms.get_potential_energy(), atoms.get_volume()
    atoms.calc = None
    if not (np.all(np.isfinite(atoms.positions)) and np.isfinite(energy) and volume > 0.1 * start_volume):
        raise StructureError(
            f"the relaxation diverged (energy {energy:.4g} eV, volume {volume:.4g} vs {start_volume:.4g} Å^3): the "
            "potential does not describe this structure; check the structure or try another potential"
        )
    return atoms, Relaxation(
        steps=int(optimizer.nsteps),
        converged=converged,
        fmax_eV_per_A=float(fmax_eV_per_A),
        energy_change_eV_per_atom=float(energy - start_energy) / len(atoms),
        volume_change_percent=float(100.0 * (volume / start_volume - 1.0)),
    )
