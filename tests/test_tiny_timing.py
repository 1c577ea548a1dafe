"""TINY's growth cost (issue 17): where the time goes, on the wall clock and in CPU time (the
parts checked with clocks the test drives, so every second is accounted for exactly); the
line search's parabolic vertex; the capture without autograd (bit for bit)."""

from __future__ import annotations

import collections
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import kernels.methods.tiny as tiny_method
import kernels.tiny.growth as growth
from explorer.bench import tiny_growth
from explorer.bench.table import format_table
from explorer.trainer import Trainer
from kernels import surgery
from kernels.tiny.line_search import line_search
from kernels.tiny.timing import PARTS, PartTimes

#: seconds each wrapped function moves the two test clocks (wall, cpu): distinct per part,
#: so a second booked to the wrong part, twice, or not at all changes an exact total
TICKS = {
    "capture": (10.0, 1.0),
    "line_search": (100.0, 7.0),
    "solve": (1000.0, 3.0),
    "surgery": (10000.0, 5.0),
}


class DrivenClocks:
    """Two clocks that move only when a wrapped growth function runs."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self.calls: collections.Counter[str] = collections.Counter()

    def wrap(self, part: str, fn):
        def wrapped(*args, **kwargs):
            out = fn(*args, **kwargs)
            wall, cpu = TICKS[part]
            self.wall += wall
            self.cpu += cpu
            self.calls[part] += 1
            return out

        return wrapped


def test_part_times_add_per_clock_and_name_unknown_parts():
    t = {"a": 0.0, "b": 0.0}
    times = PartTimes({"wall": lambda: t["a"], "cpu": lambda: t["b"]})
    start = times.now()
    t["a"], t["b"] = 3.0, 0.5
    times.add("capture", times.since(start))
    times.add("other", (1.0, 0.25))
    assert times.seconds["wall"]["capture"] == 3.0 and times.seconds["cpu"]["capture"] == 0.5
    assert times.totals() == (4.0, 0.75)
    assert set(times.seconds["wall"]) == set(PARTS)
    with pytest.raises(KeyError, match="unknown growth-step part 'surgerie'"):
        times.add("surgerie", (1.0, 1.0))
    with pytest.raises(ValueError, match="at least one clock"):
        PartTimes({})


def test_each_part_gets_exactly_its_own_time_on_both_clocks(monkeypatch, tiny_growth_config):
    """Oracle: with clocks that move only inside capture, line search, eigen-solve and
    surgery (scratch copy and grow), each part equals its ticks times its calls on each clock,
    and 'other' (the rest of a growth step) is exactly 0."""
    clocks = DrivenClocks()
    monkeypatch.setattr(tiny_method, "capture", clocks.wrap("capture", tiny_method.capture))
    monkeypatch.setattr(growth, "line_search", clocks.wrap("line_search", growth.line_search))
    monkeypatch.setattr(growth, "best_neurons", clocks.wrap("solve", growth.best_neurons))
    monkeypatch.setattr(surgery, "grow", clocks.wrap("surgery", surgery.grow))
    monkeypatch.setattr(
        tiny_method, "scratch_copy", clocks.wrap("surgery", tiny_method.scratch_copy)
    )
    trainer = Trainer(tiny_growth_config)
    method = trainer.method
    assert isinstance(method, tiny_method.Tiny)
    method.timing = PartTimes({"wall": lambda: clocks.wall, "cpu": lambda: clocks.cpu})
    trainer.run(25)
    assert clocks.calls["capture"] >= 4 and clocks.calls["line_search"] >= 4
    for part, (wall, cpu) in TICKS.items():
        assert method.seconds[part] == wall * clocks.calls[part], part
        assert method.cpu_seconds[part] == cpu * clocks.calls[part], part
    assert method.seconds["other"] == 0.0 and method.cpu_seconds["other"] == 0.0
    # the records carry the wall clock (the first one)
    state = method.state_dict()
    assert state["cpu_seconds"] == method.cpu_seconds
    fresh = type(method)()
    fresh.load_state_dict(state)
    assert fresh.seconds == method.seconds and fresh.cpu_seconds == method.cpu_seconds


@pytest.mark.parametrize("rate", [2, 0])
def test_growth_steps_that_add_nothing_are_counted_with_their_time(
    monkeypatch, tiny_growth_config, rate
):
    """Oracle: growth rate 0 (at most 0 neurons a layer) makes every growth step add
    nothing, and the empty steps' time is then all of the growth time on both clocks (the
    driven clocks move only inside the growth functions, and apply grows nothing); growth
    rate 2 counts exactly the steps whose proposal had no addition."""
    clocks = DrivenClocks()
    monkeypatch.setattr(tiny_method, "capture", clocks.wrap("capture", tiny_method.capture))
    monkeypatch.setattr(growth, "line_search", clocks.wrap("line_search", growth.line_search))
    monkeypatch.setattr(surgery, "grow", clocks.wrap("surgery", surgery.grow))
    adding: list[bool] = []
    propose = tiny_method.Tiny.propose

    def counted(self, ctx):
        before = self.growth_steps
        proposal = propose(self, ctx)
        if self.growth_steps > before:
            adding.append(bool(proposal.additions))
        return proposal

    monkeypatch.setattr(tiny_method.Tiny, "propose", counted)
    config = dataclasses.replace(
        tiny_growth_config, knobs={**tiny_growth_config.knobs, "growth_rate": rate}
    )
    trainer = Trainer(config)
    method = trainer.method
    assert isinstance(method, tiny_method.Tiny)
    method.timing = PartTimes({"wall": lambda: clocks.wall, "cpu": lambda: clocks.cpu})
    trainer.run(35)  # rate 0: the backoff doubles the wait, growth steps at 10 and 30
    timing = method.timing
    assert len(adding) == method.growth_steps >= 2
    assert timing.empty_steps == adding.count(False)
    if rate == 0:
        assert not any(adding)
        assert timing.empty["wall"] == sum(method.seconds.values()) > 0
        assert timing.empty["cpu"] == sum(method.cpu_seconds.values()) > 0
    elif all(adding):
        assert timing.empty == {"wall": 0.0, "cpu": 0.0}
    fresh = type(method)()
    fresh.load_state_dict(method.state_dict())
    assert fresh.timing.empty_steps == timing.empty_steps and fresh.timing.empty == timing.empty


def test_bench_rows_report_wall_and_cpu_share_with_parts(monkeypatch):
    runs = {
        seed: {
            "share": 10.0 + seed,
            "parts": {"capture": 1.0 + seed, "other": 2.0},
            "cpu_share": 20.0 + seed,
            "cpu_parts": {"capture": 3.0 * seed, "other": 1.0},
            "sizes": [3, 2],
            "growth_steps": 4,
            "empty_steps": seed,
            "empty_share": 30.0 + seed,
            "empty_cpu_share": 40.0 - seed,
        }
        for seed in range(3)
    }
    monkeypatch.setattr(tiny_growth, "growth_share", lambda ds, steps, seed: runs[seed])
    rows = tiny_growth.tiny_growth_figures(quick=False)
    assert len(rows) == 4
    wall, cpu = rows[0], rows[1]
    assert "wall time, digits" in wall["figure"] and "CPU time, digits" in cpu["figure"]
    assert wall["median"] == 11.0 and wall["met"] is True and wall["target"] == "<= 20"
    assert wall["parts"] == {"capture": 2.0, "other": 2.0}
    assert cpu["median"] == 21.0 and cpu["met"] is None
    assert cpu["parts"] == {"capture": 3.0, "other": 1.0}
    assert wall["empty_steps"] == [0, 1, 2] and wall["empty_share"] == 31.0
    assert cpu["empty_share"] == 39.0
    assert "growth steps that added no neuron: 31% of the growth time ([0, 1, 2] steps)" in (
        format_table({"machine": {}, "figures": rows})
    )


# ---- the line search's parabolic vertex (one zoom round + one point) --------------------------
@pytest.mark.parametrize(
    ("es", "x_min"), [([0.0, 1.0, 3.0], 1.7), ([-2.0, -1.5, 4.0], 0.25), ([1.0, 2.0, 2.5], 2.2)]
)
def test_parabola_vertex_is_the_minimum_of_a_quadratic(es, x_min):
    """Oracle: through three points of 2 (x - x_min)^2 + 5 (unevenly spaced) the vertex is
    x_min; outside the bracket it is clipped; no minimum (concave, collinear, not finite)
    gives None."""
    from kernels.tiny.line_search import parabola_vertex

    def f(x):
        return 2 * (x - x_min) ** 2 + 5

    assert parabola_vertex(es, [f(e) for e in es]) == pytest.approx(x_min, abs=1e-12)
    assert parabola_vertex([0.0, 0.5, 1.0], [f(e - 9) for e in (0.0, 0.5, 1.0)]) == 1.0
    assert parabola_vertex(es, [-f(e) for e in es]) is None
    assert parabola_vertex(es, [3 * e for e in es]) is None
    assert parabola_vertex(es, [f(es[0]), math.inf, f(es[2])]) is None


@pytest.mark.parametrize("u", [-9.3, -0.41, 0.37, 4.05])
def test_vertex_line_search_lands_on_the_minimum_in_one_round_and_one_point(u):
    """Oracle: a loss quadratic in log2(gamma) with its minimum at 2^u: the vertex search
    returns 2^u (the fitted parabola is the loss itself) after the grid, one round of 8
    and one point; on (gamma - 0.3)^2 + 1 it returns the
    best point evaluated and within 1% of 0.3."""
    calls: list[int] = []

    def loss(gs):
        calls.append(len(gs))
        return [(math.log2(g) - u) ** 2 + 1.0 if g > 0 else 9.0 for g in gs]

    res = line_search(batch_loss=loss, grid_step=2, high_exp=10, vertex=True)
    assert math.log2(res.gamma) == pytest.approx(u, abs=1e-9)
    assert calls == [1 + 14, 8, 1] and res.evaluations == 1 + 14 + 8 + 1
    # a vertex worse than a point already seen (a bump right at it) is not taken: the
    # answer is the best point evaluated
    values: list[float] = []

    def bump(gs):
        out = [
            v + 10.0 * (g > 0 and abs(math.log2(g) - u) < 1e-6)
            for g, v in zip(gs, loss(gs), strict=True)
        ]
        values.extend(out)
        return out

    bumped = line_search(batch_loss=bump, grid_step=2, high_exp=10, vertex=True)
    assert bumped.loss == min(values) < 2.0 and abs(math.log2(bumped.gamma) - u) > 1e-6
    seen: dict[float, float] = {}

    def quadratic(gs):
        seen.update({g: (g - 0.3) ** 2 + 1.0 for g in gs})
        return [seen[g] for g in gs]

    quad = line_search(batch_loss=quadratic, vertex=True)
    assert quad.gamma == pytest.approx(0.3, rel=0.01)
    # the answer is the best point evaluated (grid, round, vertex), never a guess
    best = min((v, g) for g, v in seen.items() if g > 0)
    assert (quad.loss, quad.gamma) == best


# ---- capture without autograd ------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["elu", "selu", "tanh", "relu"])
@pytest.mark.parametrize(
    ("hidden", "bias", "dtype"),
    [((5, 4), True, torch.float32), ((3, 6, 2), False, torch.float64), ((1,), True, torch.float32)],
)
def test_direct_capture_is_autograd_bit_for_bit(activation, hidden, bias, dtype):
    """Oracle: the direct route (no autograd) gives exactly the inputs, pre-activations and
    V_goal of the autograd route (a loss function that is not F.cross_entropy itself takes
    that route), with and without ``b0``."""
    from kernels.tiny.capture import capture, newest_rows
    from kernels.tiny.network import GrowingMLP

    g = torch.Generator().manual_seed(len(hidden))
    model = GrowingMLP(7, hidden, 4, activation=activation, bias=bias, generator=g).to(dtype)
    x = torch.randn(33, 7, generator=g, dtype=dtype) * 2
    y = torch.randint(0, 4, (33,), generator=g)
    _, _, b0, _ = newest_rows([(x, y)], 33, ones=bias)

    def autograd_route(logits, labels, reduction):
        return F.cross_entropy(logits, labels, reduction=reduction)

    want = capture(model, x, y, autograd_route)
    for got in (capture(model, x, y), capture(model, x, y, b0=b0)):
        assert len(got) == len(want) == len(hidden) + 1
        for a, b in zip(got, want, strict=True):
            assert a.inputs.dtype == dtype and torch.equal(a.inputs, b.inputs)
            assert torch.equal(a.pre, b.pre) and torch.equal(a.v_goal, b.v_goal)
            assert not a.v_goal.requires_grad
    with pytest.raises(ValueError, match="b0 must be x with the ones column"):
        capture(model, x, y, b0=x[:, :3])
