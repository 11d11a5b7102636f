"""Solving many spec files: discovery, isolated parallel workers, and a resume ledger.

Library code for ``deter batch`` and ``deter check``; it never prints. Progress reaches the
caller through the ``on_outcome`` callback, one :class:`FileOutcome` per file.

Workers are long-lived processes that take files in chunks, so the per-file cost is the
solve itself: a worker keeps cvxpy loaded and its cache of compiled programs warm (specs
of one shape reuse one compiled problem, ``program.py``), and results travel back a chunk
at a time. Each file is solved inside its own ``try``: a bad file or a solver exception
becomes that file's outcome. A worker that dies outright (a native crash) breaks the
process pool; the files it may have held are then re-run one by one in a pool of one
worker, which pins the crash on one file, and the remaining files go on in a fresh pool.
"""

from __future__ import annotations

import contextlib
import faulthandler
import glob
import hashlib
import json
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ..analysis.requirements import RequirementOverrides, check_requirements, undeterrable
from ..results.errors import SpecError
from ..spec.loading import DEFAULT_MAX_BYTES, parse_spec_text, read_spec_text
from .faults import Faults

FileStatus = Literal["optimal", "infeasible", "solver_error", "bad_input"]
#: Outcomes that a re-run would reproduce; ``--resume`` skips files that ended in one of these.
FINAL_STATUSES = ("optimal", "infeasible", "bad_input")
LEDGER_VERSION = 1
CRASH_MESSAGE = "the worker process solving this file died (a crash in native code?)"


@dataclass(frozen=True)
class Finding:
    """Something to point at in a file: a bad key, an undeterrable action, a failed requirement.

    ``kind`` is ``bad_input``, ``infeasible``, ``solver_error`` or ``requirement``; for a
    requirement, ``key`` names it and ``limit`` / ``measured`` give the figures.
    """

    kind: str
    message: str
    line: int | None = None
    key: str = ""
    limit: str | None = None
    measured: str | None = None


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file. ``result`` is the JSON document of the solve, when any."""

    file: str
    status: FileStatus
    total_cost: float | None = None
    error: str | None = None
    name: str | None = None
    sha256: str | None = None
    seconds: float = 0.0
    findings: tuple[Finding, ...] = ()
    checked: bool = False  # requirements were checked (deter check)
    rates: dict[str, float] | None = None  # the optimal policy, monitor -> rate
    result: dict[str, Any] | None = None
    resumed: bool = False  # taken from the ledger, not solved in this run

    @property
    def failed_requirements(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == "requirement")

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("resumed")
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> FileOutcome:
        findings = tuple(Finding(**f) for f in doc.get("findings") or ())
        fields = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc and k != "findings"}
        return cls(**{**fields, "findings": findings})


@dataclass(frozen=True)
class BatchOptions:
    """How each file is solved. Plain data: it is sent to every worker."""

    solvers: tuple[str, ...] | None = None  # None: the default order (HiGHS, then Clarabel)
    max_bytes: int = DEFAULT_MAX_BYTES
    #: Seconds per file (None: no limit). Soft: it interrupts Python code between solver
    #: calls, not a native solver mid-call; a hard limit needs the parent to kill the worker.
    timeout: float | None = None
    check: RequirementOverrides | None = None  # set: check requirements (deter check)
    keep_results: bool = True  # carry each result's JSON document back
    faults: Faults | None = None  # fault injection, for tests only

    def fingerprint(self) -> str:
        """What must match for a ledger entry to stand for a re-run with these options."""
        check = None
        if self.check is not None:
            check = {**asdict(self.check), "max_rate": dict(sorted(self.check.max_rate.items()))}
        # max_bytes: a file refused as too large must be tried again under a larger limit
        text = json.dumps(
            {"solvers": self.solvers, "check": check, "max_bytes": self.max_bytes}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def file_sha256(path: str | Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


# --- one file, in a worker ---------------------------------------------------------------


class FileTimeout(Exception):
    """Raised inside a worker when a file takes longer than ``BatchOptions.timeout``."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    if not seconds:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        # A Dask worker runs tasks in threads, where SIGALRM cannot be used.
        with _thread_time_limit(seconds):
            yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise FileTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    # A hard deadline as well (issue 7): SIGALRM's handler runs only when the interpreter
    # gets control back, so a solver stuck in native code would never see it. faulthandler's
    # watchdog is a C thread that needs no GIL: past the deadline it ends this worker, the
    # pool breaks, and the quarantine re-runs the chunk's files one by one, so the file that
    # hangs is reported as failed and the others are solved.
    faulthandler.dump_traceback_later(
        seconds + HARD_DEADLINE_GRACE, exit=True, file=_watchdog_sink()
    )
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _thread_time_limit(seconds: float) -> Iterator[None]:
    """The soft limit of ``_time_limit`` for a thread other than the main one.

    A watcher thread raises :class:`FileTimeout` in this thread (``PyThreadState_SetAsyncExc``),
    which like SIGALRM interrupts Python code, not a native call. It raises it again every
    0.1 s until the block ends, because an exception raised inside a callback that swallows
    it (a garbage-collector hook of Dask's, say) would otherwise be lost. No hard deadline
    here: the watchdog would end the whole worker process, with the other tasks it runs.
    """
    import ctypes

    thread_id = ctypes.c_ulong(threading.get_ident())
    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        if done.wait(seconds):
            return
        while True:
            with lock:
                if done.is_set():
                    return
                # the API takes a class, so solve_file adds the message
                set_async_exc(thread_id, ctypes.py_object(FileTimeout))
            if done.wait(0.1):
                return

    threading.Thread(target=watch, daemon=True, name="deter-timeout").start()
    try:
        yield
    finally:
        with lock:
            done.set()
            set_async_exc(thread_id, None)  # one raised but not yet delivered: drop it


