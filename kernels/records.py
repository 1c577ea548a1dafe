"""The records a run emits, in one place: each kind's name (a constant) and its fields (a
TypedDict).

Records leave the trainer as plain numpy/Python values (DESIGN.md, "The flow of one run"):
the trainer, the sizing methods and the runners emit them, :class:`explorer.history.History`
stores them, the views draw them, snapshots and exports save them. Code that picks records
by kind uses the constants below, never the string; a view lists the kinds it draws in its
``kinds`` attribute.

Kinds emitted by the trainer for every method: ``step``, ``eval``, ``tradeoff``, ``units``,
``knob``, ``event`` (through :func:`kernels.methods.base.unit_event`). Emitted by one method:
``phase`` (nonparametric), ``spectrum`` (TINY), ``switch`` (ShrinkNets). Emitted by a runner
about the run: ``run``, ``state``. Emitted by the group-sparsity sweep: ``groupsparsity``,
``groupsparsity_error``, ``groupsparsity_done``. ``_capture`` (a snapshot captured in a child
process) never leaves the process runner.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

import numpy as np

STEP: Literal["step"] = "step"
EVAL: Literal["eval"] = "eval"
TRADEOFF: Literal["tradeoff"] = "tradeoff"
UNITS: Literal["units"] = "units"
KNOB: Literal["knob"] = "knob"
EVENT: Literal["event"] = "event"
PHASE: Literal["phase"] = "phase"
SPECTRUM: Literal["spectrum"] = "spectrum"
SWITCH: Literal["switch"] = "switch"
RUN: Literal["run"] = "run"
STATE: Literal["state"] = "state"
GROUPSPARSITY: Literal["groupsparsity"] = "groupsparsity"
GROUPSPARSITY_ERROR: Literal["groupsparsity_error"] = "groupsparsity_error"
GROUPSPARSITY_DONE: Literal["groupsparsity_done"] = "groupsparsity_done"
CAPTURE: Literal["_capture"] = "_capture"

#: every kind a run's history may hold
HISTORY_KINDS = (
    STEP,
    EVAL,
    TRADEOFF,
    UNITS,
    KNOB,
    EVENT,
    PHASE,
    SPECTRUM,
    SWITCH,
    RUN,
    STATE,
    GROUPSPARSITY,
    GROUPSPARSITY_ERROR,
    GROUPSPARSITY_DONE,
)


class StepRecord(TypedDict):
    """One training step (written after it)."""

    kind: Literal["step"]
    step: int  # steps done, this one included
    epoch: float
    loss: float  # task loss of the minibatch
    acc: float  # minibatch accuracy
    penalty: float  # the method's regulariser in the objective
    sizes: list[int]  # units per hidden layer after the step's surgery
    params: int
    cost: int  # input neurons summed over steps (ShrinkNets sec. 4.4)
    time: float  # seconds since the run started
    born: int  # units added this step
    died: int  # units removed this step


class EvalRecord(TypedDict):
    """Validation figures, every ``eval_every`` steps."""

    kind: Literal["eval"]
    step: int
    val_loss: float
    val_acc: float
    samples_per_s: float
    time_train: float  # seconds spent so far in each phase
    time_surgery: float
    time_eval: float


class TradeoffRecord(TypedDict):
    """A point of the size-vs-loss plane, with each evaluation."""

    kind: Literal["tradeoff"]
    step: int
    method: str
    units: int  # hidden units in all layers
    params: int
    val_loss: float
    val_acc: float
    lam: float
    source: str  # "run" for the live run


class UnitsRecord(TypedDict):
    """The per-unit table of the live network: one entry per unit in each array."""

    kind: Literal["units"]
    step: int
    layer: np.ndarray  # int64
    unit_id: np.ndarray  # int64, stable ids (DESIGN.md, "Unit identity")
    fan_in: np.ndarray  # l2 length of each unit's fan-in
    fan_out: np.ndarray  # l2 length of each unit's fan-out
    switch: np.ndarray  # ShrinkNets switch, NaN without a switch layer
    age: np.ndarray  # steps since birth


class KnobRecord(TypedDict):
    """A knob changed; the step ``step`` + 1 is the first to use the new value."""

    kind: Literal["knob"]
    step: int
    knob: str
    old: float  # NaN for the first value
    new: float


class _EventRecord(TypedDict):
    kind: Literal["event"]
    step: int
    layer: int
    unit_id: int
    event: str  # "born" or "died"
    cause: str  # e.g. "added at random", "added by eigen-solve", "shrunk to zero"


class EventRecord(_EventRecord, total=False):
    """A unit's birth or death; the method may add details (TINY: ``lambda_k`` or ``gain``)."""

    lambda_k: float
    gain: float


