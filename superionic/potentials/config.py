"""Configuration of a NequIP-style potential: everything that fixes the architecture, nothing learned.

The defaults are GNoME's NequIP (and SevenNet-0's): 5 interaction layers, hidden irreps
``128x0e+64x1e+32x2e`` without parity, spherical harmonics up to l=2, 5 Å cutoff, 8 Bessel functions times an
XPLOR cutoff from 4.5 Å, a 2x64 SiLU radial MLP, SiLU/tanh gates, a linear self-connection, per-species shift
and scale, and a fixed convolution denominator.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import e3nn_jax as e3nn
import numpy as np

ACTIVATIONS = ("silu", "tanh", "relu", "softplus", "sigmoid")


def activation_second_moment_scale(name: str) -> float:
    """1/sqrt(E[f(z)^2]) for z ~ N(0, 1), by Gauss–Hermite quadrature.

    e3nn normalises every activation by this factor so that unit-variance inputs give unit-variance outputs.
    e3nn (PyTorch) estimates it by Monte Carlo with a fixed seed, which differs in the third digit; importers
    of e3nn-torch models store the exact constants they used in ``NequIPConfig.activation_scales`` instead.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    f = _numpy_activation(name)
    second_moment = float(np.sum(weights * f(nodes) ** 2) / math.sqrt(2.0 * math.pi))
    return second_moment**-0.5


def _numpy_activation(name: str):
    table = {
        "silu": lambda x: x / (1.0 + np.exp(-x)),
        "tanh": np.tanh,
        "relu": lambda x: np.maximum(x, 0.0),
        "softplus": lambda x: np.log1p(np.exp(x)),
        "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")
    return table[name]


