"""ROC monitors in a policy document: the detection designed at each rate, and the thresholds
that realise it.

A monitor described by an ROC curve scores every episode and flags the fraction x (its rate)
of honest ones; the solver buys each action's detection h_ij(x) on the curve's concave
envelope (docs/model.md, "Monitors described by ROC curves"). A runtime realises x by
randomising between two score thresholds
(:func:`~deter.solver.model.envelope.randomised_thresholds`).
The spec holds the curve's points, not the scores they came from, so the thresholds come
from ``deter fit``'s calibration (``--calibration``: each monitor's thresholds at the points
it wrote into the spec); without it the document says what to achieve and the control loop
refuses to guess how.

The document's ``roc`` section, one entry per ROC monitor::

    "roc": {"monitor": {
        "points": {"action": [[fpr, tpr], ...]},      # the spec's curve
        "detection": {"action": h},                  # designed detection at the rate
        "rule": {"high_threshold", "low_threshold",  # flag when score >= threshold; the
                 "high_weight",                      # high one with this probability
                 "high_rate", "low_rate"}}}          # the honest flag rates of the two

``rule`` is present only when thresholds are known; ``"inf"`` / ``"-inf"`` stand for flag
nothing / flag everything (JSON has no infinity). Standard library and numpy only: the
runtime imports this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..model.envelope import randomised_detection, randomised_thresholds
from ..results.errors import SpecError, SpecIssue

if TYPE_CHECKING:
    from ..results.result import Result
    from ..spec.document import Spec

#: How close the spec's points must be to the calibration's (both written by one fit).
POINT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Calibrated:
    """One monitor's fitted chain: thresholds (descending) at ascending honest flag rates."""

    thresholds: np.ndarray
    fpr: np.ndarray
    tpr: Mapping[str, np.ndarray]

    def thresholds_for(self, rate: float) -> tuple[float, float, float]:
        """(high threshold, low threshold, probability of the high one) at ``rate``."""
        return randomised_thresholds(self.fpr, self.thresholds, rate)


def threshold_value(value: Any) -> float:
    """A threshold from JSON: a number, or ``"inf"`` / ``"-inf"``."""
    if isinstance(value, str) and value in ("inf", "-inf"):
        return math.inf if value == "inf" else -math.inf
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"a threshold is a number, 'inf' or '-inf', not {value!r}")
    return float(value)


