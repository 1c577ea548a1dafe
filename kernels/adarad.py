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

import torch

from kernels.prox import group_shrink_


def _rowdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=1)


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den where den > 0, else 0 (zero fan-ins have no direction)."""
    ok = den > 0
    return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), torch.zeros_like(num))


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
        like = dict(dtype=p.dtype, device=p.device)
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
        """One iteration of Alg. 1 lines 9-17 (Alg. 2 lines 10-21) for every fan-in."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        # Pass 1: decompose G (Alg. 1 line 11) and update running averages (line 12).
        # Without momentum only row dot products are needed here: |phi|^2 = |g|^2 - (g.w)^2/|w|^2
        # since phi is orthogonal to w; pass 2 then writes w as a per-row mix of w and g.
        work = []
        local_max = []
        for group in self.param_groups:
            bq, ba = group["beta_quad"], group["beta_arith"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_for(p, group["momentum"])
                w = p.detach().reshape(p.shape[0], -1)
                g = p.grad.detach().reshape(p.shape[0], -1) * group["batch_fraction"]
                sq = _rowdot(w, w)
                alive = sq > 0
                gw = _rowdot(g, w)
                coef = _safe_div(gw, sq)
                live = alive.to(w.dtype)
                phi_bar, c = state["phi_sq_avg"], state["capacity"]
                if not group["momentum"]:
                    phi_sq = (_rowdot(g, g) - coef * gw).clamp_min(0.0)
                    phi_bar.add_(live * bq * (phi_sq - phi_bar))
                    c.add_(live * bq * (1.0 - c))
                    local_max.append(torch.stack([phi_bar.max(), c.max()]).to(torch.float64))
                    work.append((group, p, state, w, g, (sq, gw, coef, phi_sq)))
                    continue
                r = coef[:, None] * w
                phi = g - r
                phi_bar.add_(live * bq * (_rowdot(phi, phi) - phi_bar))
                c.add_(live * bq * (1.0 - c))
                if group["momentum"]:  # Alg. 2 line 16
                    phi_t = state["phi_avg"].view(p.shape[0], -1)
                    a = state["arith_capacity"]
                    phi_t.add_(live[:, None] * ba * (phi - phi_t))
                    a.add_(live * ba * (1.0 - a))
                    # Exact arithmetic keeps phi_tilde orthogonal to w (sec. 7.3); this
                    # projection only removes float drift before it feeds the rotation.
                    phi_t.copy_(_orthogonal_part(phi_t, w))
                local_max.append(torch.stack([phi_bar.max(), c.max()]).to(torch.float64))
                work.append((group, p, state, w, r, phi))

        if not work:
            return loss

        # Global running maxima over all fan-ins of all layers (Alg. 1 line 13).
        first = self.param_groups[0]
        device = work[0][1].device
        phi_max = first["phi_max"].to(device=device, dtype=torch.float64)
        c_max = first["c_max"].to(device=device, dtype=torch.float64)
        step_max = torch.stack(local_max).amax(dim=0)
        first["phi_max"] = torch.maximum(phi_max, step_max[0])
        first["c_max"] = torch.maximum(c_max, step_max[1])
        global_scale = torch.sqrt(_safe_div(first["phi_max"], first["c_max"]))

        # Pass 2: radial step, rotation, shrinkage (Alg. 1 lines 14-17).
        for group, p, state, w, r, phi in work:
            if not group["momentum"]:
                self._plain_update(group, p, state, w, r, phi, global_scale)
                continue
            rows = p.shape[0]
            eps = group["eps"]
            phi_bar, c = state["phi_sq_avg"], state["capacity"]
            scale = global_scale.to(w.dtype) / torch.sqrt(_safe_div(phi_bar, c) + eps)
            if group["momentum"]:  # Alg. 2 line 17
                phi_t = state["phi_avg"].view(rows, -1)
                direction = _safe_div(phi_t, state["arith_capacity"][:, None])
            else:  # Alg. 1 line 14 uses the current phi
                direction = phi
            phi_adj = scale[:, None] * direction

            w1 = w - group["radial_lr"] * r  # line 15
            # Line 16: rotate w1 by theta = alpha_phi * |phi_adj| towards u = -phi_adj/|phi_adj|.
            u = -_orthogonal_part(phi_adj, w1)
            u_norm = torch.linalg.vector_norm(u, dim=1)
            w1_norm = torch.linalg.vector_norm(w1, dim=1)
            rotatable = (u_norm > 0) & (w1_norm > 0)
            theta = group["angular_lr"] * torch.linalg.vector_norm(phi_adj, dim=1)
            theta = torch.where(rotatable, theta, torch.zeros_like(theta))
            cos, sin = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
            u_hat = _safe_div(u, u_norm[:, None])
            w2 = cos * w1 + sin * w1_norm[:, None] * u_hat

            if group["momentum"]:
                # Alg. 2 line 20: rotate phi_tilde by the same angle towards w1/|w1| (the
                # plane of the rotation), which keeps it orthogonal to the rotated w.
                phi_t_norm = torch.linalg.vector_norm(phi_t, dim=1)
                w1_hat = _safe_div(w1, w1_norm[:, None])
                phi_t.copy_(cos * phi_t + sin * phi_t_norm[:, None] * w1_hat)

            p.copy_(w2.reshape(p.shape))
            # Line 17: shrink(w, alpha_r * lam * |D^t|/|D|).
            threshold = group["radial_lr"] * group["lam"] * group["batch_fraction"]
            if threshold > 0:
                group_shrink_(p, threshold)
        return loss

    @staticmethod
    def _plain_update(group, p, state, w, g, rowstats, global_scale) -> None:
        """Alg. 1 lines 14-17 in closed form, one fused write per weight.

        With r = (g.w/|w|^2) w and phi = g - r (orthogonal to w): the radial step gives
        w1 = a w with a = 1 - alpha_r g.w/|w|^2; phi_adj = k phi with k the normalisation of
        line 14; the rotation by theta = alpha_phi k |phi| towards -phi/|phi| gives
        w2 = cos(theta) a w - sin(theta) |a| |w| phi/|phi|, of length |a||w|; the shrinkage
        of line 17 scales it by max(0, 1 - t/(|a||w|)). So w_new = A w + B g per row, which
        reads the weights a few times and writes them once (Table 1's cost per weight).
        """
        sq, gw, coef, phi_sq = rowstats
        phi_bar, c = state["phi_sq_avg"], state["capacity"]
        k = global_scale.to(w.dtype) / torch.sqrt(_safe_div(phi_bar, c) + group["eps"])
        w_norm = torch.sqrt(sq)
        phi_norm = torch.sqrt(phi_sq)
        a = 1.0 - group["radial_lr"] * coef
        theta = group["angular_lr"] * k * phi_norm
        rotatable = (phi_norm > 0) & (w_norm > 0) & (a != 0)
        theta = torch.where(rotatable, theta, torch.zeros_like(theta))
        cos, sin = torch.cos(theta), torch.sin(theta)
        # w2 = cos*a*w - sin*|a||w|/|phi| * (g - coef*w)
        toward = _safe_div(sin * a.abs() * w_norm, phi_norm)
        coef_w = cos * a + toward * coef
        coef_g = -toward
        threshold = group["radial_lr"] * group["lam"] * group["batch_fraction"]
        if threshold > 0:
            length = a.abs() * w_norm
            shrink = torch.where(length > threshold, 1.0 - _safe_div(
                torch.full_like(length, threshold), length), torch.zeros_like(length))
            coef_w, coef_g = coef_w * shrink, coef_g * shrink
        out = torch.addcmul(coef_w[:, None] * w, coef_g[:, None], g)
        p.copy_(out.reshape(p.shape))

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


__all__ = ["AdaRad"]
