"""``run --export-model DIR``: the trained network folded for inference (ShrinkNets sec. 3.6).

Writes ``model.safetensors`` (the folded ``nn.Sequential``'s state_dict), ``model.pt2``
(a ``torch.export`` program with a dynamic batch dimension, loadable with
``torch.export.load(path).module()``) and ``model.json`` (the layer list, so the state_dict
can be loaded into a rebuilt Sequential without running code from the file).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from kernels.fold import fold


def describe(module: nn.Sequential) -> list[dict]:
    """The folded network's layers as plain dicts (type and sizes)."""
    out = []
    for m in module:
        entry: dict = {"type": type(m).__name__}
        if isinstance(m, nn.Linear):
            entry.update(in_features=m.in_features, out_features=m.out_features)
        elif isinstance(m, nn.Conv2d):
            entry.update(in_channels=m.in_channels, out_channels=m.out_channels,
                         kernel_size=list(m.kernel_size), padding=list(m.padding))
        elif isinstance(m, nn.BatchNorm2d):
            entry.update(num_features=m.num_features, eps=m.eps)
        elif isinstance(m, nn.Unflatten):
            entry.update(unflattened_size=list(m.unflattened_size))
        out.append(entry)
    return out


def export_model(model: nn.Module, out: str | Path, example: torch.Tensor) -> Path:
    """Fold ``model`` and write it to folder ``out``; ``example`` is a batch of inputs."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folded = fold(model).cpu().eval()
    example = example[:2].detach().cpu().float()
    if len(example) < 2:  # torch.export specialises a batch of 1
        example = torch.cat([example, example])
    state = {k: v.contiguous() for k, v in folded.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(folded, (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(out / "model.pt2"))
    (out / "model.json").write_text(json.dumps(
        {"layers": describe(folded), "in_features": int(example.shape[1])}, indent=2))
    return out
