"""The resume ledger of ``deter batch --resume``: one finished file per JSON line.

Each line holds the file's outcome (its result as the JSON document ``deter solve`` writes,
without timing), the file's content hash and the options' fingerprint; reading a line back
gives an outcome equal to the one written (``FileOutcome.from_dict``).
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..results.serialise import dumps
from .outcome import FINAL_STATUSES, FileOutcome

LEDGER_VERSION = 1


class Ledger:
    """Append-only JSON lines, one finished file per line, fsynced after every chunk.

    A line holds the outcome, the file's content hash and the options' fingerprint; an
    entry stands for a file when the path, the hash and the fingerprint all match. A line
    cut short by a kill is ignored on reading.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: Any = None
        self.skipped = 0  # unreadable lines met by the last ``read``

    def read(self, fingerprint: str) -> dict[tuple[str, str], FileOutcome]:
        """The entries written with ``fingerprint``. Lines that are not one of this ledger's
        entries (torn by a kill, not JSON, JSON but not an object, invalid UTF-8, another
        version or options) are skipped; ``skipped`` counts the unreadable ones."""
        entries: dict[tuple[str, str], FileOutcome] = {}
        self.skipped = 0
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return entries
        for raw in data.splitlines():
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw.decode("utf-8"))
                if not isinstance(doc, dict):
                    raise TypeError("not a JSON object")
                if doc.get("ledger") != LEDGER_VERSION or doc.get("options") != fingerprint:
                    continue
                outcome = FileOutcome.from_dict(doc["outcome"])
            except (ValueError, KeyError, TypeError, AttributeError):
                self.skipped += 1  # a torn last line, a line from another tool, bad bytes
                continue
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
            dumps({"ledger": LEDGER_VERSION, "options": fingerprint, "outcome": o.to_dict()}) + "\n"
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


class Spool:
    """Outcomes kept on disk instead of in memory until asked for again, in the order
    added: an anonymous temporary file (pickles), gone with the process however it ends.

    ``deter batch`` without ``--resume`` spools the outcomes it streams, so that Ctrl-C can
    still keep them in a ledger to resume from (``.deter-batch.jsonl``).
    """

    def __init__(self) -> None:
        self._file: Any = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()

    def add(self, outcome: FileOutcome) -> None:
        pickle.dump(outcome, self._file, pickle.HIGHEST_PROTOCOL)

    def __iter__(self) -> Iterator[FileOutcome]:
        self._file.seek(0)
        try:
            while True:
                yield pickle.load(self._file)
        except EOFError:
            return
        finally:
            self._file.seek(0, os.SEEK_END)  # where the next add goes

    def close(self) -> None:
        self._file.close()
