"""A NequIP-style E(3)-equivariant potential as pure JAX functions of an explicit parameter pytree.

``atomic_energies(params, config, species, edge_vectors, senders, receivers, edge_mask, max_neighbors)`` is the
whole model: per-edge work on an edge list sorted by receiver, the convolution on a dense [N, K] neighbour table.
``atomic_energies_dense`` is the same model for a caller that already holds a tight [N, K] table (the MD path).
Node features are dicts ``{"0e": [N, mul, 1], "1e": [N, mul, 3], ...}`` with one block per irrep. e3nn-jax
supplies the spherical harmonics and Clebsch–Gordan coefficients; the linear layers, the "uvu" tensor product
of the convolution and the gate are written out here because (a) their weight layout must map one-to-one onto
e3nn-torch checkpoints (SevenNet) and (b) fusing each output irrep's paths into one matmul is faster than
e3nn-jax's generic path-by-path ``Linear``. Normalisations follow e3nn's "element" path and "component" irrep
conventions, so weights are N(0, 1) at initialisation.

Sign conventions: an edge (sender j -> receiver i) carries the vector r_j - r_i; messages flow from senders
to receivers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from ase.data import atomic_numbers, covalent_radii

from superionic.potentials.config import NequIPConfig

Params = dict
Features = dict[str, jax.Array]

# JAX's default for float32 matrix products on NVIDIA GPUs since Ampere is TensorFloat32 (a 10-bit mantissa). On an
# H200 that put SevenNet-0's float32 forces up to 1.7 meV/Å and its energies 0.26 meV/atom off the CPU's, against
# 0.002 meV/Å for SevenNet's own torch code on the same GPU (scripts/device_check.py; torch keeps float32 matmuls
# in float32 by default). Every model evaluation, MD step and training step of superionic imports this module, so
# here JAX is asked for true float32 products, unless the user chose a precision (JAX_DEFAULT_MATMUL_PRECISION or
# jax.config.update before importing superionic). CPUs have no reduced-precision path: nothing changes there.
if jax.config.jax_default_matmul_precision is None:
    jax.config.update("jax_default_matmul_precision", "highest")

_JAX_ACTIVATIONS = {
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "softplus": jax.nn.softplus,
    "sigmoid": jax.nn.sigmoid,
}


@dataclass(frozen=True)
class TensorProductPath:
    """One "uvu" path of the convolution: input irrep x edge harmonic -> output irrep, ``mul`` channels."""

    ir_in: str
    ir_sh: str
    ir_out: str
    mul: int


@dataclass(frozen=True)
class LayerPlan:
    """Static shapes of one interaction layer, derived from the config."""

    irreps_in: e3nn.Irreps
    irreps_out: e3nn.Irreps
    gate_in: dict[str, int]  # irrep -> multiplicity of the features entering the gate
    num_scalars: dict[str, int]  # "0e"/"0o" -> how many of that block are activated scalars (rest are gates)
    gated: tuple[tuple[str, int], ...]  # (irrep, mul) of the gated features, in gate order
    paths: tuple[TensorProductPath, ...]  # grouped by ir_out, in enumeration order within a group

    @property
    def num_tp_weights(self) -> int:
        return sum(p.mul for p in self.paths)

    def mid_multiplicities(self) -> dict[str, int]:
        mids: dict[str, int] = {}
        for p in self.paths:
            mids[p.ir_out] = mids.get(p.ir_out, 0) + p.mul
        return mids


def _multiplicities(irreps: e3nn.Irreps) -> dict[str, int]:
    out: dict[str, int] = {}
    for mul, ir in irreps:
        out[str(ir)] = out.get(str(ir), 0) + mul
    return out


@cache
def _layer_plans_cached(config_key: tuple) -> tuple[LayerPlan, ...]:
    layer_irreps, sh_irreps = config_key
    plans = []
    for t in range(len(layer_irreps) - 1):
        irreps_in = e3nn.Irreps(layer_irreps[t])
        irreps_out = e3nn.Irreps(layer_irreps[t + 1])
        scalars = [(mul, ir) for mul, ir in irreps_out if ir.l == 0]
        gated = tuple((str(ir), mul) for mul, ir in irreps_out if ir.l > 0)
        gate_parity = "0e" if any(ir.p == 1 for _, ir in scalars) else "0o"
        gate_in = {str(ir): mul for mul, ir in scalars}
        num_scalars = dict(gate_in)
        n_gates = sum(mul for _, mul in gated)
        if n_gates:
            gate_in[gate_parity] = gate_in.get(gate_parity, 0) + n_gates
        for ir, mul in gated:
            gate_in[ir] = gate_in.get(ir, 0) + mul
        # Enumerate paths in e3nn/SevenNet order (input irrep, harmonic, output irrep), keeping only outputs
        # that the layer uses, then group them by output irrep (a stable sort).
        raw = []
        for mul, ir_in in irreps_in:
            for _, ir_sh in sh_irreps:
                for ir_out in ir_in * ir_sh:
                    if str(ir_out) in gate_in:
                        raw.append(TensorProductPath(str(ir_in), str(ir_sh), str(ir_out), mul))
        order = sorted(range(len(raw)), key=lambda i: (e3nn.Irrep(raw[i].ir_out), i))
        plans.append(
            LayerPlan(
                irreps_in=irreps_in,
                irreps_out=irreps_out,
                gate_in=gate_in,
                num_scalars=num_scalars,
                gated=gated,
                paths=tuple(raw[i] for i in order),
            )
        )
    return tuple(plans)


def layer_plans(config: NequIPConfig) -> tuple[LayerPlan, ...]:
    """The static structure of every interaction layer."""
    key = (tuple(str(irreps) for irreps in config.layer_irreps), config.sh_irreps)
    return _layer_plans_cached(key)


# ---------------------------------------------------------------------------------------------- parameters


def init_params(config: NequIPConfig, key: jax.Array, dtype=jnp.float32) -> Params:
    """Random parameters (N(0, 1) weights, e3nn convention), zero species shift, unit species scale."""
    plans = layer_plans(config)
    keys = iter(jax.random.split(key, 8 * len(plans) + 8))

    def normal(*shape):
        return jax.random.normal(next(keys), shape, dtype)

    n_species = len(config.species)
    n0 = config.layer_irreps[0].dim
    layers = []
    for plan in plans:
        mul_in = _multiplicities(plan.irreps_in)
        mids = plan.mid_multiplicities()
        widths = (config.num_radial_basis, *config.radial_mlp, plan.num_tp_weights)
        layers.append(
            {
                "self_connection": {
                    ir: normal(mul_in[ir], m) for ir, m in plan.gate_in.items() if ir in mul_in
                },
                "linear_1": {ir: normal(m, m) for ir, m in mul_in.items()},
                "radial_mlp": [normal(a, b) for a, b in itertools.pairwise(widths)],
                "linear_2": {ir: normal(mids[ir], m) for ir, m in plan.gate_in.items() if ir in mids},
            }
        )
    n_last = config.layer_irreps[-1].dim
    return {
        "embedding": normal(n_species, n0),
        "bessel_frequencies": jnp.arange(1, config.num_radial_basis + 1, dtype=dtype)
        * math.pi
        / config.cutoff_A,
        "layers": layers,
        "readout_hidden": normal(n_last, config.readout_width),
        "readout_out": normal(config.readout_width, 1),
        "species_shift_eV": jnp.zeros((n_species,), dtype),
        "species_scale_eV": jnp.ones((n_species,), dtype),
    }


# ---------------------------------------------------------------------------------------------- radial part


def bessel_basis(r: jax.Array, frequencies: jax.Array, cutoff: float) -> jax.Array:
    """2/rc * sin(k_n r) / r, shape [E, n_basis]; r must be > 0 (padded edges are masked by the caller)."""
    return (2.0 / cutoff) * jnp.sin(frequencies[None, :] * r[:, None]) / r[:, None]


def xplor_cutoff(r: jax.Array, r_on: float, r_cut: float) -> jax.Array:
    """XPLOR switching function: 1 below ``r_on``, smooth to 0 at ``r_cut``, 0 beyond."""
    r2, on2, cut2 = r * r, r_on * r_on, r_cut * r_cut
    switch = (cut2 - r2) ** 2 * (cut2 + 2.0 * r2 - 3.0 * on2) / (cut2 - on2) ** 3
    return jnp.where(r < r_on, 1.0, jnp.where(r < r_cut, switch, 0.0))


def polynomial_cutoff(r: jax.Array, r_cut: float, p: int) -> jax.Array:
    """NequIP's polynomial envelope of order ``p`` (Klicpera et al. 2020), 0 beyond ``r_cut``."""
    x = r / r_cut
    env = (
        1.0
        - (p + 1.0) * (p + 2.0) / 2.0 * x**p
        + p * (p + 2.0) * x ** (p + 1)
        - p * (p + 1.0) / 2.0 * x ** (p + 2)
    )
    return jnp.where(x < 1.0, env, 0.0)


