"""Solving files inside a batch worker: read, validate, solve, judge; never raise.

Runs in a worker process (or a Dask worker's thread). What comes back is one
:class:`~deter.solver.batch.outcome.FileOutcome` per file, carrying the typed result.
"""

from __future__ import annotations

import contextlib
import faulthandler
import glob
import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..analysis.requirements import RequirementOverrides, check_requirements, undeterrable
from ..results.errors import DeterError, Finding, SpecError
from ..results.result import Result
from ..results.serialise import dumps
from ..results.status import Status
from ..spec.document import Spec
from ..spec.loading import DEFAULT_MAX_BYTES, decode_spec_bytes, parse_spec_text, read_spec_bytes
from .faults import Faults
from .outcome import FileOutcome, failed, file_sha256, internal_error

#: The longest time limit per file, in seconds (about 11 days): the timers behind it take no
#: more (``--timeout inf`` used to fail every file with "timestamp out of range").
MAX_TIMEOUT = 1e6


@dataclass(frozen=True)
class BatchOptions:
    """How each file is solved. Plain data: it is sent to every worker."""

    solvers: tuple[str, ...] | None = None  # None: the default order (HiGHS, then Clarabel)
    max_bytes: int = DEFAULT_MAX_BYTES
    #: Seconds per file (None: no limit). Soft: it interrupts Python code between solver
    #: calls, not a native solver mid-call; a hard limit needs the parent to kill the worker.
    timeout: float | None = None
    check: RequirementOverrides | None = None  # set: check requirements (deter check)
    keep_results: bool = True  # carry each file's result back to the parent
    faults: Faults | None = None  # fault injection, for tests only

    def __post_init__(self) -> None:
        if self.timeout is not None and not (0 < self.timeout <= MAX_TIMEOUT):
            raise ValueError(
                f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, "
                f"not {self.timeout!r}"
            )

    def fingerprint(self) -> str:
        """What must match for a ledger entry to stand for a re-run with these options."""
        check = None
        if self.check is not None:
            check = {**asdict(self.check), "max_rate": dict(sorted(self.check.max_rate.items()))}
        # max_bytes: a file refused as too large must be tried again under a larger limit
        text = dumps(
            {"solvers": self.solvers, "check": check, "max_bytes": self.max_bytes}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- time limits ---------------------------------------------------------------------------


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


def solve_file(file: str, options: BatchOptions, source: Source | None = None) -> FileOutcome:
    """Read, validate, solve and (for ``check``) judge one file. Never raises."""
    started = time.perf_counter()
    try:
        with _time_limit(options.timeout):
            return _solve_file(file, options, started, source)
    except FileTimeout as exc:
        return _timed_out(file, options, started, exc)


def _solve_file(
    file: str, options: BatchOptions, started: float, source: Source | None = None
) -> FileOutcome:
    read = _read_file(file, options, started, source)
    if isinstance(read, FileOutcome):
        return read
    spec, digest = read
    return _solve_alone(file, spec, digest, options, started)


#: Where a worker reads a file from and the content hash the batch's process read there
#: (None: not read there): a Dask worker gets the absolute path, never a relative one that its
#: own working folder would resolve to another file, and refuses content that differs.
Source = tuple[str, str | None]

#: The message of a file that could not be loaded for want of memory: not a verdict on the
#: file, so it is not final (``--resume`` tries it again).
OUT_OF_MEMORY = "out of memory while loading the file (not final: --resume tries it again)"


def _read_file(
    file: str, options: BatchOptions, started: float, source: Source | None = None
) -> FileOutcome | tuple[Spec, str]:
    """The file's validated spec and content hash (the SHA-256 of the bytes read, as
    ``sha256sum`` prints it, byte-order mark included), or its outcome when it cannot be
    read. ``source``: where to read it and the hash it must have (Dask)."""

    def done(**fields: Any) -> FileOutcome:
        return FileOutcome(file=file, seconds=time.perf_counter() - started, **fields)

    path, expected = source if source is not None else (file, None)
    digest = None
    try:
        if options.faults is not None:
            options.faults.before_file(file)
        data = read_spec_bytes(Path(path), options.max_bytes)
        digest = hashlib.sha256(data).hexdigest()
        if expected is not None and digest != expected:
            message = (
                f"the worker read other content at {path} than the batch did "
                f"(sha256 {digest[:12]}..., not {expected[:12]}...): not solved"
            )
            return failed(file, message, seconds=time.perf_counter() - started)
        text = decode_spec_bytes(data, file)
        del data
        spec = parse_spec_text(text, file=file, name=Path(file).stem)
    except FileTimeout:
        raise
    except SpecError as exc:
        # Only a path that is not a readable file can be one ``discover`` could not expand:
        # asked here, not of every file (a stat each, on the happy path).
        unmatched = _unmatched_reason(path) if digest is None else None
        if unmatched is not None:
            return done(
                status=Status.bad_input,
                error=f"{file}: {unmatched}",
                findings=(Finding(file, "", unmatched),),
            )
        return done(
            status=Status.bad_input,
            error=str(exc.issues[0]),
            sha256=digest or file_sha256(path),
            findings=tuple(exc.issues),
        )
    except MemoryError:
        # transient (issue 25): a later run with memory to spare must load it, so no verdict
        return failed(file, OUT_OF_MEMORY, sha256=digest, seconds=time.perf_counter() - started)
    except Exception as exc:  # an unexpected failure reading this file stays with this file
        # no hash: an error deter did not foresee is never taken as the file's final verdict
        return done(status=Status.bad_input, error=f"{type(exc).__name__}: {exc}")
    return spec, digest


def _solve_alone(
    file: str, spec: Spec, digest: str, options: BatchOptions, started: float
) -> FileOutcome:
    """The ordinary path: the engine's own solve of one spec (retries, diagnosis)."""
    from ..engine.solve import solve

    try:
        kwargs: dict[str, Any] = {"solvers": options.solvers} if options.solvers else {}
        result = solve(spec, **kwargs)
    except FileTimeout:
        raise
    except DeterError as exc:  # the engine's own verdict: no verified answer (exit 3)
        return failed(
            file, str(exc), name=spec.name, sha256=digest, seconds=time.perf_counter() - started
        )
    except Exception as exc:  # a bug of deter's own: this file's internal error (exit 5)
        return internal_error(
            file, exc, name=spec.name, sha256=digest, seconds=time.perf_counter() - started
        )
    return _outcome(file, spec, result, digest, options, time.perf_counter() - started)


def _outcome(
    file: str, spec: Spec, result: Result, digest: str, options: BatchOptions, seconds: float
) -> FileOutcome:
    """A solved file's outcome; an exception while making it (a bug of deter's own) becomes
    this file's internal error, never its stack's or its batch's."""
    try:
        if options.faults is not None:
            options.faults.after_solve(file)
        return _judged(file, spec, result, digest, options, seconds)
    except FileTimeout:
        raise
    except Exception as exc:
        return internal_error(file, exc, name=spec.name, sha256=digest, seconds=seconds)


def _judged(
    file: str, spec: Spec, result: Result, digest: str, options: BatchOptions, seconds: float
) -> FileOutcome:
    """A solved file's outcome: its findings (and, for ``check``, its requirements)."""
    findings: list[Finding] = []
    if result.status == Status.infeasible:
        findings += undeterrable(spec, result, None, kind="infeasible")
    elif result.status == Status.solver_error:
        findings.append(Finding(file, "", result.message, kind="solver_error"))
    if options.check is not None:
        findings += check_requirements(spec, result, options.check)
    optimal = result.status == Status.optimal
    return FileOutcome(
        file=file,
        seconds=seconds,
        status=Status(result.status),
        total_cost=result.total_cost,
        error=None if optimal else result.message,
        name=spec.name,
        sha256=digest,
        findings=tuple(findings),
        checked=options.check is not None,
        rates={m.name: m.rate for m in result.monitors} if optimal else None,
        result=result if options.keep_results else None,
    )


def _unmatched_reason(path: str) -> str | None:
    """Why a path that ``discover`` could not expand names no spec (None: it may be one)."""
    if Path(path).is_dir():
        try:
            with os.scandir(path):
                pass
        except OSError as exc:  # a folder this user cannot look into (issue 25)
            return f"cannot read the folder: {(exc.strerror or str(exc)).lower()}"
        return "a folder with no *.toml spec files in it"
    if glob.has_magic(path) and not Path(path).exists():
        return "no file matches this pattern"
    return None


def solve_chunk(
    files: Sequence[str], options: BatchOptions, sources: Sequence[Source] | None = None
) -> list[FileOutcome]:
    """Solve a stack of files in this worker: the plain LPs among them as one stacked
    program (``engine/stacked.py``), every other file (and every member the stack hands
    back: infeasible, unverifiable) alone, as ``solve_file`` would. ``sources``: per file,
    where to read it and the hash it must have (a Dask worker's; outcomes keep ``files``'
    names)."""
    # Load the solver (cvxpy) before any file's clock starts: a Dask worker, unlike a local
    # one, has not preloaded it, and its first file would otherwise pay the import.
    from ..engine import solve as _solve_module  # noqa: F401

    if len(files) <= 1:
        return [
            solve_file(file, options, sources[k] if sources else None)
            for k, file in enumerate(files)
        ]
    from ..engine.stacked import arrays_of, solve_stacked

    outcomes: dict[int, FileOutcome] = {}
    read: dict[int, tuple[Spec, str, float]] = {}
    for k, file in enumerate(files):
        started = time.perf_counter()
        try:
            with _time_limit(options.timeout):
                loaded = _read_file(file, options, started, sources[k] if sources else None)
        except FileTimeout as exc:
            loaded = _timed_out(file, options, started, exc)
        if isinstance(loaded, FileOutcome):
            outcomes[k] = loaded
        else:
            read[k] = (*loaded, time.perf_counter() - started)
    order = sorted(read)
    results: list[Result | None] = [None] * len(order)
    began = time.perf_counter()
    try:
        with _time_limit(options.timeout):
            specs = [read[k][0] for k in order]
            kwargs: dict[str, Any] = {"solvers": options.solvers} if options.solvers else {}
            results = solve_stacked(specs, arrays=[arrays_of(s) for s in specs], **kwargs)
    except FileTimeout:
        results = [None] * len(order)  # each file is tried alone, under its own limit
    except Exception:
        results = [None] * len(order)  # the stack failed as a whole: the ordinary path
    share = (time.perf_counter() - began) / max(len(order), 1)
    for k, result in zip(order, results, strict=True):
        spec, digest, reading = read[k]
        if result is not None:
            outcomes[k] = _outcome(files[k], spec, result, digest, options, reading + share)
            continue
        started = time.perf_counter()
        try:
            with _time_limit(options.timeout):
                outcomes[k] = _solve_alone(files[k], spec, digest, options, started)
        except FileTimeout as exc:
            outcomes[k] = _timed_out(files[k], options, started, exc)
    return [outcomes[k] for k in range(len(files))]


def _timed_out(file: str, options: BatchOptions, started: float, exc: Exception) -> FileOutcome:
    message = str(exc) or f"timed out after {options.timeout:g} s"
    return failed(file, message, sha256=file_sha256(file), seconds=time.perf_counter() - started)


def worker_start(parent: int | None = None) -> None:
    """A local worker process's initialiser; ``parent``: the batch's process, whose death
    ends this worker (issue 14)."""
    # Ctrl-C is the parent's to handle: workers finish their chunk or are terminated.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A terminal's hangup reaches the whole process group: the batch's process stops the run
    # (keeping what finished) and ends its workers itself.
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if parent is not None:
        die_with(parent)


#: How often a worker looks whether the batch's process is still there (seconds).
PARENT_POLL = 0.2


def die_with(parent: int) -> None:
    """End this process soon after process ``parent`` is gone (killed with SIGKILL, say).

    A worker forks from the forkserver, not from the batch's process, so neither a process
    group nor ``PR_SET_PDEATHSIG`` ties it to that process; and each worker holds the write
    end of its own task pipe, so it would wait for a task forever, keeping the forkserver
    and every pipe it inherited (``deter batch | tee`` would hang). A daemon thread looks
    every ``PARENT_POLL`` seconds and ends the worker when the parent has exited (a zombie
    counts as exited; a new process under the same pid is told apart by its start time).
    """
    born = _start_time(parent)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL)
            if not _alive(parent, born):
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="deter-parent-watch").start()


def _start_time(pid: int) -> str | None:
    """The process's start time (Linux ``/proc``), or None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields and fields[0] in (b"Z", b"X"):  # a zombie: it has exited
        return "exited"
    return fields[19].decode() if len(fields) > 19 else None


def _alive(pid: int, born: str | None) -> bool:
    if not pid_exists(pid):
        return False
    if born is None:
        return True
    return _start_time(pid) == born


def pid_exists(pid: int) -> bool:
    """True when a process ``pid`` exists (another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
