"""Cost of one loss contour and one gradient-variance map (Shu et al. 2020, sec. 4.2): grid
points batched with ``torch.func.functional_call`` + ``vmap`` against a plain Python loop over
grid points, timed interleaved in one run (repeats alternate vmap / loop) so machine noise hits
both alike. `python -m explorer landscape --bench [--grid 31] [--device cuda]`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch


def _time(fn, sync) -> float:
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def main(
    grid: int = 31,
    variance_grid: int = 31,
    device: str = "cpu",
    dataset: str = "digits",
    repeats: int = 3,
    steps: int = 300,
) -> int:
    from explorer.data.registry import load_dataset
    from kernels.cells import widest_shallowest
    from kernels.landscape import (
        filter_normalized_direction,
        loss_surface,
        loss_surface_loop,
        model_params,
        train_cell,
        variance_surface,
        variance_surface_loop,
    )
    from kernels.landscape.surface import gradient_variance, gradient_variance_loop

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(1)
    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    data = load_dataset(dataset, seed=0)
    res = train_cell(
        widest_shallowest(7, 2),
        data.X_train,
        data.y_train,
        data.X_test,
        data.y_test,
        data.n_classes,
        steps=steps,
    )
    net = res.model.to(dev).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    X = torch.as_tensor(data.X_test, device=dev)
    y = torch.as_tensor(data.y_test, device=dev)
    params = model_params(net)
    g = torch.Generator().manual_seed(0)
    d1, d2 = (filter_normalized_direction(params, g) for _ in range(2))
    a = np.linspace(-1, 1, grid)
    va = np.linspace(-1, 1, variance_grid)
    n_par = sum(p.numel() for p in params.values())
    print(
        f"device {dev}, {dataset} test set {tuple(X.shape)}, widest 7-node cell net, "
        f"{n_par} parameters, torch threads {torch.get_num_threads()}"
    )
    rows: dict[str, list[float]] = {
        "contour vmap": [],
        "contour loop": [],
        "variance vmap": [],
        "variance loop (vmap over examples per point)": [],
    }
    check: dict[str, Any] = {}
    for r in range(repeats):
        pairs = [
            ("contour vmap", lambda: loss_surface(net, params, d1, d2, a, a, X, y)),
            ("contour loop", lambda: loss_surface_loop(net, params, d1, d2, a, a, X, y)),
            ("variance vmap", lambda: variance_surface(net, params, d1, d2, va, va, X, y)),
            (
                "variance loop (vmap over examples per point)",
                lambda: variance_surface_loop(net, params, d1, d2, va, va, X, y),
            ),
        ]
        if r % 2:
            pairs = [pairs[1], pairs[0], pairs[3], pairs[2]]
        for name, fn in pairs:
            box: dict[str, Any] = {}
            rows[name].append(_time(lambda fn=fn, box=box: box.setdefault("v", fn()), sync))
            check[name] = box["v"]
    vloop = "variance loop (vmap over examples per point)"
    med = {k: float(np.median(v)) for k, v in rows.items()}
    dc = np.abs(check["contour vmap"] - check["contour loop"]).max()
    dv = np.abs(check["variance vmap"] / check[vloop] - 1).max()
    print(f"max |vmap - loop| contour {dc:.2e}, variance (relative) {dv:.2e}")
    for name, ts in rows.items():
        side = grid if name.startswith("contour") else variance_grid
        runs = ", ".join(f"{t:.3f}" for t in ts)
        print(f"{name:48s} {side}x{side}: median {med[name]:8.3f} s  (runs: {runs})")
    print(f"ratio contour loop / vmap: {med['contour loop'] / med['contour vmap']:.2f}")
    print(f"ratio variance loop / vmap: {med[vloop] / med['variance vmap']:.2f}")
    # one grid point with a loop over examples (the fully plain reference), against vmap(grad)
    t_ex = [_time(lambda: gradient_variance_loop(net, params, X, y), sync) for _ in range(repeats)]
    t_vm = [_time(lambda: gradient_variance(net, params, X, y), sync) for _ in range(repeats)]
    print(
        f"one grid point, per-example grads: loop over {len(y)} examples {np.median(t_ex):.3f} s,"
        f" vmap(grad) {np.median(t_vm):.4f} s, ratio {np.median(t_ex) / np.median(t_vm):.1f}"
    )
    one = [
        _time(lambda: loss_surface(net, params, d1, d2, [0.0], [0.0], X, y), sync)
        for _ in range(repeats)
    ]
    print(
        f"one pass over the evaluation set (1 grid point): {np.median(one) * 1e3:.2f} ms; "
        f"contour vmap = {np.median(rows['contour vmap']) / np.median(one):.0f} passes"
    )
    return 0
