"""Solving many spec files: discovery, isolated parallel workers, and a resume ledger.

Library code for ``deter batch`` and ``deter check``; it never prints. Outcomes reach the
caller through the ``on_outcome`` callback, one :class:`FileOutcome` per file, in input
order, as stacks finish (a bounded reorder buffer, ``order.InOrder``, puts them in order), so
a caller can stream them to its output and keep none.

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
import os
import signal
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ..formulation.solver_import import import_solvers
from ..results.status import Status
from . import processes
from .dask_executor import ClusterLost
from .discovery import discover as discover
from .ledger import Ledger
from .order import AHEAD_PER_WORKER, InOrder, Stack
from .outcome import FileOutcome, crashed, file_sha256, internal_error, worker_error
from .worker import BatchOptions, solve_chunk, worker_start

# --- running a batch ------------------------------------------------------------------


@dataclass
class BatchRun:
    """A finished (or stopped) batch: which files finished, and (unless the caller streamed
    them through ``on_outcome`` instead) one outcome per finished file, in input order."""

    files: list[str]
    outcomes: list[FileOutcome] = field(default_factory=list)
    resumed: int = 0
    interrupted: bool = False  # Ctrl-C, SIGTERM, SIGHUP, or a lost cluster (``lost``)
    #: Why the run stopped when its environment failed (the Dask scheduler went away);
    #: ``interrupted`` is set too: what finished was kept, the rest has no answer.
    lost: str | None = None
    stopped_early: bool = False  # --max-failures reached
    elapsed: float = 0.0
    jobs: int = 1  # the workers that ran (for "in-process": 1, this process)
    executor: str = "local"  # "local", "dask" or "in-process" (what actually ran)
    #: One byte per file, 1 once it finished (set by ``run_batch``); None: judged by
    #: ``outcomes`` (a run built by hand).
    marks: bytearray | None = None

    @property
    def finished(self) -> int:
        return sum(self.marks) if self.marks is not None else len(self.outcomes)

    @property
    def not_run(self) -> list[str]:
        if self.marks is not None:
            return [f for f, done in zip(self.files, self.marks, strict=True) if not done]
        finished = {o.file for o in self.outcomes}
        return [f for f in self.files if f not in finished]


OutcomeCallback = Callable[[FileOutcome], None]


def default_jobs() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


#: The most files per stack in a batch of up to ``STACK_SIZE * LEAST_STACKS`` files: each
#: stack is one task for a worker, and its plain linear programs are solved as one stacked
#: program (``engine/stacked.py``).
STACK_SIZE = 64
#: Larger batches have larger stacks, up to this: each stacked solve costs cvxpy a few ms
#: whatever its size, a cost 64 small specs do not amortise (measured on the lp mix at 20%
#: infeasible, one process: 2.85 ms a spec at 64, 2.54 at 128, 2.38 at 256, 2.40 at 512);
#: a batch keeps at least ``LEAST_STACKS`` stacks, so that the workers end together.
LARGE_STACK_SIZE = 256
LEAST_STACKS = 32
#: The first stack's files: the stacks grow from this size, doubling, up to ``STACK_SIZE``,
#: so the first results are out after a few specs whatever the batch's size (Ctrl-C then
#: keeps them), while the later stacks amortise cvxpy's per-call cost.
FIRST_STACK = 4
#: Bytes of spec files per slot of a stack (a small spec is well under 1 KB): a stack is
#: also cut when its files' bytes pass ``slots x STACK_BYTES``, so specs of hundreds of
#: actions share smaller stacks and a stack's first result comes after seconds, not minutes.
STACK_BYTES = 2_048
#: Batches of at most this many files are solved in this process (``processes.py``).
INLINE_LIMIT = processes.INLINE_LIMIT


def stack_ceiling(n_files: int) -> int:
    """The most files per stack in a batch of ``n_files``: ``STACK_SIZE``, more for large
    batches (``n_files / LEAST_STACKS``), at most ``LARGE_STACK_SIZE``."""
    return max(STACK_SIZE, min(LARGE_STACK_SIZE, n_files // LEAST_STACKS))


def stacks_of(files: Sequence[str]) -> list[list[str]]:
    """The files in stacks, in the order given (``discover``'s stable order): the first of
    ``FIRST_STACK`` files, each next one twice as large up to ``stack_ceiling(len(files))``,
    each cut sooner when its files' bytes pass its share (``STACK_BYTES`` a slot).

    Which files share a program depends only on the list of files and their sizes, never
    on ``--jobs``, the executor or timing (an LP with several optimal vertices may pick
    another one in another stack)."""
    stacks: list[list[str]] = []
    current: list[str] = []
    slots, used = FIRST_STACK, 0
    ceiling = stack_ceiling(len(files))
    for file in files:
        size = _bytes(file)
        if current and (len(current) >= slots or used + size > slots * STACK_BYTES):
            stacks.append(current)
            current, used, slots = [], 0, min(2 * slots, ceiling)
        current.append(file)
        used += size
    if current:
        stacks.append(current)
    return stacks


def _bytes(file: str) -> int:
    try:
        return os.stat(file).st_size
    except OSError:
        return 0  # read (and reported) when its turn comes


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
    keep_outcomes: bool = True,
) -> BatchRun:
    """Solve ``files`` in worker processes (a small batch in this one).

    ``on_outcome`` is called for each file in input order as soon as its stack and every
    stack before it have finished (resumed files included, at their place), and the ledger
    is written at the same moment; with ``keep_outcomes=False`` the run keeps no outcome
    (``run.outcomes`` stays empty), so a caller that streams them uses flat memory. The
    failure limit counts files in input order, so where it stops does not depend on timing.

    Ctrl-C (KeyboardInterrupt) stops the run cleanly: every file finished so far is handed
    on (and is in the ledger), and the run comes back with ``interrupted`` set.
    """
    started = time.perf_counter()
    jobs = jobs or default_jobs()
    run = BatchRun(files=list(files), jobs=jobs, executor=executor)
    run.marks = bytearray(len(run.files))
    fingerprint = options.fingerprint()
    failures = 0

    # Resuming keeps an index of the ledger (key and byte offset per entry) and, per file,
    # where its entry starts plus one (0: to solve); each resumed outcome is read back when its
    # turn comes in the output, so memory does not grow with the results in the ledger.
    entries = ledger.index(fingerprint) if ledger is not None else None
    where = array("q", bytes(8 * len(run.files))) if entries else None
    if entries and where is not None:
        for position, file in enumerate(files):
            digest = file_sha256(file)
            offset = entries.find(file, digest) if digest else None
            if offset is not None:
                where[position] = offset + 1
                run.resumed += 1
    del entries

    def resumed(position: int) -> FileOutcome | None:
        if where is None or not where[position] or ledger is None:
            return None
        file = run.files[position]
        try:
            outcome = ledger.load(where[position] - 1, file)
        except (ValueError, KeyError, TypeError, AttributeError):
            # A result that does not load (the index checks everything else): an unreadable
            # line, as one the index skips; its file is solved here and now, in its place.
            ledger.skipped += 1
            run.resumed -= 1
            return solve_here([file], options)[0]
        return replace(outcome, file=file, resumed=True)

    def record(outcomes: list[tuple[int, FileOutcome]]) -> bool:
        """Keep a stack's finished outcomes; True when the failure limit says stop."""
        nonlocal failures
        # All or nothing under Ctrl-C: a stack written to the ledger but missing from the
        # run would be resumable yet absent from this run's output (an interrupt that
        # landed during the ledger's fsync used to lose every file solved so far).
        # A stack's outcomes are kept up to the failure that reaches the limit: the files
        # after it count as not run, as they would have with one file per task.
        kept: list[tuple[int, FileOutcome]] = []
        count = failures
        for item in outcomes:
            kept.append(item)
            count += is_failure(item[1])
            if max_failures is not None and count >= max_failures:
                break
        with _interrupts_deferred():
            if ledger is not None:
                ledger.append([o for _, o in kept if not o.resumed], fingerprint)
            for position, outcome in kept:
                run.marks[position] = 1  # type: ignore[index]  # set above
                failures += is_failure(outcome)
                if keep_outcomes:
                    run.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        return max_failures is not None and failures >= max_failures

    # Stacks are cut from the whole list of files, resumed ones dropped afterwards: a resumed
    # run solves each remaining file in the stack it would have had.
    stacks = stacks_of(files)
    todo: list[Stack] = []
    first = 0  # the position of the stack's first file
    for number, stack in enumerate(stacks):
        chunk = [f for k, f in enumerate(stack) if where is None or not where[first + k]]
        if chunk:
            todo.append((number, chunk))
        first += len(stack)
    order = InOrder(stacks, resumed, {number for number, _ in todo}, record)
    if not todo:  # everything resumed: nothing but this process ran
        run.executor, run.jobs = "in-process", 1
    stop = False
    try:
        stop = order.release()  # the stacks at the head that were resumed whole
        if todo and not stop:
            if executor == "dask":
                from .dask_executor import run_dask

                stop, run.jobs = run_dask(todo, options, order, jobs=jobs, address=address)
            elif inline(sum(len(c) for _, c in todo), options):
                run.executor, run.jobs = "in-process", 1
                stop = _run_inline(todo, options, order)
            else:
                run.jobs = min(jobs, len(todo))
                stop = _run_local(todo, options, order, jobs)
        stop = order.release() or stop  # stacks resumed whole after the last one solved
    except KeyboardInterrupt:
        run.interrupted = True
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: hand on no more
            order.flush()
    except ClusterLost as exc:  # an environment failure: stop as Ctrl-C does, keeping all
        run.interrupted, run.lost = True, str(exc)
        with contextlib.suppress(KeyboardInterrupt):
            order.flush()
    finally:
        if ledger is not None:
            ledger.close()
    run.stopped_early = bool(stop) and not run.interrupted
    run.elapsed = time.perf_counter() - started
    return run


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT (and SIGTERM, SIGHUP: :func:`stop_signals`) until the block ends, then
    deliver the first one held to the handler that was in place (as KeyboardInterrupt,
    usually).

    Only the main thread can handle signals; elsewhere (a library caller's thread) the
    block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {
        number: signal.signal(number, lambda signum, frame: held.append(signum)) for number in _HELD
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if held:
        first = held[0]
        handler = previous[first]
        if callable(handler):
            handler(first, None)  # Python's default SIGINT handler raises KeyboardInterrupt
        elif handler == signal.SIG_DFL:
            if first == signal.SIGINT:
                raise KeyboardInterrupt
            os.kill(os.getpid(), first)  # the default action, now that the block is whole


#: The signals a ledger write holds back: a stack is written whole or not at all.
_HELD = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a batch as Ctrl-C does (raised as KeyboardInterrupt): what
    finished is kept and handed on (issue 25: they used to end the process and lose it).
    For the command line's run, in the main thread; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {number: signal.signal(number, stop) for number in _HELD[1:]}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def inline(n_files: int, options: BatchOptions) -> bool:
    """True when a batch is solved in this process (small, no timeout, no fault that ends or
    stalls a process: a hard deadline or an injected crash must end a worker, never the
    caller)."""
    faults = options.faults
    return (
        n_files <= INLINE_LIMIT
        and options.timeout is None
        and (faults is None or not faults.need_a_process)
    )


def solve_here(files: list[str], options: BatchOptions) -> list[FileOutcome]:
    """``solve_chunk`` in this process, where an exception would otherwise end the whole
    batch: if the stack raises (a bug of deter's own that the worker's guards missed), its
    files are solved again one by one, and a file that raises alone gets it as its own
    internal error (exit code 5); the other files keep their answers."""
    import_solvers()  # Ctrl-C held while cvxpy loads here (the CLI leaves it to this point)
    try:
        return solve_chunk(files, options)
    except Exception as exc:
        if len(files) == 1:
            return [internal_error(files[0], exc)]
        return [outcome for file in files for outcome in solve_here([file], options)]


def _run_inline(stacks: list[Stack], options: BatchOptions, order: InOrder) -> bool:
    """Solve the stacks here, one after another. True: stopped early."""
    return any(order.put(index, solve_here(chunk, options)) for index, chunk in stacks)


def _pool(workers: int) -> ProcessPoolExecutor:
    processes.start_server()  # running already when the command line started it early
    _wakeups_closed_in_a_race_stay_quiet()
    return ProcessPoolExecutor(
        workers, mp_context=processes.context(), initializer=worker_start, initargs=(os.getpid(),)
    )


def _wakeups_closed_in_a_race_stay_quiet() -> None:
    """At exit, concurrent.futures wakes each pool's manager thread (``_python_exit``); on
    CPython 3.11 that call checks ``_closed`` and then writes, so a manager thread that
    closes the pipe in between (a pool whose workers a hangup just killed) makes it raise
    EBADF, and Python prints a traceback after the batch stopped cleanly with 130 (the
    interrupt loop's SIGHUP case, once in 50 runs). A wakeup that fails because the pipe
    was closed meanwhile has nothing left to wake: it stays quiet; any other error is raised."""
    from concurrent.futures import process

    wakeup = process._ThreadWakeup.wakeup
    if getattr(wakeup, "deter_quiet", False):
        return

    def quiet(self: Any) -> None:
        try:
            wakeup(self)
        except OSError:
            if not self._closed:
                raise

    quiet.deter_quiet = True  # type: ignore[attr-defined]
    process._ThreadWakeup.wakeup = quiet  # type: ignore[method-assign]


def _run_local(stacks: list[Stack], options: BatchOptions, order: InOrder, jobs: int) -> bool:
    """Run stacks in a process pool, restarting it when a worker dies. True: stopped early.

    At most ``2 * jobs`` stacks are in flight, and none more than ``AHEAD_PER_WORKER *
    jobs`` stacks past the first one not yet handed on (the reorder buffer's bound)."""
    queue = deque(stacks)
    ahead = AHEAD_PER_WORKER * jobs
    while queue:
        pool = _pool(jobs)
        inflight: dict[Future[list[FileOutcome]], Stack] = {}
        suspects: list[Stack] = []
        broken = stop = False
        try:
            while queue or inflight:
                while (
                    queue
                    and not broken
                    and not stop
                    and len(inflight) < 2 * jobs
                    and order.may_start(queue[0][0], ahead)
                ):
                    index, chunk = queue.popleft()
                    inflight[pool.submit(solve_chunk, chunk, options)] = (index, chunk)
                if not inflight:
                    break
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in finished:
                    index, chunk = inflight.pop(future)
                    try:
                        outcomes = future.result()
                    except BrokenProcessPool:
                        broken = True
                        suspects.append((index, chunk))
                        continue
                    except Exception as exc:  # e.g. a result that could not be pickled
                        outcomes = [internal_error(f, worker_error(exc)) for f in chunk]
                    stop = order.put(index, outcomes) or stop
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown(wait=True)
        if stop:
            return True
        if suspects and _quarantine(sorted(suspects), options, order):
            return True
    return False


def _quarantine(stacks: list[Stack], options: BatchOptions, order: InOrder) -> bool:
    """Re-run stacks' files one at a time in a pool of one: a crash now names its file
    exactly. True: stopped early."""
    pool = _pool(1)
    try:
        for index, chunk in stacks:
            outcomes = []
            for file in chunk:
                try:
                    outcomes += pool.submit(solve_chunk, [file], options).result()
                except BrokenProcessPool:
                    outcomes.append(crashed(file))
                    pool.shutdown(wait=True)
                    pool = _pool(1)
            if order.put(index, outcomes):
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