# ZBL universal screening (Ziegler, Biersack & Littmark 1985), as in LAMMPS' pair_style zbl and MACE. Written
# here because it must be a differentiable JAX function of the model's own edge list; no JAX library has it.
_ZBL_COEFFICIENTS = (0.18175, 0.50986, 0.28022, 0.02817)
_ZBL_EXPONENTS = (3.19980, 0.94229, 0.40290, 0.20162)
_COULOMB_eV_A = 14.399645  # e^2 / (4 pi epsilon_0) in eV Å


def zbl_pair_energy(r: jax.Array, z_i: jax.Array, z_j: jax.Array, r_max: jax.Array) -> jax.Array:
    """ZBL screened-nuclear repulsion of pairs at distance ``r`` (Å) with atomic numbers ``z_i``, ``z_j``, in
    eV, times NequIP's polynomial envelope (p = 6) that takes it to zero at ``r_max`` (Å)."""
    screening_length = 0.46850 / (z_i**0.23 + z_j**0.23)
    x = r / screening_length
    phi = sum(c * jnp.exp(-e * x) for c, e in zip(_ZBL_COEFFICIENTS, _ZBL_EXPONENTS, strict=True))
    return _COULOMB_eV_A * z_i * z_j / r * phi * polynomial_cutoff(r, r_max, 6)


