"""The TINY spectrum's threshold dash is drawn in the plotted units: the lambda_k at which the
record's rule (shared/papers/003 sec. 2.4 end, sec. 3.3-3.4) accepts, checked against closed
forms and against the kernel's own acceptance count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.views.spectrum import SpectrumView, threshold_height
from kernels.tiny.best_neurons import accepted_count


def _record(**extra):
    rec = {
        "kind": "spectrum",
        "step": 100,
        "layer": 0,
        "eigenvalues": np.array([3.0, 1.0, 0.4, 0.1]),
        "accepted": 2,
        "tau": 0.5,
        "unit_ids": [7, 8],
    }
    rec.update(extra)
    return rec


def _dash(view):
    """(y field, heights) of the threshold dash in the spectrum figure."""
    dashes = [r for r in view.fig.renderers if getattr(r.glyph, "marker", None) == "dash"]
    assert len(dashes) == 1
    field = dashes[0].glyph.y
    return field, list(dashes[0].data_source.data[field])


def test_paper_rule_dash_at_sqrt_tau_over_loss():
    view = SpectrumView()
    # lambda_k^2 * L > tau  <=>  lambda_k > sqrt(tau / L) = sqrt(0.5 / 2) = 0.5
    view.update({"spectrum": [_record(tau_mode="paper", loss_before=2.0)]})
    field, heights = _dash(view)
    assert heights == [pytest.approx(0.5)]
    assert view.summary.data["tau"][0] == 0.5  # the knob itself kept for hover
    # the eigenvalues the figure plots are lambda_k (not squared) in the same source units
    assert max(view.points.data["shown"]) == 3.0


def test_absolute_and_relative_rules():
    assert threshold_height(_record(tau_mode="absolute", tau=0.25)) == pytest.approx(0.5)
    assert threshold_height(_record(tau_mode="relative", tau=0.25)) == pytest.approx(1.5)
    # a default record (no tau_mode) follows the paper rule; without L there is no dash
    assert np.isnan(threshold_height(_record()))
    assert np.isnan(threshold_height(_record(loss_before=0.0)))
    with pytest.raises(ValueError, match="tau_mode must be"):
        threshold_height(_record(tau_mode="sideways"))


@pytest.mark.parametrize("mode", ["paper", "absolute", "relative"])
def test_eigenvalues_above_the_dash_are_those_the_kernel_accepts(mode):
    gen = np.random.default_rng(0)
    for _ in range(50):
        eig = np.sort(gen.lognormal(-1.0, 1.5, size=12))[::-1].copy()
        tau, loss = float(gen.lognormal(-2.0, 1.5)), float(gen.lognormal(0.0, 1.0))
        if mode == "relative":
            tau = float(gen.uniform(0.0, 1.0))
        want = accepted_count(torch.tensor(eig), tau, mode, loss=loss)
        height = threshold_height(
            _record(eigenvalues=eig, tau=tau, tau_mode=mode, loss_before=loss)
        )
        assert int((eig > height).sum()) == want


def test_real_tiny_record_draws_its_dash():
    """A record as kernels/methods/tiny.py writes it (the paper rule, its loss_before)."""
    view = SpectrumView()
    rec = _record(
        tau_mode="paper",
        loss_before=2.3,
        tau=1e-3,
        route="cholesky",
        bottleneck_before=1.0,
        bottleneck_after=0.5,
        solve_seconds=0.01,
    )
    view.update({"spectrum": [rec]})
    _, heights = _dash(view)
    assert heights[0] == pytest.approx(np.sqrt(1e-3 / 2.3))
    assert heights[0] != pytest.approx(1e-3)  # not tau itself (the old, wrong height)
