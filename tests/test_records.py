"""Every record a run emits has the fields its kind's TypedDict in kernels/records.py lists:
no field missing, none undeclared. A short run of every method, plus the runners' and the
group-sparsity sweep's records."""

from __future__ import annotations

import functools
import queue
import time

import numpy as np
import pytest
import torch

from explorer.config import RunConfig
from explorer.group_sparsity import SweepThread
from explorer.runner import TrainerThread
from explorer.trainer import Trainer
from kernels import records
from kernels.methods import METHODS


def check(record: dict) -> None:
    kind = record["kind"]
    assert kind in records.HISTORY_KINDS, f"kind {kind!r} is not declared in kernels/records.py"
    typed = records.RECORD_TYPES[kind]
    keys = set(record)
    missing = typed.__required_keys__ - keys
    undeclared = keys - typed.__required_keys__ - typed.__optional_keys__
    assert not missing and not undeclared, (kind, missing, undeclared)


@functools.cache
def run_records(method: str) -> list[dict]:
    out: list[dict] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = RunConfig(
            method=method, hidden=[8, 8], eval_every=25, units_every=10, batch_size=64
        )
        Trainer(config, sink=out.append).run(300)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.mark.parametrize(
    "method",
    [m if m == "static" else pytest.param(m, marks=pytest.mark.slow) for m in sorted(METHODS)],
)  # a 300-step run each
def test_every_record_of_a_run_has_its_declared_fields(method):
    emitted = run_records(method)
    kinds = {r["kind"] for r in emitted}
    assert {records.STEP, records.EVAL, records.TRADEOFF, records.UNITS} <= kinds
    for record in emitted:
        check(record)


def test_the_declared_fields_catch_a_stray_field():
    record = dict(run_records("static")[-1], stray=1)
    with pytest.raises(AssertionError):
        check(record)


def test_knob_records_have_their_fields():
    emitted: list[dict] = []
    trainer = Trainer(RunConfig(method="static", hidden=[4], batch_size=32), sink=emitted.append)
    trainer.step()
    trainer.knobs.lr = trainer.knobs.lr / 2
    trainer.step()
    knobs = [r for r in emitted if r["kind"] == records.KNOB]
    assert [r["knob"] for r in knobs] == ["lr"]
    for record in emitted:
        check(record)


@pytest.mark.slow
def test_runner_state_and_run_records_have_their_fields():
    runner = TrainerThread(RunConfig(method="static", hidden=[4], steps=3, batch_size=32))
    seen: list[dict] = []
    try:
        runner.start()
        for _ in range(600):
            seen += runner.drain()
            if any(
                r["kind"] == records.STATE and r["state"] in ("finished", "error") for r in seen
            ):
                break
            time.sleep(0.05)
    finally:
        runner.close()
    kinds = {r["kind"] for r in seen}
    assert {records.RUN, records.STATE} <= kinds, kinds
    for record in seen:
        check(record)


@pytest.mark.slow
def test_group_sparsity_records_have_their_fields():
    from explorer.group_sparsity import sweep_records

    emitted = list(sweep_records("digits", points=1, max_iter=20))
    assert emitted and all(r["kind"] == records.GROUPSPARSITY for r in emitted)
    for record in emitted:
        check(record)
    done: queue.Queue = queue.Queue()
    sweep = SweepThread()
    sweep.queue = done
    sweep._run("no-such-set", 1, 1e-3, 10)
    last = done.get_nowait()
    assert last["kind"] == records.GROUPSPARSITY_ERROR
    check(last)
    assert np.isfinite(emitted[0]["lam"])
