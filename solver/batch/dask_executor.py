"""Running a batch on a Dask distributed cluster (the optional extra ``deter[dask]``).

The same stacks and the same worker function as local runs (``batch.solve_chunk``), handed
on through the same reorder buffer (``order.InOrder``), so results and output are the same.
A worker that dies is restarted by its nanny; Dask reports a task whose workers keep dying
as ``KilledWorker``. Such a stack's files are then run one by one, once nothing else runs,
so that only the file that kills workers is marked an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from .order import AHEAD_PER_WORKER, InOrder, Stack
from .outcome import FileOutcome, crashed, file_sha256, internal_error, worker_error
from .worker import BatchOptions, Source, solve_chunk


class DaskUnavailable(RuntimeError):
    """``--executor dask`` without the ``distributed`` package, or no cluster at the address."""


class ClusterLost(RuntimeError):
    """The Dask scheduler went away while the batch ran, or it has had no worker for
    :data:`NO_WORKER_TIMEOUT` seconds: an environment failure, not a bug of deter's and not a
    verdict on any file. The batch stops as under Ctrl-C, keeping what finished (issue 25)."""


#: Seconds that closing the client of a lost cluster may take (it would otherwise try to
#: reconnect for as long as distributed's timeouts allow: over 140 s were seen).
CLOSE_TIMEOUT = 5.0

#: Seconds the batch waits on a scheduler with no worker before it gives the cluster up
#: (issue 25: a scheduler whose workers had all gone made the batch wait forever). Long
#: enough for a nanny to restart a dead worker, or for workers to join a fresh scheduler.
NO_WORKER_TIMEOUT = 60.0
#: Seconds between looks at the scheduler's workers while the batch waits for a result.
WORKER_CHECK_INTERVAL = 1.0


def sources(files: Sequence[str]) -> list[Source]:
    """Each file's absolute path and content hash, as this process reads them: a worker
    reads the absolute path (its working folder may hold other files by the same relative
    name) and solves only content with this hash."""
    return [(os.path.abspath(file), file_sha256(file)) for file in files]


#: Dask settings for the local cluster ``--executor dask`` starts (a cluster given by
#: ``--address`` keeps its own). Each worker samples its threads' stacks every 10 ms and keeps
#: one profile a second for the last ``low-level-log-length`` (1,000) seconds: on 10,000
#: specs (issue 24, 600 s) a worker grew by 61 MB (about 14 KB a spec) where a local worker
#: stays flat, almost all of it the profiles' dicts (``function;file;line`` trees), and the
#: sampling competes with the solve for the GIL.
#:
#: ``low-level-log-length`` bounds Dask's debugging logs, among them each batched stream's
#: copy of the last messages it sent (under 1 MB each; 1,000 by default): the client's
#: stream keeps every task it submitted, with its arguments (a stack's 256 file paths and
#: hashes, ~50-100 KB), and the scheduler's streams keep the same tasks sent to workers.
#: That was the Dask client's growth of ~0.5 KB a spec (issue 24: +50 MB over 100,000 specs,
#: bounded only at 1,000 messages); with 32 it stays flat. It also applies to the client of
#: a cluster given by ``--address`` (its scheduler and workers keep their own settings).
LOW_LEVEL_LOG_LENGTH = 32
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.low-level-log-length": LOW_LEVEL_LOG_LENGTH,
}


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
        # The local cluster's workers and scheduler start under this configuration: no
        # statistical profiler (LOCAL_CLUSTER_CONFIG says why).
        stack.enter_context(dask.config.set(LOCAL_CLUSTER_CONFIG))
        if address:
            try:
                client = Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise DaskUnavailable(f"cannot reach a Dask scheduler at {address}: {exc}") from exc
            try:
                yield client
            finally:
                _close(client)
            return
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off
        # glibc's adaptive mmap threshold: every large numpy temporary is then mapped and
        # unmapped afresh, and a simulation block costs 2.5 times the CPU (measured, bench/
        # README.md). Local workers keep the rest of Dask's defaults.
        # A nanny sets its variables in this process's environment before spawning, so
        # one started earlier (another cluster in this process) leaves it there for the
        # next: it is taken out while the workers start.
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": environ}))
        inherited = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        try:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        finally:
            if inherited is not None:
                os.environ["MALLOC_TRIM_THRESHOLD_"] = inherited
        client = Client(cluster)
        try:
            yield client
        finally:
            _close(client)
            with contextlib.suppress(Exception):
                cluster.close(timeout=CLOSE_TIMEOUT)


def _close(client: Any) -> None:
    """Close a client within :data:`CLOSE_TIMEOUT`, whether or not its scheduler is there."""
    with contextlib.suppress(Exception):
        client.close(timeout=CLOSE_TIMEOUT)


def run_dask(
    stacks: list[Stack],
    options: BatchOptions,
    order: InOrder,
    *,
    jobs: int,
    address: str | None,
) -> tuple[bool, int]:
    """Run stacks on a Dask cluster; returns (stopped early, the cluster's workers). Raises
    :class:`DaskUnavailable` without the dask extra.

    As with local workers, at most two stacks per worker are in flight and none runs further
    ahead of the first stack not yet handed on than the reorder buffer allows, so the
    batch's process holds a bounded number of results however long the batch is.
    """
    nominal = min(jobs, 2) if address is None else jobs
    with dask_client(address, workers=nominal) as client:
        from distributed import as_completed

        # the cluster's workers (a scheduler given by --address has its own number; one
        # whose workers have not joined yet counts as --jobs)
        workers = len(client.scheduler_info().get("workers", {})) or nominal
        ahead = AHEAD_PER_WORKER * workers
        queue = deque(stacks)
        inflight: dict[Any, Stack] = {}
        running = as_completed()
        try:
            while queue:
                suspects: list[Stack] = []
                while queue or inflight:
                    while (
                        queue
                        and not suspects
                        and len(inflight) < 2 * workers
                        and order.may_start(queue[0][0], ahead)
                    ):
                        index, chunk = queue.popleft()
                        future = client.submit(
                            solve_chunk, chunk, options, sources(chunk), pure=False
                        )
                        inflight[future.key] = (index, chunk)
                        running.add(future)
                    if not inflight:
                        break
                    future = _next_done(running, client, address)
                    index, chunk = inflight.pop(future.key)
                    try:
                        outcomes: list[FileOutcome] = future.result()
                    except Exception as exc:
                        if _killed(exc):
                            # with the file that killed a worker, or beside it: tried again
                            # alone once nothing else runs
                            suspects.append((index, chunk))
                            continue
                        _check_connected(client, address, exc)
                        outcomes = [internal_error(f, worker_error(exc)) for f in chunk]
                    if order.put(index, outcomes):
                        client.cancel(list(running.futures))
                        return True, workers
                # One file at a time, so that a worker that dies now was killed by this file.
                for index, chunk in sorted(suspects):
                    if order.put(index, [_alone(client, file, options, address) for file in chunk]):
                        return True, workers
        except ClusterLost:
            raise
        except Exception as exc:
            _check_connected(client, address, exc)  # a lost cluster, not a bug of deter's
            with contextlib.suppress(Exception):
                client.cancel(list(running.futures))
            raise
        except BaseException:
            with contextlib.suppress(Exception):
                client.cancel(list(running.futures))
            raise
    return False, workers


T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def dask_mapper(
    address: str | None, workers: int
) -> Iterator[Callable[[Callable[[T], R], Sequence[T]], list[R]]]:
    """A ``map`` that runs independent tasks on the cluster at ``address`` (or a local
    cluster of ``workers`` processes) and returns their results in the tasks' order: what
    ``deter simulate`` and ``deter experiment`` hand their blocks and seeds to. Tasks must
    carry their own seeds (they do: one stream per task), so results do not depend on where
    a task ran. Raises :class:`DaskUnavailable` without the extra or the scheduler, and
    :class:`ClusterLost` when the scheduler goes, or has no worker for
    :data:`NO_WORKER_TIMEOUT` s, while tasks are out."""
    with dask_client(address, workers) as client:

        def run(function: Callable[[T], R], tasks: Sequence[T]) -> list[R]:
            from distributed import as_completed

            futures = client.map(function, list(tasks), pure=False)
            try:
                running = as_completed(futures)
                for _ in futures:  # wait, watching for a lost or empty cluster
                    _next_done(running, client, address)
                return list(client.gather(futures))
            except ClusterLost:
                raise
            except Exception as exc:
                _check_connected(client, address, exc)
                raise
            finally:
                with contextlib.suppress(Exception):
                    client.cancel(futures)

        yield run


def _check_connected(client: Any, address: str | None, exc: BaseException) -> None:
    """Raise :class:`ClusterLost` when ``exc`` came of losing the scheduler (the client is
    no longer connected: its futures are cancelled, "scheduler-connection-lost")."""
    if getattr(client, "status", "running") != "running" or "connection-lost" in str(exc):
        where = address or "the local cluster"
        raise ClusterLost(f"lost the Dask scheduler at {where} ({type(exc).__name__})") from exc


def _worker_count(client: Any) -> int | None:
    """The workers the scheduler has now, or None when it cannot be asked."""
    try:
        return len(client.scheduler_info().get("workers", {}))
    except Exception:  # the scheduler is going: the futures say so (_check_connected)
        return None


def _next_done(running: Any, client: Any, address: str | None) -> Any:
    """The next finished future of ``running`` (a ``distributed.as_completed``), waiting no
    longer than :data:`NO_WORKER_TIMEOUT` seconds while the scheduler has no worker:
    :class:`ClusterLost` then, as for a lost scheduler."""
    idle_since: float | None = None
    checked = time.monotonic()
    while not running.has_ready():
        time.sleep(0.05)
        now = time.monotonic()
        if now - checked < WORKER_CHECK_INTERVAL:
            continue
        checked = now
        if _worker_count(client) != 0:
            idle_since = None
            continue
        idle_since = now if idle_since is None else idle_since
        if now - idle_since >= NO_WORKER_TIMEOUT:
            where = address or "the local cluster"
            raise ClusterLost(
                f"the Dask scheduler at {where} has had no worker for {NO_WORKER_TIMEOUT:g} s"
            )
    return next(running)


def _alone(client: Any, file: str, options: BatchOptions, address: str | None) -> FileOutcome:
    from distributed import as_completed

    single = client.submit(solve_chunk, [file], options, sources([file]), pure=False)
    try:
        outcomes: list[FileOutcome] = _next_done(as_completed([single]), client, address).result()
        return outcomes[0]
    except Exception as exc:
        if _killed(exc):
            return crashed(file)
        _check_connected(client, address, exc)
        return internal_error(file, worker_error(exc))


def _killed(exc: BaseException) -> bool:
    return type(exc).__name__ == "KilledWorker"
