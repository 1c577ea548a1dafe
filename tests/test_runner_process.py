"""The trainer in a child process (what the served page uses): the same commands, records,
knob changes, snapshots and errors as the trainer thread, across the process boundary."""

from __future__ import annotations

import os
import signal
import struct
import threading
import time
from pathlib import Path

import pytest
from conftest import poll

from explorer import runner_process
from explorer.app import ExplorerApp
from explorer.config import RunConfig
from explorer.history import History
from explorer.outbox import Outbox
from explorer.runner_process import TrainerProcess

pytestmark = pytest.mark.slow  # child processes / Dask clusters: tens of seconds each


def pump(runner, history, condition, timeout=120.0):
    """Move records into ``history`` until ``condition()`` holds."""

    def move():
        for rec in runner.drain():
            if rec["kind"] not in ("state", "run"):
                history.add(rec)

    poll(
        condition,
        timeout,
        tick=move,
        what=lambda: f"the condition; state {runner.state}: {runner.message}",
    )


@pytest.fixture
def runner():
    r = TrainerProcess(
        RunConfig(
            hidden=[8, 8], steps=100_000, eval_every=20, units_every=10, knobs={"growth_every": 10}
        ),
        threads=1,
    )
    yield r
    r.close()
    assert not r.alive


def test_knobs_steps_snapshot_and_reset_cross_the_process_boundary(runner):
    history = History()
    runner.start()
    pump(runner, history, lambda: len(history.rows["step"]) >= 30)
    assert runner.state == "running" and runner.trainer.step_count >= 30
    assert str(runner.trainer.device) == "cpu"
    runner.knobs.lam = 0.02  # set here, read by the child's trainer at its next step
    pump(runner, history, lambda: any(k["knob"] == "lam" for k in history.rows["knob"]))
    knob = [k for k in history.rows["knob"] if k["knob"] == "lam"][0]
    assert knob["new"] == pytest.approx(0.02)
    runner.pause()
    pump(runner, history, lambda: runner.state == "paused")
    data = runner.capture(history).result(60)
    assert data.step == data.summary["steps"] >= 30
    assert len(data.history_rows["step"]) == len(history.rows["step"])
    assert data.trainer["knobs"]["lam"] == pytest.approx(0.02)
    runner.reset()
    pump(runner, history, lambda: runner.state == "idle")
    assert runner.trainer is None
    with pytest.raises(RuntimeError, match="nothing to save yet"):
        runner.capture().result(60)


def test_a_failing_run_reports_and_the_child_lives_on():
    bad = TrainerProcess(RunConfig(dataset="digits", dataset_options={"no_such": 1}))
    try:
        bad.start()
        pump(bad, History(), lambda: bad.state == "error")
        assert "could not start" in bad.message and bad.trainer is None
        assert bad.alive
        bad.reset(RunConfig(hidden=[4], steps=5))
        bad.start()
        pump(bad, History(), lambda: bad.state == "finished")
    finally:
        bad.close()