def _activation(config: NequIPConfig, name: str):
    fn, scale = _JAX_ACTIVATIONS[name], config.activation_scales[name]
    return lambda x: fn(x) * scale


def radial_mlp(weights: list[jax.Array], x: jax.Array, activation) -> jax.Array:
    """e3nn's FullyConnectedNet: no biases, weights scaled by 1/sqrt(fan_in), no activation at the end."""
    for i, w in enumerate(weights):
        x = x @ (w / math.sqrt(w.shape[0]))
        if i < len(weights) - 1:
            x = activation(x)
    return x


# Activations with f(0) = 0: an MLP without biases maps a zero embedding (a masked edge) to zero weights.
_ZERO_AT_ZERO = frozenset({"silu", "tanh", "relu"})


def edge_weights(config: NequIPConfig, weights: list[jax.Array], edge_embedding, mask) -> jax.Array:
    """The tensor-product weights of each edge from its radial embedding, [E, paths x channels], zero on masked
    edges (whose embedding is zero)."""
    out = radial_mlp(weights, edge_embedding, _activation(config, config.radial_activation))
    if config.radial_activation in _ZERO_AT_ZERO:
        return out  # already zero there: no select (and its backward) over every edge
    return jnp.where(mask[:, None], out, 0.0)


# ---------------------------------------------------------------------------------------------- equivariant ops


def short_matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """``a @ b`` for a contraction only a few long (a 3 x 3 cell, a Clebsch–Gordan block) as broadcast
    multiply-adds, which XLA fuses into the surrounding elementwise loop: on a CPU its dot call costs tens of µs at
    the MD path's sizes however short the contraction (measured)."""
    return sum(a[..., i, None] * b[i] for i in range(b.shape[0]))


def linear(weights: dict[str, jax.Array], x: Features) -> Features:
    """Per-irrep linear map with e3nn's "element" normalisation: y = x W / sqrt(mul_in)."""
    return {
        ir: jnp.einsum("nui,uv->nvi", x[ir], w) / math.sqrt(w.shape[0])
        for ir, w in weights.items()
        if ir in x
    }


@cache
def _clebsch_gordan(l1: int, l2: int, l3: int) -> np.ndarray:
    # "component" normalisation of e3nn: the path is scaled by sqrt(2 l3 + 1).
    return np.asarray(e3nn.clebsch_gordan(l1, l2, l3)) * math.sqrt(2 * l3 + 1)


