"""Scored samples from files: one normalised table, and a located note for what is dropped.

Three shapes are read (docs/ai-control.md, "Input formats"):

- a plain table (CSV, JSONL, Parquet, or a JSON array of records) with a ``label`` column
  (``honest`` for honest samples, otherwise the attack kind), one ``score_<monitor>`` column
  per monitor (higher = more suspicious) and optionally ``cost_<monitor>`` (the monitor's
  cost per call), ``id``, ``main_task_success`` and ``side_task_success``;
- a ControlArena sample table (``control_arena.analysis.samples_df`` written out): ``eval_mode``
  (``honest`` or ``attack``), the attack kind in ``metadata_side_task_name`` (or
  ``side_task_name``), ``score_<scorer>`` columns, ``main_task_success``, ``side_task_success``;
- Inspect eval logs (``.eval``, or ``.json`` written by Inspect), read with inspect-ai's own
  ``read_eval_log``: the eval mode and side task from each sample's metadata (as ControlArena
  writes them, or a ``label`` key), numeric scores as monitors, and ControlArena's
  ``main_task_success`` / ``side_task_success`` (``C``/``I`` or booleans).

A sample without a label is dropped, and so is a missing or non-finite score (for that
monitor only); each drop is a :class:`~deter.solver.results.errors.Finding` naming the file,
the row (as a line number for text files) and the column, counted by reason.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..results.errors import Finding, SpecError

#: The label of an honest (compliant) sample.
HONEST = "honest"
#: The kind given to attack samples that name no side task.
DEFAULT_ATTACK = "attack"
SCORE_PREFIX = "score_"
COST_PREFIX = "cost_"
#: Columns ControlArena reads as task outcomes, never as monitors.
OUTCOMES = ("main_task_success", "side_task_success")
#: Where ControlArena puts the attack kind (the side task's name), in order of preference.
KIND_COLUMNS = ("metadata_side_task_name", "side_task_name", "attack_kind")
#: Text files whose rows are numbered as lines (the header is line 1 of a CSV).
_LINE_OFFSET = {".csv": 2, ".jsonl": 1, ".ndjson": 1}
_TABLE_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet", ".pq", ".json")
_NAME = re.compile(r"[^A-Za-z0-9_-]+")
#: Located notes listed per reason; the rest are counted.
NOTES_PER_REASON = 5


def identifier(text: str) -> str:
    """A spec identifier from a column or kind name (letters, digits, ``_``, ``-``)."""
    name = _NAME.sub("_", text.strip()).strip("_") or "unnamed"
    return name if (name[0].isalpha() or name[0] == "_") else f"_{name}"


@dataclass
class Notes:
    """Located notes on dropped data, a few listed per reason and all of them counted."""

    listed: list[Finding] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, reason: str, finding: Finding) -> None:
        self.counts[reason] += 1
        if self.counts[reason] <= NOTES_PER_REASON:
            self.listed.append(finding)

    def summary(self) -> list[str]:
        return [f"{count} x {reason}" for reason, count in sorted(self.counts.items())]


@dataclass(frozen=True)
class Samples:
    """Scored samples, normalised.

    ``frame`` has one row per sample: ``source`` (file), ``where`` (row or sample id as the
    user would look for it), ``line`` (1-based line in a text file, else -1), ``kind`` (the
    label: ``honest`` or an attack kind; ``None`` when unlabelled), ``score_<monitor>`` and
    ``cost_<monitor>`` (floats, NaN when missing) and the task outcomes (1.0, 0.0 or NaN).
    """

    frame: pd.DataFrame
    files: tuple[str, ...]
    digests: tuple[str, ...]  # sha256 of each file, for provenance
    monitors: tuple[str, ...]  # score columns, without the prefix
    notes: Notes

    def __len__(self) -> int:
        return len(self.frame)

    def scores(self, monitor: str) -> np.ndarray:
        return np.asarray(self.frame[SCORE_PREFIX + monitor], dtype=float)


def read_samples(paths: Sequence[str | Path], monitors: Iterable[str] | None = None) -> Samples:
    """Read every file into one table (the monitors are the score columns of all files).

    Raises :class:`SpecError` with located findings for what cannot be read at all: a missing
    file, an unknown format, a file without a label column or without any score column.
    """
    if not paths:
        raise SpecError.single("<input>", "no sample files given")
    frames: list[pd.DataFrame] = []
    errors: list[Finding] = []
    notes = Notes()
    digests: list[str] = []
    for raw in paths:
        path = Path(raw)
        try:
            digests.append(_digest(path))
            frame = _read_one(path, notes)
        except SpecError as exc:
            errors.extend(exc.issues)
            continue
        frames.append(frame)
    if errors:
        raise SpecError(errors)
    frame = pd.concat(frames, ignore_index=True, sort=False) if len(frames) > 1 else frames[0]
    found = tuple(
        sorted(c[len(SCORE_PREFIX) :] for c in frame.columns if c.startswith(SCORE_PREFIX))
    )
    chosen = found if monitors is None else tuple(monitors)
    missing = [m for m in chosen if m not in found]
    if missing:
        raise SpecError(
            [
                Finding(
                    file=", ".join(str(p) for p in paths),
                    key=SCORE_PREFIX + m,
                    message=f"no such score column (found: {', '.join(found) or 'none'})",
                )
                for m in missing
            ]
        )
    if not chosen:
        raise SpecError.single(
            ", ".join(str(p) for p in paths),
            f"no score columns: each monitor's suspicion scores go in a '{SCORE_PREFIX}<monitor>'"
            " column (Inspect logs: a numeric score)",
        )
    for monitor in chosen:
        for prefix in (SCORE_PREFIX, COST_PREFIX):
            if prefix + monitor not in frame.columns:
                frame[prefix + monitor] = np.nan
    keep = ["source", "where", "line", "kind", *OUTCOMES]
    keep += [p + m for m in chosen for p in (SCORE_PREFIX, COST_PREFIX)]
    return Samples(
        frame=frame[keep].reset_index(drop=True),
        files=tuple(str(p) for p in paths),
        digests=tuple(digests),
        monitors=chosen,
        notes=notes,
    )


def _digest(path: Path) -> str:
    if not path.is_file():
        raise SpecError.single(str(path), "no such file" if not path.exists() else "not a file")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise SpecError.single(str(path), f"cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def _read_one(path: Path, notes: Notes) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".eval" or (suffix == ".json" and _is_inspect_log(path)):
        return _normalise(_read_inspect(path), path, notes, lines=False)
    if suffix not in _TABLE_SUFFIXES:
        raise SpecError.single(
            str(path),
            f"unknown format {suffix or '(no suffix)'!r}: expected .csv, .jsonl, .parquet, "
            ".json (records or an Inspect log) or .eval (Inspect)",
        )
    try:
        if suffix == ".csv":
            raw = pd.read_csv(path, low_memory=False)
        elif suffix in (".jsonl", ".ndjson"):
            raw = pd.read_json(path, lines=True, precise_float=True)
        elif suffix == ".json":
            raw = pd.read_json(path, orient="records", precise_float=True)
        else:
            raw = pd.read_parquet(path)
    except ImportError as exc:
        raise SpecError.single(str(path), f"cannot read {suffix} files: {exc}") from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise SpecError.single(str(path), f"cannot read as {suffix[1:]}: {exc}") from exc
    return _normalise(raw, path, notes, lines=suffix in _LINE_OFFSET)


def _is_inspect_log(path: Path) -> bool:
    """A ``.json`` file is an Inspect log when it is one JSON object with an ``eval`` header."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16).lstrip()
    except OSError:
        return False
    return head.startswith(b"{") and b'"eval"' in head