#: Seconds past ``--timeout`` after which a worker that did not return is ended.
HARD_DEADLINE_GRACE = 2.0
_sink: Any = None


def _watchdog_sink() -> Any:
    """Where the watchdog's traceback goes: nowhere (stderr carries deter's messages)."""
    global _sink
    if _sink is None:
        _sink = open(os.devnull, "w")  # noqa: SIM115 - kept open for the worker's life
    return _sink


def solve_file(file: str, options: BatchOptions) -> FileOutcome:
    """Read, validate, solve and (for ``check``) judge one file. Never raises."""
    started = time.perf_counter()
    try:
        with _time_limit(options.timeout):
            return _solve_file(file, options, started)
    except FileTimeout as exc:
        message = str(exc) or f"timed out after {options.timeout:g} s"
        return FileOutcome(
            file=file,
            status="solver_error",
            error=message,
            sha256=file_sha256(file),
            seconds=time.perf_counter() - started,
            findings=(Finding("solver_error", message),),
        )


def _solve_file(file: str, options: BatchOptions, started: float) -> FileOutcome:
    def done(**fields: Any) -> FileOutcome:
        return FileOutcome(file=file, seconds=time.perf_counter() - started, **fields)

    unmatched = _unmatched_reason(file)
    if unmatched is not None:
        return done(
            status="bad_input",
            error=f"{file}: {unmatched}",
            findings=(Finding("bad_input", unmatched),),
        )
    digest = None
    try:
        if options.faults is not None:
            options.faults.before_file(file)
        text = read_spec_text(Path(file), options.max_bytes)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        spec = parse_spec_text(text, file=file, name=Path(file).stem)
    except FileTimeout:
        raise
    except SpecError as exc:
        issues = tuple(Finding("bad_input", i.message, i.line, i.key) for i in exc.issues)
        return done(
            status="bad_input",
            error=str(exc.issues[0]),
            sha256=digest or file_sha256(file),
            findings=issues,
        )
    except Exception as exc:  # an unexpected failure reading this file stays with this file
        return done(status="bad_input", error=f"{type(exc).__name__}: {exc}", sha256=digest)

    from ..engine.solve import solve

    try:
        kwargs: dict[str, Any] = {"solvers": options.solvers} if options.solvers else {}
        result = solve(spec, **kwargs)
    except FileTimeout:
        raise
    except Exception as exc:
        message = f"internal error: {type(exc).__name__}: {exc}"
        return done(
            status="solver_error",
            error=message,
            name=spec.name,
            sha256=digest,
            findings=(Finding("solver_error", message),),
        )

    findings: list[Finding] = []
    if result.status == "infeasible":
        findings += [
            Finding("infeasible", f.message, f.line) for f in undeterrable(spec, result, None)
        ]
    elif result.status == "solver_error":
        findings.append(Finding("solver_error", result.message))
    if options.check is not None:
        findings += [
            Finding("requirement", f.message, f.line, f.requirement, f.limit, f.measured)
            for f in check_requirements(spec, result, options.check)
        ]
    return done(
        status=result.status,
        total_cost=result.total_cost,
        error=None if result.status == "optimal" else result.message,
        name=spec.name,
        sha256=digest,
        findings=tuple(findings),
        checked=options.check is not None,
        rates={m.name: m.rate for m in result.monitors} if result.status == "optimal" else None,
        result=result.to_dict(timing=False) if options.keep_results else None,
    )


