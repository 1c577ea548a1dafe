"""The live page's step axis set from the server in coarse steps (explorer.views.step_axis)."""

from __future__ import annotations

import pytest

from explorer.views.step_axis import PADDING, StepAxis, coarse_end, round_quantum


@pytest.mark.parametrize(
    ("value", "quantum"),
    [
        (0.3, 1),
        (1, 1),
        (1.9, 1),
        (2, 2),
        (4.99, 2),
        (5, 5),
        (9.9, 5),
        (10, 10),
        (125, 100),
        (260, 200),
        (7000, 5000),
    ],
)
def test_round_quantum_is_the_largest_1_2_5_power_of_ten_not_above(value, quantum):
    assert round_quantum(value) == quantum


def test_coarse_end_passes_the_last_step_by_about_an_eighth_and_moves_in_round_steps():
    ends = [coarse_end(0, last) for last in range(1, 20_001)]
    for last, end in zip(range(1, 20_001), ends, strict=True):
        assert last < end <= last + max(0.125 * last, 8) + 1e-9
        quantum = round_quantum(0.125 * max(last, 8))
        assert end % quantum == 0
    # far fewer distinct ends than steps: the axis moves once per quantum
    assert len(set(ends)) < 200
    assert coarse_end(1000, 1010) == 1011  # a run resumed at step 1000: its own span


def test_show_follows_coarsely_and_exactly_when_asked():
    axis = StepAxis()
    axis.show(0, 800)
    assert axis.range.end == coarse_end(0, 800) and axis.range.start <= 0
    axis.show(None, 801)  # within the quantum: the axis does not move
    assert axis.range.end == coarse_end(0, 800)
    axis.show(None, None, exact=True)
    assert axis.range.end == pytest.approx(801 * (1 + PADDING))
    assert axis.range.start == pytest.approx(-801 * PADDING)
    assert (axis.range.reset_start, axis.range.reset_end) == (axis.range.start, axis.range.end)


def test_nothing_to_show_leaves_the_axis_alone():
    axis = StepAxis()
    axis.show(None, None)
    axis.show(None, None, exact=True)
    assert (axis.range.start, axis.range.end) == (0, 1)
