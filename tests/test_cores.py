"""Where a served page's trainer runs (explorer.cores, issue 17): the rule as numbers, the
planner's commands as trainers start and stop, and a real trainer process placed and freed."""

from __future__ import annotations

import os
import threading

import pytest
from conftest import poll

from explorer.config import RunConfig
from explorer.cores import MACHINE, PLANNER, Placement, Planner, plan, release, thread_ids

TWO_CORES = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="placement needs Linux and at least 2 cores",
)


@pytest.fixture
def own_cores():
    """This process's threads get their cores back whatever the test did."""
    before = {tid: os.sched_getaffinity(tid) for tid in thread_ids()}
    yield
    for tid, mask in before.items():
        try:
            os.sched_setaffinity(tid, mask)
        except ProcessLookupError:
            continue


def test_plan_gives_the_trainer_the_top_cores_and_the_page_the_rest():
    assert plan({0, 1}, 1, 1) == Placement(frozenset({1}), frozenset({0}))
    assert plan(range(8), 1, 7) == Placement(frozenset(range(1, 8)), frozenset({0}))
    assert plan([4, 2, 3], 2, 1) == Placement(frozenset({3, 4}), frozenset({2}))


@pytest.mark.parametrize(
    ("cores", "trainers", "threads"),
    [({0, 1}, 2, 1), ({0, 1}, 1, 2), (range(8), 1, 8), ({0}, 1, 1), ({0, 1}, 0, 1)],
)
def test_plan_places_nothing_unless_the_page_keeps_a_core(cores, trainers, threads):
    """Never confine a trainer to fewer cores than its threads, nor the page to none."""
    assert plan(cores, trainers, threads) is None


def test_plan_refuses_nonsense():
    with pytest.raises(ValueError, match="threads >= 1"):
        plan({0, 1}, 1, 0)


class FakeTrainer:
    def __init__(self, threads=1):
        self.threads = threads
        self.sent: list[dict] = []

    def send(self, command, **kwargs):
        assert command == "cores"
        self.sent.append(kwargs)


@TWO_CORES
def test_the_planner_places_one_trainer_and_frees_everything_for_two(own_cores):
    cores = sorted(os.sched_getaffinity(0))[:2]
    planner = Planner(cores, enabled=True)
    a, b = FakeTrainer(), FakeTrainer()
    planner.running(a, True)
    assert a.sent[-1] == {"trainer": [cores[1]], "helpers": [cores[0]]}
    assert os.sched_getaffinity(0) == {cores[0]}  # the server's threads: the page's core
    planner.running(b, True)  # two trainers on two cores: nobody is confined
    assert a.sent[-1] == b.sent[-1] == {"trainer": cores, "helpers": cores}
    assert os.sched_getaffinity(0) == set(cores)
    planner.running(b, False)  # paused: a has its core again, b may run anywhere
    assert a.sent[-1] == {"trainer": [cores[1]], "helpers": [cores[0]]}
    assert b.sent[-1] == {"trainer": cores, "helpers": cores}
    sent = len(a.sent)
    planner.running(b, False)  # no change: nothing sent
    assert len(a.sent) == sent
    planner.leave(a)
    planner.leave(b)
    assert planner.placement is None and os.sched_getaffinity(0) == set(cores)


def test_the_planner_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("SIZING_EXPLORER_CORES", "off")
    planner = Planner({0, 1})
    a = FakeTrainer()
    planner.running(a, True)
    assert not planner.enabled and a.sent == [] and planner.placement is None


@TWO_CORES
def test_release_widens_a_thread_to_the_servers_cores(monkeypatch):
    cores = sorted(os.sched_getaffinity(0))[:2]
    monkeypatch.setenv(MACHINE, ",".join(map(str, cores)))
    seen = []

    def worker():  # a thread of its own: its affinity dies with it
        os.sched_setaffinity(0, {cores[0]})  # as a sweep worker started by a placed server
        release()
        seen.append(os.sched_getaffinity(0))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [set(cores)]


@TWO_CORES
def test_a_running_trainer_process_gets_its_core_and_gives_it_back(own_cores):
    from explorer.runner_process import TrainerProcess

    runner = TrainerProcess(RunConfig(hidden=[16], steps=10**6), threads=1)
    try:
        runner.start()
        poll(lambda: runner.state == "running", tick=runner.drain, what="the run to start")
        placement = PLANNER.placement
        assert placement is not None
        main = runner.pid
        assert main is not None

        def child_masks():
            return {tid: os.sched_getaffinity(tid) for tid in thread_ids(main)}

        poll(lambda: child_masks()[main] == placement.trainer, what=lambda: str(child_masks()))
        masks = child_masks()
        assert set(placement.page) in masks.values()  # the records feeder, the parent watch
        assert all(os.sched_getaffinity(tid) == placement.page for tid in thread_ids())
        runner.pause()
        poll(lambda: runner.state == "paused", tick=runner.drain, what="the pause")
        poll(lambda: child_masks()[main] == PLANNER.cores, what=lambda: str(child_masks()))
        assert os.sched_getaffinity(0) == PLANNER.cores
    finally:
        runner.close()
    assert PLANNER.placement is None


@TWO_CORES
def test_a_trainer_started_by_a_placed_server_thread_starts_on_every_core(monkeypatch):
    """A second tab's trainer is spawned by a server thread on the page's core; it must not
    stay there until the planner hears it run (it then fought the server for that core and a
    closed tab's session outlived it by 50 s: the soak test, red)."""
    from explorer.runner_process import TrainerProcess

    monkeypatch.setattr(PLANNER, "enabled", False)  # only the child's own release() acts
    cores = set(PLANNER.cores)
    seen: list = []

    def spawn():  # a thread of its own, placed as the server's threads are
        os.sched_setaffinity(0, {min(cores)})
        seen.append(TrainerProcess(RunConfig(hidden=[16], steps=10), threads=1))

    thread = threading.Thread(target=spawn)
    thread.start()
    thread.join()
    runner = seen[0]
    try:
        assert runner.pid is not None
        poll(lambda: os.sched_getaffinity(runner.pid) == cores, what="the child to widen")
    finally:
        runner.close()
