"""What happened to one file of a batch: the record workers hand back and the ledger keeps.

A :class:`FileOutcome` carries the solve's typed :class:`~deter.solver.results.result.Result`
across the process boundary (frozen dataclasses pickle), so the parent renders exactly what
the worker solved. Written to a ledger it becomes JSON through the one serialiser, and
:meth:`FileOutcome.from_dict` reads it back to an equal outcome.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..results.errors import Finding
from ..results.result import Result
from ..results.serialise import jsonable, restore
from ..results.status import Status

#: Outcomes that a re-run would reproduce; ``--resume`` skips files that ended in one of these.
FINAL_STATUSES = frozenset({Status.optimal, Status.infeasible, Status.bad_input})
CRASH_MESSAGE = "the worker process solving this file died (a crash in native code?)"


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file. ``result`` is the solve's result, when kept and any."""

    file: str
    status: Status
    total_cost: float | None = None
    error: str | None = None
    name: str | None = None
    sha256: str | None = None
    seconds: float = 0.0
    findings: tuple[Finding, ...] = ()
    checked: bool = False  # requirements were checked (deter check)
    rates: dict[str, float] | None = None  # the optimal policy, monitor -> rate
    result: Result | None = None
    resumed: bool = False  # taken from the ledger, not solved in this run
    #: deter raised an exception on this file (a bug of its own): exit code 5, as ``deter
    #: solve`` would exit on it; the status is ``solver_error`` (no verified answer).
    internal: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))

    @property
    def failed_requirements(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == "requirement")

    def to_dict(self) -> dict[str, Any]:
        """The ledger's record: every field but ``resumed`` (and ``internal`` unless set, so
        that other lines read as they always did); the result as its JSON document without
        timing (the one non-deterministic part)."""
        doc: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "result":
                doc["result"] = value.to_dict(timing=False) if value is not None else None
            elif f.name != "resumed" and (f.name != "internal" or value):
                doc[f.name] = jsonable(value)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> FileOutcome:
        """The inverse of :meth:`to_dict`. Raises ``ValueError``/``TypeError`` on anything else."""
        result = Result.from_dict(doc["result"]) if doc.get("result") is not None else None
        # Ledgers written before findings named their file: it is the outcome's.
        findings = [{"file": doc["file"], **f} for f in doc.get("findings") or ()]
        return restore(cls, {**doc, "findings": findings, "result": result})


def file_sha256(path: str | Path) -> str | None:
    """The SHA-256 of a regular file's bytes; None for anything else (a FIFO, a device, a
    folder: opened without blocking and judged by ``fstat``, never read) or on an error."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def failed(file: str, message: str, **fields: Any) -> FileOutcome:
    """A file without a verified answer (``solver_error``): a timeout, a crash, an exception."""
    return FileOutcome(
        file=file,
        status=Status.solver_error,
        error=message,
        findings=(Finding(file, "", message, kind="solver_error"),),
        **fields,
    )


def crashed(file: str, message: str = CRASH_MESSAGE) -> FileOutcome:
    return failed(file, message, sha256=file_sha256(file))


def internal_error(file: str, error: BaseException | str, **fields: Any) -> FileOutcome:
    """A file on which deter raised an exception of its own (a bug): exit code 5. ``error``:
    the exception, or the message already made (``worker_error``)."""
    fields.setdefault("sha256", file_sha256(file))
    message = (
        error if isinstance(error, str) else f"internal error: {type(error).__name__}: {error}"
    )
    return failed(file, message, internal=True, **fields)


def worker_error(exc: BaseException) -> str:
    """The message of an exception a worker raised instead of a stack's outcomes."""
    return f"worker error: {type(exc).__name__}: {exc}"
