"""Adaptive Radial-Angular Gradient Descent (AdaRad) and AdaRad-M.

Philipp & Carbonell, "Nonparametric Neural Networks", sec. 3.3, Algorithm 1 (AdaRad)
and Appendix 7.3, Algorithm 2 (AdaRad-M); defaults from Table 3 (beta_quad = 0.005,
beta_arith = 0.1, eps = 1e-8).

Each fan-in w (a ROW of the torch weight, trailing dims flattened) takes a radial step
with the un-normalized parallel gradient component and the l2 shrinkage, and an
angular step -- a length-preserving rotation -- with the orthogonal component
normalized by its running RMS (RMSprop at fan-in granularity).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from kernels.adarad_group import GroupRows
from kernels.adarad_rows import NumpyOps, TorchOps


def _rowdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=1)


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den where den > 0, else 0 (zero fan-ins have no direction).

    The quotient's inf/nan at den = 0 is computed and discarded (no autograd here)."""
    return torch.where(den > 0, num / den, 0.0)


def _orthogonal_part(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Row-wise component of x orthogonal to w (x itself on zero rows of w)."""
    coef = _safe_div(_rowdot(x, w), _rowdot(w, w))
    return x - coef[:, None] * w


class AdaRad(torch.optim.Optimizer):
    """AdaRad (Algorithm 1), or AdaRad-M (Algorithm 2) with ``momentum=True``.

    Args:
        radial_lr: alpha_r, step for the parallel gradient component and the shrinkage
            (Table 3 uses 1 / (50 lam)).
        angular_lr: alpha_phi, scales the rotation angle (sec. 4.1 starts at 30).
        lam: l2 fan-in regularization lambda (eq. 2, p=2).
        batch_fraction: |D^t| / |D|.  The paper's G (Alg. 1 line 8) is (1/|D|) times the
            gradient of the SUM of batch losses; torch's loss is the batch MEAN, so
            G = p.grad * batch_fraction.  The shrink threshold (line 17) is
            radial_lr * lam * batch_fraction.
        beta_quad, beta_arith, eps: mixing rates and stabilizer (Table 3).

    All hyperparameters live in ``param_groups`` and can be changed between steps.
    Every param must have ndim >= 2 (rows = fan-ins); nonparametric nets are bias-free
    (sec. 2, f(x) = sigma(... x W ...)).

    Per-param state: ``phi_sq_avg`` (rows,) = phi_bar, ``capacity`` (rows,) = c, and
    with momentum ``phi_avg`` (param shape) = phi_tilde, ``arith_capacity`` (rows,) = a.
    New units should get zeros in all of them (Alg. 1 line 24, Alg. 2 line 29).

    The global running maxima phi_max / c_max (Alg. 1 line 13) are 0-dim tensors in
    ``param_groups[0]`` so ``state_dict()`` round-trips them.

    Order of computation: the paper updates phi_max unit by unit inside its loop, so
    early units in a step see a smaller maximum.  Here one step first updates phi_bar,
    c (and phi_tilde, a) for all fan-ins of all params, then takes the max over all of
    them, then moves every fan-in -- the same fixed point, vectorised.

    Zero fan-ins (|w| = 0) have no direction: r = 0, no rotation, and their running
    averages are frozen (the paper removes such units at once, Alg. 1 lines 18-19, so
    they never reach the statistics again).
    """

    def __init__(
        self,
        params,
        radial_lr: float,
        angular_lr: float,
        lam: float = 0.0,
        batch_fraction: float = 1.0,
        beta_quad: float = 0.005,
        beta_arith: float = 0.1,
        eps: float = 1e-8,
        momentum: bool = False,
    ):
        for name, value in (("radial_lr", radial_lr), ("angular_lr", angular_lr), ("lam", lam)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not 0 < batch_fraction <= 1:
            raise ValueError(f"batch_fraction = |D^t|/|D| must be in (0, 1], got {batch_fraction}")
        for name, value in (("beta_quad", beta_quad), ("beta_arith", beta_arith)):
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        defaults = dict(
            radial_lr=radial_lr,
            angular_lr=angular_lr,
            lam=lam,
            batch_fraction=batch_fraction,
            beta_quad=beta_quad,
            beta_arith=beta_arith,
            eps=eps,
            momentum=momentum,
        )
        super().__init__(params, defaults)
        first = self.param_groups[0]
        first.setdefault("phi_max", torch.zeros((), dtype=torch.float64))
        first.setdefault("c_max", torch.zeros((), dtype=torch.float64))

    def add_param_group(self, param_group: dict) -> None:
        params = param_group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        param_group["params"] = params  # a generator would be spent by the check below
        for p in params:
            if p.ndim < 2:
                raise ValueError(
                    f"AdaRad needs weights with ndim >= 2 (rows = fan-ins), got a param of "
                    f"shape {tuple(p.shape)}; nonparametric nets are bias-free (sec. 2)"
                )
        super().add_param_group(param_group)

    def _state_for(self, p: torch.Tensor, momentum: bool) -> dict:
        state = self.state[p]
        rows = p.shape[0]
        like: dict[str, Any] = dict(dtype=p.dtype, device=p.device)
        if "phi_sq_avg" not in state:
            state["phi_sq_avg"] = torch.zeros(rows, **like)
            state["capacity"] = torch.zeros(rows, **like)
        if momentum and "phi_avg" not in state:
            state["phi_avg"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
            state["arith_capacity"] = torch.zeros(rows, **like)
        if "phi_avg" in state and not state["phi_avg"].is_contiguous():
            # surgery may leave a column-sliced view; the row views below need contiguity
            state["phi_avg"] = state["phi_avg"].contiguous()
        for name, shape in (
            ("phi_sq_avg", (rows,)),
            ("capacity", (rows,)),
            ("phi_avg", tuple(p.shape)),
            ("arith_capacity", (rows,)),
        ):
            if name in state and tuple(state[name].shape) != shape:
                raise RuntimeError(
                    f"AdaRad state {name!r} has shape {tuple(state[name].shape)} but the param "
                    f"needs {shape}; surgery must resize optimizer state with the param"
                )
        return state

    @torch.no_grad()
    def step(self, closure=None):
        """One iteration of Alg. 1 lines 9-17 (Alg. 2 lines 10-21) for every fan-in.

        Cost per weight (Table 1): the statistics read w and G once each (two row norms and
        a row dot product; with momentum also phi_tilde), the move writes w once (and
        phi_tilde twice). The per-fan-in arithmetic in between runs once per group on the
        fan-ins of all its params together (:mod:`numpy` on CPU, where it is a few hundred
        numbers and torch's per-call overhead would dominate small layers), in buffers kept
        between steps (:class:`kernels.adarad_group.GroupRows`).
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        with np.errstate(divide="ignore", invalid="ignore"):  # zero rows: discarded branches
            # Pass 1: statistics and running averages (Alg. 1 lines 11-12, Alg. 2 12-16).
            work = []
            for index, group in enumerate(self.param_groups):
                layout = self._layout(index, group)
                if layout is not None:
                    work.append((group, layout, layout.statistics(group)))
            if not work:
                return loss

            # Global running maxima over all fan-ins of all layers (Alg. 1 line 13).
            phi_max, c_max = self._maxima()
            for _, layout, _ in work:
                group_phi, group_c = layout.maxima()
                phi_max, c_max = max(phi_max, group_phi), max(c_max, group_c)
            self._set_maxima(phi_max, c_max)
            global_scale = math.sqrt(phi_max / c_max) if c_max > 0 else 0.0

            # Pass 2: radial step, rotation, shrinkage (Alg. 1 lines 14-17, Alg. 2 17-21).
            for group, layout, rows in work:
                layout.move(group, rows, global_scale)
        return loss

    def _layout(self, index: int, group: dict) -> GroupRows | None:
        """The group's :class:`GroupRows` for the params that have a gradient (rebuilt when
        a param, a shape or a state tensor changed); None when none has one."""
        params = [p for p in group["params"] if p.grad is not None]
        if not params:
            return None
        momentum, ops = bool(group["momentum"]), _ops_for(params[0])
        layouts = self.__dict__.setdefault("_layouts", {})
        layout = layouts.get(index)
        if layout is None or not layout.valid(params, self.state, momentum, ops):
            states = [self._state_for(p, momentum) for p in params]
            layout = layouts[index] = GroupRows(params, states, momentum, ops)
        return layout

    def _maxima(self) -> tuple[float, float]:
        """phi_max and c_max as floats (read from the 0-dim tensors only when they changed)."""
        first = self.param_groups[0]
        cached = self.__dict__.get("_maxima_cache")
        if cached is not None and cached[0] is first["phi_max"] and cached[1] is first["c_max"]:
            return cached[2], cached[3]
        return float(first["phi_max"]), float(first["c_max"])

    def _set_maxima(self, phi_max: float, c_max: float) -> None:
        first = self.param_groups[0]
        # new 0-dim tensors (a state_dict taken earlier keeps its values); from numpy: cheaper
        first["phi_max"] = torch.from_numpy(np.array(phi_max, dtype=np.float64))
        first["c_max"] = torch.from_numpy(np.array(c_max, dtype=np.float64))
        self.__dict__["_maxima_cache"] = (first["phi_max"], first["c_max"], phi_max, c_max)

    @torch.no_grad()
    def after_surgery(self, param: torch.Tensor) -> None:
        """Re-orthogonalise phi_tilde rows against ``param``'s fan-ins after columns
        (inputs) were removed (Alg. 2 lines 31-34).  No-op without momentum."""
        state = self.state.get(param)
        if not state or "phi_avg" not in state:
            return
        phi_t = state["phi_avg"]
        if phi_t.shape != param.shape:
            raise RuntimeError(
                f"phi_avg has shape {tuple(phi_t.shape)} but the param has {tuple(param.shape)}; "
                "resize the optimizer state before calling after_surgery"
            )
        rows = param.shape[0]
        w = param.detach().reshape(rows, -1)
        phi_t.copy_(_orthogonal_part(phi_t.reshape(rows, -1), w).reshape(phi_t.shape))


def _ops_for(t: torch.Tensor):
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and USE_NUMPY_ROWS:
        return NumpyOps
    return TorchOps


USE_NUMPY_ROWS = True
"""Row arithmetic through numpy for CPU float32/float64 params (False: torch everywhere)."""


__all__ = ["AdaRad"]
