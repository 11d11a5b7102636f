"""Compact ledger entries for large specs: a result's rows re-derived from its spec.

A result's per-action rows (gain, penalty, detection, expected penalty, net incentive, ...),
its per-monitor rows and its diagnosis's per-action rows are most of a large spec's ledger
entry (300 actions: 16x the ``-f jsonl`` line, packed), yet nearly every number in them is
a function of the spec and the rates: the gains and caps are the spec's, the detection is
``evaluate_policy`` at the rates, and so on. An entry of a large result keeps, for each of
those lists, only its length, its keys, and the values that differ from the value predicted
from the spec (the rates themselves, a binding action's shadow price, a designed penalty),
as JSON-equal values (the same text when written); on reading, the spec file is read again
(its SHA-256 must be the entry's), the rows are predicted again and the differences put back.

Exactness does not rest on the predictions: each list is restored column by column in a
fixed order, each prediction reading only columns already restored, and an entry is written
this way only when restoring it gives the result's JSON text exactly; the entry also keeps
a digest of that text, checked on reading. A prediction that is wrong costs bytes, never
a different output; a spec file that changed, went missing or restores to another text
makes the entry unreadable, and the file is solved again (as a damaged entry is).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.diagnose import cap_for
from ..engine.verify import evaluate_policy
from ..formulation.components.deterrence import incentive_rows
from ..model.arrays import ProblemArrays
from ..model.penalties import at_ceilings
from ..model.utility import FloatArray, certainty_equivalent
from ..results.result import rate_bound
from ..spec.loading import decode_spec_bytes, parse_spec_text, read_spec_bytes

#: A result with at least this many rows in its lists is kept with its rows re-derived;
#: smaller ones are packed whole (reading their spec again would cost more than it saves).
ROW_THRESHOLD = 40
#: The key of the packed document that holds the rows' skeleton and differences.
ROWS_KEY = "~rows"
#: The lists re-derived, by their path in the result document.
LISTS: tuple[tuple[str, ...], ...] = (("monitors",), ("actions",), ("diagnosis", "actions"))


def row_count(doc: dict[str, Any]) -> int:
    return sum(len(_get(doc, path) or ()) for path in LISTS)


def _get(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _same(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` are written as the same JSON text."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and (a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b))
    if isinstance(a, list | dict):
        return _text(a) == _text(b)
    return bool(a == b)


def digest_of(doc: dict[str, Any]) -> str:
    return hashlib.blake2b(_text(doc).encode(), digest_size=8).hexdigest()


def load_spec_arrays(file: str, sha256: str) -> ProblemArrays:
    """The arrays of the spec at ``file``, whose bytes must hash to ``sha256`` (else
    ``ValueError``: the entry does not stand for this content)."""
    data = read_spec_bytes(Path(file))
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{file} is not the content its ledger entry was written for")
    spec = parse_spec_text(decode_spec_bytes(data, file), file=file, name=Path(file).stem)
    return ProblemArrays.for_design(spec)


@dataclass
class _Rows:
    """The predictions of one result's rows: each column from the spec's arrays and the
    columns restored before it (``doc``, being restored in place)."""

    arrays: ProblemArrays
    doc: dict[str, Any]
    cache: dict[str, Any] = field(default_factory=dict)

    def column(self, path: tuple[str, ...], key: str) -> list[Any]:
        values = _get(self.doc, path)
        return [row.get(key) for row in values]

    def floats(self, path: tuple[str, ...], key: str) -> FloatArray | None:
        values = self.column(path, key)
        if not all(isinstance(v, float | int) and not isinstance(v, bool) for v in values):
            return None
        return np.asarray(values, dtype=float)

    # --- monitors ------------------------------------------------------------------------

    @cached_property
    def monitors_match(self) -> bool:
        return self.column(("monitors",), "name") == list(self.arrays.monitor_names)

    def monitor(self, key: str) -> list[Any] | None:
        a = self.arrays
        if key == "name":
            return list(a.monitor_names)
        if not self.monitors_match:
            return None
        rates = self.floats(("monitors",), "rate")
        if key == "unit_cost":
            return [float(v) for v in a.cost]
        if key in ("min_rate", "max_rate"):
            return [float(v) for v in getattr(a, key)]
        if key == "fixed_cost":
            return [0.0] * a.n_monitors
        if key == "deployed":
            return [True] * a.n_monitors
        if rates is None:
            return None
        cost = a.cost * rates
        total = float(cost.sum())
        if key == "cost":
            return [float(v) for v in cost]
        if key == "share":
            return [float(c / total) if total > 0 else 0.0 for c in cost]
        if key == "at_bound":
            return [
                rate_bound(float(r), float(lo), float(hi))
                for r, lo, hi in zip(rates, a.min_rate, a.max_rate, strict=True)
            ]
        return None

    # --- the actions of a policy ---------------------------------------------------------

    @cached_property
    def actions_match(self) -> bool:
        return self.column(("actions",), "name") == list(self.arrays.action_names)

    def _policy(self) -> tuple[FloatArray, FloatArray] | None:
        """(rates, penalties) as restored, or None."""
        rates = self.floats(("monitors",), "rate") if self.monitors_match else None
        penalties = self.floats(("actions",), "penalty")
        if rates is None or penalties is None:
            return None
        return rates, penalties

    def action(self, key: str) -> list[Any] | None:
        a = self.arrays
        if key == "name":
            return list(a.action_names)
        if not self.actions_match:
            return None
        n = a.n_actions
        compliant = [i == a.compliant for i in range(n)]
        if key == "compliant":
            return compliant
        if key == "gain":
            return [float(v) for v in a.stated_gain]
        if key == "penalty":
            penalty = a.penalty_cap.astype(float).copy()
            penalty[a.compliant] = a.false_positive_penalty
            return [float(v) for v in penalty]
        if key == "deterred":
            return [True] * n
        if key == "binding":
            return [False] * n
        if key == "shadow_price":
            return [0.0] * n
        policy = self._policy()
        if policy is None:
            return None
        rates, penalties = policy
        if "evaluation" not in self.cache:
            self.cache["evaluation"] = evaluate_policy(a, rates, penalties)
        detection = self.cache["evaluation"].detection
        if key == "detection":
            return [float(v) for v in detection]
        if key == "expected_penalty":
            return [float(d * p) for d, p in zip(detection, penalties, strict=True)]
        if key == "net_incentive":
            relative = a.gain - a.gain[a.compliant]
            certainty = certainty_equivalent(relative, penalties, detection, a.risk_aversion)
            return [float(c - certainty[a.compliant]) for c in certainty]
        return None

    # --- the diagnosis's actions ---------------------------------------------------------

    def diagnosed(self, key: str) -> list[Any] | None:
        a = self.arrays
        deviations = [int(i) for i in a.deviations]
        path = ("diagnosis", "actions")
        if key == "name":
            return [a.action_names[i] for i in deviations]
        if self.column(path, "name") != [a.action_names[i] for i in deviations]:
            return None
        if key == "deterrable":
            return [True] * len(deviations)
        if key == "reason":
            return ["deterrable"] * len(deviations)
        if key == "penalty_cap":
            return [float(a.penalty_cap[i]) for i in deviations]
        if key == "max_detection":
            reach = np.minimum(1.0, a.detection[a.deviations] @ a.max_rate)
            return [float(v) for v in np.asarray(reach).ravel()]
        if key == "max_expected_penalty":
            most = self.floats(path, "max_detection")  # restored before this column
            if most is None:
                return None
            caps = a.penalty_cap[a.deviations]
            return [float(p * c) for p, c in zip(most, caps, strict=True)]
        if key == "cap_needed":
            return self._caps_needed()
        return None

    def _caps_needed(self) -> list[Any] | None:
        """``diagnose``'s penalty cap that would deter each action at its most detection
        (restored before this column), where no false flag costs the agent anything."""
        most = self.floats(("diagnosis", "actions"), "max_detection")
        a = at_ceilings(self.arrays)
        rows = incentive_rows(a)
        if most is None or rows.false_flag_loss != 0:
            return None
        caps: list[Any] = []
        for row, i in enumerate(a.deviations):
            p = float(most[row])
            relative = float(a.gain[i] - a.gain[a.compliant])
            need = float(rows.need[row])
            caps.append(cap_for(need / p, relative, a.risk_aversion) if p > 0 else None)
        return caps

    def predict(self, path: tuple[str, ...], key: str) -> list[Any] | None:
        predictor: Callable[[str], list[Any] | None] = {
            ("monitors",): self.monitor,
            ("actions",): self.action,
            ("diagnosis", "actions"): self.diagnosed,
        }[path]
        try:
            return predictor(key)
        except (ArithmeticError, ValueError, TypeError, IndexError, KeyError):
            return None


def compact_rows(doc: dict[str, Any], arrays: ProblemArrays) -> dict[str, Any] | None:
    """``doc`` with its lists of rows replaced by their differences from the rows predicted
    from ``arrays``, or None when that would not restore ``doc``'s text exactly.

    The rows are predicted as :func:`restore_rows` predicts them: column by column, from a
    copy of ``doc`` whose lists hold only the columns already restored."""
    rows: dict[str, Any] = {"digest": digest_of(doc), "lists": []}
    out = dict(doc)
    chosen = [path for path in LISTS if _rows_of(_get(doc, path)) is not None]
    if not chosen:
        return None
    partial = dict(doc)  # what restore_rows sees at each step: the lists not yet restored
    for path in chosen:  # are null
        _set(partial, path, None)
    predictor = _Rows(arrays, partial)
    for path in chosen:
        values = _get(doc, path)
        keys = list(values[0])
        restored: list[dict[str, Any]] = [{key: None for key in keys} for _ in values]
        _set(partial, path, restored)
        differences: dict[str, list[list[Any]]] = {}
        for key in keys:
            predicted = predictor.predict(path, key)
            if predicted is None or len(predicted) != len(values):
                predicted = [None] * len(values)
            found = [
                [i, row[key]]
                for i, (row, guess) in enumerate(zip(values, predicted, strict=True))
                if not _same(row[key], guess)
            ]
            if found:
                differences[key] = found
            for row, into in zip(values, restored, strict=True):
                into[key] = row[key]
        rows["lists"].append([list(path), len(values), keys, differences])
        _set(out, path, None)
    out[ROWS_KEY] = rows
    try:
        again = restore_rows(json.loads(_text(out)), arrays)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return out if _text(again) == _text(doc) else None


def restore_rows(packed: dict[str, Any], arrays: ProblemArrays) -> dict[str, Any]:
    """The document :func:`compact_rows` compacted. Raises ``ValueError`` when the restored
    text is not the one written (another spec, another version of deter's arithmetic)."""
    rows = packed.pop(ROWS_KEY)
    doc = packed
    predictor = _Rows(arrays, doc)
    for path_list, length, keys, differences in rows["lists"]:
        path = tuple(path_list)
        values: list[dict[str, Any]] = [{key: None for key in keys} for _ in range(length)]
        _set(doc, path, values)
        for key in keys:
            predicted = predictor.predict(path, key)
            column = predicted if predicted is not None and len(predicted) == length else None
            if column is not None:
                for row, value in zip(values, column, strict=True):
                    row[key] = value
            for i, value in differences.get(key, ()):
                values[i][key] = value
    if digest_of(doc) != rows["digest"]:
        raise ValueError("a ledger entry whose rows do not restore to the result written")
    return doc


def _rows_of(values: Any) -> list[dict[str, Any]] | None:
    """``values`` when it is a list of rows with the same keys in the same order."""
    if not values or not isinstance(values, list):
        return None
    if not all(isinstance(v, dict) and list(v) == list(values[0]) for v in values):
        return None
    return values


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = doc
    for key in path[:-1]:
        child = dict(node[key])
        node[key] = child
        node = child
    node[path[-1]] = value
