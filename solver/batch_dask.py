"""Running a batch on a Dask distributed cluster (the optional extra ``deter[dask]``).

The same chunks and the same worker function as local runs (``batch.solve_chunk``), so
results and output are the same. A worker that dies is restarted by its nanny; Dask
reports a task whose workers keep dying as ``KilledWorker``. Such a chunk is split and its
files resubmitted one by one, so that only the file that kills workers is marked an error.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from .batch import BatchOptions, FileOutcome, Record, crashed, solve_chunk


class DaskUnavailable(RuntimeError):
    """``--executor dask`` without the ``distributed`` package, or no cluster at the address."""


@contextlib.contextmanager
def dask_client(address: str | None, workers: int) -> Iterator[Any]:
    """A client of the cluster at ``address``, or of a local cluster of ``workers`` processes."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise DaskUnavailable(
            "--executor dask needs the dask extra: pip install 'deter[dask]'"
        ) from exc
    # A file that kills a worker once is suspect at once (the default retries it on 3).
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        if address:
            try:
                client = Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise DaskUnavailable(f"cannot reach a Dask scheduler at {address}: {exc}") from exc
            try:
                yield client
            finally:
                client.close()
            return
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


def run_dask(
    chunks: list[list[str]],
    options: BatchOptions,
    record: Record,
    *,
    jobs: int,
    address: str | None,
) -> bool:
    """Run chunks on a Dask cluster. True when ``record`` asked to stop early."""
    from distributed import as_completed

    with dask_client(address, workers=min(jobs, 2) if address is None else jobs) as client:
        futures: dict[Any, list[str]] = {}
        submitted = []
        for chunk in chunks:
            future = client.submit(solve_chunk, chunk, options, pure=False)
            futures[future.key] = chunk
            submitted.append(future)
        pending = as_completed(submitted)
        try:
            for future in pending:
                chunk = futures[future.key]
                outcomes: list[FileOutcome]
                try:
                    outcomes = future.result()
                except Exception as exc:
                    if _killed(exc) and len(chunk) > 1:
                        for file in chunk:  # resubmit alone: find the file that kills workers
                            single = client.submit(solve_chunk, [file], options, pure=False)
                            futures[single.key] = [file]
                            pending.add(single)
                        continue
                    message = None if _killed(exc) else f"worker error: {type(exc).__name__}: {exc}"
                    outcomes = [crashed(f, message) if message else crashed(f) for f in chunk]
                if record(outcomes):
                    client.cancel(list(pending.futures))
                    return True
        except BaseException:
            with contextlib.suppress(Exception):
                client.cancel(list(pending.futures))
            raise
    return False


def _killed(exc: BaseException) -> bool:
    return type(exc).__name__ == "KilledWorker"
