"""Import SevenNet checkpoints (PyTorch, e3nn) into superionic's NequIP model, and run them without torch.

SevenNet-0 (Park et al., J. Chem. Theory Comput. 2024; MIT licence; trained on MPtrj) has exactly GNoME's NequIP
hyper-parameters. Its checkpoints ship inside the ``sevenn`` wheel, so the import works offline; it needs the
``teacher`` extra (torch, sevenn) once, after which ``load("sevennet-0")`` runs with JAX alone.

How weights map (verified against SevenNet's own calculator by the tests):
- e3nn ``Linear`` blocks (one per (input block, output block) pair, in e3nn's instruction order) are
  assembled into one matrix per irrep, rows ordered like our inputs and columns like our outputs.
- the radial MLP's last layer columns are permuted from e3nn's sorted tensor-product instruction order to our
  path order, and multiplied by the sign relating e3nn-torch's Wigner 3j symbol to e3nn-jax's
  Clebsch–Gordan coefficient of that path (the two libraries use different real bases for l >= 1; the bases
  differ by an orthogonal matrix per l, computed here from the spherical harmonics themselves).
- activation normalisation constants are copied from e3nn-torch (it estimates them by Monte Carlo).
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from typing import Any

import e3nn_jax as e3nn
import jax.numpy as jnp
import numpy as np
from ase.data import chemical_symbols

from superionic.potentials.checkpoint import save
from superionic.potentials.config import NequIPConfig
from superionic.potentials.nequip import layer_plans
from superionic.potentials.potential import Potential


class TeacherMissingError(RuntimeError):
    """sevenn/torch are not installed."""


def _require_sevenn():
    try:
        import sevenn.util  # noqa: F401
        import torch  # noqa: F401
    except ImportError as err:
        raise TeacherMissingError(
            "importing SevenNet weights needs the sevenn and torch packages: pip install 'superionic[teacher]'"
        ) from err


# ----------------------------------------------------------------------------------------- basis alignment


def _torch_to_jax_basis(lmax: int) -> dict[int, np.ndarray]:
    """Orthogonal Q_l with Y_torch,l(r) = Q_l Y_jax,l(r) for component-normalised harmonics."""
    import torch
    from e3nn import o3

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 3))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    y_torch = o3.spherical_harmonics(
        list(range(lmax + 1)), torch.tensor(vectors), normalize=True, normalization="component"
    ).numpy()
    y_jax = np.asarray(
        e3nn.spherical_harmonics(
            e3nn.Irreps.spherical_harmonics(lmax),
            jnp.asarray(vectors),
            normalize=True,
            normalization="component",
        ).array
    )
    out = {}
    for lval in range(lmax + 1):
        sl = slice(lval**2, (lval + 1) ** 2)
        q, *_ = np.linalg.lstsq(y_jax[:, sl], y_torch[:, sl], rcond=None)  # y_torch = y_jax @ q
        q = q.T
        if not np.allclose(q @ q.T, np.eye(2 * lval + 1), atol=1e-6):
            raise RuntimeError(f"e3nn-torch and e3nn-jax l={lval} harmonics are not related by a rotation")
        out[lval] = q
    return out


def _path_sign(l1: int, l2: int, l3: int, basis: dict[int, np.ndarray]) -> float:
    """+1 or -1: e3nn-torch's wigner_3j, expressed in e3nn-jax's basis, over e3nn-jax's clebsch_gordan."""
    from e3nn import o3

    c_torch = o3.wigner_3j(l1, l2, l3).double().numpy()
    c_in_jax_basis = np.einsum("ai,bj,ck,abc->ijk", basis[l1], basis[l2], basis[l3], c_torch)
    c_jax = np.asarray(e3nn.clebsch_gordan(l1, l2, l3))
    overlap = float(np.sum(c_in_jax_basis * c_jax))
    if abs(abs(overlap) - 1.0) > 1e-6 or not np.allclose(c_in_jax_basis, np.sign(overlap) * c_jax, atol=1e-6):
        raise RuntimeError(f"Clebsch–Gordan coefficients of path ({l1},{l2},{l3}) differ beyond a sign")
    return float(np.sign(overlap))