def _read_inspect(path: Path) -> pd.DataFrame:
    """One row per sample of an Inspect log, through inspect-ai's log API."""
    try:
        from inspect_ai.log import read_eval_log
    except ImportError as exc:
        raise SpecError.single(
            str(path), "reading Inspect logs needs inspect-ai: pip install 'deter[inspect]'"
        ) from exc
    try:
        log = read_eval_log(str(path))
    except Exception as exc:  # inspect-ai raises many kinds; each is a file it cannot read
        raise SpecError.single(str(path), f"cannot read as an Inspect log: {exc}") from exc
    rows: list[dict[str, Any]] = []
    for sample in log.samples or []:
        metadata = dict(sample.metadata or {})
        row: dict[str, Any] = {"where_id": f"sample {sample.id} epoch {sample.epoch}"}
        for key in ("label", "eval_mode", "side_task_name", "attack_kind"):
            if key in metadata and metadata[key] is not None:
                row[key] = str(getattr(metadata[key], "value", metadata[key]))
        for name, score in (sample.scores or {}).items():
            _score_columns(row, name, score.value)
        rows.append(row)
    if not rows:
        raise SpecError.single(str(path), "the Inspect log holds no samples")
    return pd.DataFrame(rows)


def _score_columns(row: dict[str, Any], name: str, value: Any) -> None:
    """Score values as ControlArena's ``samples_df`` reads them: a dict may hold the task
    outcomes, ``C``/``I`` are successes, numbers are monitor scores."""
    if isinstance(value, dict):
        for outcome in OUTCOMES:
            if outcome in value:
                row[outcome] = _success(value[outcome])
        return
    if name in OUTCOMES:
        row[name] = _success(value)
    elif isinstance(value, bool | str):
        return  # a pass/fail scorer, not a suspicion score
    elif isinstance(value, int | float):
        row[SCORE_PREFIX + name] = float(value)


