"""The final network as a plain torch model (Linear/ReLU), its weights as safetensors and
TorchScript, checked against the trained model on the test split."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.export.files import ExportError, cleanup_on_failure
from kernels.capnorm import CapNorm
from kernels.dynamic_mlp import DynamicMLP
from kernels.fold import fold as shrinknets_fold
from kernels.sizable import SizableNet
from kernels.switch import Switch


def _unit_scales(post: nn.ModuleList, n: int, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit affine map ``z -> a * z + c`` of a hidden layer's unit-wise modules in eval
    mode (what ``Trainer.evaluate`` computes), composed in order.

    Switch (ShrinkNets eq. 1): a = theta. CapNorm eval (Philipp & Carbonell sec. 3.2):
    (z - mu) / max(sigma, 1). BatchNorm1d eval: gamma (z - mu) / sqrt(var + eps) + beta.
    """
    a, c = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    for m in post:
        if isinstance(m, Switch):
            s = m.switch.detach().double().cpu()
            a, c = a * s, c * s
        elif isinstance(m, nn.BatchNorm1d):
            assert m.running_mean is not None and m.running_var is not None  # eval statistics
            inv = torch.rsqrt(m.running_var.double().cpu() + m.eps)
            g = m.weight.detach().double().cpu() if m.weight is not None else torch.ones(n)
            beta = m.bias.detach().double().cpu() if m.bias is not None else torch.zeros(n)
            a, c = a * g * inv, (c - m.running_mean.double().cpu()) * g * inv + beta
        elif isinstance(m, CapNorm):
            inv = 1.0 / torch.sqrt(torch.clamp(m.running_var.double().cpu(), min=1.0))
            a, c = a * inv, (c - m.running_mean.double().cpu()) * inv
        else:
            raise ExportError(
                f"{where}: cannot fold a {type(m).__name__} module into the "
                "Linear before it; accepted: switch layers, CapNorm, BatchNorm1d"
            )
    return a, c


def _fold_mlp(model: SizableNet) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(W, b) per Linear of a DynamicMLP with its unit-wise modules multiplied in, float64."""
    layers = []
    for i, lin in enumerate(model.linears):
        w = lin.weight.detach().double().cpu()
        b = (
            lin.bias.detach().double().cpu()
            if lin.bias is not None
            else torch.zeros(w.shape[0], dtype=torch.float64)
        )
        if i < model.n_hidden:
            a, c = _unit_scales(model.post[i], w.shape[0], f"hidden layer {i}")
            w, b = a[:, None] * w, a * b + c
        layers.append((w, b))
    return layers


def _linears_of(seq: nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """(W, b) per Linear when ``seq`` is Linear, ReLU, ..., Linear; else None."""
    mods = list(seq)
    if (
        len(mods) % 2 == 0
        or not all(isinstance(m, nn.Linear) for m in mods[::2])
        or not all(isinstance(m, nn.ReLU) for m in mods[1::2])
    ):
        return None
    linears = [m for m in mods[::2] if isinstance(m, nn.Linear)]
    return [
        (
            m.weight.detach().double().cpu(),
            m.bias.detach().double().cpu()
            if m.bias is not None
            else torch.zeros(m.out_features, dtype=torch.float64),
        )
        for m in linears
    ]


def _drop_dead(layers, ids: list[np.ndarray]):
    """Remove hidden units that cannot change the output: a zero fan-out, or a zero fan-in
    whose ReLU output is the constant relu(b), which is moved into the next layer's bias."""
    layers = [(w.clone(), b.clone()) for w, b in layers]
    ids = [np.array(i) for i in ids]
    for li in range(len(layers) - 1):
        w, b = layers[li]
        nw, nb = layers[li + 1]
        const = (w == 0).all(dim=1)
        nb = nb + nw[:, const] @ torch.relu(b[const])
        keep = ~(const | (nw == 0).all(dim=0))
        if not keep.any():  # keep one unit so the layer stays a layer (it is inert)
            keep[0] = True
            w[0], b[0] = 0.0, 0.0
        layers[li] = (w[keep], b[keep])
        layers[li + 1] = (nw[:, keep], nb)
        ids[li] = ids[li][keep.numpy()]
    return layers, ids