def spherical_harmonics(config: NequIPConfig, vectors: jax.Array) -> dict[str, jax.Array]:
    """Component-normalised harmonics of the edges, ``{"1e": [E, 3], ...}`` keyed by sh irreps.

    Of the unit directions when ``config.sh_normalize`` (the usual choice), else of the raw vectors (x r^l).
    """
    sh = e3nn.spherical_harmonics(
        e3nn.Irreps.spherical_harmonics(config.sh_lmax),
        vectors,
        normalize=config.sh_normalize,
        normalization="component",
    ).array
    return {str(ir): sh[:, ir.l**2 : (ir.l + 1) ** 2] for _, ir in config.sh_irreps}


def convolution(
    plan: LayerPlan,
    x: Features,
    sh: dict[str, jax.Array],
    tp_weights: jax.Array,
    neighbors: jax.Array,
    denominator: float,
) -> Features:
    """Messages x_j ⊗ Y(r_ij) weighted per edge, path and channel, summed over each atom's neighbours.

    Dense layout: ``neighbors`` [N, K] holds each atom's neighbour indices, ``sh``/``tp_weights`` are [N, K, ...]
    (masked edges carry zero weights). Each path's neighbour sum is one batched matmul contracting the
    neighbour and input-m axes, so per-edge messages (mul x (2l+1) numbers per path) are never materialised:
    with forces (a backward pass) this is ~10x faster on CPU than gather/scatter over an edge list (measured).
    """
    x_src = {ir: v[neighbors] for ir, v in x.items()}  # [N, K, mul, dim]
    blocks: dict[str, list[jax.Array]] = {}
    # one split rather than a slice per path: its backward is one concatenation, not a sum of padded slices
    path_weights = jnp.split(tp_weights, np.cumsum([p.mul for p in plan.paths])[:-1].tolist(), axis=-1)
    for path, w in zip(plan.paths, path_weights, strict=True):  # w: [N, K, mul]
        l1, l2, l3 = e3nn.Irrep(path.ir_in).l, e3nn.Irrep(path.ir_sh).l, e3nn.Irrep(path.ir_out).l
        cg = jnp.asarray(_clebsch_gordan(l1, l2, l3), dtype=tp_weights.dtype)
        if l1 == 0:
            # x is a scalar per channel: out[n,u,k] = sum_K w x[K,u] * (sum_j C[0,j,k] Y[K,j])
            y_k = short_matmul(sh[path.ir_sh], cg[0])  # [N, K, dim_out]
            out = jnp.einsum("nau,nak->nuk", x_src[path.ir_in][..., 0] * w, y_k)
        else:
            d1, d2, d3 = cg.shape
            cy = short_matmul(sh[path.ir_sh], jnp.transpose(cg, (1, 0, 2)).reshape(d2, d1 * d3)).reshape(
                *sh[path.ir_sh].shape[:2], d1, d3
            )  # [N, K, dim_in, dim_out]
            n, k = cy.shape[:2]
            # contract (neighbour, m_in) as one axis of a plain batched matmul: [N, K*d1, mul] x [N, K*d1, d3]
            a = jnp.swapaxes(x_src[path.ir_in] * w[..., None], 2, 3).reshape(n, k * d1, -1)
            out = jnp.einsum("nmu,nmk->nuk", a, cy.reshape(n, k * d1, d3))
        blocks.setdefault(path.ir_out, []).append(out)
    return {
        ir: (jnp.concatenate(outs, axis=1) if len(outs) > 1 else outs[0]) / denominator
        for ir, outs in blocks.items()
    }


def gate(config: NequIPConfig, plan: LayerPlan, x: Features) -> Features:
    """e3nn Gate: activated scalars; every l > 0 channel multiplied by its own activated gate scalar."""
    out: Features = {}
    gates = None
    for ir, n_scalars in plan.num_scalars.items():
        parity = ir[-1]
        act = _activation(config, config.scalar_activation[parity])
        out[ir] = act(x[ir][:, :n_scalars])
        if x[ir].shape[1] > n_scalars:
            gate_act = _activation(config, config.gate_activation[parity])
            gates = gate_act(x[ir][:, n_scalars:, 0])  # [N, n_gates]
    offset = 0
    for ir, mul in plan.gated:
        out[ir] = x[ir] * gates[:, offset : offset + mul, None]
        offset += mul
    return out


# ---------------------------------------------------------------------------------------------- the model


