"""Run :func:`~causal_nodes.fleet.bag_analysis.analyze_bag` over many bags: serially, or on Dask distributed.

Schedulers:

* ``none`` — one bag after the other in this process: the reference;
* ``local`` — an embedded :class:`distributed.LocalCluster` of worker *processes* (one thread each: the analysis is
  Python-heavy, so processes rather than threads give the parallelism), sized to the machine by default;
* ``tcp://HOST:PORT`` (or any other address Dask takes) — an existing scheduler, so the same command scales to a
  cluster. Its workers need this package installed (same version) and read access to the bag paths.

Every bag is one task; results come back in input order whatever order they finish in, so every scheduler returns
the same list. A worker that dies mid-task (killed, out of memory) is handled by Dask: the scheduler re-runs its
tasks on the remaining workers, up to ``distributed.scheduler.allowed-failures`` times per task (default 3); a
task that exhausts them (it keeps killing its workers) comes back as a failed bag with the reason, and the rest of
the fleet completes.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .bag_analysis import BagResult, analyze_bag
from .config import FleetConfig

LOCAL = "local"
SERIAL = "none"


@dataclass
class FleetRun:
    results: list[BagResult]
    scheduler: str
    workers: int
    dashboard: str | None
    wall_s: float
    startup_s: float = 0.0
    """Seconds to start (LocalCluster) or reach (remote) the scheduler and its workers, included in ``wall_s``."""


def validate_scheduler(scheduler: str) -> str:
    if scheduler in (SERIAL, LOCAL) or "://" in scheduler:
        return scheduler
    raise ValueError(f"scheduler must be 'none', 'local' or a scheduler address like tcp://HOST:PORT, "
                     f"got {scheduler!r}")


def analyze_on_worker(path: str, config: FleetConfig) -> BagResult:
    """The task run on a Dask worker: the bag analysis, plus the worker's address in the timing."""
    result = analyze_bag(path, config)
    try:
        from distributed import get_worker

        result.timing["worker"] = get_worker().address
    except (ImportError, ValueError):  # not inside a worker
        pass
    return result


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="bag", desc="bags", file=sys.stderr, disable=not enabled, dynamic_ncols=True)


def run_fleet(bags: Sequence[str], config: FleetConfig, scheduler: str = LOCAL, workers: int | None = None,
              progress: bool = False, dashboard_address: str | None = "127.0.0.1:8787",
              log: Callable[[str], None] = print) -> FleetRun:
    """Analyse ``bags`` with ``scheduler``; ``workers``: LocalCluster size (default: the machine's CPU count)."""
    scheduler = validate_scheduler(scheduler)
    started = time.perf_counter()
    if scheduler == SERIAL:
        results = []
        with _progress(len(bags), progress) as bar:
            for path in bags:
                results.append(analyze_bag(path, config))
                bar.update(1)
        return FleetRun(results, SERIAL, 1, None, time.perf_counter() - started)
    results, count, dashboard, startup = _run_dask(bags, config, scheduler, workers, progress, dashboard_address, log)
    return FleetRun(results, scheduler, count, dashboard, time.perf_counter() - started, startup)


def _run_dask(bags: Sequence[str], config: FleetConfig, scheduler: str, workers: int | None, progress: bool,
              dashboard_address: str | None, log: Callable[[str], None]
              ) -> tuple[list[BagResult], int, str | None, float]:
    from distributed import Client, LocalCluster, as_completed

    started = time.perf_counter()
    cluster = None
    if scheduler == LOCAL:
        count = workers or os.cpu_count() or 1
        # The scheduler serves HTTP (health, metrics) even without the dashboard; without one, on a free port
        # rather than the dashboard's 8787, which another cluster on the machine may hold.
        no_dashboard = {"dashboard": False, "dashboard_address": "127.0.0.1:0"} if dashboard_address is None else {}
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=dashboard_address, scheduler_kwargs=no_dashboard,
                               silence_logs=logging.WARNING)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as error:
            raise ValueError(f"cannot connect to the Dask scheduler at {scheduler}: {error}") from None
    try:
        if not client.scheduler_info().get("workers"):
            log(f"waiting up to 60 s for a worker to join {scheduler} …")
            try:
                client.wait_for_workers(1, timeout=60)
            except TimeoutError:
                raise ValueError(f"the Dask scheduler at {scheduler} has no workers") from None
        count = len(client.scheduler_info().get("workers", {}))
        startup = time.perf_counter() - started
        dashboard = client.dashboard_link if dashboard_address is not None or cluster is None else None
        if dashboard:
            log(f"Dask dashboard: {dashboard}")
        log(f"{len(bags)} bag(s) on {scheduler} ({count} worker(s))")
        run_id = uuid.uuid4().hex[:8]
        futures = client.map(analyze_on_worker, list(bags), config=config, pure=False,
                             key=[f"fleet-bag-{run_id}-{i}" for i in range(len(bags))])
        position = {future.key: i for i, future in enumerate(futures)}
        results: list[BagResult | None] = [None] * len(bags)
        with _progress(len(bags), progress) as bar:
            for future in as_completed(futures):
                i = position[future.key]
                try:
                    results[i] = future.result()
                except Exception as error:  # KilledWorker, a worker without this package, …: that bag fails
                    results[i] = BagResult(bag=str(bags[i]), ok=False,
                                           error=f"task failed on the cluster: {type(error).__name__}: {error}")
                future.release()
                bar.update(1)
        return [r for r in results if r is not None], count, dashboard, startup
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
