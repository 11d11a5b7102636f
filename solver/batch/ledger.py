"""The resume ledger of ``deter batch --resume``: one finished file per JSON line.

Each line holds the file's outcome, the file's content hash and the options' fingerprint;
reading a line back gives an outcome equal to the one written, so a resumed run writes the
same output, byte for byte, in every format. The outcome's result (the JSON document
``deter solve`` writes, without timing: only ``-f json`` shows it, and it is most of a
line) is kept compressed (:func:`pack_result`: zlib with a preset dictionary of the
result's keys, base85), and the outcome's fields that are read off the result (name, cost,
error, rates) are left out when they are exactly what the result gives. A result with many
rows (actions, monitors, the diagnosis's actions) keeps only the values of its rows that
differ from those re-derived from the spec file, which is read again on resuming
(``ledger_rows.py``; the file's hash must be the entry's). An entry is about the size of the
file's ``-f jsonl`` line (issue 24 item 5: it was ~8x on small specs, ~16x at 300 actions).
Lines written by earlier versions (``"ledger": 1``, the result as plain JSON) still read.

A resumed batch keeps no entry in memory: :meth:`Ledger.index` reads the ledger once, a line
at a time, into a :class:`LedgerIndex` (a 16-byte key of path and hash and the line's byte
offset, per entry), and each resumed file's outcome is read back from its offset
(:meth:`Ledger.load`) only when its turn comes in the output, then dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import pickle
import tempfile
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..results.errors import DeterError
from ..results.json_depth import TooDeep, check_depth
from ..results.result import Result
from ..results.serialise import jsonable
from ..results.status import Status
from .ledger_dictionary import RESULT_DICTIONARY
from .outcome import FINAL_STATUSES, FileOutcome

LEDGER_VERSION = 2
#: The versions this code reads: 1 kept the result as plain JSON inside the outcome.
READABLE_VERSIONS = (1, 2)
#: How a version-2 result is packed: codec id, ``:``, base85 of zlib with the dictionary.
RESULT_CODEC = "z1"
#: The most bytes a packed result may unpack to (a result of 10,000 actions is ~3 MB).
MAX_RESULT_BYTES = 1 << 28


class Ledger:
    """Append-only JSON lines, one finished file per line, fsynced after every chunk.

    A line holds the outcome, the file's content hash and the options' fingerprint; an
    entry stands for a file when the path, the hash and the fingerprint all match. A line
    cut short by a kill is ignored on reading.
    """

    def __init__(self, path: str | Path, *, derive_rows: bool = True) -> None:
        self.path = Path(path)
        # Large results keep their rows as differences from the spec's (``ledger_rows``):
        # reading each spec again costs tens of ms, so a ledger written in a hurry (the
        # spool kept on Ctrl-C) packs them whole instead.
        self.derive_rows = derive_rows
        self._handle: Any = None
        self._reader: Any = None  # for ``load``
        self.skipped = 0  # unreadable lines met by the last ``read`` or ``index``
        self.first_skipped: str | None = None  # where and why, for the first of them

    def read(self, fingerprint: str) -> dict[tuple[str, str], FileOutcome]:
        """Every entry written with ``fingerprint``, loaded (the last line of each file and
        hash wins; an entry whose result does not load is skipped); a resumed batch uses
        :meth:`index` instead, which keeps no outcome."""
        entries: dict[tuple[str, str], FileOutcome] = {}
        for offset, head in self._entries(fingerprint):
            try:
                outcome = self.load(offset, head.file)
            except (ValueError, KeyError, TypeError, AttributeError):
                self.skipped += 1
                continue
            entries[(os.path.normpath(outcome.file), outcome.sha256 or "")] = outcome
        self.close()
        return entries

    def index(self, fingerprint: str) -> LedgerIndex:
        """Where each entry written with ``fingerprint`` starts in the file, by file and
        content hash: 16 bytes of key and 8 of offset an entry, whatever its result's size.

        Each line is parsed and its outcome checked here without its result (the result,
        most of a line, is restored by :meth:`load` when its turn comes), then dropped."""
        digests = bytearray()
        offsets = array("q")
        for offset, head in self._entries(fingerprint):
            digests += entry_key(head.file, head.sha256 or "")
            offsets.append(offset)
        return LedgerIndex.of(bytes(digests), offsets)

    def load(self, offset: int, file: str) -> FileOutcome:
        """The entry that :meth:`index` found at ``offset``, checked to be ``file``'s (a
        ledger rewritten under a running batch is an error, not a wrong result). Raises
        ``ValueError``/``TypeError``/``KeyError`` when its result does not load."""
        if self._reader is None:
            self._reader = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._reader.seek(offset)
        line = json.loads(self._reader.readline())
        doc = line["outcome"]
        if not isinstance(doc, dict) or os.path.normpath(doc.get("file", "")) != os.path.normpath(
            file
        ):
            raise RuntimeError(f"the ledger {self.path} changed while the batch ran ({file!r})")
        return read_entry(line)

    def _entries(self, fingerprint: str) -> Iterator[tuple[int, FileOutcome]]:
        """(offset, outcome without its result) of each final entry written with
        ``fingerprint``, one line in memory at a time. Lines that are not one of this
        ledger's entries (torn by a kill, not JSON, JSON but not an object, invalid UTF-8,
        another version or options) are skipped; ``skipped`` counts the unreadable ones."""
        self.skipped = 0
        self.first_skipped = None
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return
        with handle:
            offset = 0
            for number, raw in enumerate(handle, 1):
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    check_depth(raw)  # hostile nesting: refused, never parsed (issue 25)
                    doc = json.loads(raw.decode("utf-8"))
                    if not isinstance(doc, dict):
                        raise TypeError("not a JSON object")
                    if (
                        doc.get("ledger") not in READABLE_VERSIONS
                        or doc.get("options") != fingerprint
                    ):
                        continue
                    entry = doc["outcome"]
                    if not isinstance(entry, dict):
                        raise TypeError("not a JSON object")
                    head = FileOutcome.from_dict({**entry, "result": None})
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    self.skipped += 1  # a torn last line, a line from another tool, bad bytes
                    if self.first_skipped is None:
                        why = (
                            f"nested deeper than {exc.limit} levels"
                            if isinstance(exc, TooDeep)
                            else "not a ledger entry"
                        )
                        self.first_skipped = f"line {number}: {why}"
                    continue
                if head.sha256 and head.status in FINAL_STATUSES:
                    yield start, head

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
            _compact(entry_of(o, fingerprint, derive_rows=self.derive_rows)) + "\n"
            for o in outcomes
        )
        try:
            self._handle.write(lines)
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:  # a full disk: the error names the ledger the user gave
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None

    def close(self) -> None:
        for handle in (self._handle, self._reader):
            if handle is not None:
                handle.close()
        self._handle = self._reader = None


def entry_of(outcome: FileOutcome, fingerprint: str, *, derive_rows: bool = True) -> dict[str, Any]:
    """The ledger line of ``outcome`` (:func:`read_entry` reads it back to an equal one):
    the outcome without the fields its result gives exactly, the result packed (a large
    one's rows as differences from its spec's, with ``derive_rows``)."""
    doc = {k: v for k, v in outcome.to_dict().items() if k not in _DEFAULTS or v != _DEFAULTS[k]}
    result = doc.pop("result", None)
    if outcome.result is not None:
        for key, value in derived(outcome.result).items():
            if _same(getattr(outcome, key), value):
                doc.pop(key)
        doc["result"] = pack_result(_rows_compacted(result, outcome) if derive_rows else result)
    else:
        doc["result"] = None
    return {"ledger": LEDGER_VERSION, "options": fingerprint, "outcome": doc}


#: ``ledger_rows.ROWS_KEY``, here so that reading a small entry loads no engine module
#: (tests/batch/test_ledger_compact.py checks the two agree).
_ROWS_KEY = "~rows"

#: Fields a version-2 entry leaves out when they hold their default.
_DEFAULTS: dict[str, Any] = {"findings": [], "checked": False}


def _rows_compacted(result: dict[str, Any], outcome: FileOutcome) -> dict[str, Any]:
    """A large result's document with its rows re-derived from the spec on reading
    (``ledger_rows``), or the document as it is."""
    from . import ledger_rows as rows  # the engine: loaded by a batch, not by ``deter validate``

    if not outcome.sha256 or rows.row_count(result) < rows.ROW_THRESHOLD:
        return result
    try:
        arrays = rows.load_spec_arrays(outcome.file, outcome.sha256)
        compacted = rows.compact_rows(json.loads(_compact(result)), arrays)
    except Exception:  # a spec that does not load again costs bytes, never an entry
        return result
    return compacted if compacted is not None else result


def _compact(doc: Any) -> str:
    return json.dumps(jsonable(doc), separators=(",", ":"), allow_nan=False)


def read_entry(line: dict[str, Any]) -> FileOutcome:
    """The outcome of a ledger line of any readable version. Raises ``ValueError``,
    ``TypeError`` or ``KeyError`` on a line that is not one."""
    doc = dict(line["outcome"])
    if line.get("ledger") == 1:
        return FileOutcome.from_dict(doc)
    packed = doc.pop("result", None)
    if packed is None:
        return FileOutcome.from_dict({**doc, "result": None})
    unpacked = unpack_result(packed)
    if isinstance(unpacked, dict) and _ROWS_KEY in unpacked:
        from . import ledger_rows as rows

        try:
            arrays = rows.load_spec_arrays(str(doc["file"]), str(doc["sha256"]))
        except (OSError, DeterError) as exc:  # gone, unreadable, or no longer a spec
            raise ValueError(f"the rows of this entry need its spec file: {exc}") from None
        unpacked = rows.restore_rows(unpacked, arrays)
    result = Result.from_dict(unpacked)
    fill = {key: jsonable(value) for key, value in derived(result).items() if key not in doc}
    outcome = FileOutcome.from_dict({**doc, **fill, "result": None})
    return replace(outcome, result=result)


def derived(result: Result) -> dict[str, Any]:
    """The outcome's fields as ``worker._judged`` reads them off the result."""
    optimal = result.status == Status.optimal
    return {
        "name": result.name,
        "total_cost": result.total_cost,
        "error": None if optimal else result.message,
        "rates": {m.name: m.rate for m in result.monitors} if optimal else None,
    }