def test_app_resumes_a_snapshot_in_a_child_process(tmp_path):
    app = ExplorerApp(RunConfig(hidden=[8, 8], eval_every=10, units_every=5), trainer_in="process")
    try:
        app.form.max_steps = 40
        app.start()
        deadline = time.monotonic() + 120
        while app.status != "finished" and time.monotonic() < deadline:
            app.drain()
            time.sleep(0.05)
        assert app.status == "finished"
        path = app.snapshots.save(tmp_path / "run.zip")
    finally:
        app.close()
    resumed = ExplorerApp.open_snapshot(path, resume=True, trainer_in="process")
    try:
        deadline = time.monotonic() + 120
        while resumed.status != "paused" and time.monotonic() < deadline:
            resumed.drain()
            time.sleep(0.05)
        assert resumed.status == "paused" and resumed.runner.trainer.step_count == 40
        resumed.form.max_steps = 60
        resumed.step()
        while resumed.history.last("step")["step"] < 40 and time.monotonic() < deadline:
            resumed.drain()
            time.sleep(0.05)
        assert resumed.history.last("step")["step"] == 40  # the step after the snapshot's
    finally:
        resumed.close()


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_both_runners_satisfy_the_contract_and_count_steps_alike(kind):
    from explorer.runner import Runner, TrainerThread

    cls = TrainerThread if kind == "thread" else TrainerProcess
    runner = cls(RunConfig(method="static", hidden=[4], steps=3), threads=1)
    try:
        assert isinstance(runner, Runner)
        runner.start()
        pump(runner, History(), lambda: runner.state == "finished")
        status = runner.status()
        # after 3 steps both say 3 (the process runner said 4: it added one to the record)
        assert (status.state, status.step, status.device) == ("finished", 3, "cpu")
        assert runner.trainer.step_count == 3
        runner.reset()
        pump(runner, History(), lambda: runner.state == "idle")
        assert runner.status().device is None and runner.trainer is None
    finally:
        runner.close()


def _gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie waiting for a reaper counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_kill_9_of_a_pages_trainer_says_so_and_start_recovers():
    app = ExplorerApp(RunConfig(hidden=[8, 8], eval_every=10, units_every=5), trainer_in="process")
    try:
        app.start()
        deadline = time.monotonic() + 120
        while not (app.status == "running" and app.history.last("step")):
            assert time.monotonic() < deadline, app.messages
            app.drain()
            time.sleep(0.05)
        first = app.runner
        os.kill(first.pid, signal.SIGKILL)
        pending = first.capture()  # sent to a dying child: it must fail, not hang
        with pytest.raises(RuntimeError, match="trainer exited"):
            pending.result(60)
        while app.status != "error":
            assert time.monotonic() < deadline, app.messages
            app.drain()
            time.sleep(0.05)
        assert "trainer exited (signal 9, SIGKILL)" in app.messages[-1]
        assert not first.alive
        poll(lambda: not first._thread.is_alive(), 30, what="the dead trainer's reader to end")
        with pytest.raises(RuntimeError, match="trainer exited"):
            first.capture().result(1)  # failed at once, no wait
        # recovery: start builds a new trainer process
        app.start()
        while not (app.status == "running" and app.history.last("step")):
            assert time.monotonic() < deadline, app.messages
            app.drain()
            time.sleep(0.05)
        assert app.runner is not first and app.runner.alive
        second = app.runner.pid
    finally:
        app.close()
    assert _gone(first.pid) and _gone(second)
    assert not first._thread.is_alive()


