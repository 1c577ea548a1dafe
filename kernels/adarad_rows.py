"""AdaRad's per-fan-in arithmetic in closed form, written once for torch tensors and numpy arrays.

Philipp & Carbonell, "Nonparametric Neural Networks", sec. 3.3, Algorithm 1 (AdaRad) and
Appendix 7.3, Algorithm 2 (AdaRad-M). Every function here maps row statistics of the fan-ins
(norms, dot products, running averages: a few hundred numbers per step) to the per-row
coefficients with which :class:`kernels.adarad.AdaRad` moves the full-size weights. ``xp`` is
:class:`TorchOps` or :class:`NumpyOps`. Zero rows divide by zero in branches that ``where``
discards: callers on numpy silence its warnings once per step (``np.errstate``).
"""

from __future__ import annotations

import numpy as np
import torch


class TorchOps:
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
    def rows(t: torch.Tensor) -> torch.Tensor:
        """The row vector ``t`` as this backend's array (itself)."""
        return t

    @staticmethod
    def assign(dst, src) -> None:
        dst.copy_(src)

    @staticmethod
    def scalar(value: float, like):
        return torch.tensor(value, dtype=like.dtype, device=like.device)


class NumpyOps:
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
    def rows(t: torch.Tensor) -> np.ndarray:
        """The CPU tensor ``t`` as a numpy array sharing its memory."""
        return t.numpy()

    @staticmethod
    def assign(dst, src) -> None:
        np.copyto(dst, src)

    @staticmethod
    def scalar(value: float, like):
        return like.dtype.type(value)


def stage1(xp, w_norm, g_norm, gw, phi_bar, c, beta_quad: float, batch_fraction: float):
    """Alg. 1 lines 11-12 per fan-in: with r = (G.w/|w|^2) w and phi = G - r orthogonal to w,
    |phi|^2 = |G|^2 - (G.w)^2/|w|^2, so no full-size phi is formed. G = batch_fraction * grad
    enters through the row sums. Zero fan-ins keep their averages frozen."""
    sq = w_norm * w_norm
    alive = sq > 0
    gw = gw * batch_fraction
    coef = xp.where(alive, gw / sq, 0.0)  # r = coef w
    phi_sq = xp.clamp0((g_norm * batch_fraction) ** 2 - coef * gw)
    phi_bar = xp.where(alive, phi_bar + beta_quad * (phi_sq - phi_bar), phi_bar)
    c = xp.where(alive, c + beta_quad * (1.0 - c), c)
    return dict(sq=sq, alive=alive, w_norm=w_norm, coef=coef, phi_sq=phi_sq, phi_bar=phi_bar, c=c)


def momentum_stage1(xp, rows, pw, arith, beta_arith: float, batch_fraction: float):
    """Alg. 2 line 16 per fan-in: phi_tilde <- (1 - ba) phi_tilde + ba phi, then the projection
    that keeps phi_tilde orthogonal to w (exact arithmetic needs none, sec. 7.3; it removes
    float drift). As phi.w = 0, the projected update is x1 phi_tilde + x2 grad + x3 w with
    x3 = -(ba coef + x1 phi_tilde.w / |w|^2): one pass over phi_tilde. Also a (line 16)."""
    alive, sq, ba = rows["alive"], rows["sq"], beta_arith
    one = xp.ones_like(sq)
    x1 = xp.where(alive, one * (1.0 - ba), one)
    x2 = xp.where(alive, one * (ba * batch_fraction), 0.0)
    x3 = xp.where(alive, -(ba * rows["coef"] + (1.0 - ba) * pw / sq), 0.0)
    arith = xp.where(alive, arith + ba * (1.0 - arith), arith)
    return x1, x2, x3, arith


def shrink_factor(xp, group, length):
    """Line 17, shrink(w, alpha_r lam |D^t|/|D|), as a per-row factor for a row of length
    ``length``: max(0, 1 - t/length), exactly 0 where length <= t; None when t = 0."""
    threshold = group["radial_lr"] * group["lam"] * group["batch_fraction"]
    if threshold <= 0:
        return None
    return xp.where(length > threshold, 1.0 - threshold / length, 0.0)


def plain_move(xp, global_scale, rows, group):
    """Alg. 1 lines 14-17 in closed form, per fan-in.

    With r = coef w and phi = G - r (orthogonal to w): the radial step gives w1 = a w with
    a = 1 - alpha_r coef; phi_adj = k phi with k the normalisation of line 14; the rotation by
    theta = alpha_phi k |phi| towards -phi/|phi| gives w2 = cos(theta) a w -
    sin(theta) |a| |w| phi/|phi|, of length |a||w|; the shrinkage of line 17 scales it by
    max(0, 1 - t/(|a||w|)). So w_new = A w + B grad per row: the weights are written once.
    """
    w_norm, coef, phi_sq = rows["w_norm"], rows["coef"], rows["phi_sq"]
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
    shrink = shrink_factor(xp, group, length)
    if shrink is not None:
        coef_w, coef_g = coef_w * shrink, coef_g * shrink
    return coef_w, coef_g


def momentum_move(xp, global_scale, rows, group):
    """Alg. 2 lines 17-21 in closed form, per fan-in.

    phi_adj = k phi_tilde with k = scale / a (line 17), orthogonal to w and so to
    w1 = alpha w (alpha = 1 - alpha_r coef, line 18). Rotating w1 by theta = alpha_phi |phi_adj|
    towards -phi_adj (line 19) gives w2 = cos alpha w - sin |alpha||w| phi_tilde/|phi_tilde|, of
    length |alpha||w|; line 20 rotates phi_tilde by the same angle towards w1/|w1|:
    phi_tilde <- cos phi_tilde + sin |phi_tilde| alpha w / (|alpha||w|); line 21 shrinks.
    """
    w_norm, coef, phi_norm, arith = rows["w_norm"], rows["coef"], rows["phi_norm"], rows["arith"]
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
    shrink = shrink_factor(xp, group, w1_norm)
    if shrink is not None:
        coef_w, coef_phi = coef_w * shrink, coef_phi * shrink
    return coef_w, coef_phi, cos, phi_w