def _success(value: Any) -> float:
    if isinstance(value, str):
        return {"C": 1.0, "I": 0.0}.get(value.strip().upper(), math.nan)
    if isinstance(value, bool | int | float):
        return float(value)
    return math.nan


def _normalise(raw: pd.DataFrame, path: Path, notes: Notes, *, lines: bool) -> pd.DataFrame:
    file = str(path)
    n = len(raw)
    offset = _LINE_OFFSET.get(path.suffix.lower(), 0)
    out = pd.DataFrame(index=range(n))
    out["source"] = file
    if "where_id" in raw.columns:
        out["where"] = raw["where_id"].astype(str).to_numpy()
    elif "id" in raw.columns:
        out["where"] = ("id " + raw["id"].astype(str)).to_numpy()
    else:
        out["where"] = [f"row {i + offset}" if lines else f"row {i}" for i in range(n)]
    out["line"] = np.arange(n) + offset if lines else -1
    out["kind"] = pd.Series(_kinds(raw, file), dtype=object)
    for outcome in OUTCOMES:
        if outcome not in raw.columns:
            out[outcome] = np.nan
        elif raw[outcome].dtype == bool or pd.api.types.is_numeric_dtype(raw[outcome]):
            out[outcome] = raw[outcome].astype(float).to_numpy()  # the common case, vectorised
        else:
            out[outcome] = raw[outcome].map(_success).astype(float).to_numpy()
    for column in raw.columns:
        if not (column.startswith(SCORE_PREFIX) or column.startswith(COST_PREFIX)):
            continue
        values = raw[column]
        if values.dtype == bool or not (
            pd.api.types.is_numeric_dtype(values) or values.isna().all()
        ):
            if column.startswith(SCORE_PREFIX):
                notes.add(
                    "non-numeric score column skipped",
                    Finding(file=file, key=column, message="not numeric: not read as a monitor"),
                )
            continue
        out[column] = values.astype(float).to_numpy()
    return out


def _kinds(raw: pd.DataFrame, file: str) -> list[str | None]:
    """Each sample's label: ``honest``, an attack kind, or ``None`` (unlabelled)."""
    if "eval_mode" in raw.columns:
        mode = [_text(v) for v in raw["eval_mode"].tolist()]
        kind_column = next((c for c in KIND_COLUMNS if c in raw.columns), None)
        kinds = [_text(v) for v in raw[kind_column].tolist()] if kind_column else [None] * len(raw)
        out: list[str | None] = []
        for m, k in zip(mode, kinds, strict=True):
            if m is None:
                out.append(None)
            elif m.lower() == HONEST:
                out.append(HONEST)
            elif m.lower() == "attack":
                out.append(k or DEFAULT_ATTACK)
            else:
                out.append(f"?{m}")  # an eval mode we do not know: reported by the fit
        return out
    if "label" in raw.columns:
        return [
            None if v is None else (HONEST if v.lower() == HONEST else v)
            for v in (_text(x) for x in raw["label"].tolist())
        ]
    raise SpecError.single(
        file,
        "no label column: expected 'label' (honest or the attack kind) or 'eval_mode' "
        "(ControlArena: honest or attack)",
    )


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None
