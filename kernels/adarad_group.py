"""One AdaRad param group's fan-ins laid end to end: the full-size passes of a step.

Philipp & Carbonell, "Nonparametric Neural Networks", sec. 3.3, Algorithm 1 and Appendix 7.3,
Algorithm 2. A step reads each weight w and gradient G once for two row norms and a row dot
product (with momentum also phi_tilde), hands those few hundred numbers of the whole group to the
closed form of :mod:`kernels.adarad_rows`, and writes w once (and phi_tilde twice): Table 1's
cost per weight.

:class:`GroupRows` keeps, between steps, one flat buffer per row quantity (statistics, running
averages, move coefficients) with each param's rows as a slice of it, so a step concatenates and
scatters nothing and allocates nothing of the group's size. The running averages in the
optimizer's state are those slices. It stays valid while the group's params, their shapes and
their state tensors are the same objects; surgery and ``load_state_dict`` replace state tensors,
and the next step builds a new one (copying the state in).
"""

from __future__ import annotations

from itertools import accumulate
from typing import Any

import torch

from kernels import adarad_rows as rows_math

ROW_STATE = ("phi_sq_avg", "capacity")
"""Per-fan-in state of Alg. 1 (phi_bar, c); with momentum also ``arith_capacity`` (a)."""


def _rows_view(t: torch.Tensor) -> torch.Tensor:
    """``t`` as (rows, fan-in): ``t`` itself when it has 2 dims (the step runs without
    autograd), else a view when it is contiguous, else a copy."""
    return t if t.ndim == 2 else t.reshape(t.shape[0], -1)