def _same(a: Any, b: Any) -> bool:
    """Equal and written the same (a dict in the same order; 0.0 is not -0.0 nor 0)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and not math.isfinite(a):
        return False  # written as null: kept as the outcome had it
    return type(a) is type(b) and (a == b) and repr(a) == repr(b)


def pack_result(doc: dict[str, Any]) -> str:
    """A result document as ``z1:`` and base85 text of its compact JSON, deflated with
    :data:`RESULT_DICTIONARY` (zlib's format: its checksums catch a damaged entry)."""
    text = _compact(doc).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zdict=RESULT_DICTIONARY)
    return f"{RESULT_CODEC}:" + base64.b85encode(packer.compress(text) + packer.flush()).decode()


def unpack_result(packed: Any) -> Any:
    """The document :func:`pack_result` packed. Raises ``ValueError`` on anything else."""
    if not isinstance(packed, str) or not packed.startswith(f"{RESULT_CODEC}:"):
        raise ValueError("not a packed result")
    unpacker = zlib.decompressobj(15, zdict=RESULT_DICTIONARY)
    try:
        data = unpacker.decompress(
            base64.b85decode(packed[len(RESULT_CODEC) + 1 :]), MAX_RESULT_BYTES
        )
    except zlib.error as exc:  # damaged, or packed with another dictionary
        raise ValueError(f"a packed result that does not unpack: {exc}") from None
    if unpacker.unconsumed_tail:  # a hostile line: a few bytes inflating to gigabytes
        raise ValueError(f"a packed result of more than {MAX_RESULT_BYTES} bytes")
    if not unpacker.eof:
        raise ValueError("a packed result cut short")
    check_depth(data)
    return json.loads(data)