def _unmatched_reason(path: str) -> str | None:
    """Why a path that ``discover`` could not expand names no spec (None: it may be one)."""
    if Path(path).is_dir():
        return "a folder with no *.toml spec files in it"
    if glob.has_magic(path) and not Path(path).exists():
        return "no file matches this pattern"
    return None


def solve_chunk(files: Sequence[str], options: BatchOptions) -> list[FileOutcome]:
    """Solve several files in this worker, one after another (amortises the round trip)."""
    # Load the solver (cvxpy) before any file's clock starts: a Dask worker, unlike a local
    # one, has not preloaded it, and its first file would otherwise pay the import.
    from ..engine import solve as _solve_module  # noqa: F401

    return [solve_file(file, options) for file in files]


def crashed(file: str, message: str = CRASH_MESSAGE) -> FileOutcome:
    return FileOutcome(
        file=file,
        status="solver_error",
        error=message,
        sha256=file_sha256(file),
        findings=(Finding("solver_error", message),),
    )


def _worker_start() -> None:
    # Ctrl-C is the parent's to handle: workers finish their chunk or are terminated.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- the ledger ------------------------------------------------------------------------


class Ledger:
    """Append-only JSON lines, one finished file per line, fsynced after every chunk.

    A line holds the outcome, the file's content hash and the options' fingerprint; an
    entry stands for a file when the path, the hash and the fingerprint all match. A line
    cut short by a kill is ignored on reading.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: Any = None

    def read(self, fingerprint: str) -> dict[tuple[str, str], FileOutcome]:
        entries: dict[tuple[str, str], FileOutcome] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return entries
        for line in lines:
            try:
                doc = json.loads(line)
                if doc.get("ledger") != LEDGER_VERSION or doc.get("options") != fingerprint:
                    continue
                outcome = FileOutcome.from_dict(doc["outcome"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line, or a line from another tool
            if outcome.sha256 and outcome.status in FINAL_STATUSES:
                entries[(os.path.normpath(outcome.file), outcome.sha256)] = outcome
        return entries

    def append(self, outcomes: Sequence[FileOutcome], fingerprint: str) -> None:
        if not outcomes:
            return
        if self._handle is None:
            if self.path.parent != Path(""):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = _ends_torn(self.path)
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            if torn:  # end a line cut by a kill, or the next entry would be glued onto it
                self._handle.write("\n")
        lines = "".join(
            json.dumps(
                {"ledger": LEDGER_VERSION, "options": fingerprint, "outcome": o.to_dict()},
                allow_nan=False,
                default=_no_nan,
            )
            + "\n"
            for o in outcomes
        )
        self._handle.write(lines)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _ends_torn(path: Path) -> bool:
    """True when the file's last line has no newline (an append cut short by a kill)."""
    try:
        with open(path, "rb") as handle:
            if handle.seek(0, os.SEEK_END) == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False


def _no_nan(value: Any) -> Any:
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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


def chunk_size(n_files: int, jobs: int) -> int:
    """Enough chunks to balance the workers (about 8 each), few enough to amortise IPC."""
    return max(1, min(32, math.ceil(n_files / (8 * jobs))))


def run_batch(
    files: Sequence[str],
    options: BatchOptions,
    *,
    jobs: int | None = None,
    executor: Literal["local", "dask"] = "local",
    address: str | None = None,
    max_failures: int | None = None,
    is_failure: Callable[[FileOutcome], bool] = lambda o: o.status != "optimal",
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
        if ledger is not None:
            ledger.append(outcomes, fingerprint)
        for outcome in outcomes:
            by_file[outcome.file] = outcome
            failures += is_failure(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
        return max_failures is not None and failures >= max_failures

    stop = max_failures is not None and failures >= max_failures
    chunks = [
        todo[k : k + chunk_size(len(todo), jobs)]
        for k in range(0, len(todo), chunk_size(len(todo), jobs))
    ]
    try:
        if chunks and not stop:
            if executor == "dask":
                from .dask_executor import run_dask

                stop = run_dask(chunks, options, record, jobs=jobs, address=address)
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


Record = Callable[[Sequence[FileOutcome]], bool]


def _pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    # forkserver: workers fork from a server that has already imported the solver (cvxpy
    # loads once, not once per worker), and never inherit the parent's threads (the
    # progress bar) the way a plain fork would.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["deter.solver.engine.solve"])
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start)


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
