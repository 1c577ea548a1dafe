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


def _write_back(p: torch.Tensor, rows: torch.Tensor) -> None:
    """``rows`` is p's (rows, fan-in) view, or a copy when p is not contiguous."""
    if rows.data_ptr() != p.data_ptr() or not p.is_contiguous():
        p.copy_(rows.reshape(p.shape))


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
        numbers and torch's per-call overhead would dominate small layers).
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        # Pass 1: statistics and running averages (Alg. 1 lines 11-12, Alg. 2 lines 12-16).
        work = []
        for group in self.param_groups:
            items = [
                (p, self._state_for(p, group["momentum"]))
                for p in group["params"]
                if p.grad is not None
            ]
            if items:
                work.append((group, items, self._statistics(group, items)))
        if not work:
            return loss

        # Global running maxima over all fan-ins of all layers (Alg. 1 line 13).
        first = self.param_groups[0]
        phi_max = max(
            [first["phi_max"]] + [stats["phi_bar"].max() for _, _, stats in work], key=float
        )
        c_max = max([first["c_max"]] + [stats["c"].max() for _, _, stats in work], key=float)
        first["phi_max"] = torch.as_tensor(phi_max, dtype=torch.float64)
        first["c_max"] = torch.as_tensor(c_max, dtype=torch.float64)
        global_scale = math.sqrt(float(phi_max) / float(c_max)) if float(c_max) > 0 else 0.0

        # Pass 2: radial step, rotation, shrinkage (Alg. 1 lines 14-17, Alg. 2 lines 17-21).
        for group, items, stats in work:
            if group["momentum"]:
                self._move_momentum(group, items, stats, global_scale)
            else:
                self._move_plain(group, items, stats, global_scale)
        return loss

    @staticmethod
    def _statistics(group, items) -> dict:
        """Row statistics of every param of ``group``, concatenated over its fan-ins, and the
        running averages phi_bar, c (and phi_tilde, a) updated in the state."""
        ws = [p.detach().reshape(p.shape[0], -1) for p, _ in items]
        gs = [p.grad.detach().reshape(p.shape[0], -1) for p, _ in items]
        ops = _ops_for(ws[0])
        sizes = [w.shape[0] for w in ws]
        rows = _rows_stage1(
            ops,
            ops.cat([torch.linalg.vector_norm(w, dim=1) for w in ws]),
            ops.cat([torch.linalg.vector_norm(g, dim=1) for g in gs]),
            ops.cat([torch.linalg.vecdot(g, w, dim=1) for g, w in zip(gs, ws, strict=True)]),
            ops.cat([st["phi_sq_avg"] for _, st in items]),
            ops.cat([st["capacity"] for _, st in items]),
            group["beta_quad"],
            group["batch_fraction"],
        )
        ops.scatter(rows["phi_bar"], [st["phi_sq_avg"] for _, st in items])
        ops.scatter(rows["c"], [st["capacity"] for _, st in items])
        stats = dict(rows, ops=ops, ws=ws, gs=gs, sizes=sizes)
        if not group["momentum"]:
            return stats
        phis = [st["phi_avg"].view(w.shape[0], -1) for (_, st), w in zip(items, ws, strict=True)]
        pw = ops.cat([torch.linalg.vecdot(phi, w, dim=1) for phi, w in zip(phis, ws, strict=True)])
        x1, x2, x3, arith = _rows_momentum_stage1(
            ops,
            rows,
            pw,
            ops.cat([st["arith_capacity"] for _, st in items]),
            group["beta_arith"],
            group["batch_fraction"],
        )
        ops.scatter(arith, [st["arith_capacity"] for _, st in items])
        for phi, g, w, a1, a2, a3 in zip(
            phis,
            gs,
            ws,
            ops.split(x1, sizes),
            ops.split(x2, sizes),
            ops.split(x3, sizes),
            strict=True,
        ):
            phi.mul_(a1).addcmul_(a2, g).addcmul_(a3, w)
        stats.update(
            phis=phis,
            arith=arith,
            phi_norm=ops.cat([torch.linalg.vector_norm(phi, dim=1) for phi in phis]),
        )
        return stats

    @staticmethod
    def _move_plain(group, items, stats, global_scale: float) -> None:
        """Alg. 1 lines 14-17: w <- A w + B grad per fan-in (see :func:`_rows_plain_move`)."""
        ops, sizes = stats["ops"], stats["sizes"]
        coef_w, coef_g = _rows_plain_move(
            ops, ops.scalar(global_scale, stats["coef"]), stats, group
        )
        for (p, _), w, g, cw, cg in zip(
            items,
            stats["ws"],
            stats["gs"],
            ops.split(coef_w, sizes),
            ops.split(coef_g, sizes),
            strict=True,
        ):
            w.mul_(cw).addcmul_(cg, g)
            _write_back(p, w)

    @staticmethod
    def _move_momentum(group, items, stats, global_scale: float) -> None:
        """Alg. 2 lines 17-21: w <- A w + B phi_tilde and phi_tilde <- cos phi_tilde + C w per
        fan-in (see :func:`_rows_momentum_move`)."""
        ops, sizes = stats["ops"], stats["sizes"]
        coef_w, coef_phi, cos, phi_w = _rows_momentum_move(
            ops, ops.scalar(global_scale, stats["coef"]), stats, group
        )
        for (p, _), w, phi, cw, cp, cs, pw in zip(
            items,
            stats["ws"],
            stats["phis"],
            ops.split(coef_w, sizes),
            ops.split(coef_phi, sizes),
            ops.split(cos, sizes),
            ops.split(phi_w, sizes),
            strict=True,
        ):
            towards = phi * cp
            phi.mul_(cs).addcmul_(pw, w)  # line 20, with the old w
            w.mul_(cw).add_(towards)
            _write_back(p, w)

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


