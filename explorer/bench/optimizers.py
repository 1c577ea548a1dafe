"""Benchmarks (``python -m explorer bench``). Speed is measured here, never in timed tests.

AdaRad vs Adam vs RMSprop: the time of one optimizer step on the same bias-free MLP
(nonparametric paper Table 1 says AdaRad costs no more per weight than RMSprop), and of a whole
training step (forward, backward, optimizer). :func:`optimizer_figures` gives the bench table's
AdaRad / Adam rows.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from explorer.bench.table import Figure, alternate, figure, ratios
from explorer.config import resolve_device
from kernels.adarad import AdaRad
from kernels.dynamic_mlp import DynamicMLP


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _model_and_optimizer(
    name: str, widths: list[int], device: torch.device
) -> tuple[DynamicMLP, torch.optim.Optimizer]:
    """The benches' bias-free 784-widths-10 MLP (seed 0) and optimizer ``name`` (adam,
    rmsprop, adarad, adarad-m) over its weights."""
    torch.manual_seed(0)
    model = DynamicMLP(784, widths, 10, bias=False).to(device)
    params = [lin.weight for lin in model.linears]
    opt: torch.optim.Optimizer
    if name == "adam":
        opt = torch.optim.Adam(params, lr=1e-3)
    elif name == "rmsprop":
        opt = torch.optim.RMSprop(params, lr=1e-3)
    else:
        opt = AdaRad(
            params,
            radial_lr=20.0,
            angular_lr=30.0,
            lam=1e-3,
            batch_fraction=0.02,
            momentum=name == "adarad-m",
        )
    return model, opt


def time_optimizer(
    name: str, widths: list[int], device: torch.device, repeats: int, batch: int = 1000
) -> dict:
    model, opt = _model_and_optimizer(name, widths, device)
    x = torch.randn(batch, 784, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def full_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(5):
        full_step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        opt.step()
    _sync(device)
    opt_ms = (time.perf_counter() - t0) / repeats * 1e3
    t0 = time.perf_counter()
    for _ in range(repeats):
        full_step()
    _sync(device)
    step_ms = (time.perf_counter() - t0) / repeats * 1e3
    n_weights = sum(p.numel() for p in model.parameters())
    return {
        "optimizer": name,
        "widths": widths,
        "weights": n_weights,
        "optimizer_step_ms": opt_ms,
        "train_step_ms": step_ms,
        "ns_per_weight": opt_ms * 1e6 / n_weights,
    }


def main(device: str = "auto", repeats: int = 50) -> int:
    dev = resolve_device(device)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(
        f"device: {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}),"
        f" torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    print(
        f"{'optimizer':10s} {'widths':>12s} {'weights':>9s} {'opt step ms':>12s} "
        f"{'ns/weight':>10s} {'train step ms':>14s}"
    )
    for widths in ([256, 256], [1000, 1000]):
        for name in ("adam", "rmsprop", "adarad", "adarad-m"):
            r = time_optimizer(name, widths, dev, repeats)
            print(
                f"{name:10s} {str(widths):>12s} {r['weights']:9d} "
                f"{r['optimizer_step_ms']:12.3f} {r['ns_per_weight']:10.2f} "
                f"{r['train_step_ms']:14.3f}"
            )
    return 0


def optimizer_figures(
    width: int, repeats: int, inner: int = 10, device: str = "cpu"
) -> list[Figure]:
    """AdaRad / Adam and AdaRad-M / Adam optimizer step (784-w-w-10, bias-free, batch 1000,
    gradients fixed), interleaved in one process [issue 17: <= 1.0 and <= 2.0]. On a CUDA
    ``device`` each step waits for the device (``torch.cuda.synchronize``)."""
    dev = torch.device(device)

    def make(name: str):
        model, opt = _model_and_optimizer(name, [width, width], dev)
        x = torch.randn(1000, 784).to(dev)
        y = torch.randint(0, 10, (1000,)).to(dev)
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        if dev.type == "cpu":
            return opt.step

        def synced_step() -> None:
            opt.step()
            _sync(dev)

        return synced_step

    times = alternate({n: make(n) for n in ("adam", "adarad", "adarad-m")}, repeats, inner)
    shape = f"784-{width}-{width}-10" + ("" if dev.type == "cpu" else f", {dev.type}")
    return [
        figure(
            f"adarad/adam step, {shape}",
            ratios(times, "adarad", "adam"),
            "x",
            "<= 1.0",
            lambda v: v <= 1.0,
            ms={k: statistics.median(v) for k, v in times.items()},
        ),
        figure(
            f"adarad-m/adam step, {shape}",
            ratios(times, "adarad-m", "adam"),
            "x",
            "<= 2.0",
            lambda v: v <= 2.0,
        ),
    ]
