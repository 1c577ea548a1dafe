"""The ``spectrum`` record of one hidden layer and growth step of TINY (its fields:
:mod:`kernels.methods.tiny`)."""

from __future__ import annotations

from kernels.records import SPECTRUM
from kernels.tiny.growth import LayerGrowth


def spectrum_record(
    step: int,
    plan: LayerGrowth,
    *,
    tau: float,
    tau_mode: str,
    neurons: str,
    capture_seconds: float,
    scored_batch: int,
) -> dict:
    """The record of ``plan`` (``unit_ids`` empty: ``Tiny.apply`` fills them in)."""
    return {
        "kind": SPECTRUM,
        "step": int(step),
        "layer": plan.layer,
        "eigenvalues": plan.solution.eigenvalues.detach().cpu().double().numpy(),
        "accepted": int(plan.count),
        "rejected": int(plan.rejected),
        "reject_reason": plan.reject_reason,
        "gamma_capped": bool(plan.gamma_capped),
        "gamma0_capped": bool(plan.gamma0_capped),
        "gamma_max": float(plan.gamma_max),
        "tau": float(tau),
        "tau_mode": tau_mode,
        "bottleneck_before": plan.bottleneck_before,
        "bottleneck_after": plan.bottleneck_after,
        "unit_ids": [],
        "solve_seconds": plan.solution.seconds,
        "route": plan.solution.route,
        "line_search_seconds": plan.line_search_seconds,
        "capture_seconds": capture_seconds,
        "gamma0": plan.gamma0,
        "gamma": plan.gamma,
        "loss_before": plan.loss_before,
        "loss_after": plan.loss_after,
        "batch": plan.batch,
        "scored_batch": scored_batch,
        "neurons": neurons,
    }


__all__ = ["spectrum_record"]