# ---- per-fan-in arithmetic, written once for torch tensors and numpy arrays --------------------


class _TorchOps:
    """Row vectors as torch tensors (any device)."""

    where = staticmethod(torch.where)
    sqrt = staticmethod(torch.sqrt)
    cos = staticmethod(torch.cos)
    sin = staticmethod(torch.sin)
    abs = staticmethod(torch.abs)
    ones_like = staticmethod(torch.ones_like)

    @staticmethod
    def clamp0(x):
        return x.clamp_min(0.0)

    @staticmethod
    def cat(parts: list[torch.Tensor]):
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    @staticmethod
    def scatter(values, targets: list[torch.Tensor]) -> None:
        for target, part in zip(targets, values.split([t.shape[0] for t in targets]), strict=True):
            target.copy_(part)

    @staticmethod
    def split(values, sizes: list[int]) -> list[torch.Tensor]:
        """Per-param column vectors (rows, 1), ready to broadcast over a (rows, fan-in) view."""
        return list(values[:, None].split(sizes))

    @staticmethod
    def scalar(value: float, like):
        return torch.tensor(value, dtype=like.dtype, device=like.device)


class _NumpyOps:
    """Row vectors as numpy arrays sharing memory with CPU tensors: a few hundred numbers per
    call, where numpy's per-call cost is a fraction of torch's."""

    where = staticmethod(np.where)
    sqrt = staticmethod(np.sqrt)
    cos = staticmethod(np.cos)
    sin = staticmethod(np.sin)
    abs = staticmethod(np.abs)
    ones_like = staticmethod(np.ones_like)

    @staticmethod
    def clamp0(x):
        return np.maximum(x, 0.0)

    @staticmethod
    def cat(parts: list[torch.Tensor]):
        return parts[0].numpy() if len(parts) == 1 else np.concatenate([t.numpy() for t in parts])

    @staticmethod
    def scatter(values, targets: list[torch.Tensor]) -> None:
        start = 0
        for target in targets:
            stop = start + target.shape[0]
            view = target.numpy()
            if not np.shares_memory(view, values):
                view[...] = values[start:stop]
            start = stop

    @staticmethod
    def split(values, sizes: list[int]) -> list[torch.Tensor]:
        column = torch.from_numpy(np.ascontiguousarray(values).reshape(-1, 1))
        return list(column.split(sizes))

    @staticmethod
    def scalar(value: float, like):
        return like.dtype.type(value)


def _ops_for(t: torch.Tensor):
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and USE_NUMPY_ROWS:
        return _NumpyOps
    return _TorchOps


USE_NUMPY_ROWS = True
"""Row arithmetic through numpy for CPU float32/float64 params (False: torch everywhere)."""