def threshold_json(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def read_calibration(doc: Any, file: str) -> dict[str, Calibrated]:
    """Each monitor's chain from ``deter fit --calibration``'s JSON (a located error if not)."""

    def bad(key: str, message: str) -> SpecError:
        return SpecError([SpecIssue(file=file, key=key, message=message)])

    if not isinstance(doc, dict) or doc.get("kind") != "fit":
        raise bad("kind", "not a calibration written by deter fit --calibration")
    monitors = doc.get("monitors")
    if not isinstance(monitors, dict):
        raise bad("monitors", "must be an object of monitors")
    out: dict[str, Calibrated] = {}
    for name, entry in monitors.items():
        key = f"monitors.{name}"
        try:
            thresholds = np.array([threshold_value(t) for t in entry["thresholds"]])
            fpr = np.asarray(entry["fpr"], dtype=float)
            tpr = {a: np.asarray(y, dtype=float) for a, y in entry["tpr"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(key, f"needs thresholds, fpr and tpr lists: {exc}") from None
        lengths = {len(thresholds), len(fpr), *(len(y) for y in tpr.values())}
        if len(lengths) != 1 or len(fpr) < 2:
            raise bad(key, "thresholds, fpr and every tpr must have one entry per point")
        if np.any(np.diff(fpr) < 0) or np.any(np.diff(thresholds) > 0):
            raise bad(key, "fpr must ascend and thresholds descend along the points")
        out[name] = Calibrated(thresholds, fpr, tpr)
    return out


def roc_section(
    spec: Spec,
    result: Result,
    calibration: Mapping[str, Calibrated] | None = None,
    calibration_file: str = "<calibration>",
) -> dict[str, Any]:
    """The document's ``roc`` section of a solved spec (empty without ROC monitors).

    With ``calibration`` every ROC monitor it names gets its ``rule``; the calibration's
    points must be the spec's (else it is of another fit: a located error), and the rule
    must reach the designed detection of every action (it does on a chain concave for
    every action, as ``deter fit`` writes).
    """
    rates = {m.name: m.rate for m in result.monitors}
    section: dict[str, Any] = {}
    for monitor in spec.all_monitors():
        if not monitor.roc:
            continue
        rate = float(rates[monitor.name])
        entry: dict[str, Any] = {
            "points": {a: [list(p) for p in pts] for a, pts in monitor.roc.items()},
            "detection": {a: randomised_detection(pts, rate) for a, pts in monitor.roc.items()},
        }
        fitted = (calibration or {}).get(monitor.name)
        if fitted is not None:
            entry["rule"] = _rule(monitor.name, monitor.roc, fitted, rate, calibration_file)
        section[monitor.name] = entry
    return section


def check_points(
    name: str, roc: Mapping[str, Any], fitted: Calibrated, file: str, what: str = "calibration"
) -> None:
    """Refuse a chain whose points are not the spec's ``roc`` points of monitor ``name``
    (it is of another fit): a located error naming ``file``."""
    key = f"monitors.{name}"
    for action, points in roc.items():
        given = np.asarray(points, dtype=float)
        if action not in fitted.tpr:
            raise SpecError(
                [SpecIssue(file, key, f"has no curve for action {action!r} of the spec")]
            )
        chain = np.column_stack([fitted.fpr, fitted.tpr[action]])
        if given.shape != chain.shape or not np.allclose(
            given, chain, rtol=0.0, atol=POINT_TOLERANCE
        ):
            raise SpecError(
                [
                    SpecIssue(
                        file,
                        key,
                        f"its points for action {action!r} are not the spec's roc points: "
                        f"the {what} is of another fit",
                    )
                ]
            )


def _rule(
    name: str,
    roc: Mapping[str, tuple[tuple[float, float], ...]],
    fitted: Calibrated,
    rate: float,
    file: str,
) -> dict[str, Any]:
    key = f"monitors.{name}"
    check_points(name, roc, fitted, file)
    high, low, weight = randomised_thresholds(fitted.fpr, fitted.thresholds, rate)
    k = int(np.searchsorted(fitted.fpr, min(max(rate, 0.0), 1.0), side="left"))
    high_rate = float(fitted.fpr[max(k - 1, 0)])
    low_rate = float(fitted.fpr[k]) if k > 0 else high_rate
    rule = {
        "high_threshold": threshold_json(high),
        "low_threshold": threshold_json(low),
        "high_weight": weight,
        "high_rate": high_rate,
        "low_rate": low_rate,
    }
    for action, points in roc.items():
        reached = _realised(fitted, rule, action)
        wanted = randomised_detection(points, rate)
        if reached < wanted - 1e-9:
            raise SpecError(
                [
                    SpecIssue(
                        file,
                        key,
                        f"two thresholds reach detection {reached:.6g} of {action!r} at rate "
                        f"{rate:.6g}, below the designed {wanted:.6g}: the points are not one "
                        "chain concave for every action",
                    )
                ]
            )
    return rule


def _realised(fitted: Calibrated, rule: Mapping[str, Any], action: str) -> float:
    """The detection of ``action`` the rule reaches on the calibration's chain."""
    tpr = fitted.tpr[action]
    at = {float(f): float(y) for f, y in zip(fitted.fpr, tpr, strict=True)}
    w = float(rule["high_weight"])
    return w * at[float(rule["high_rate"])] + (1.0 - w) * at[float(rule["low_rate"])]


def load_calibration_file(path: str, max_bytes: int = 50_000_000) -> dict[str, Calibrated]:
    """:func:`read_calibration` of a file, with a located error for what cannot be read."""
    import json
    import os

    def bad(message: str, line: int | None = None) -> SpecError:
        return SpecError([SpecIssue(file=path, key="", message=message, line=line)])

    try:
        if os.path.isdir(path):
            raise bad("is a folder, not a calibration")
        if os.path.getsize(path) > max_bytes:
            raise bad(f"the file is over the limit of {max_bytes:,} bytes")
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except FileNotFoundError:
        raise bad("no such file") from None
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise bad("nested too deeply") from None
    except OSError as exc:
        raise bad(f"cannot read the file: {exc.strerror or exc}") from None
    return read_calibration(doc, path)