def plain_model(model: SizableNet) -> tuple[nn.Sequential, dict]:
    """The trained network as Linear/ReLU layers: unit-wise modules folded in (switches via
    ``kernels.fold`` when present, ShrinkNets sec. 3.6), dead units removed. Returns the
    model (float32, eval mode) and a description (sizes, kept unit ids, what was folded)."""
    info: dict = {"folded_by": "explorer.export"}
    layers = None
    ids = [np.asarray(u) for u in model.unit_ids]
    is_mlp = isinstance(model, DynamicMLP)
    only_switches = all(isinstance(m, Switch) for p in model.post for m in p)
    if only_switches or not is_mlp:
        try:
            folded = shrinknets_fold(model)
        except ValueError:
            folded = None
        if folded is not None:
            info["folded_by"] = "kernels.fold"
            layers = _linears_of(folded)
            if layers is None:  # a CNN: keep kernels.fold's network as it is
                info["sizes"] = None
                return folded.float().cpu().eval(), info
            if ids:  # kernels.fold drops units whose switch product is 0
                ids = [
                    i[_switch_product(model.post[li], len(i)).numpy() != 0]
                    for li, i in enumerate(ids)
                ]
    if layers is None:
        if not is_mlp:
            raise ExportError(
                f"cannot export a {type(model).__name__} as a plain model; "
                "accepted: DynamicMLP (and DynamicCNN through kernels.fold)"
            )
        layers = _fold_mlp(model)
    if len(ids) != len(layers) - 1:
        ids = [np.arange(w.shape[0]) for w, _ in layers[:-1]]
    layers, ids = _drop_dead(layers, ids)
    mods: list[nn.Module] = []
    for i, (w, b) in enumerate(layers):
        lin = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w.float())
            lin.bias.copy_(b.float())
        mods += [lin] if i == len(layers) - 1 else [lin, nn.ReLU()]
    info["sizes"] = [int(w.shape[0]) for w, _ in layers[:-1]]
    info["unit_ids"] = [i.tolist() for i in ids]
    return nn.Sequential(*mods).eval(), info


def _switch_product(post, n: int) -> torch.Tensor:
    s = torch.ones(n)
    for m in post:
        s = s * m.switch.detach().cpu()
    return s


def max_relative_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |a|: the largest error relative to the output's scale (elementwise
    ratios blow up where an output is near zero)."""
    scale = float(a.abs().max()) or 1.0
    return float((a - b).abs().max()) / scale


def describe(module: nn.Sequential) -> list[dict]:
    """A plain network's layers as dicts (type and sizes), so ``model.safetensors`` can be
    loaded into a rebuilt Sequential without running code from the file."""
    out = []
    for m in module:
        entry: dict = {"type": type(m).__name__}
        if isinstance(m, nn.Linear):
            entry.update(in_features=m.in_features, out_features=m.out_features)
        elif isinstance(m, nn.Conv2d):
            entry.update(
                in_channels=m.in_channels,
                out_channels=m.out_channels,
                kernel_size=list(m.kernel_size),
                padding=list(m.padding),
            )
        elif isinstance(m, nn.BatchNorm2d):
            entry.update(num_features=m.num_features, eps=m.eps)
        elif isinstance(m, nn.Unflatten):
            entry.update(unflattened_size=list(m.unflattened_size))
        out.append(entry)
    return out


@torch.no_grad()
def export_model(trainer, out_dir: str | Path, tolerance: float = 1e-5) -> dict:
    """Save the final network as ``model.safetensors`` (weights), ``model.pt`` (TorchScript,
    loads with ``torch.jit.load`` without this code) and ``model.json`` (architecture, kept
    unit ids, the equality check). Its outputs on the test split must equal the trained
    model's (eval mode) to ``tolerance`` in max relative difference, else ExportError and
    nothing is written."""
    import safetensors.torch

    model = trainer.model
    plain, info = plain_model(model)
    x = trainer.X["test"].detach().cpu().float()
    was_training = model.training
    model.eval()
    try:
        reference = torch.cat(
            [model(x[i : i + 4096].to(trainer.device)).cpu() for i in range(0, len(x), 4096)]
        )
    finally:
        model.train(was_training)
    got = plain(x)
    diff = max_relative_diff(reference, got)
    with warnings.catch_warnings():
        # TorchScript is deprecated in recent torch, but its file loads without this code
        # (torch.jit.load) and scripts a Sequential in milliseconds; torch.export takes seconds
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(plain)
    diff_scripted = max_relative_diff(reference, scripted(x))
    if max(diff, diff_scripted) >= tolerance:
        raise ExportError(
            f"the plain model differs from the trained one on the test split "
            f"(max relative diff {max(diff, diff_scripted):.3g} >= {tolerance}); "
            "nothing was written"
        )
    out = Path(out_dir)
    with cleanup_on_failure(out) as written:
        out.mkdir(parents=True, exist_ok=True)
        written.append(out / "model.safetensors")
        written[-1].write_bytes(
            safetensors.torch.save({k: v.contiguous() for k, v in plain.state_dict().items()})
        )
        written.append(out / "model.pt")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(scripted, str(written[-1]))
        report = _model_report(
            trainer, plain, info, x, diff, diff_scripted, reference, got, tolerance
        )
        written.append(out / "model.json")
        written[-1].write_text(json.dumps(report, indent=1))
    return report


def _model_report(trainer, plain, info, x, diff, diff_scripted, reference, got, tolerance) -> dict:
    model = trainer.model
    report = {
        "format": "torch.nn.Sequential of Linear/ReLU; model.safetensors holds its state_dict",
        "in_features": int(x.shape[1]),
        "layers": describe(plain),
        "sizes_trained": list(model.hidden_sizes),
        **info,
        "check": {
            "split": "test",
            "n": int(len(x)),
            "max_relative_diff": diff,
            "max_relative_diff_torchscript": diff_scripted,
            "argmax_agreement": float((reference.argmax(1) == got.argmax(1)).float().mean()),
            "tolerance": tolerance,
        },
        "method": trainer.config.method,
        "dataset": trainer.config.dataset,
        "step": trainer.step_count,
    }
    return report
