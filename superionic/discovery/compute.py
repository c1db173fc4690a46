"""Where the embarrassingly parallel work runs: Dask (in-process, a LocalCluster, a scheduler address, or a
dask-jobqueue SLURM cluster). The driver submits tasks and writes each result to the database as it arrives,
so a stopped run keeps every finished task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

from superionic.discovery.config import ComputeConfig


@contextmanager
def executor(config: ComputeConfig):
    """A Dask ``Client`` for the configured scheduler, or None for in-process synchronous execution."""
    if config.scheduler == "synchronous":
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as err:
        raise ImportError(
            f"compute.scheduler '{config.scheduler}' needs Dask: pip install 'superionic[distributed]'"
        ) from err
    cluster = None  # one we start here (and close); None when connecting to a running scheduler
    if config.scheduler == "local":
        cluster = LocalCluster(
            n_workers=config.workers,
            threads_per_worker=config.threads_per_worker,
            processes=True,
            dashboard_address=None,
        )
    elif config.scheduler == "slurm":
        from dask_jobqueue import SLURMCluster

        cluster = SLURMCluster(**dict(config.jobqueue))
        cluster.scale(jobs=config.workers)
    client = Client(config.scheduler if cluster is None else cluster)  # else: a scheduler's address
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_tasks(
    client,
    function: Callable[..., Any],
    arguments: Sequence[tuple],
    on_result: Callable[[int, Any], None],
) -> None:
    """Run ``function(*arguments[k])`` for every k (on ``client``, or in-process when None) and call
    ``on_result(k, result)`` in the driver as each finishes. A task's exception is raised in the driver."""
    if client is None:
        for k, args in enumerate(arguments):
            on_result(k, function(*args))
        return
    from dask.distributed import as_completed

    futures = {client.submit(function, *args, pure=False): k for k, args in enumerate(arguments)}
    for future in as_completed(futures):
        on_result(futures[future], future.result())
