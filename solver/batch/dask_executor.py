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

from .outcome import FileOutcome, Record, crashed
from .worker import BatchOptions, solve_chunk


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
    # A task whose worker dies is suspect at once (the default retries it on 3 workers);
    # run_dask re-runs suspects one at a time. The scheduler's own log lines about the dead
    # worker would only repeat what the file's outcome says.
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    with contextlib.ExitStack() as stack:
        stack.callback(quiet.setLevel, level)
        stack.enter_context(dask.config.set({"distributed.scheduler.allowed-failures": 0}))
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
    """Run chunks (the batch's stacks) on a Dask cluster. True when ``record`` asked to
    stop early. Raises :class:`DaskUnavailable` without the dask extra."""
    with dask_client(address, workers=min(jobs, 2) if address is None else jobs) as client:
        from distributed import as_completed

        futures: dict[Any, list[str]] = {}
        submitted = []
        for chunk in chunks:
            future = client.submit(solve_chunk, chunk, options, pure=False)
            futures[future.key] = chunk
            submitted.append(future)
        pending = as_completed(submitted)
        suspects: list[str] = []
        try:
            for future in pending:
                chunk = futures[future.key]
                try:
                    outcomes: list[FileOutcome] = future.result()
                except Exception as exc:
                    if _killed(exc):
                        suspects += chunk  # with the file that killed a worker, or beside it
                        continue
                    outcomes = [crashed(f, _worker_error(exc)) for f in chunk]
                if record(outcomes):
                    client.cancel(list(pending.futures))
                    return True
            # One at a time, so that a worker that dies now was killed by this very file.
            for file in suspects:
                single = client.submit(solve_chunk, [file], options, pure=False)
                try:
                    outcomes = single.result()
                except Exception as exc:
                    killed = _killed(exc)
                    outcomes = [crashed(file) if killed else crashed(file, _worker_error(exc))]
                if record(outcomes):
                    return True
        except BaseException:
            with contextlib.suppress(Exception):
                client.cancel(list(pending.futures))
            raise
    return False


def _worker_error(exc: BaseException) -> str:
    return f"worker error: {type(exc).__name__}: {exc}"


def _killed(exc: BaseException) -> bool:
    return type(exc).__name__ == "KilledWorker"