def _rows_stage1(xp, w_norm, g_norm, gw, phi_bar, c, beta_quad: float, batch_fraction: float):
    """Alg. 1 lines 11-12 per fan-in: with r = (G.w/|w|^2) w and phi = G - r orthogonal to w,
    |phi|^2 = |G|^2 - (G.w)^2/|w|^2, so no full-size phi is formed. G = batch_fraction * grad
    enters through the row sums. Zero fan-ins keep their averages frozen."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = w_norm * w_norm
        alive = sq > 0
        gw = gw * batch_fraction
        coef = xp.where(alive, gw / sq, 0.0)  # r = coef w
        phi_sq = xp.clamp0((g_norm * batch_fraction) ** 2 - coef * gw)
        phi_bar = xp.where(alive, phi_bar + beta_quad * (phi_sq - phi_bar), phi_bar)
        c = xp.where(alive, c + beta_quad * (1.0 - c), c)
    return dict(sq=sq, alive=alive, w_norm=w_norm, coef=coef, phi_sq=phi_sq, phi_bar=phi_bar, c=c)


def _rows_momentum_stage1(xp, rows, pw, arith, beta_arith: float, batch_fraction: float):
    """Alg. 2 line 16 per fan-in: phi_tilde <- (1 - ba) phi_tilde + ba phi, then the projection
    that keeps phi_tilde orthogonal to w (exact arithmetic needs none, sec. 7.3; it removes
    float drift). As phi.w = 0, the projected update is x1 phi_tilde + x2 grad + x3 w with
    x3 = -(ba coef + x1 phi_tilde.w / |w|^2): one pass over phi_tilde. Also a (line 16)."""
    alive, sq, ba = rows["alive"], rows["sq"], beta_arith
    one = xp.ones_like(sq)
    with np.errstate(divide="ignore", invalid="ignore"):
        x1 = xp.where(alive, one * (1.0 - ba), one)
        x2 = xp.where(alive, one * (ba * batch_fraction), 0.0)
        x3 = xp.where(alive, -(ba * rows["coef"] + (1.0 - ba) * pw / sq), 0.0)
        arith = xp.where(alive, arith + ba * (1.0 - arith), arith)
    return x1, x2, x3, arith


def _shrink(xp, group, length):
    """Line 17, shrink(w, alpha_r lam |D^t|/|D|), as a per-row factor for a row of length
    ``length``: max(0, 1 - t/length), exactly 0 where length <= t; None when t = 0."""
    threshold = group["radial_lr"] * group["lam"] * group["batch_fraction"]
    if threshold <= 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return xp.where(length > threshold, 1.0 - threshold / length, 0.0)


def _rows_plain_move(xp, global_scale, rows, group):
    """Alg. 1 lines 14-17 in closed form, per fan-in.

    With r = coef w and phi = G - r (orthogonal to w): the radial step gives w1 = a w with
    a = 1 - alpha_r coef; phi_adj = k phi with k the normalisation of line 14; the rotation by
    theta = alpha_phi k |phi| towards -phi/|phi| gives w2 = cos(theta) a w -
    sin(theta) |a| |w| phi/|phi|, of length |a||w|; the shrinkage of line 17 scales it by
    max(0, 1 - t/(|a||w|)). So w_new = A w + B grad per row: the weights are written once.
    """
    w_norm, coef, phi_sq = rows["w_norm"], rows["coef"], rows["phi_sq"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = xp.where(rows["c"] > 0, rows["phi_bar"] / rows["c"], 0.0)
        k = global_scale / xp.sqrt(ratio + group["eps"])
        phi_norm = xp.sqrt(phi_sq)
        a = 1.0 - group["radial_lr"] * coef
        length = xp.abs(a) * w_norm
        rotatable = (phi_norm > 0) & (length > 0)
        theta = xp.where(rotatable, group["angular_lr"] * k * phi_norm, 0.0)
        cos, sin = xp.cos(theta), xp.sin(theta)
        # w2 = cos a w - sin |a||w|/|phi| (G - coef w), G = batch_fraction * grad
        toward = xp.where(rotatable, sin * length / phi_norm, 0.0)
        coef_w = cos * a + toward * coef
        coef_g = toward * -group["batch_fraction"]
    shrink = _shrink(xp, group, length)
    if shrink is not None:
        coef_w, coef_g = coef_w * shrink, coef_g * shrink
    return coef_w, coef_g


def _rows_momentum_move(xp, global_scale, rows, group):
    """Alg. 2 lines 17-21 in closed form, per fan-in.

    phi_adj = k phi_tilde with k = scale / a (line 17), orthogonal to w and so to
    w1 = alpha w (alpha = 1 - alpha_r coef, line 18). Rotating w1 by theta = alpha_phi |phi_adj|
    towards -phi_adj (line 19) gives w2 = cos alpha w - sin |alpha||w| phi_tilde/|phi_tilde|, of
    length |alpha||w|; line 20 rotates phi_tilde by the same angle towards w1/|w1|:
    phi_tilde <- cos phi_tilde + sin |phi_tilde| alpha w / (|alpha||w|); line 21 shrinks.
    """
    w_norm, coef, phi_norm, arith = rows["w_norm"], rows["coef"], rows["phi_norm"], rows["arith"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = xp.where(rows["c"] > 0, rows["phi_bar"] / rows["c"], 0.0)
        scale = global_scale / xp.sqrt(ratio + group["eps"])
        k = xp.where(arith > 0, scale / arith, 0.0)  # direction = phi_tilde / a, 0 where a = 0
        alpha = 1.0 - group["radial_lr"] * coef
        w1_norm = xp.abs(alpha) * w_norm
        adj_norm = k * phi_norm
        rotatable = (adj_norm > 0) & (w1_norm > 0)
        theta = xp.where(rotatable, group["angular_lr"] * adj_norm, 0.0)
        cos, sin = xp.cos(theta), xp.sin(theta)
        coef_w = cos * alpha
        coef_phi = xp.where(rotatable, -sin * w1_norm / phi_norm, 0.0)
        phi_w = xp.where(rotatable, sin * phi_norm * alpha / w1_norm, 0.0)
    shrink = _shrink(xp, group, w1_norm)
    if shrink is not None:
        coef_w, coef_phi = coef_w * shrink, coef_phi * shrink
    return coef_w, coef_phi, cos, phi_w


__all__ = ["AdaRad"]
