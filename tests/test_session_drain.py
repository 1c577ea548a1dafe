"""Session.drain and History.add_grouped against the record-by-record originals.

The refresh adds a few hundred records at a time, grouped once and under one lock (issue 17).
The oracle is the plain loop the page used before: each record added with ``History.add`` in
turn, the batch between two run/state records handed on grouped by kind, in order.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from explorer.history import History
from explorer.session import Session, group_records


def _records(n: int, seed: int = 0) -> list[dict]:
    """A mixed stream: steps, evals, unit tables, events, switch records, knob changes."""
    rng = random.Random(seed)
    out: list[dict] = []
    for step in range(1, n + 1):
        out.append({"kind": "step", "step": step, "loss": rng.random(), "sizes": [3, 2]})
        if step % 5 == 0:
            out.append({"kind": "eval", "step": step, "val_loss": rng.random()})
            out.append({"kind": "tradeoff", "step": step, "units": 5})
        if step % 3 == 0:
            ids = np.arange(rng.randint(1, 4))
            out.append({"kind": "units", "step": step, "unit_id": ids, "age": ids * step})
            out.append({"kind": "switch", "step": step, "unit_id": ids, "z": ids * 0.5})
        if step % 7 == 0:
            out.append({"kind": "event", "step": step, "event": "born", "unit_id": step})
        if step % 4 == 0:
            out.append({"kind": "spectrum", "step": step, "layer": 0, "eigenvalues": np.ones(3)})
        if step % 11 == 0:
            out.append({"kind": "knob", "step": step, "knob": "lr", "old": 0.1, "new": 0.2})
    return out


def _one_by_one(history: History, records) -> None:
    for r in records:
        history.add(r)


def _contents(history: History) -> tuple:
    rows = {k: [id(r) for r in v] for k, v in history.rows.items() if v}
    return rows, [id(t) for t in history.tables]


@pytest.mark.parametrize("chunk", [1, 7, 50, 400])
def test_add_grouped_keeps_what_adding_one_by_one_keeps(chunk):
    records = _records(300)
    ours, oracle = History(max_rows=40, max_tables=9), History(max_rows=40, max_tables=9)
    for i in range(0, len(records), chunk):
        part = records[i : i + chunk]
        ours.add_grouped(group_records(part))
        _one_by_one(oracle, part)
        assert _contents(ours) == _contents(oracle)
    assert len(ours.rows["step"]) < 300 and len(ours.tables) <= 9  # thinning happened
    assert len(ours.rows["spectrum"]) <= 9  # TINY's spectra are bounded like unit tables


def test_spectra_are_bounded_and_keep_the_newest_whole():
    """A page run of TINY writes a spectrum per layer at every growth step (690 in 150 s of
    the s6 soak): the History keeps at most ``max_tables`` of them, the newest half whole."""
    history = History(max_tables=10)
    for step in range(1, 101):
        history.add({"kind": "spectrum", "step": step, "layer": 0, "eigenvalues": [1.0]})
    steps = [r["step"] for r in history.rows["spectrum"]]
    assert len(steps) <= 10 and steps[-1] == 100 and steps == sorted(steps)
    assert steps[-5:] == [96, 97, 98, 99, 100]


def test_add_grouped_refuses_a_record_without_a_kind():
    with pytest.raises(ValueError, match="kind"):
        History().add_grouped(group_records([{"step": 1}]))


class _Runner:
    def __init__(self, batches):
        self.batches = list(batches)

    def drain(self, limit=None):
        return self.batches.pop(0) if self.batches else []

    def close(self, **kwargs):
        pass


def _reference_drain(session: Session, records, calls) -> None:
    """The loop Session.drain ran before issue 17's work: record by record."""
    batch: list[dict] = []

    def flush():
        if batch:
            by_kind = group_records(batch)
            session.note(by_kind)
            calls.append(("records", {k: [id(r) for r in v] for k, v in by_kind.items()}))
            batch.clear()

    for rec in records:
        kind = rec.get("kind")
        if kind == "run":
            flush()
            session.new_run()
            calls.append(("new_run",))
            session.last["run_started"] = rec
        elif kind == "state":
            if rec["state"] == "idle":
                flush()
                session.new_run()
                calls.append(("new_run",))
            flush()
            session.status = rec["state"]
            session.last["state"] = rec
            calls.append(("state", rec["state"]))
        else:
            session.history.add(rec)
            batch.append(rec)
    flush()


def _stream_with_controls(seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = _records(120, seed)
    controls = [
        {"kind": "run", "config": {"method": "tiny"}},
        {"kind": "state", "state": "running", "message": ""},
        {"kind": "state", "state": "paused", "message": ""},
        {"kind": "state", "state": "idle", "message": ""},
    ]
    for c in controls * 2:
        records.insert(rng.randrange(len(records) + 1), dict(c))
    return records


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drain_hands_on_and_keeps_what_the_record_by_record_loop_did(seed, monkeypatch):
    from explorer.config import RunConfig
    from explorer.knobs import knobs_for

    records = _stream_with_controls(seed)
    batches = [records[i : i + 37] for i in range(0, len(records), 37)]
    histories: dict[str, list] = {"ours": [], "oracle": []}

    def session(name):
        s = Session(RunConfig(), knobs_for("tiny", {}))
        s.runner = _Runner(batches)
        new_run = s.new_run

        def tracked(history=None):
            new_run(history)
            histories[name].append(s.history)

        monkeypatch.setattr(s, "new_run", tracked)
        histories[name].append(s.history)
        return s

    ours, oracle = session("ours"), session("oracle")
    got: list = []
    for _ in batches:
        ours.drain(
            lambda: got.append(("new_run",)),
            lambda by_kind: got.append(
                ("records", {k: [id(r) for r in v] for k, v in by_kind.items()})
            ),
            lambda rec: got.append(("state", rec["state"])),
        )
    want: list = []
    for batch in batches:
        _reference_drain(oracle, batch, want)
        # the oracle's runner is never drained: it reads the same batches directly
    assert got == want
    assert [_contents(h) for h in histories["ours"]] == [_contents(h) for h in histories["oracle"]]
    assert ours.status == oracle.status and ours.last == oracle.last
    ours.close(wait=False)
    oracle.close(wait=False)


def test_the_runner_drains_oldest_first_at_most_limit_records():
    from explorer.config import RunConfig
    from explorer.runner import TrainerThread

    runner = TrainerThread(RunConfig(), start=False)
    for i in range(10):
        runner.out.put({"kind": "step", "step": i})
    assert [r["step"] for r in runner.drain(4)] == [0, 1, 2, 3]
    assert [r["step"] for r in runner.drain(0)] == []
    assert [r["step"] for r in runner.drain()] == [4, 5, 6, 7, 8, 9]
    assert runner.drain() == []