class GroupRows:
    """The rows of one param group: flat buffers and each param's slices of them."""

    def __init__(self, params: list[torch.Tensor], states: list[dict], momentum: bool, ops):
        self.params, self.momentum, self.ops = params, momentum, ops
        self.shapes = [p.shape for p in params]
        self.dtype, self.device = params[0].dtype, params[0].device
        mixed = {(str(p.dtype), str(p.device)) for p in params}
        if len(mixed) > 1:
            raise ValueError(
                f"AdaRad: the params of one group must share dtype and device, got "
                f"{sorted(mixed)}; put them in separate param groups"
            )
        sizes = [int(p.shape[0]) for p in params]
        stops = list(accumulate(sizes))
        slices = [slice(stop - n, stop) for n, stop in zip(sizes, stops, strict=True)]
        like: dict[str, Any] = dict(dtype=self.dtype, device=self.device)
        total = sum(sizes)

        self.row_state = ROW_STATE + (("arith_capacity",) if momentum else ())
        flat = {}
        for name in self.row_state:  # the state's vectors become slices of one buffer
            flat[name] = torch.zeros(total, **like)
            for st, sl in zip(states, slices, strict=True):
                if name in st:
                    flat[name][sl].copy_(st[name])
                st[name] = flat[name][sl]
        self.kept = [
            tuple(st[n] for n in self.row_state) + ((st["phi_avg"],) if momentum else ())
            for st in states
        ]
        stats = ("w_norm", "g_norm", "gw") + (("pw", "phi_norm") if momentum else ())
        coefs: tuple[str, ...] = ("coef_w", "coef_g")
        if momentum:
            coefs = ("x1", "x2", "x3", "coef_w", "coef_phi", "cos", "phi_w")
        for name in stats:
            flat[name] = torch.empty(total, **like)
        for name in coefs:
            flat[name] = torch.empty(total, 1, **like)
        self.slices = {name: [buf[sl] for sl in slices] for name, buf in flat.items()}
        self.x = {name: ops.rows(buf.view(total)) for name, buf in flat.items()}
        self.phis = (
            [st["phi_avg"].view(n, -1) for st, n in zip(states, sizes, strict=True)]
            if momentum
            else []
        )
        self.total = total

    def valid(self, params: list[torch.Tensor], state, momentum: bool, ops) -> bool:
        """Whether this layout still describes ``params`` and their state."""
        if momentum is not self.momentum or ops is not self.ops or len(params) != len(self.params):
            return False
        for p, mine, shape, kept in zip(params, self.params, self.shapes, self.kept, strict=True):
            if p is not mine or p.shape != shape or p.dtype is not self.dtype:
                return False
            if p.device != self.device:
                return False
            st = state.get(p)
            if st is None:
                return False
            names = self.row_state + (("phi_avg",) if momentum else ())
            if any(st.get(n) is not t for n, t in zip(names, kept, strict=True)):
                return False
        return True

    def statistics(self, group: dict) -> dict:
        """Row norms and dot products, then Alg. 1 lines 11-12 (Alg. 2 lines 12-16); updates
        the running averages in place. Returns the row quantities for :meth:`move`."""
        ops, x, sl = self.ops, self.x, self.slices
        ws, gs = [], []
        for p, wn, gn, gw in zip(self.params, sl["w_norm"], sl["g_norm"], sl["gw"], strict=True):
            assert p.grad is not None  # the group holds the params with a gradient
            w, g = _rows_view(p), _rows_view(p.grad)
            torch.linalg.vector_norm(w, dim=1, out=wn)
            torch.linalg.vector_norm(g, dim=1, out=gn)
            torch.linalg.vecdot(g, w, dim=1, out=gw)
            ws.append(w)
            gs.append(g)
        rows = rows_math.stage1(
            ops,
            x["w_norm"],
            x["g_norm"],
            x["gw"],
            x["phi_sq_avg"],
            x["capacity"],
            group["beta_quad"],
            group["batch_fraction"],
        )
        ops.assign(x["phi_sq_avg"], rows["phi_bar"])
        ops.assign(x["capacity"], rows["c"])
        rows.update(ws=ws, gs=gs)
        if not self.momentum:
            return rows
        for phi, w, pw in zip(self.phis, ws, sl["pw"], strict=True):
            torch.linalg.vecdot(phi, w, dim=1, out=pw)
        coefs = rows_math.momentum_stage1(
            ops, rows, x["pw"], x["arith_capacity"], group["beta_arith"], group["batch_fraction"]
        )
        for name, value in zip(("x1", "x2", "x3", "arith_capacity"), coefs, strict=True):
            ops.assign(x[name], value)
        for phi, g, w, a1, a2, a3, norm in zip(
            self.phis, gs, ws, sl["x1"], sl["x2"], sl["x3"], sl["phi_norm"], strict=True
        ):
            phi.mul_(a1).addcmul_(a2, g).addcmul_(a3, w)
            torch.linalg.vector_norm(phi, dim=1, out=norm)
        rows.update(arith=x["arith_capacity"], phi_norm=x["phi_norm"])
        return rows

    def maxima(self) -> tuple[float, float]:
        """max phi_bar and max c over the group's fan-ins (0 when it has none)."""
        if self.total == 0:
            return 0.0, 0.0
        return float(self.x["phi_sq_avg"].max()), float(self.x["capacity"].max())

    def move(self, group: dict, rows: dict, global_scale: float) -> None:
        """Alg. 1 lines 14-17: w <- A w + B grad per fan-in; with momentum Alg. 2 lines 17-21:
        w <- A w + B phi_tilde and phi_tilde <- cos phi_tilde + C w (the old w)."""
        ops, x, sl = self.ops, self.x, self.slices
        scale = ops.scalar(global_scale, x["w_norm"])
        if not self.momentum:
            for name, value in zip(
                ("coef_w", "coef_g"), rows_math.plain_move(ops, scale, rows, group), strict=True
            ):
                ops.assign(x[name], value)
            for p, w, g, cw, cg in zip(
                self.params, rows["ws"], rows["gs"], sl["coef_w"], sl["coef_g"], strict=True
            ):
                w.mul_(cw).addcmul_(cg, g)
                _write_back(p, w)
            return
        names = ("coef_w", "coef_phi", "cos", "phi_w")
        for name, value in zip(
            names, rows_math.momentum_move(ops, scale, rows, group), strict=True
        ):
            ops.assign(x[name], value)
        for p, w, phi, cw, cp, cs, pw in zip(
            self.params, rows["ws"], self.phis, *(sl[n] for n in names), strict=True
        ):
            towards = phi * cp
            phi.mul_(cs).addcmul_(pw, w)  # line 20, with the old w
            w.mul_(cw).add_(towards)
            _write_back(p, w)


def _write_back(p: torch.Tensor, rows: torch.Tensor) -> None:
    """``rows`` is p, or p's (rows, fan-in) view, or a copy when p is not contiguous."""
    if rows is not p and (rows.data_ptr() != p.data_ptr() or not p.is_contiguous()):
        p.copy_(rows.reshape(p.shape))