class PhaseRecord(TypedDict):
    """Nonparametric networks: the training phase changed (kernels/methods/nonparametric.py)."""

    kind: Literal["phase"]
    step: int
    phase: str
    angular_factor: float
    best_val: float  # the validation loss of the state the phase change rewound to
    patience_epochs: float  # the window that ended (P, or P/20 when annealing)
    sizes: list[int]  # hidden sizes after the rewind


class SpectrumRecord(TypedDict):
    """TINY: one hidden layer's eigen-solve at a growth step (see kernels/methods/tiny.py)."""

    kind: Literal["spectrum"]
    step: int
    layer: int
    eigenvalues: np.ndarray  # lambda_k, descending
    accepted: int
    rejected: int  # passed tau, but no amplitude of them lowered the loss: not added
    reject_reason: str
    gamma_capped: bool  # the neurons' line search ended at the top of its grid
    gamma0_capped: bool  # the best update's line search ended at the top of its grid
    gamma_max: float  # top of the neurons' grid after the safety bound
    tau: float
    tau_mode: str
    bottleneck_before: float
    bottleneck_after: float
    unit_ids: list[int]
    solve_seconds: float
    route: str
    line_search_seconds: float
    capture_seconds: float
    gamma0: float
    gamma: float
    loss_before: float
    loss_after: float
    batch: int
    scored_batch: int  # samples of the threshold's L and the line searches (holdout_scoring option)
    neurons: str


class SwitchRecord(TypedDict):
    """ShrinkNets: every unit's switch (see kernels/methods/shrinknets.py)."""

    kind: Literal["switch"]
    step: int
    layer: np.ndarray  # one entry per unit
    unit_id: np.ndarray
    value: np.ndarray
    live: np.ndarray
    sign_variance: np.ndarray
    sign_changes: np.ndarray
    input_neurons: int


class RunRecord(TypedDict):
    """A runner built a trainer for this configuration."""

    kind: Literal["run"]
    config: dict[str, Any]
    time: float


class StateRecord(TypedDict):
    """A runner's state changed ("running", "paused", "finished", "error", ...)."""

    kind: Literal["state"]
    state: str
    message: str
    step: int
    time: float


class GroupSparsityRecord(TypedDict):
    """One fit of the group-sparsity sweep (ShrinkNets fig. 1)."""

    kind: Literal["groupsparsity"]
    method: str
    dataset: str
    lam: float
    loss: float
    sparsity: float


class GroupSparsityErrorRecord(TypedDict):
    kind: Literal["groupsparsity_error"]
    dataset: str
    message: str


class GroupSparsityDoneRecord(TypedDict):
    kind: Literal["groupsparsity_done"]
    dataset: str
    fits: int


#: the TypedDict of each kind
RECORD_TYPES: dict[str, type] = {
    STEP: StepRecord,
    EVAL: EvalRecord,
    TRADEOFF: TradeoffRecord,
    UNITS: UnitsRecord,
    KNOB: KnobRecord,
    EVENT: EventRecord,
    PHASE: PhaseRecord,
    SPECTRUM: SpectrumRecord,
    SWITCH: SwitchRecord,
    RUN: RunRecord,
    STATE: StateRecord,
    GROUPSPARSITY: GroupSparsityRecord,
    GROUPSPARSITY_ERROR: GroupSparsityErrorRecord,
    GROUPSPARSITY_DONE: GroupSparsityDoneRecord,
}
