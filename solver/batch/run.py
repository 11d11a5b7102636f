"""Solving many spec files: discovery, isolated parallel workers, and a resume ledger.

Library code for ``deter batch`` and ``deter check``; it never prints. Progress reaches the
caller through the ``on_outcome`` callback, one :class:`FileOutcome` per file.

Workers are long-lived processes that take files in chunks, so the per-file cost is the
solve itself: a worker keeps cvxpy loaded and its cache of compiled programs warm (specs
of one shape reuse one compiled problem, ``program.py``), and results travel back a chunk
at a time, as typed objects. Each file is solved inside its own ``try`` (``worker.py``): a
bad file or a solver exception becomes that file's outcome. A worker that dies outright (a
native crash) breaks the process pool; the files it may have held are then re-run one by
one in a pool of one worker, which pins the crash on one file, and the remaining files go
on in a fresh pool.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ..results.status import Status
from .ledger import Ledger
from .outcome import FileOutcome, Record, crashed, file_sha256
from .worker import BatchOptions, solve_chunk, worker_start

# --- discovery ---------------------------------------------------------------------------


def discover(patterns: Iterable[str]) -> tuple[list[str], list[str]]:
    """Spec files named by files, folders (searched recursively for ``*.toml``) and globs.

    Returns ``(files, unmatched)``: files in a stable order without duplicates, and the
    arguments that named nothing.
    """
    files: list[str] = []
    unmatched: list[str] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            found = _toml_under(path)
        elif path.exists():
            found = [str(path)]
        elif glob.has_magic(pattern):
            found = []
            for match in sorted(glob.glob(pattern, recursive=True)):
                found += _toml_under(Path(match)) if Path(match).is_dir() else [match]
        else:
            found = []
        if not found:
            unmatched.append(pattern)
        files += found
    seen: set[str] = set()
    unique = []
    for file in files:
        key = os.path.normpath(file)
        if key not in seen:
            seen.add(key)
            unique.append(file)
    return unique, unmatched


def _toml_under(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.toml") if p.is_file())


# --- running a batch ------------------------------------------------------------------


@dataclass
class BatchRun:
    """A finished (or stopped) batch: one outcome per file that was run, in input order."""

    files: list[str]
    outcomes: list[FileOutcome] = field(default_factory=list)
    resumed: int = 0
    interrupted: bool = False  # Ctrl-C
    stopped_early: bool = False  # --max-failures reached
    elapsed: float = 0.0
    jobs: int = 1
    executor: str = "local"

    @property
    def not_run(self) -> list[str]:
        finished = {o.file for o in self.outcomes}
        return [f for f in self.files if f not in finished]


OutcomeCallback = Callable[[FileOutcome], None]


def default_jobs() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


#: Files per stack: each stack is one task for a worker, and its plain linear programs are
#: solved as one stacked program (``engine/stacked.py``). Fixed, so that which files share a
#: program depends only on the list of files, never on ``--jobs``, the executor or timing
#: (an LP with several optimal vertices may pick another one in another stack).
STACK_SIZE = 64
#: Batches of at most this many files (without a timeout or fault injection) are solved in
#: this process: starting a pool of workers that each load cvxpy costs more than they save.
INLINE_LIMIT = 128


def stacks_of(files: Sequence[str]) -> list[list[str]]:
    """The files in fixed-size stacks, in the order given (``discover``'s stable order)."""
    return [list(files[k : k + STACK_SIZE]) for k in range(0, len(files), STACK_SIZE)]


def run_batch(
    files: Sequence[str],
    options: BatchOptions,
    *,
    jobs: int | None = None,
    executor: Literal["local", "dask"] = "local",
    address: str | None = None,
    max_failures: int | None = None,
    is_failure: Callable[[FileOutcome], bool] = lambda o: o.status != Status.optimal,
    ledger: Ledger | None = None,
    on_outcome: OutcomeCallback | None = None,
) -> BatchRun:
    """Solve ``files`` in worker processes; ``on_outcome`` is called as each file finishes.

    Ctrl-C (KeyboardInterrupt) stops the run cleanly: the outcomes so far are returned
    (and are in the ledger) with ``interrupted`` set.
    """
    started = time.perf_counter()
    jobs = jobs or default_jobs()
    run = BatchRun(files=list(files), jobs=jobs, executor=executor)
    fingerprint = options.fingerprint()
    by_file: dict[str, FileOutcome] = {}
    failures = 0

    known = ledger.read(fingerprint) if ledger is not None else {}
    todo: list[str] = []
    for file in files:
        outcome = None
        if known:
            digest = file_sha256(file)
            outcome = known.get((os.path.normpath(file), digest or ""))
        if outcome is not None:
            by_file[file] = replace(outcome, file=file, resumed=True)
            run.resumed += 1
            failures += is_failure(outcome)
            if on_outcome is not None:
                on_outcome(by_file[file])
        else:
            todo.append(file)

    def record(outcomes: Sequence[FileOutcome]) -> bool:
        """Keep finished outcomes; True when the failure limit says stop."""
        nonlocal failures
        # All or nothing under Ctrl-C: a chunk written to the ledger but missing from the
        # run would be resumable yet absent from this run's output (an interrupt that
        # landed during the ledger's fsync used to lose every file solved so far).
        # A stack's outcomes are kept up to the failure that reaches the limit: the files
        # after it count as not run, as they would have with one file per task.
        kept: list[FileOutcome] = []
        count = failures
        for outcome in outcomes:
            kept.append(outcome)
            count += is_failure(outcome)
            if max_failures is not None and count >= max_failures:
                break
        with _interrupts_deferred():
            if ledger is not None:
                ledger.append(kept, fingerprint)
            for outcome in kept:
                by_file[outcome.file] = outcome
                failures += is_failure(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        return max_failures is not None and failures >= max_failures

    stop = max_failures is not None and failures >= max_failures
    # Stacks are cut from the whole list of files, resumed ones dropped afterwards: a resumed
    # run solves each remaining file in the stack it would have had.
    pending = set(todo)
    chunks = [c for c in ([f for f in s if f in pending] for s in stacks_of(files)) if c]
    try:
        if chunks and not stop:
            if executor == "dask":
                from .dask_executor import run_dask

                stop = run_dask(chunks, options, record, jobs=jobs, address=address)
            elif inline(len(todo), options):
                stop = _run_inline(chunks, options, record)
            else:
                stop = _run_local(chunks, options, record, jobs)
    except KeyboardInterrupt:
        run.interrupted = True
    finally:
        if ledger is not None:
            ledger.close()
    run.stopped_early = bool(stop) and not run.interrupted
    run.outcomes = [by_file[f] for f in files if f in by_file]
    run.elapsed = time.perf_counter() - started
    return run


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT until the block ends, then deliver it (as KeyboardInterrupt, usually).

    Only the main thread can handle signals; elsewhere (a library caller's thread) the
    block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        if callable(previous):
            previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
        elif previous == signal.SIG_DFL:
            raise KeyboardInterrupt


def inline(n_files: int, options: BatchOptions) -> bool:
    """True when a batch is solved in this process (small, no timeout, no fault injection:
    a hard deadline or an injected crash must end a worker, never the caller)."""
    return n_files <= INLINE_LIMIT and options.timeout is None and options.faults is None


def _run_inline(chunks: list[list[str]], options: BatchOptions, record: Record) -> bool:
    """Solve the stacks here, one after another. True: stopped early."""
    return any(record(solve_chunk(chunk, options)) for chunk in chunks)


def _pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    # forkserver: workers fork from a server that has already imported the solver (cvxpy
    # loads once, not once per worker), and never inherit the parent's threads (the
    # progress bar) the way a plain fork would.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["deter.solver.engine.solve"])
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=worker_start, initargs=(os.getpid(),)
    )


def _run_local(chunks: list[list[str]], options: BatchOptions, record: Record, jobs: int) -> bool:
    """Run chunks in a process pool, restarting it when a worker dies. True: stopped early."""
    queue = deque(chunks)
    suspects: list[str] = []
    while queue:
        pool = _pool(jobs)
        inflight: dict[Future[list[FileOutcome]], list[str]] = {}
        broken = stop = False
        try:
            while queue or inflight:
                while queue and not broken and not stop and len(inflight) < 2 * jobs:
                    chunk = queue.popleft()
                    inflight[pool.submit(solve_chunk, chunk, options)] = chunk
                if not inflight:
                    break
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in finished:
                    chunk = inflight.pop(future)
                    try:
                        outcomes = future.result()
                    except BrokenProcessPool:
                        broken = True
                        suspects += chunk
                        continue
                    except Exception as exc:  # e.g. a result that could not be pickled
                        outcomes = [
                            crashed(f, f"worker error: {type(exc).__name__}: {exc}") for f in chunk
                        ]
                    stop = record(outcomes) or stop
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown(wait=True)
        if stop:
            return True
        if suspects and _quarantine(suspects, options, record):
            return True
        suspects = []
    return False


def _quarantine(files: list[str], options: BatchOptions, record: Record) -> bool:
    """Re-run files one at a time in a pool of one: a crash now names its file exactly."""
    pool = _pool(1)
    try:
        for file in files:
            try:
                outcomes = pool.submit(solve_chunk, [file], options).result()
            except BrokenProcessPool:
                outcomes = [crashed(file)]
                pool.shutdown(wait=True)
                pool = _pool(1)
            if record(outcomes):
                return True
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown(wait=True)
    return False


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what has not started and end the workers (Ctrl-C)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