@dataclass(frozen=True)
class NequIPConfig:
    """Architecture of a NequIP-style potential (units: Å for lengths).

    Attributes:
        species: element symbols the model knows, in the order of its type index.
        num_layers: number of interaction (convolution) layers.
        hidden_irreps: node features between layers, e.g. ``"128x0e+64x1e+32x2e"``. With ``parity=False``
            every irrep is labelled even (GNoME, SevenNet); with ``parity=True`` use ``(-1)^l`` parities
            such as ``"64x0e+32x1o+16x2e"``.
        sh_lmax: largest l of the edge spherical harmonics.
        sh_normalize: harmonics of the unit edge direction (True) or of the raw edge vector, i.e. scaled by
            r^l (False; SevenNet-0 of 22 May 2024 was trained that way).
        parity: whether features carry true parity (then the model is O(3)- rather than SO(3)-invariant).
        cutoff_A: radial cutoff in Å.
        num_radial_basis: number of Bessel functions.
        cutoff_function: ``"xplor"`` (smooth switch from ``cutoff_inner_A`` to ``cutoff_A``) or
            ``"polynomial"`` (the NequIP envelope of order ``polynomial_p``).
        radial_mlp: hidden widths of the MLP mapping the radial basis to tensor-product weights.
        radial_activation: activation of that MLP.
        scalar_activation: activations of even/odd scalars in the gate, keys ``"e"`` and ``"o"``.
        gate_activation: activations of the gate scalars, keys ``"e"`` and ``"o"``.
        conv_denominator: summed messages are divided by this constant (an average neighbour count or its
            square root, fixed at training time).
        readout_hidden: width of the scalar layer between the last features and the atomic energy;
            ``None`` means half the size of the last layer's features (SevenNet's choice).
        activation_scales: multiplier of each activation (see :func:`activation_second_moment_scale`).
        pair_repulsion: ``None`` or ``"zbl"``: a fixed Ziegler–Biersack–Littmark screened-nuclear repulsion
            between each pair, switched off smoothly at the sum of their covalent radii (MACE's choice), so it
            acts only in close contacts and the network learns the rest.
    """

    species: tuple[str, ...]
    num_layers: int = 5
    hidden_irreps: str = "128x0e+64x1e+32x2e"
    sh_lmax: int = 2
    sh_normalize: bool = True
    parity: bool = False
    cutoff_A: float = 5.0
    num_radial_basis: int = 8
    cutoff_function: Literal["xplor", "polynomial"] = "xplor"
    cutoff_inner_A: float = 4.5
    polynomial_p: int = 6
    radial_mlp: tuple[int, ...] = (64, 64)
    radial_activation: str = "silu"
    scalar_activation: Mapping[str, str] = field(default_factory=lambda: {"e": "silu", "o": "tanh"})
    gate_activation: Mapping[str, str] = field(default_factory=lambda: {"e": "silu", "o": "tanh"})
    conv_denominator: float = 1.0
    readout_hidden: int | None = None
    activation_scales: Mapping[str, float] = field(default_factory=dict)
    pair_repulsion: Literal["zbl"] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "species", tuple(self.species))
        object.__setattr__(self, "radial_mlp", tuple(int(w) for w in self.radial_mlp))
        scales = {name: activation_second_moment_scale(name) for name in self._activations_used()}
        scales.update({k: float(v) for k, v in dict(self.activation_scales).items()})
        object.__setattr__(self, "activation_scales", scales)
        object.__setattr__(self, "scalar_activation", dict(self.scalar_activation))
        object.__setattr__(self, "gate_activation", dict(self.gate_activation))
        self._validate()

    def _activations_used(self) -> set[str]:
        return {
            self.radial_activation,
            *dict(self.scalar_activation).values(),
            *dict(self.gate_activation).values(),
        }

    def _validate(self) -> None:
        if len(set(self.species)) != len(self.species) or not self.species:
            raise ValueError(f"species must be a non-empty list of distinct elements, got {self.species}")
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")
        if self.cutoff_function not in ("xplor", "polynomial"):
            raise ValueError(f"cutoff_function must be 'xplor' or 'polynomial', got {self.cutoff_function!r}")
        if self.cutoff_function == "xplor" and not 0.0 < self.cutoff_inner_A < self.cutoff_A:
            raise ValueError(
                f"cutoff_inner_A ({self.cutoff_inner_A}) must lie between 0 and cutoff_A ({self.cutoff_A})"
            )
        for name in self._activations_used():
            _numpy_activation(name)
        if self.pair_repulsion not in (None, "zbl"):
            raise ValueError(f"pair_repulsion must be None or 'zbl', got {self.pair_repulsion!r}")
        hidden = e3nn.Irreps(self.hidden_irreps)
        if not any(ir.l == 0 and ir.p == 1 for _, ir in hidden):
            raise ValueError(f"hidden_irreps needs even scalars (0e), got {self.hidden_irreps}")
        for _, ir in hidden:
            if ir.l > self.sh_lmax * (self.num_layers + 1):
                raise ValueError(f"irrep {ir} in hidden_irreps cannot be reached with sh_lmax={self.sh_lmax}")
            if self.parity is False and ir.p != 1:
                raise ValueError(f"parity=False needs even irreps only, got {ir} in {self.hidden_irreps}")
            if self.parity is True and ir.p != (-1) ** ir.l:
                raise ValueError(f"parity=True expects irreps with parity (-1)^l, got {ir}")

    # ---------------------------------------------------------------- derived architecture

    @cached_property
    def sh_irreps(self) -> e3nn.Irreps:
        """Irreps of the edge spherical harmonics, ``0e+1e+2e`` (no parity) or ``0e+1o+2e``."""
        if self.parity:
            return e3nn.Irreps.spherical_harmonics(self.sh_lmax)
        return e3nn.Irreps([(1, (lval, 1)) for lval in range(self.sh_lmax + 1)])

    @cached_property
    def layer_irreps(self) -> tuple[e3nn.Irreps, ...]:
        """Node irreps before layer 0, after each layer: the last layer keeps only even scalars."""
        hidden = e3nn.Irreps(self.hidden_irreps).simplify()
        scalars = e3nn.Irreps([(mul, ir) for mul, ir in hidden if ir == e3nn.Irrep("0e")])
        return (scalars,) + (hidden,) * (self.num_layers - 1) + (scalars,)

    @property
    def readout_width(self) -> int:
        return self.readout_hidden if self.readout_hidden is not None else self.layer_irreps[-1].dim // 2

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form; :meth:`from_dict` inverts it."""
        out = dataclasses.asdict(self)
        out["species"] = list(self.species)
        out["radial_mlp"] = list(self.radial_mlp)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NequIPConfig:
        from superionic.records import dataclass_from_dict

        return dataclass_from_dict(cls, data, "NequIPConfig")