# ----------------------------------------------------------------------------------------- weight mapping


def _ir_key(ir) -> str:
    return f"{ir.l}{'e' if ir.p == 1 else 'o'}"


def _linear_to_matrices(linear, ours_in: dict[str, int], ours_out: dict[str, int]) -> dict[str, np.ndarray]:
    """Fuse an e3nn-torch ``o3.Linear`` into one matrix per irrep (rows: input channels, columns: outputs)."""
    weight = linear.weight.detach().double().numpy()
    if linear.bias.numel():
        raise NotImplementedError("e3nn Linear with biases is not supported")
    row_start, col_start = {}, {}
    seen_in: dict[str, int] = {}
    for i, (mul, ir) in enumerate(linear.irreps_in):
        key = _ir_key(ir)
        row_start[i] = seen_in.get(key, 0)
        seen_in[key] = seen_in.get(key, 0) + mul
    seen_out: dict[str, int] = {}
    for i, (mul, ir) in enumerate(linear.irreps_out):
        key = _ir_key(ir)
        col_start[i] = seen_out.get(key, 0)
        seen_out[key] = seen_out.get(key, 0) + mul
    if {k: v for k, v in seen_out.items() if k in seen_in} != {
        k: ours_out[k] for k in seen_out if k in seen_in
    }:
        raise RuntimeError(f"output irreps differ: torch {seen_out}, superionic {ours_out}")
    matrices = {key: np.zeros((seen_in[key], ours_out[key])) for key in ours_out if key in seen_in}
    offset = 0
    for ins in linear.instructions:
        mul_in, mul_out = ins.path_shape
        block = weight[offset : offset + mul_in * mul_out].reshape(mul_in, mul_out)
        offset += mul_in * mul_out
        key = _ir_key(linear.irreps_in[ins.i_in].ir)
        r0, c0 = row_start[ins.i_in], col_start[ins.i_out]
        matrices[key][r0 : r0 + mul_in, c0 : c0 + mul_out] = block
    if offset != weight.size:
        raise RuntimeError("e3nn Linear weight size does not match its instructions")
    for key, n in ours_in.items():
        if key in matrices and matrices[key].shape[0] != n:
            raise RuntimeError(
                f"input multiplicity of {key} differs: torch {matrices[key].shape[0]}, ours {n}"
            )
    return matrices