def entry_key(file: str, sha256: str) -> bytes:
    """16 bytes standing for (the file's normalised path, its content hash): BLAKE2b."""
    text = f"{os.path.normpath(file)}\0{sha256}".encode("utf-8", "surrogateescape")
    return hashlib.blake2b(text, digest_size=16).digest()


class LedgerIndex:
    """The ledger's entries by key (:func:`entry_key`), as two sorted numpy arrays: 24
    bytes an entry (100,000 entries: 2.4 MB), however large their results."""

    def __init__(self, keys: np.ndarray, offsets: np.ndarray) -> None:
        self.keys = keys  # (k, 2) uint64, sorted by (first, second) column
        self.offsets = offsets  # int64, the line where each key's entry starts

    @classmethod
    def of(cls, digests: bytes, offsets: array[int]) -> LedgerIndex:
        """From keys and offsets in file order; a key met twice keeps its last line (as
        :meth:`Ledger.read` does)."""
        keys = np.frombuffer(digests, dtype=">u8").astype(np.uint64).reshape(-1, 2)
        where = np.frombuffer(offsets, dtype=np.int64) if offsets else np.zeros(0, np.int64)
        order = np.lexsort((keys[:, 1], keys[:, 0]))  # stable: equal keys stay in file order
        keys, where = keys[order], where[order]
        last = np.ones(len(keys), dtype=bool)
        if len(keys):
            last[:-1] = np.any(keys[1:] != keys[:-1], axis=1)
        return cls(np.ascontiguousarray(keys[last]), where[last].copy())

    def __len__(self) -> int:
        return len(self.offsets)

    def find(self, file: str, sha256: str) -> int | None:
        """The offset of the entry for ``file`` with content ``sha256``, or None."""
        if not len(self.offsets):
            return None
        high, low = (int(v) for v in np.frombuffer(entry_key(file, sha256), dtype=">u8"))
        first = int(np.searchsorted(self.keys[:, 0], high, side="left"))
        while first < len(self.offsets) and int(self.keys[first, 0]) == high:
            if int(self.keys[first, 1]) == low:
                return int(self.offsets[first])
            first += 1
        return None


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