def dense_neighbors(
    senders: jax.Array, receivers: jax.Array, edge_mask: jax.Array, num_nodes: int, max_neighbors: int
) -> jax.Array:
    """[N, max_neighbors] table of edge indices (E where empty) from an edge list sorted by receiver.

    Valid edges must be sorted by receiver and no atom may have more than ``max_neighbors`` of them (the
    graph builders guarantee both; excess edges would be dropped).
    """
    num_edges = senders.shape[0]
    nodes = jnp.arange(num_nodes, dtype=receivers.dtype)
    first = jnp.searchsorted(jnp.where(edge_mask, receivers, num_nodes), nodes)  # [N]
    slot = jnp.arange(num_edges) - first[jnp.clip(receivers, 0, num_nodes - 1)]
    row = jnp.where(edge_mask, receivers, num_nodes)  # out of range: dropped
    col = jnp.where(edge_mask, slot, 0)
    table = jnp.full((num_nodes, max_neighbors), num_edges, jnp.int32)
    return table.at[row, col].set(jnp.arange(num_edges, dtype=jnp.int32), mode="drop")


def atomic_energies(
    params: Params,
    config: NequIPConfig,
    species: jax.Array,  # [N] int, index into config.species
    edge_vectors: jax.Array,  # [E, 3] r_sender - r_receiver, Å
    senders: jax.Array,  # [E] int
    receivers: jax.Array,  # [E] int, sorted (valid edges)
    edge_mask: jax.Array,  # [E] bool, False for padding
    max_neighbors: int,
) -> jax.Array:
    """Per-atom energies in eV, shape [N], from an edge list sorted by receiver (see :func:`dense_neighbors`).

    Everything that is computed per edge (radial basis, envelope, radial MLP, spherical harmonics) runs on the
    edge list, whose padding is small; only then are the results gathered into the [N, max_neighbors] table of
    the convolution, where atoms with fewer neighbours than the widest leave empty slots. The radial MLP is
    most of the model's arithmetic (SevenNet-0: ~66k multiply-adds per edge per layer against ~9k for the tensor
    products), so it must not run on the table's empty slots. Where the caller already holds a tight table
    (MD), :func:`atomic_energies_dense` skips the gathers.
    """
    num_nodes = species.shape[0]
    mask, r, edge_embedding, sh = _edge_inputs(params, config, edge_vectors, edge_mask)
    table = dense_neighbors(senders, receivers, edge_mask, num_nodes, max_neighbors)  # [N, K]; E: empty slot

    def dense(per_edge: jax.Array) -> jax.Array:
        """[E, ...] -> [N, K, ...] with zeros in empty slots."""
        padded = jnp.concatenate([per_edge, jnp.zeros((1, *per_edge.shape[1:]), per_edge.dtype)])
        return padded[table]

    energy = _interactions(
        params,
        config,
        species,
        neighbors=dense(jnp.where(mask, senders, 0)),
        sh={ir: dense(v) for ir, v in sh.items()},
        tp_weights=lambda weights: dense(edge_weights(config, weights, edge_embedding, mask)),
    )
    if config.pair_repulsion == "zbl":
        energy = energy + _zbl_atomic_energies(config, species, r, senders, receivers, mask)
    return energy


def atomic_energies_dense(
    params: Params,
    config: NequIPConfig,
    species: jax.Array,  # [N] int, index into config.species
    neighbor_vectors: jax.Array,  # [N, K, 3] r_neighbour - r_atom, Å
    neighbors: jax.Array,  # [N, K] int, neighbour of each slot
    neighbor_mask: jax.Array,  # [N, K] bool, False for empty slots
) -> jax.Array:
    """Per-atom energies in eV, shape [N], from a neighbour table (the convolution's own layout).

    The same model as :func:`atomic_energies`, for callers whose table is already tight: the per-edge work runs on
    every slot, empty ones included, but nothing is gathered into the table (nor scattered back in the backward
    pass). The MD path packs the pairs within the cutoff into such a table each step.
    """
    num_nodes, width = neighbors.shape
    mask, r, edge_embedding, sh = _edge_inputs(
        params, config, neighbor_vectors.reshape(-1, 3), neighbor_mask.reshape(-1)
    )

    def dense(per_slot: jax.Array) -> jax.Array:
        return per_slot.reshape(num_nodes, width, *per_slot.shape[1:])

    energy = _interactions(
        params,
        config,
        species,
        neighbors=jnp.where(mask, neighbors.reshape(-1), 0).reshape(num_nodes, width),
        sh={ir: dense(v) for ir, v in sh.items()},
        tp_weights=lambda weights: dense(edge_weights(config, weights, edge_embedding, mask)),
    )
    if config.pair_repulsion == "zbl":
        receivers = jnp.repeat(jnp.arange(num_nodes), width)
        energy = energy + _zbl_atomic_energies(config, species, r, neighbors.reshape(-1), receivers, mask)
    return energy


