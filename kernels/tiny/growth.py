"""One growth step of one hidden layer: best update, best (or random) neurons, amplitudes.

For hidden layer l (the l-th Linear's outputs) the quantities of the TINY paper are, with
acts = ``capture(...)``:

- B_{l-1} = acts[l].inputs (inputs of Linear l, with the ones column);
- B_l = acts[l+1].inputs and V_goal^{l+1} = acts[l+1].v_goal (sec. 2.3);
- dW*_{l+1} = best update of Linear l+1 (prop. 3.1), V_proj = V_goal - B_l dW*^T;
- bottleneck before = (1/n)||V_proj||^2 (def. 3.1 / n), after = (1/n)||V_proj - V(theta)||^2
  with V(theta) = (B_{l-1} alpha) omega^T the linearised activity update of the added
  neurons (prop. 3.2 (10): after = before - sum of the accepted lambda_k^2);
- neurons from ``best_neurons`` on S = (1/n) B_{l-1}^T B_{l-1}, N = (1/n) B_{l-1}^T V_proj,
  accepted while lambda_k^2 L(f_theta) > tau (sec. 2.4 end; ``tau_mode``), at most ``cap``;
- amplitudes (sec. 3.3): gamma_0* = argmin loss(W_{l+1} + gamma_0 dW*), then
  gamma* = argmin loss with the neurons (sqrt(gamma) alpha_k, sqrt(gamma) omega_k) added (the
  remark of sec. 3.3 with gamma_1 = gamma_2, so fan-in and fan-out keep equal lengths), or
  with ``amplitude="fan_in"`` (gamma alpha_k, omega_k), eq. (7)'s own theta(gamma); both
  give the same first-order move gamma (B alpha_k) omega_k^T.
  Each is kept only when it lowers the estimation batch's loss: a best-update move that
  does not is dropped (gamma_0 = 0), and neurons whose best amplitude does not are
  *rejected* (none added; ``rejected`` and ``reject_reason`` say so). With
  ``on_reject="halve"`` (not the paper's: it adds the bundle at whatever amplitude its search
  returns) the first half of a rejected bundle is searched again, down to one neuron; the
  rest count as rejected.
- the amplitude grid (``line_search``: factor 2 from 2^-16) ends at the smaller of
  ``max_gamma`` and the safety bound: the move may change the pre-activations of Linear l+1
  by at most ``safety`` times their RMS (at least 1) on the batch, measured for gamma = 1
  and scaled linearly (exact for the best update, first order for the neurons). The
  search's optimum at the top of that grid is recorded (``gamma_capped``,
  ``gamma0_capped``): it means the true minimum lies further out.

Scoring batch (``scoring``, the method's option ``holdout_scoring``): the line searches and the
threshold's L(f_theta) may use a second batch, disjoint from the one that estimated dW* and the
neurons (a departure: paper 003 scores on the estimation minibatch itself, sec. 3.3 eq. (6)-(7),
appendix C; ``scoring=None`` does that, the TINY race presets use it). Scored on the estimation
batch itself, the search picks the amplitude that best fits that batch's noise (sec. 3.4: the
estimate's variance grows with the layer's widths): on the teacher data set (seed 2) gamma_0 dW*
moves of 10-25 on the output layer, fitted on 529 samples, lowered that batch's loss and raised
the training loss from 0.36 to 12 in 1500 steps.

``neurons="random"`` (appendix C.4): the same count of random fan-ins (S-normalised), the
fan-outs that best use them (least squares on V_proj, i.e. the desired update projected on the
random directions), the same line search.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812  (the torch convention)

from kernels.tiny.best_neurons import BestNeurons, accepted_count, best_neurons
from kernels.tiny.bottleneck import (
    best_update,
    lack_of_expressivity,
    live_moments,
    on_all_inputs,
)
from kernels.tiny.capture import LayerActivity
from kernels.tiny.grid_loss import GridLoss, cross_entropy_columns, lead_matmul
from kernels.tiny.line_search import line_search

NEURONS = ("optimal", "random")
#: how the amplitude gamma scales the new neurons (sec. 3.3): ``split`` (sqrt(gamma) alpha_k,
#: sqrt(gamma) omega_k: the remark of sec. 3.3 with gamma_1 = gamma_2, fan-in and fan-out keep
#: equal lengths) or ``fan_in`` ((gamma alpha_k, omega_k): eq. (7)'s theta(gamma) itself)
AMPLITUDES = ("split", "fan_in")
#: what a rejected bundle of neurons becomes: ``drop`` (none is added) or ``halve`` (the first
#: half, the largest lambda_k, gets its own line search, down to a single neuron)
ON_REJECT = ("drop", "halve")


@dataclass
class LayerGrowth:
    """The planned move of one layer (tensors in the model's dtype and device)."""

    layer: int
    update: torch.Tensor | None  # gamma_0* dW*_{l+1}: d_out x (d_in_{l+1} + 1), or None
    fan_in: torch.Tensor  # k x d_in_l: new rows of Linear l's weight
    bias: torch.Tensor | None  # k: their biases (None when the layer has no bias)
    fan_out: torch.Tensor  # d_out_{l+1} x k: new columns of Linear l+1
    solution: BestNeurons
    count: int
    gains: list[float]  # per new unit: lambda_k (optimal) or its linearised gain (random)
    bottleneck_before: float
    bottleneck_after: float
    gamma0: float
    gamma: float
    loss_before: float
    loss_after: float
    line_search_seconds: float
    batch: int
    rejected: int = 0  # neurons that passed tau but whose best amplitude did not lower the loss
    reject_reason: str = ""
    gamma_capped: bool = False  # the neurons' line search ended at the top of its grid
    gamma0_capped: bool = False  # the best update's line search ended at the top of its grid
    gamma_max: float = 0.0  # top of the neurons' grid (after the safety bound)
    #: the line searches' time on each clock of ``plan_layer``'s ``clocks`` (the first one is
    #: ``line_search_seconds``)
    line_search_times: tuple[float, ...] = ()


def random_neurons(
    s: torch.Tensor, n: torch.Tensor, count: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random fan-ins alpha (S-normalised) and least-squares fan-outs (appendix C.4).

    Omega^T = (A^T S A)^+ A^T N minimises (1/n)||V_proj - (B A) Omega^T||^2 for fixed A; each
    pair is then rescaled so that fan-in (S-norm) and fan-out have the same length.
    """
    s64, n64 = s.double(), n.double()
    d = s.shape[0]
    a = torch.randn(d, count, generator=generator, dtype=torch.float64).to(s.device)
    a[torch.diagonal(s64) <= 0] = 0.0
    a = a / torch.sqrt(torch.einsum("ik,ij,jk->k", a, s64, a)).clamp_min(1e-300)
    omega = (torch.linalg.pinv(a.T @ s64 @ a, hermitian=True) @ (a.T @ n64)).T
    length = omega.norm(dim=0).clamp_min(1e-300).sqrt()
    return (a * length).to(s.dtype), (omega / length).to(s.dtype)


#: default top of the amplitude grid, before the safety bound
MAX_GAMMA = 2.0**10
#: default safety bound: a move may change Linear l+1's pre-activations by at most this many
#: times their RMS (at least 1)
SAFETY = 4.0


def safe_high_exp(
    move_norm: float, scale: float, *, safety: float, max_gamma: float, low_exp: int = -16
) -> int:
    """Top exponent of the factor-2 grid: 2^e <= max_gamma and 2^e * move_norm <= safety *
    scale (a move linear in gamma whose norm at gamma = 1 is ``move_norm``); at least
    ``low_exp + 1``."""
    high = math.floor(math.log2(max_gamma))
    if move_norm > 0 and math.isfinite(move_norm):
        high = min(high, math.floor(math.log2(max(safety * scale / move_norm, 2.0**-60))))
    return max(high, low_exp + 1)


def captured_loss(acts: list[LayerActivity], y: torch.Tensor, loss_fn=F.cross_entropy) -> float:
    """L(f_theta) on the captured batch: the loss of its logits (the last Linear's outputs),
    with the cross-entropy over the class axis as the amplitude grid computes it
    (:func:`kernels.tiny.grid_loss.cross_entropy_columns`); not finite -> inf."""
    logits = acts[-1].pre
    with torch.no_grad():
        if loss_fn is F.cross_entropy:
            value = float(cross_entropy_columns(logits.T.contiguous()[:, None], y)[0])
        else:
            value = float(loss_fn(logits, y))
    return value if math.isfinite(value) else math.inf


def plan_layer(
    model,
    acts: list[LayerActivity],
    layer: int,
    y: torch.Tensor,
    *,
    tau: float,
    tau_mode: str = "paper",
    cap: int | None = None,
    neurons: str = "optimal",
    route: str = "auto",
    use_best_update: bool = True,
    generator: torch.Generator | None = None,
    loss_fn=F.cross_entropy,
    line_search_kw: dict | None = None,
    ridge: float = 0.0,
    max_gamma: float = MAX_GAMMA,
    safety: float = SAFETY,
    scoring: tuple[list[LayerActivity], torch.Tensor] | None = None,
    update_ridge: float = 0.0,
    on_reject: str = "drop",
    clocks: Sequence[Callable[[], float]] = (time.perf_counter,),
    amplitude: str = "split",
    update_without_neurons: bool = True,
) -> LayerGrowth:
    """Plan the growth of hidden layer ``layer`` from the captured activities ``acts``
    (``ridge``: see ``best_neurons``; ``update_ridge``: the same Tikhonov term for dW*, see
    ``best_update``; ``max_gamma``, ``safety``: the amplitude grid, see the module docstring;
    ``line_search_kw``: further arguments of ``line_search``; ``amplitude``: see
    :data:`AMPLITUDES`).

    ``update_without_neurons`` false: a layer where no neuron passes the threshold gets no
    gamma_0 dW* move and no gamma_0 search (sec. 3.3 chooses gamma_0 "when adding neurons",
    eq. (6)-(7)); its L(f_theta) is the captured logits' loss (:func:`captured_loss`). A
    layer whose neurons pass the threshold is planned exactly as with true (this function's
    default, the move on every layer), even when its own line search then rejects them.

    ``scoring`` = (activities, labels) of a second batch: the loss L(f_theta) of the
    threshold and the line searches are computed on it instead of on the batch that
    estimated dW* and the neurons (see the module docstring).

    ``clocks``: the line searches are timed on each (``line_search_times``; the first gives
    ``line_search_seconds``), e.g. the wall clock and the thread's CPU time
    (:mod:`kernels.tiny.timing`)."""
    if neurons not in NEURONS:
        raise ValueError(f"neurons must be one of {', '.join(NEURONS)}, got '{neurons}'")
    if on_reject not in ON_REJECT:
        raise ValueError(f"on_reject must be one of {', '.join(ON_REJECT)}, got '{on_reject}'")
    if amplitude not in AMPLITUDES:
        raise ValueError(f"amplitude must be one of {', '.join(AMPLITUDES)}, got '{amplitude}'")
    fan_in_only = amplitude == "fan_in"
    if not 0 <= layer < model.n_hidden:
        raise IndexError(f"hidden layer {layer} does not exist (0..{model.n_hidden - 1})")
    if len(model.post[layer]):
        raise ValueError(
            "TINY's linearisation assumes no unit-wise modules between a hidden "
            f"Linear and its activation; layer {layer} has {len(model.post[layer])}"
        )
    b_prev, b_l = acts[layer].inputs, acts[layer + 1].inputs
    a_next, v_goal = acts[layer + 1].pre, acts[layer + 1].v_goal
    dtype = a_next.dtype
    dw = best_update(b_l, v_goal, ridge=update_ridge) if use_best_update else None
    v_proj = v_goal - b_l @ dw.T if dw is not None else v_goal
    before = lack_of_expressivity(b_prev, v_proj)
    # S and N in the model's dtype, then float64 for the solve: the n x d^2 product is the
    # solve's largest cost (d = 785 on MNIST: 2x faster in float32 here, and no float64 copy
    # of B); its rounding (~1e-7 relative) lies far below the ridge (1e-3 of the mean
    # diagonal) by default
    # (on the inputs that are not zero on the batch: see ``live_moments``)
    s, n, live = live_moments(b_prev, v_proj)
    s, n = s.double(), n.double()
    if neurons == "random":  # its random fan-ins are drawn on all inputs
        d_in = b_prev.shape[1]
        s, n = on_all_inputs(s, live, d_in, square=True), on_all_inputs(n, live, d_in)
        live = None
    sol = best_neurons(s, n, route=route, k=cap, generator=generator, ridge=ridge)
    sol = sol.on_inputs(live, b_prev.shape[1])
    act = model.activation
    kw = dict(line_search_kw or {})
    low_exp = int(kw.pop("low_exp", -16))

    if scoring is None:
        sb_prev, sb_l, s_next, y_s = b_prev, b_l, a_next, y
    else:
        sb_prev, sb_l = scoring[0][layer].inputs, scoring[0][layer + 1].inputs
        s_next, y_s = scoring[0][layer + 1].pre, scoring[1]
    a_t = s_next.T.contiguous()[:, None]  # d x 1 x n, feature-major: the grid is axis 1

    def grid(outputs) -> GridLoss:
        return GridLoss(model, layer, y_s, outputs, loss_fn=loss_fn)

    # the best update's line search first: its grid call also gives L(f_theta) (gamma_0 = 0),
    # the loss of the threshold, so no separate evaluation is needed (one call fewer a layer)
    t0 = tuple(clock() for clock in clocks)
    rows_n = max(int(s_next.shape[0]), 1)
    scale = max(float(s_next.norm()) / math.sqrt(rows_n), 1.0) * math.sqrt(rows_n)
    with torch.no_grad():
        base, gamma0, gamma0_capped, res0 = a_t, 0.0, False, None
        loss_before, search = math.inf, dw is not None
        if search and not update_without_neurons:
            # the threshold first, on L(f_theta) alone (the captured logits' loss): no neuron
            # passes, no gamma_0 search
            loss_before = captured_loss(acts if scoring is None else scoring[0], y_s, loss_fn)
            search = accepted_count(sol.eigenvalues, tau, tau_mode, cap, loss=loss_before) > 0
        if search and dw is not None:
            move = (dw @ sb_l.T).contiguous()[:, None]  # d x 1 x n: B_l dW*^T, feature-major
            high0 = safe_high_exp(
                float(move.norm()), scale, safety=safety, max_gamma=max_gamma, low_exp=low_exp
            )
            res0 = line_search(
                batch_loss=grid(lambda g: a_t + g * move),
                low_exp=low_exp,
                high_exp=high0,
                **kw,
            )
            loss_before = res0.loss_at_zero
        if not math.isfinite(loss_before):  # no best update, or a move that is not finite
            loss_before = grid(lambda g: a_t)([0.0])[0]
        loss_after = loss_before
        if res0 is not None and res0.loss < loss_before:
            gamma0, base, loss_after = res0.gamma, a_t + res0.gamma * move, res0.loss
            gamma0_capped = res0.gamma >= 2.0**high0
    ls_times = [clock() - t for clock, t in zip(clocks, t0, strict=True)]
    count = accepted_count(sol.eigenvalues, tau, tau_mode, cap, loss=loss_before)
    if neurons == "optimal":
        alpha, omega = sol.scaled(count)
        gains = sol.eigenvalues[:count].tolist()
    else:
        alpha, omega = random_neurons(s, n, count, generator)
        v_k = b_prev.double() @ alpha.double()  # n x k
        gains = [
            float(
                ((v_k[:, k : k + 1] @ omega[:, k : k + 1].double().T) * v_proj.double()).sum()
                / v_proj.shape[0]
            )
            for k in range(count)
        ]
    alpha, omega = alpha.to(dtype), omega.to(dtype)
    pre_new = b_prev @ alpha  # n x k: linearised pre-activations of the new units
    after = lack_of_expressivity(b_prev, v_proj, extra=pre_new @ omega.T)

    t0 = tuple(clock() for clock in clocks)
    with torch.no_grad():
        gamma, gamma_capped, gamma_max, rejected, reason = 0.0, False, 0.0, 0, ""
        proposed = count
        while count:
            # k x 1 x n: the new units (the first time on the estimation batch itself, the
            # product is pre_new's, not computed again: n x d x k, 2800 x 785 on MNIST)
            first = scoring is None and count == proposed
            pre_t = (pre_new if first else sb_prev @ alpha).T.contiguous()[:, None]
            high = safe_high_exp(
                float(lead_matmul(omega, act(pre_t)).norm()),
                scale,
                safety=safety,
                max_gamma=max_gamma,
                low_exp=low_exp,
            )
            gamma_max = 2.0**high
            res = line_search(
                batch_loss=grid(
                    (lambda g, b=base, w=omega, p=pre_t: b + lead_matmul(w, act(g * p)))
                    if fan_in_only
                    else (
                        lambda g, b=base, w=omega, p=pre_t: (
                            b + g.sqrt() * lead_matmul(w, act(g.sqrt() * p))
                        )
                    )
                ),
                low_exp=low_exp,
                high_exp=high,
                loss_at_zero=loss_after,
                **kw,
            )
            if res.loss < res.loss_at_zero:
                gamma, loss_after = res.gamma, res.loss
                gamma_capped = res.gamma >= gamma_max
                break
            # the best amplitude does not lower the loss: these neurons are rejected
            # (on_reject="halve": the first half of them is tried again)
            keep = count // 2 if on_reject == "halve" else 0
            rejected += count - keep
            reason = (
                f"best amplitude {res.gamma:.3g} gives loss {res.loss:.6g} >= "
                f"{res.loss_at_zero:.6g} without the neurons"
                + (f" ({proposed} proposed, halved to {keep})" if on_reject == "halve" else "")
            )
            count, gains = keep, gains[:keep]
            alpha, omega, pre_new = alpha[:, :keep], omega[:, :keep], pre_new[:, :keep]
            after = (
                lack_of_expressivity(b_prev, v_proj, extra=pre_new @ omega.T) if keep else before
            )
    ls_times = [done + clock() - t for done, clock, t in zip(ls_times, clocks, t0, strict=True)]

    # the scale of the fan-ins and of the fan-outs: what the line search scored
    root, out_scale = (gamma, 1.0) if fan_in_only else (math.sqrt(gamma), math.sqrt(gamma))
    lin = model.linears[layer]
    rows = (alpha * root).T.contiguous()
    fan_in, bias = (
        (rows[:, :-1].contiguous(), rows[:, -1].contiguous())
        if lin.bias is not None
        else (rows, None)
    )
    update = gamma0 * dw if dw is not None and gamma0 > 0 else None
    return LayerGrowth(
        layer,
        update,
        fan_in,
        bias,
        (omega * out_scale).contiguous(),
        sol,
        count,
        gains,
        before,
        after,
        gamma0,
        gamma,
        loss_before,
        loss_after,
        ls_times[0],
        int(b_prev.shape[0]),
        rejected,
        reason,
        gamma_capped,
        gamma0_capped,
        gamma_max,
        tuple(ls_times),
    )
