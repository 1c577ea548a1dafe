"""TINY: grow a network from [1, 1] by adding, where backprop asks for more expressivity, the
neurons that fix the bottleneck best (Spotting Expressivity Bottlenecks and Fixing Them
Optimally, shared/papers/003; sec. 2.3, def. 3.1, prop. 3.1-3.3, sec. 3.3-3.4, appendix B-C).

Every growth step (every ``growth_every`` steps, 0 = once per epoch, or every
``growth_seconds`` of wall-clock time when that option is > 0; at most ``max_growth_steps``
growth steps when that option is > 0, as the paper's experiments grow 8 or 15 times):

1. one forward/backward pass on an estimation minibatch captures, for every Linear, its
   inputs B (with the bias column) and the desired update V_goal of its outputs (sec. 2.3);
2. for each hidden layer l: the best update dW* of Linear l+1 (prop. 3.1), the bottleneck
   left (def. 3.1), the best neurons from the spectrum of S^{-1/2} N (prop. 3.2/3.3; Cholesky
   + SVD, the semi-definite route of B.3, or LOBPCG for large layers), accepted while
   lambda_k^2 L(f_theta) > tau (the paper's rule, end of sec. 2.4, ``tau_mode="paper"``; the
   departures ``absolute``: lambda_k^2 > tau, and ``relative``: lambda_k^2 > tau lambda_1^2,
   are kept as options), at most round(growth_rate) of them (every one with
   ``neuron_cap="rank"``, as the paper: K* = R), and the amplitudes gamma_0 (on
   dW*) and gamma (on the neurons) by line search (sec. 3.3) on a factor-2 grid up to
   ``max_gamma`` within a safety bound (:mod:`kernels.tiny.growth`). Neurons whose best
   amplitude does not lower the estimation batch's loss are rejected, not added. A layer where
   no neuron passes the threshold gets no gamma_0 dW* move (sec. 3.3 chooses gamma_0 when
   adding neurons; ``update_without_neurons=true``: the move on every layer);
3. ``apply`` adds gamma_0 dW* to Linear l+1 and inserts the neurons with kernels.surgery.grow
   (Adam's state for the new entries starts at zero).

The estimation minibatch of layer l holds
``estimation_batch * sqrt(max(n_{l-1}, n_{l+1}))`` samples (sec. 3.4: the estimator's spread
grows with the widths around the layer; appendix C starts at 100 and grows it with the
layers; ``batch_rule="compound"`` multiplies the previous size instead, as appendix C writes
it), capped by ``max_estimation_batch`` and by the recent training batches the method keeps
(its only access to data). ``neurons="random"`` (appendix C.4) adds as many random neurons
with least-squares fan-outs and the same line search.

Records. ``records()`` returns one ``spectrum`` record per hidden layer and growth step::

    {"kind": "spectrum", "step": int, "layer": int,
     "eigenvalues": np.ndarray,   # every lambda_k computed, sorted descending; lambda_k^2 is
                                  # neuron k's first-order gain (generalised eigenvalue of
                                  # N N^T a = mu S a); LOBPCG computes only the top k
     "accepted": int,             # neurons added to the layer this step
     "rejected": int,             # neurons that passed tau but lowered no loss (not added)
     "reject_reason": str,        # why ("" when none was rejected)
     "gamma_capped": bool, "gamma0_capped": bool,  # a line search ended at its grid's top
     "gamma_max": float,          # top of the neurons' grid after the safety bound
     "tau": float, "tau_mode": "paper" | "absolute" | "relative",
     "bottleneck_before": float,  # (1/n)||V_goal - B dW*^T||^2 at Linear l+1
     "bottleneck_after": float,   # the same minus the added neurons' linearised update
     "unit_ids": list[int],       # ids of the units born (filled in by ``apply``)
     "solve_seconds": float,      # eigen-solve of this layer
     "route": "cholesky" | "psd" | "lobpcg",  # psd: S only semi-definite (appendix B.3)
     "line_search_seconds": float, "capture_seconds": float (shared by the step's layers),
     "gamma0": float, "gamma": float,         # amplitudes of dW* and of the new neurons
     "loss_before": float, "loss_after": float,  # estimation-batch loss around the move
     "batch": int,                # samples that estimated dW* and the neurons
     "scored_batch": int,         # samples of L and the line searches (a disjoint second
                                  # batch with the ``holdout_scoring`` option, else ``batch``)
     "neurons": "optimal" | "random"}

Unit events of the born units carry cause "added by eigen-solve" and ``lambda_k`` (random
neurons: "added at random (TINY amplitude search)" and ``gain``, their linearised gain).
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F  # noqa: N812  (the torch convention)

from kernels import surgery
from kernels.methods.base import Proposal, SizingMethod, StepContext, unit_event
from kernels.methods.registry import register
from kernels.methods.tiny_options import BATCH_RULES, TinyAddition, TinyOptions
from kernels.methods.tiny_records import spectrum_record
from kernels.records import SPECTRUM
from kernels.tiny.capture import capture, newest_rows
from kernels.tiny.growth import plan_layer
from kernels.tiny.network import GrowingMLP, scratch_copy
from kernels.tiny.timing import PartTimes


@register
class Tiny(SizingMethod):
    """Options: see :class:`TinyOptions` (and ``optimizer_state``). Starts from [1, 1], as
    the paper's experiments (sec. 4)."""

    name = "tiny"
    description = (
        "Grows from tiny layers: adds the neurons that best fix each layer's "
        "expressivity bottleneck (eigen-solve), amplitude by line search (TINY)."
    )
    knobs = ("tau", "growth_rate", "growth_every", "lr")
    record_kinds = (SPECTRUM,)
    Options = TinyOptions
    opts: TinyOptions
    default_hidden = (1, 1)

    def __init__(self, **options) -> None:
        super().__init__(**options)
        o = self.opts
        neurons, tau_mode, growth_seconds = o.neurons, o.tau_mode, o.growth_seconds
        activation, route, estimation_batch = o.activation, o.route, o.estimation_batch
        batch_rule, max_estimation_batch = o.batch_rule, o.max_estimation_batch
        best_update, ridge, line_search_refine = o.best_update, o.ridge, o.line_search_refine
        self.max_gamma, self.safety = float(o.max_gamma), float(o.safety)
        self.ridge, self.update_ridge = float(ridge), float(o.update_ridge)
        self.line_search_kw = {
            "refine": int(line_search_refine),
            "grid_step": int(o.line_search_factor).bit_length() - 1,  # log2 of the factor
            "vertex": bool(o.line_search_vertex),
        }
        self.neurons, self.tau_mode, self.route = neurons, tau_mode, route
        self.growth_seconds, self.activation = float(growth_seconds), activation
        self.estimation_batch, self.batch_rule = int(estimation_batch), batch_rule
        self.max_estimation_batch, self.best_update = int(max_estimation_batch), best_update
        self._buffer: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._buffered = 0
        self._scratch: torch.Tensor | None = None  # estimation rows, reused (estimation_data)
        self._batch: list[float] = []  # compound rule: the current size per layer
        self._last_growth: float | None = None
        self._last_step: int | None = None  # training step of the last growth step
        self._wait = 1  # current multiple of the schedule (``backoff``)
        self.backoff = int(o.backoff)
        self.holdout = bool(o.holdout_scoring)
        self.neuron_cap, self.max_growth_steps = o.neuron_cap, int(o.max_growth_steps)
        self.on_reject, self.amplitude = o.on_reject, o.amplitude
        self._plan: list[tuple[int, torch.Tensor | None, TinyAddition | None]] = []
        self._pending_records: list[dict] = []
        self.growth_steps = 0
        #: cumulative seconds of the growth work per part, on the wall clock and on the
        #: thread's CPU time, for the time-share figures (``explorer.bench.tiny_growth``; the
        #: parts and clocks: :mod:`kernels.tiny.timing`; tests may inject their own clocks)
        self.timing = PartTimes()

    @property
    def seconds(self) -> dict[str, float]:
        """Wall-clock seconds per growth-step part (their sum is the whole growth time)."""
        return self.timing.seconds["wall"]

    @property
    def cpu_seconds(self) -> dict[str, float]:
        """The same on the calling thread's CPU time."""
        return self.timing.seconds["cpu"]

    # -- network ----------------------------------------------------------------------------
    def build(self, in_features, out_features, hidden, *, image_shape=None, generator=None):
        return GrowingMLP(
            in_features,
            hidden,
            out_features,
            activation=self.activation,
            bias=True,
            generator=generator,
        )

    # -- the verbs ------------------------------------------------------------------------
    def after_step(self, ctx: StepContext) -> None:
        """Keep the most recent training batches: the estimation minibatch is drawn from them."""
        self._buffer.append((ctx.x.detach(), ctx.y.detach()))
        self._buffered += len(ctx.y)
        while self._buffered - len(self._buffer[0][1]) >= self.max_estimation_batch:
            self._buffered -= len(self._buffer.pop(0)[1])

    def _due(self, ctx: StepContext) -> bool:
        if self.max_growth_steps and self.growth_steps >= self.max_growth_steps:
            return False
        now = time.perf_counter()
        if self._last_growth is None:
            self._last_growth = now
        if self.growth_seconds > 0:
            return now - self._last_growth >= self.growth_seconds * self._wait
        every = int(ctx.knobs.growth_every) or ctx.steps_per_epoch
        if self._last_step is None:  # a fresh run (or a snapshot from before the backoff)
            self._last_step = ctx.step - ctx.step % every
        return ctx.step > 0 and ctx.step - self._last_step >= every * self._wait

    def estimation_sizes(self, model) -> list[int]:
        """Samples per layer (sec. 3.4, appendix C), before the cap by the data kept."""
        dims = [model.linears[0].in_features, *model.hidden_sizes, model.out_features]
        if len(self._batch) != model.n_hidden:
            self._batch = [float(self.estimation_batch)] * model.n_hidden
        if self.batch_rule == "compound":
            sizes = self._batch
        else:
            sizes = [
                self.estimation_batch * math.sqrt(max(dims[l], dims[l + 2]))
                for l in range(model.n_hidden)
            ]
        return [int(min(s, self.max_estimation_batch)) for s in sizes]

    def estimation_data(self, n: int, ones: bool = True):
        """The ``n`` most recent training samples kept, newest batch first: (x, y, b0), see
        :func:`kernels.tiny.capture.newest_rows` (the buffer is reused between growth
        steps)."""
        x, y, b0, self._scratch = newest_rows(self._buffer, n, ones=ones, scratch=self._scratch)
        return x, y, b0

    def propose(self, ctx: StepContext) -> Proposal:
        """Plan the growth step layer by layer, from the top hidden layer down, on a scratch
        copy of the network: each layer's capture, eigen-solve and line search see the moves
        already planned above it (the paper applies its method to one layer after the other,
        appendix C). Planning every layer from one capture and applying all the independently
        line-searched moves at once overshoots: on digits from [1, 1] the training loss went
        from 2.26 to 3.65 across the first growth step."""
        if not self._buffer or not self._due(ctx):
            return Proposal()
        timing = self.timing
        start, counted = timing.now(), timing.totals()
        model, knobs = ctx.model, ctx.knobs
        # neuron_cap "rank": every neuron of the solution that passes tau (K* = R, prop. 3.2)
        cap = None if self.neuron_cap == "rank" else max(int(round(float(knobs.growth_rate))), 0)
        sizes = self.estimation_sizes(model)
        # holdout_scoring: rows n..2n of each capture score the moves (see plan_layer)
        parts = 2 if self.holdout else 1
        x_all, y_all, b0_all = self.estimation_data(
            parts * max(sizes), ones=model.linears[0].bias is not None
        )
        # the network the next layer is planned on: ``model`` itself until a planned move
        # changes it, then a scratch copy (the moves of the last layer planned are not
        # replayed on it: nothing reads them); ``update_without_neurons`` false: one capture
        # on the largest batch serves every layer while no move has changed the network
        # (each row depends on its own sample only, ``LayerActivity.rows``)
        work, shared = model, None
        lengths = [min(sizes[layer], len(y_all) // parts) for layer in range(model.n_hidden)]
        proposal = Proposal()
        self._plan, self._pending_records = [], []
        for layer in reversed(range(model.n_hidden)):
            n = lengths[layer]
            t0 = timing.now()
            if self.opts.update_without_neurons:
                x, y = x_all[: parts * n], y_all[: parts * n]
                b0 = None if b0_all is None else b0_all[: parts * n]
                acts = capture(work, x, y, F.cross_entropy, b0=b0)
            else:
                if shared is None:
                    m = parts * max(lengths)
                    b0 = None if b0_all is None else b0_all[:m]
                    shared = capture(work, x_all[:m], y_all[:m], F.cross_entropy, b0=b0)
                acts, y = [a.rows(0, parts * n) for a in shared], y_all[: parts * n]
            scoring = None
            if self.holdout:  # per-sample rows: a capture of 2n rows is two captures of n
                scoring = ([a.rows(n, 2 * n) for a in acts], y[n:])
                acts, y = [a.rows(0, n) for a in acts], y[:n]
            capture_times = timing.since(t0)
            timing.add("capture", capture_times)
            t0 = timing.now()
            plan = plan_layer(
                work,
                acts,
                layer,
                y,
                tau=float(knobs.tau),
                tau_mode=self.tau_mode,
                cap=cap,
                neurons=self.neurons,
                route=self.route,
                use_best_update=self.best_update,
                generator=ctx.generator,
                ridge=self.ridge,
                line_search_kw=self.line_search_kw,
                max_gamma=self.max_gamma,
                safety=self.safety,
                scoring=scoring,
                update_ridge=self.update_ridge,
                on_reject=self.on_reject,
                amplitude=self.amplitude,
                update_without_neurons=bool(self.opts.update_without_neurons),
                clocks=tuple(timing.clocks.values()),
            )
            spent, searched = timing.since(t0), plan.line_search_times
            timing.add("solve", tuple(a - b for a, b in zip(spent, searched, strict=True)))
            timing.add("line_search", searched)
            if layer and (plan.update is not None or plan.count):
                t0 = timing.now()
                work = scratch_copy(model) if work is model else work
                _add_update(work, layer + 1, plan.update)
                surgery.grow(work, layer, plan.fan_in, plan.fan_out, bias=plan.bias)
                shared = None
                timing.add("surgery", timing.since(t0))
            addition = None
            if plan.count:
                key = "lambda_k" if self.neurons == "optimal" else "gain"
                cause = (
                    "added by eigen-solve"
                    if self.neurons == "optimal"
                    else "added at random (TINY amplitude search)"
                )
                addition = TinyAddition(
                    layer,
                    plan.fan_in,
                    plan.fan_out,
                    cause,
                    [{key: g} for g in plan.gains],
                    bias=plan.bias,
                )
                proposal.additions.append(addition)
            self._plan.append((layer, plan.update, addition))
            self._pending_records.append(
                spectrum_record(
                    ctx.step,
                    plan,
                    tau=float(knobs.tau),
                    tau_mode=self.tau_mode,
                    neurons=self.neurons,
                    capture_seconds=capture_times[0],
                    scored_batch=len(scoring[1]) if scoring else plan.batch,
                )
            )
        if self.batch_rule == "compound":
            dims = [model.linears[0].in_features, *model.hidden_sizes, model.out_features]
            self._batch = [
                b * math.sqrt(max(dims[l], dims[l + 2])) for l, b in enumerate(self._batch)
            ]
        self.growth_steps += 1
        # backoff: a growth step that adds nothing (the threshold of sec. 2.4, or the line
        # search, found no neuron worth it) doubles the wait before the next, up to
        # ``backoff`` times the schedule; one that adds neurons returns to the schedule
        self._wait = 1 if proposal.additions else min(2 * self._wait, self.backoff)
        self._last_step = int(ctx.step)
        self._last_growth = time.perf_counter()
        # other: the whole propose minus the parts counted above
        spent = tuple(now - c for now, c in zip(timing.totals(), counted, strict=True))
        whole = timing.since(start)
        timing.add("other", tuple(a - b for a, b in zip(whole, spent, strict=True)))
        if not proposal.additions:  # its gamma_0 dW* moves are still applied
            timing.add_empty(whole)
        return proposal

    def apply(self, ctx: StepContext, proposal: Proposal) -> list[dict]:
        """Replay the planned moves in the planned order (top layer down): gamma_0 dW* on
        Linear l+1, then the new units of layer l, so every shape is the one planned.
        A proposal not made by ``propose`` (no plan) goes through the base class."""
        if not self._plan:
            return super().apply(ctx, proposal)
        t0 = self.timing.now()
        model = ctx.model
        events: list[dict] = []
        by_layer = {r["layer"]: r for r in self._pending_records}
        for layer, update, add in self._plan:
            _add_update(model, layer + 1, update)
            if add is None or add not in proposal.additions:
                continue
            ids = surgery.grow(
                model, layer, add.fan_in, add.fan_out, ctx.optimizer, step=ctx.step, bias=add.bias
            )
            events += [
                unit_event(ctx.step, layer, int(i), "born", add.cause, d)
                for i, d in zip(ids, add.details or [{}] * len(ids), strict=True)
            ]
            if layer in by_layer:
                by_layer[layer]["unit_ids"] = [int(i) for i in ids]
        self._plan = []
        self.timing.add("surgery", self.timing.since(t0))
        return events

    def records(self, ctx: StepContext) -> list[dict]:
        out, self._pending_records = self._pending_records, []
        return out

    # -- snapshots ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "batch": list(self._batch),
            "growth_steps": self.growth_steps,
            "seconds": dict(self.seconds),
            "cpu_seconds": dict(self.cpu_seconds),
            "empty_steps": self.timing.empty_steps,
            "empty_seconds": dict(self.timing.empty),
            "last_step": self._last_step,
            "wait": self._wait,
        }

    def load_state_dict(self, state: dict) -> None:
        self._batch = [float(b) for b in state.get("batch", [])]
        self.growth_steps = int(state.get("growth_steps", 0))
        self.seconds.update(state.get("seconds", {}))
        self.cpu_seconds.update(state.get("cpu_seconds", {}))
        self.timing.empty_steps = int(state.get("empty_steps", 0))
        self.timing.empty.update(state.get("empty_seconds", {}))
        last = state.get("last_step")
        self._last_step = None if last is None else int(last)
        self._wait = int(state.get("wait", 1))


def _add_update(model, j: int, update: torch.Tensor | None) -> None:
    """W_j += update[:, :-1], b_j += update[:, -1] (the gamma_0 dW* move of sec. 3.3)."""
    if update is None:
        return
    lin = model.linears[j]
    with torch.no_grad():
        lin.weight.add_(update[:, : lin.in_features].to(lin.weight.dtype))
        if lin.bias is not None:
            lin.bias.add_(update[:, lin.in_features].to(lin.bias.dtype))


__all__ = ["BATCH_RULES", "Tiny", "TinyAddition", "TinyOptions"]