def test_the_trainer_child_exits_when_its_parent_dies(tmp_path):
    import subprocess
    import sys

    script = (
        "import os, signal, sys\n"
        "from explorer.config import RunConfig\n"
        "from explorer.runner_process import TrainerProcess\n"
        "r = TrainerProcess(RunConfig(method='static', hidden=[4], steps=10**7), threads=1)\n"
        "r.start()\n"
        "while r.state != 'running':\n"
        "    r.drain(); import time; time.sleep(0.05)\n"
        "print(r.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(child), f"trainer child {child} outlived its killed parent"


def _half_a_record(config, knob_values, dataset, max_steps, threads, commands, records) -> None:
    """A trainer child that is killed while writing a record: it writes the length of a
    1 MiB message and a few of its bytes, says so, and waits."""
    os.write(records.fileno(), struct.pack("!i", 1 << 20) + b"\x80\x05half a record")
    Path(os.environ["HALF_RECORD_MARK"]).touch()
    time.sleep(600)


def test_a_child_killed_mid_record_ends_the_reader_too(tmp_path, monkeypatch):
    """Half a record in the pipe and then kill -9: the page hears of the exit and no thread
    of that runner stays blocked on the rest of the record."""
    mark = tmp_path / "half-written"
    monkeypatch.setenv("HALF_RECORD_MARK", str(mark))
    monkeypatch.setattr(runner_process, "_child_main", _half_a_record)
    runner = TrainerProcess(RunConfig(method="static", hidden=[4]), name="half-record")
    try:
        poll(mark.exists, 120, what="the child to write half a record")
        os.kill(runner.pid, signal.SIGKILL)
        poll(lambda: runner.state == "error", 30, what=lambda: f"an error, got {runner.state}")
        assert runner.message == "trainer exited (signal 9, SIGKILL)"
        assert [r["message"] for r in runner.drain()] == [runner.message]
        poll(lambda: not runner._thread.is_alive(), 30, what="the reader to end")
        left = [t.name for t in threading.enumerate() if t.name.startswith("half-record")]
        assert not left, left
    finally:
        runner.close()


def test_close_leaves_no_thread_of_the_runner_behind():
    """The commands queue's feeder thread goes with the child (it stayed, one per page ever
    served, while anything held the runner: scripts/soak.py found three after three pages)."""
    runner = TrainerProcess(RunConfig(method="static", hidden=[4]), name="leaves-nothing")
    runner.send("pause")  # a command: the queue's feeder thread starts
    feeder = runner._commands._thread
    assert feeder is not None and feeder.is_alive()
    runner.close(wait=True)
    assert not feeder.is_alive()
    assert not runner._thread.is_alive() and not runner._process.is_alive()


class _Pipe:
    """A pipe end that keeps what is sent (and pickles it, as a real one would)."""

    def __init__(self) -> None:
        self.sent: list = []
        self.closed = False

    def send(self, obj) -> None:
        import pickle

        pickle.dumps(obj)
        self.sent.append(obj)

    def close(self) -> None:
        self.closed = True


def test_the_childs_outbox_sends_records_in_order_in_few_batches():
    """Records put in quick succession cross as one batch each ``batch_s`` (one send a record
    woke the server's reader ~500 times a second), none lost or reordered; close sends the
    rest and closes the pipe."""
    pipe = _Pipe()
    outbox = Outbox(pipe, batch_s=0.2)
    for k in range(50):
        outbox.put({"kind": "step", "step": k})
    poll(lambda: pipe.sent, 30, what="a batch")
    outbox.put({"kind": "step", "step": 50})
    outbox.close()
    assert pipe.closed
    assert all(isinstance(batch, list) for batch in pipe.sent)
    assert len(pipe.sent) <= 3, [len(b) for b in pipe.sent]
    assert [r["step"] for batch in pipe.sent for r in batch] == list(range(51))


def test_a_record_that_cannot_be_pickled_loses_only_itself():
    pipe = _Pipe()
    outbox = Outbox(pipe, batch_s=0.05)
    outbox.put({"kind": "step", "step": 1})
    outbox.put({"kind": "bad", "value": lambda: None})  # a lambda does not pickle
    outbox.put({"kind": "step", "step": 2})
    outbox.close()
    assert [r["step"] for batch in pipe.sent for r in batch] == [1, 2]


def test_the_reader_takes_batches_and_single_records_alike():
    """The parent's reader unpacks a batch into ``out`` in order (and still takes a bare
    record), keeping the state it folds."""
    runner = TrainerProcess.__new__(TrainerProcess)
    taken: list = []
    runner._take = taken.append  # type: ignore[method-assign]
    batches = iter([[{"step": 1}, {"step": 2}], {"step": 3}])

    class _Records:
        def recv(self):
            try:
                return next(batches)
            except StopIteration:
                raise EOFError from None

        def close(self) -> None:
            pass

    class _Process:
        exitcode = 0

        def join(self, timeout=None) -> None:
            pass

    runner._records = _Records()
    runner._process = _Process()
    runner._on_exit = lambda code: taken.append(("exit", code))  # type: ignore[method-assign]
    runner._read()
    assert taken == [{"step": 1}, {"step": 2}, {"step": 3}, ("exit", 0)]
