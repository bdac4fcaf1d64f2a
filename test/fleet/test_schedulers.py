"""Serial == LocalCluster == a real `dask scheduler` with two `dask worker` processes, with a corrupt bag in the set;
and a worker process killed in the middle of a task: Dask re-runs the task elsewhere and nothing changes.

The scheduler and workers are started here on 127.0.0.1 only, on ports the OS picks (port 0, the scheduler writes
its address to a file), and stopped by the test.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from distributed import Client  # noqa: E402

from causal_nodes.fleet import run_fleet  # noqa: E402
from causal_nodes.fleet.summary import AggregationOptions, aggregate, summary_json, without_run_details  # noqa: E402

WORKERS = 2


class DaskProcesses:
    """``dask scheduler`` + ``dask worker`` processes (no nanny: a killed worker stays dead), localhost only."""

    def __init__(self, folder: Path) -> None:
        self.scheduler_file = folder / "scheduler.json"
        self.logs = [(folder / f"{name}.log").open("w") for name in ("scheduler", *[f"w{k}" for k in range(WORKERS)])]
        self.processes: list[subprocess.Popen] = []
        cli = [sys.executable, "-m", "distributed.cli.dask_{}"]
        self._start([*cli[:2], cli[2].format("scheduler"), "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--dashboard-address", "127.0.0.1:0",
                     "--scheduler-file", str(self.scheduler_file), "--idle-timeout", "600"], self.logs[0])
        deadline = time.monotonic() + 60
        while not self.scheduler_file.exists():
            assert time.monotonic() < deadline and self.processes[0].poll() is None, "the dask scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but give the writer a moment to close it
        self.address = json.loads(self.scheduler_file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        for k in range(WORKERS):
            self._start([*cli[:2], cli[2].format("worker"), "--scheduler-file", str(self.scheduler_file),
                         "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                         "--dashboard-address", "127.0.0.1:0", "--name", f"w{k}",
                         "--memory-limit", "0", "--death-timeout", "60"], self.logs[k + 1])
        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(WORKERS, timeout=120)

    def _start(self, command: list[str], log) -> None:
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL))

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory):
    cluster = DaskProcesses(tmp_path_factory.mktemp("dask"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def serial(fleet_bags, fleet_config):
    return run_fleet(fleet_bags, fleet_config, scheduler="none")


def _comparable(run, config) -> dict:
    options = AggregationOptions(group_by="scenario", bootstrap=200, permutations=100)
    return without_run_details(summary_json(aggregate(run, config, options)))


def test_serial_local_cluster_and_remote_scheduler_give_the_same_analysis(serial, fleet_bags, fleet_config,
                                                                          dask_processes):
    assert [r.ok for r in serial.results] == [True, True, True, True, False]
    assert "zz_truncated" in serial.results[-1].error
    reference = _comparable(serial, fleet_config)
    assert reference["bags_failed"] == 1 and reference["consensus"]["links"]

    local = run_fleet(fleet_bags, fleet_config, scheduler="local", workers=WORKERS, dashboard_address=None,
                      log=lambda _: None)
    assert local.workers == WORKERS
    assert _comparable(local, fleet_config) == reference

    remote = run_fleet(fleet_bags, fleet_config, scheduler=dask_processes.address, log=lambda _: None)
    assert remote.workers == WORKERS
    assert _comparable(remote, fleet_config) == reference
    used = {r.timing["worker"] for r in remote.results}
    assert len(used) == WORKERS and all(a.startswith("tcp://127.0.0.1:") for a in used)
    assert os.getpid() not in {r.timing["pid"] for r in remote.results}


def _bag_index(key: str) -> int:
    return int(str(key).rsplit("-", 1)[1])


def test_a_worker_killed_in_the_middle_of_a_task_is_replaced_and_nothing_changes(serial, fleet_bags, fleet_config,
                                                                                 dask_processes):
    outcome: dict = {}

    def analyse() -> None:
        try:
            outcome["run"] = run_fleet(fleet_bags, fleet_config, scheduler=dask_processes.address,
                                       log=lambda _: None)
        except BaseException as error:  # reported by the assertions below
            outcome["error"] = error

    with Client(dask_processes.address, timeout="30s") as observer:
        pids = observer.run(os.getpid)
        runner = threading.Thread(target=analyse, daemon=True)
        runner.start()
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and runner.is_alive() and time.monotonic() < deadline:
            for address, keys in observer.processing().items():
                tasks = [k for k in keys if str(k).startswith("fleet-bag-")]
                if not tasks:
                    continue
                # freeze the worker, then check the task is still unfinished on it: only then is this mid-task
                os.kill(pids[address], signal.SIGSTOP)
                time.sleep(0.3)
                if set(tasks) & set(observer.processing().get(address, ())):
                    os.kill(pids[address], signal.SIGKILL)
                    victim = (address, [_bag_index(k) for k in tasks])
                    break
                os.kill(pids[address], signal.SIGCONT)
            time.sleep(0.05)
        runner.join(timeout=180)
    assert victim is not None, "no task was caught running on a worker"
    assert "error" not in outcome, outcome.get("error")
    run = outcome["run"]
    assert _comparable(run, fleet_config) == _comparable(serial, fleet_config)
    address, killed_bags = victim
    for index in killed_bags:  # the bags it was working on were finished by the surviving worker
        assert run.results[index].timing["worker"] != address