def _convolution_maps(conv_module, plan, basis) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Column permutation and signs for the radial MLP's last layer, and row permutations for ``linear_2``.

    Returns ``(columns, signs, rows)``: our weight column c takes torch column ``columns[c]`` times
    ``signs[c]``; row r of our ``linear_2`` matrix of irrep ``ir`` is torch's row ``rows[ir][r]`` (torch
    concatenates the paths' outputs in its sorted instruction order).
    """
    tp = conv_module.convolution
    irreps_x, irreps_sh, irreps_mid = tp.irreps_in1, tp.irreps_in2, tp.irreps_out
    our_column, our_row = {}, {}
    column, row_in_group = 0, {}
    for path in plan.paths:
        ident = (path.ir_in, path.ir_sh, path.ir_out)
        our_column[ident] = column
        our_row[ident] = row_in_group.get(path.ir_out, 0)
        row_in_group[path.ir_out] = our_row[ident] + path.mul
        column += path.mul
    torch_row_of_block, seen = {}, {}
    for k, (mul, ir) in enumerate(irreps_mid):
        torch_row_of_block[k] = seen.get(_ir_key(ir), 0)
        seen[_ir_key(ir)] = seen.get(_ir_key(ir), 0) + mul
    columns = np.zeros(column, dtype=int)
    signs = np.zeros(column)
    rows = {ir: np.zeros(n, dtype=int) for ir, n in row_in_group.items()}
    torch_offset = 0
    for ins in tp.instructions:
        ir1, ir2, ir3 = irreps_x[ins.i_in1].ir, irreps_sh[ins.i_in2].ir, irreps_mid[ins.i_out].ir
        ident = (_ir_key(ir1), _ir_key(ir2), _ir_key(ir3))
        mul = irreps_x[ins.i_in1].mul
        if ins.connection_mode != "uvu" or tuple(ins.path_shape) != (mul, 1):
            raise NotImplementedError(f"unsupported tensor-product instruction {ins}")
        start = our_column[ident]
        columns[start : start + mul] = np.arange(torch_offset, torch_offset + mul)
        signs[start : start + mul] = _path_sign(ir1.l, ir2.l, ir3.l, basis)
        r0, t0 = our_row[ident], torch_row_of_block[ins.i_out]
        rows[ident[2]][r0 : r0 + mul] = np.arange(t0, t0 + mul)
        torch_offset += mul
    if torch_offset != column:
        raise RuntimeError(f"tensor-product weight count differs: torch {torch_offset}, superionic {column}")
    return columns, signs, rows


def convert_sevennet(model, config: dict[str, Any]) -> tuple[NequIPConfig, dict]:
    """Our config and parameters (float64 numpy) from a built SevenNet torch model and its config dict."""
    import torch
    from e3nn.math import normalize2mom

    if config.get("use_modality", False):
        raise NotImplementedError(
            "multi-fidelity SevenNet (a per-modality bias on scalar channels) is not supported: superionic's NequIP "
            "has no such bias terms yet"
        )
    if config["interaction_type"] != "nequip" or config["self_connection_type"] != "linear":
        raise NotImplementedError("only SevenNet NequIP models with linear self-connection are supported")
    if config.get("readout_as_fcn", False) or config.get("use_bias_in_linear", False):
        raise NotImplementedError("SevenNet readout MLPs and linear biases are not supported")
    modules = dict(model.named_children())
    type_map = config["_type_map"]  # atomic number -> type index
    species = tuple(chemical_symbols[z] for z, _ in sorted(type_map.items(), key=lambda kv: kv[1]))
    n_layers = config["num_convolution_layer"]
    denominators = {float(modules[f"{t}_convolution"].denominator.item()) for t in range(n_layers)}
    if len(denominators) != 1:
        raise NotImplementedError(f"per-layer convolution denominators {denominators} are not supported")
    irreps_manual = config["irreps_manual"]
    cutoff_cfg = config["cutoff_function"]
    cutoff_name = {"XPLOR": "xplor", "poly_cut": "polynomial"}[cutoff_cfg["cutoff_function_name"]]
    act_names = {torch.nn.functional.silu: "silu", torch.tanh: "tanh"}
    scales = {name: float(normalize2mom(fn).cst) for fn, name in act_names.items()}
    our_config = NequIPConfig(
        species=species,
        num_layers=n_layers,
        hidden_irreps=irreps_manual[1] if irreps_manual else "128x0e+64x1e+32x2e",
        sh_lmax=config["lmax"],
        # sevenn's backward compatibility: checkpoints without the key used unnormalised harmonics
        sh_normalize=bool(config.get("_normalize_sph", False)),
        parity=bool(config["is_parity"]),
        cutoff_A=float(config["cutoff"]),
        num_radial_basis=config["radial_basis"]["bessel_basis_num"],
        cutoff_function=cutoff_name,
        cutoff_inner_A=float(cutoff_cfg.get("cutoff_on", 4.5)),
        polynomial_p=int(cutoff_cfg.get("poly_cut_p_value", 6)),
        radial_mlp=tuple(config["weight_nn_hidden_neurons"]),
        radial_activation=config["act_radial"],
        scalar_activation=dict(config["act_scalar"]),
        gate_activation=dict(config["act_gate"]),
        conv_denominator=denominators.pop(),
        activation_scales=scales,
    )
    if irreps_manual and str(e3nn.Irreps(irreps_manual[0])) != str(our_config.layer_irreps[0]):
        raise NotImplementedError(f"first-layer irreps {irreps_manual[0]} differ from the hidden scalars")
    basis = _torch_to_jax_basis(max(our_config.sh_lmax, 3))
    plans = layer_plans(our_config)

    def t2n(x):
        return x.detach().double().numpy()

    n_species = len(species)
    layers = []
    for t, plan in enumerate(plans):
        mul_in = {str(ir): mul for mul, ir in plan.irreps_in}
        conv = modules[f"{t}_convolution"]
        columns, signs, rows = _convolution_maps(conv, plan, basis)
        mlp = [t2n(getattr(conv.weight_nn, f"layer{k}").weight) for k in range(len(conv.weight_nn))]
        mlp[-1] = mlp[-1][:, columns] * signs[None, :]
        layers.append(
            {
                "self_connection": _linear_to_matrices(
                    modules[f"{t}_self_connection_intro"].linear, mul_in, plan.gate_in
                ),
                "linear_1": _linear_to_matrices(modules[f"{t}_self_interaction_1"].linear, mul_in, mul_in),
                "radial_mlp": mlp,
                "linear_2": {
                    ir: m[rows[ir]]
                    for ir, m in _linear_to_matrices(
                        modules[f"{t}_self_interaction_2"].linear, plan.mid_multiplicities(), plan.gate_in
                    ).items()
                },
            }
        )
    readout_width = our_config.readout_width
    params = {
        "embedding": t2n(modules["onehot_to_feature_x"].linear.weight).reshape(n_species, -1),
        "bessel_frequencies": t2n(modules["edge_embedding"].basis_function.coeffs),
        "layers": layers,
        "readout_hidden": t2n(modules["reduce_input_to_hidden"].linear.weight).reshape(-1, readout_width),
        "readout_out": t2n(modules["reduce_hidden_to_energy"].linear.weight).reshape(readout_width, 1),
        "species_shift_eV": t2n(modules["rescale_atomic_energy"].shift).reshape(n_species),
        "species_scale_eV": t2n(modules["rescale_atomic_energy"].scale).reshape(n_species),
    }
    return our_config, params


def sevennet_checkpoint_path(sevenn_name: str) -> Path:
    """Path of a bundled SevenNet checkpoint (e.g. ``"7net-0"``) inside the installed ``sevenn`` package."""
    _require_sevenn()
    from sevenn.util import pretrained_name_to_path

    return Path(pretrained_name_to_path(sevenn_name))


def import_sevennet(sevenn_name: str, destination: str | Path, name: str) -> Path:
    """Convert the SevenNet checkpoint ``sevenn_name`` (e.g. ``"7net-0"``) from the installed ``sevenn`` package
    into a superionic checkpoint at ``destination``, named ``name``; return the path.

    Use :func:`superionic.potentials.import_potential` with a registry name instead: it knows where to put it.
    """
    _require_sevenn()
    from sevenn.util import model_from_checkpoint

    source = sevennet_checkpoint_path(sevenn_name)
    model, config = model_from_checkpoint(str(source))
    model.eval()
    our_config, params = convert_sevennet(model, config)
    provenance = {
        "source": "SevenNet (Park et al., J. Chem. Theory Comput. 20, 4857 (2024))",
        "source_package": "sevenn",
        "source_package_version": metadata.version("sevenn"),
        "source_file": source.name,
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "licence": "MIT (SevenNet); weights converted on this machine, not redistributed",
        "training_data": "MPtrj (Materials Project relaxation trajectories, PBE/PBE+U)",
        "converted_by": f"superionic.potentials.import_potential('{name}')",
    }
    potential = Potential(our_config, dict(params), name=name, provenance=provenance)
    return save(potential, destination)