def _edge_inputs(params: Params, config: NequIPConfig, edge_vectors: jax.Array, edge_mask: jax.Array):
    """Per-edge inputs of the layers: (mask of edges within the cutoff, length r (Å), radial embedding
    [E, n_basis], spherical harmonics ``{irrep: [E, dim]}``); masked edges carry zero embeddings."""
    dtype = params["embedding"].dtype
    vectors = edge_vectors.astype(dtype)
    r2 = jnp.sum(vectors**2, axis=-1)
    mask = edge_mask & (r2 < config.cutoff_A**2) & (r2 > 0.0)
    # Padded or out-of-range edges get a harmless unit vector so neither values nor gradients become NaN.
    safe_vectors = jnp.where(mask[:, None], vectors, jnp.array([1.0, 0.0, 0.0], dtype))
    r = jnp.sqrt(jnp.sum(safe_vectors**2, axis=-1))

    if config.cutoff_function == "xplor":
        envelope = xplor_cutoff(r, config.cutoff_inner_A, config.cutoff_A)
    else:
        envelope = polynomial_cutoff(r, config.cutoff_A, config.polynomial_p)
    edge_embedding = bessel_basis(r, params["bessel_frequencies"], config.cutoff_A) * envelope[:, None]
    edge_embedding = jnp.where(mask[:, None], edge_embedding, 0.0)
    return mask, r, edge_embedding, spherical_harmonics(config, safe_vectors)


def _interactions(params: Params, config: NequIPConfig, species, neighbors, sh, tp_weights) -> jax.Array:
    """The interaction layers and readout on an [N, K] table: ``neighbors`` [N, K], ``sh`` ``{irrep: [N, K,
    dim]}``, ``tp_weights(radial_mlp_weights) -> [N, K, paths x channels]`` (zero in empty slots)."""
    dtype = params["embedding"].dtype
    one_hot = jax.nn.one_hot(species, len(config.species), dtype=dtype)
    h0 = one_hot @ params["embedding"] / math.sqrt(len(config.species))
    x: Features = {"0e": h0[:, :, None]}

    for plan, layer in zip(layer_plans(config), params["layers"], strict=True):
        self_connection = linear(layer["self_connection"], x)
        x = linear(layer["linear_1"], x)
        x = convolution(plan, x, sh, tp_weights(layer["radial_mlp"]), neighbors, config.conv_denominator)
        x = linear(layer["linear_2"], x)
        x = {ir: x[ir] + self_connection[ir] if ir in self_connection else x[ir] for ir in x}
        x = gate(config, plan, x)

    scalars = x["0e"][:, :, 0]
    hidden = scalars @ params["readout_hidden"] / math.sqrt(scalars.shape[1])
    energy = (hidden @ params["readout_out"] / math.sqrt(hidden.shape[1]))[:, 0]
    return energy * params["species_scale_eV"][species] + params["species_shift_eV"][species]


def _zbl_atomic_energies(config, species, r, senders, receivers, mask) -> jax.Array:
    """Half of each pair's ZBL energy on each of its two atoms (every pair appears once per direction)."""
    z = jnp.asarray([atomic_numbers[s] for s in config.species], r.dtype)[species]
    radii = jnp.asarray([covalent_radii[atomic_numbers[s]] for s in config.species], r.dtype)[species]
    safe_senders = jnp.where(mask, senders, 0)
    safe_receivers = jnp.where(mask, receivers, 0)
    pair = zbl_pair_energy(r, z[safe_receivers], z[safe_senders], radii[safe_receivers] + radii[safe_senders])
    pair = jnp.where(mask, pair, 0.0)
    return 0.5 * jax.ops.segment_sum(pair, safe_receivers, num_segments=species.shape[0])
