"""Scored samples to a spec of ROC monitors, ready for ``deter solve`` (``deter fit``).

Honest samples are the compliant action; each attack kind is an action (its own name, made
an identifier, or the name ``actions`` maps it to). Each monitor's curve is fitted per action
(:mod:`.roc`); with ``delta`` set the curves are the pessimistic edge of bands that hold
together with probability at least 1 - delta (delta is split evenly over every honest and
attack distribution of every monitor, a union bound), so a policy solved from the spec deters
every action with at least that probability (docs/ai-control.md, "Robust design").

The data say nothing of the agent's gains or the penalties: they come from the options (with
placeholders, said so in the spec, when not given). A monitor's ``cost`` in the spec is the
cost of auditing every episode it could flag (its rate is the honest flag rate); the
monitor's own cost per call (``cost_<monitor>`` columns), paid on every episode whatever the
rate, is reported in the provenance and does not change the optimal rates.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..results.errors import Finding, SpecError
from ..spec.document import Spec
from ..spec.loading import parse_spec_text
from .binormal import fit_binormal, fittable, normal_misfit
from .record import FILE_LINE, FIT_LINE
from .roc import BANDS, MonitorCurve, band_width, fit_curve, samples_for_width
from .samples import COST_PREFIX, HONEST, SCORE_PREFIX, Samples, identifier

SCHEMA_LINE = "#:schema ./deter.schema.json"
#: How a monitor's curve is fitted: the data's operating points, or a normal per class.
ROCS = ("empirical", "binormal")


@dataclass(frozen=True)
class FitOptions:
    """What the data cannot say, and how sure the fit must be.

    ``delta``: the overall probability that some band fails (``None``: the point curves, no
    band). ``roc``: ``empirical`` (operating points of the data, ``band`` around them) or
    ``binormal`` (a normal per class, fitted by maximum likelihood, and its exact parametric
    band: valid only if the scores are normal; :mod:`.binormal`). ``actions`` maps attack
    kinds to action names; with it, a kind it does not name is an error unless
    ``drop_unknown``. Gains and penalty caps are in the spec's money units; ``audit_cost``
    is a monitor's cost at rate 1 (auditing every episode).
    """

    delta: float | None = 0.05
    band: str = "dkw"  # dkw, or binomial (narrow at small rates; roc.rate_upper)
    roc: str = "empirical"  # or binormal (smooth; its own parametric band, ``band`` unused)
    actions: Mapping[str, str] | None = None
    drop_unknown: bool = False
    compliant: str = HONEST
    gains: Mapping[str, float] = field(default_factory=dict)
    default_gain: float | None = None  # None: a placeholder of 1.0, flagged in the spec
    penalty_cap: float | None = None  # None: a placeholder of 10.0, flagged in the spec
    audit_cost: Mapping[str, float] = field(default_factory=dict)
    default_audit_cost: float = 1.0
    max_rate: float | None = None
    budget: float | None = None
    name: str = "fitted-control"
    date: str | None = None  # ISO time for the provenance (None: now)


PLACEHOLDER_GAIN = 1.0
PLACEHOLDER_CAP = 10.0


@dataclass(frozen=True)
class FitResult:
    """The fitted curves, what was used and dropped, and the spec text."""

    curves: tuple[MonitorCurve, ...]
    actions: tuple[str, ...]  # the non-compliant actions, in spec order
    kinds: Mapping[str, str]  # attack kind -> action
    counts: Mapping[str, int]  # samples used per action (compliant included)
    notes: tuple[Finding, ...]  # located notes on what was dropped or is doubtful
    dropped: Mapping[str, int]  # reason -> count
    call_cost: Mapping[str, float]  # mean cost per call of each monitor (NaN: not given)
    delta: float | None
    delta_each: float | None
    text: str
    spec: Spec
    #: monitor -> action -> binormal (a, b), for the monitors fitted binormally
    binormal: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)

    def curve(self, monitor: str) -> MonitorCurve:
        return next(c for c in self.curves if c.monitor == monitor)

    def to_dict(self) -> dict[str, Any]:
        """The calibration: each monitor's thresholds and points, for the runtime."""

        def number(x: float) -> float | str:
            return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")

        return {
            "kind": "fit",
            "delta": self.delta,
            "delta_each": self.delta_each,
            "counts": dict(self.counts),
            "dropped": dict(self.dropped),
            "kinds": dict(self.kinds),
            "monitors": {
                c.monitor: {
                    "thresholds": [number(float(t)) for t in c.thresholds],
                    "fpr": c.fpr.tolist(),
                    "tpr": {a: y.tolist() for a, y in c.tpr.items()},
                    "fpr_empirical": c.fpr_empirical.tolist(),
                    "tpr_empirical": {a: y.tolist() for a, y in c.tpr_empirical.items()},
                    "n_honest": c.n_honest,
                    "n_attack": dict(c.n_attack),
                    "eps_honest": c.eps_honest,
                    "eps_attack": dict(c.eps_attack),
                    "auc": dict(c.auc),
                    **(
                        {"binormal": {a: list(ab) for a, ab in self.binormal[c.monitor].items()}}
                        if c.monitor in self.binormal
                        else {}
                    ),
                    "call_cost": None
                    if math.isnan(self.call_cost[c.monitor])
                    else self.call_cost[c.monitor],
                }
                for c in self.curves
            },
        }


def fit_samples(samples: Samples, options: FitOptions | None = None) -> FitResult:
    """Fit every monitor's curve and write the spec (validated before it is returned).

    Raises :class:`SpecError` (located findings) when the data cannot give a spec: no honest
    or no attack samples, an attack kind ``options.actions`` does not map, an action name
    that clashes with the compliant one.
    """
    opts = options or FitOptions()
    if opts.delta is not None and not 0.0 < opts.delta <= 0.5:
        raise SpecError.single("<options>", f"delta must be in (0, 0.5], not {opts.delta}")
    if opts.band not in BANDS:
        raise SpecError.single("<options>", f"band must be one of {', '.join(BANDS)}")
    if opts.roc not in ROCS:
        raise SpecError.single("<options>", f"roc must be one of {', '.join(ROCS)}")
    frame = samples.frame
    notes = samples.notes
    errors: list[Finding] = []
    # a missing label may come back as None or NaN, by pandas version and dtype
    kinds = [k if isinstance(k, str) else None for k in frame["kind"].tolist()]
    label_key = "eval_mode" if any(k and k.startswith("?") for k in kinds) else "label"
    kind_to_action: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    used = np.ones(len(frame), dtype=bool)
    for row, kind in enumerate(kinds):
        if kind is None:
            used[row] = False
            notes.add("unlabelled sample dropped", _located(frame, row, "label", "no label"))
            continue
        if kind.startswith("?"):
            used[row] = False
            notes.add(
                "unknown eval_mode dropped",
                _located(
                    frame, row, label_key, f"eval_mode {kind[1:]!r} is neither honest nor attack"
                ),
            )
            continue
        if kind == HONEST:
            continue
        if kind not in kind_to_action and kind not in first_seen:
            first_seen[kind] = row
            if opts.actions is None:
                kind_to_action[kind] = identifier(kind)
            elif kind in opts.actions:
                kind_to_action[kind] = opts.actions[kind]
        if kind not in kind_to_action:
            used[row] = False
            if opts.drop_unknown:
                notes.add(
                    "unknown attack kind dropped",
                    _located(frame, row, "label", f"attack kind {kind!r} maps to no action"),
                )
    if opts.actions is not None and not opts.drop_unknown:
        for kind, row in first_seen.items():
            if kind not in kind_to_action:
                count = sum(1 for k in kinds if k == kind)
                errors.append(
                    _located(
                        frame,
                        row,
                        "label",
                        f"attack kind {kind!r} ({count} samples) maps to no action: map it "
                        f"(--action {kind}=NAME) or drop it (--drop-unknown)",
                    )
                )
    actions = tuple(dict.fromkeys(kind_to_action.values()))
    if opts.compliant in actions:
        errors.append(
            Finding(
                file=", ".join(samples.files),
                key="label",
                message=f"an attack kind maps to the compliant action's name {opts.compliant!r}",
            )
        )
    action_of = np.array(
        [opts.compliant if k == HONEST else kind_to_action.get(k or "", "") for k in kinds],
        dtype=object,
    )
    honest_rows = used & (action_of == opts.compliant)
    if not honest_rows.any():
        errors.append(
            Finding(
                file=", ".join(samples.files),
                key="label",
                message="no honest samples: a monitor's flag rate is measured on them",
            )
        )
    if not actions:
        errors.append(
            Finding(
                file=", ".join(samples.files),
                key="label",
                message="no attack samples: detection is measured on them",
            )
        )
    if errors:
        raise SpecError(errors)

    n_dist = len(samples.monitors) * (1 + len(actions))
    delta_each = opts.delta / n_dist if opts.delta is not None else None
    curves: list[MonitorCurve] = []
    call_cost: dict[str, float] = {}
    binormal: dict[str, Mapping[str, tuple[float, float]]] = {}
    for monitor in samples.monitors:
        column = SCORE_PREFIX + monitor
        scores = samples.scores(monitor)
        finite = np.isfinite(scores)
        bad = np.flatnonzero(used & ~finite)
        for row in bad.tolist():
            notes.add(
                f"missing or non-finite score in {column} (sample dropped for this monitor)",
                _located(frame, row, column, "missing or non-finite score"),
            )
        ok = used & finite
        honest = scores[ok & honest_rows]
        attacks: dict[str, np.ndarray] = {}
        for action in actions:
            chosen = scores[ok & (action_of == action)]
            if len(chosen) == 0:
                notes.add(
                    "monitor without scores for an action",
                    Finding(
                        file=", ".join(samples.files),
                        key=column,
                        message=f"no scores for action {action!r}: the monitor is not "
                        "credited with detecting it",
                    ),
                )
                continue
            attacks[action] = chosen
        if len(honest) == 0:
            raise SpecError.single(
                ", ".join(samples.files), f"no honest sample has a score in {column}", key=column
            )
        if not attacks:
            continue
        if opts.roc == "binormal" and all(map(fittable, [honest, *attacks.values()])):
            curve, binormal[monitor] = fit_binormal(monitor, honest, attacks, delta_each)
            for label, scores in [(opts.compliant, honest), *attacks.items()]:
                if (misfit := normal_misfit(scores)) is not None:
                    notes.add(
                        "scores the binormal model does not fit",
                        Finding(
                            file=", ".join(samples.files),
                            key=column,
                            message=f"{label!r}: the scores are not normal (Kolmogorov-Smirnov "
                            f"distance {misfit[0]:.3f} to the fitted normal > {misfit[1]:.3f}, "
                            "rejected at level 0.05): the binormal curve and its band are "
                            "not to be trusted; fit the empirical curve (--roc empirical)",
                        ),
                    )
        else:
            if opts.roc == "binormal":
                notes.add(
                    "monitor fitted empirically (too few or equal scores for a normal)",
                    Finding(
                        file=", ".join(samples.files),
                        key=column,
                        message=f"a class has fewer than 3 scores or all equal: {monitor!r} "
                        "gets the empirical curve"
                        + ("" if delta_each is None else f" and {opts.band} band"),
                    ),
                )
            curve = fit_curve(monitor, honest, attacks, delta_each, opts.band)
        if np.unique(np.concatenate([honest, *attacks.values()])).size == 1:
            notes.add(
                "monitor that never fires",
                Finding(
                    file=", ".join(samples.files),
                    key=column,
                    message=f"every score is {float(honest[0])!r}: the monitor never "
                    "separates attacks from honest work (its curve is random "
                    "auditing)",
                ),
            )
        elif delta_each is not None:
            for action in attacks:
                if not curve.informative(action) and curve.auc[action] > 0.5:
                    need = samples_for_width(0.05, delta_each)
                    notes.add(
                        "fewer samples than a band needs",
                        Finding(
                            file=", ".join(samples.files),
                            key=column,
                            message=f"action {action!r}: with {curve.n_honest} honest and "
                            f"{curve.n_attack[action]} attack samples the band (widths "
                            f"{curve.eps_honest:.3f}, {curve.eps_attack[action]:.3f}) leaves "
                            f"no detection beyond random audits; about {need} of each give "
                            "bands of width 0.05",
                        ),
                    )
        curves.append(curve)
        costs = np.asarray(frame[COST_PREFIX + monitor], dtype=float)[ok]
        costs = costs[np.isfinite(costs)]
        call_cost[monitor] = float(costs.mean()) if costs.size else math.nan
    if not curves:
        raise SpecError.single(", ".join(samples.files), "no monitor has scores for any attack")
    _check_named(opts, actions, [c.monitor for c in curves])
    counts = {opts.compliant: int(honest_rows.sum())}
    for action in actions:
        counts[action] = int((used & (action_of == action)).sum())
    result_notes = tuple(notes.listed)
    dropped = dict(notes.counts)
    text = _spec_text(
        samples,
        opts,
        curves,
        actions,
        kind_to_action,
        counts,
        dropped,
        call_cost,
        delta_each,
        binormal,
    )
    spec = parse_spec_text(text, file="<deter fit>", name=opts.name)
    return FitResult(
        curves=tuple(curves),
        actions=actions,
        kinds=kind_to_action,
        counts=counts,
        notes=result_notes,
        dropped=dropped,
        call_cost=call_cost,
        delta=opts.delta,
        delta_each=delta_each,
        text=text,
        spec=spec,
        binormal=binormal,
    )


def fit_spec_text(samples: Samples, options: FitOptions | None = None) -> str:
    return fit_samples(samples, options).text


@dataclass(frozen=True)
class FitRecord:
    """What a spec written by ``deter fit`` says of its fit: the settings to fit the same
    curves again, and the files it read (path, SHA-256)."""

    options: FitOptions
    monitors: Mapping[str, str]  # spec monitor -> score column (without the prefix)
    files: tuple[tuple[str, str], ...]
    columns: tuple[str, ...] = ()  # the score columns the fit read (its --monitor choice)


_FILE = re.compile(r"^# file: (.*) \(sha256 ([0-9a-f]{64})\)$")


def fit_record(text: str) -> FitRecord | None:
    """The record of a fitted spec's text, or None when it was not written by ``deter fit``
    (or by a version that did not record its settings)."""
    settings: dict[str, Any] | None = None
    files: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            if line.strip():
                break  # the comments of a fit come first
            continue
        if line.startswith(FIT_LINE):
            try:
                settings = json.loads(line[len(FIT_LINE) :])
            except json.JSONDecodeError:
                return None
        elif (found := _FILE.match(line)) is not None:
            files.append((found.group(1), found.group(2)))
    if not isinstance(settings, dict):
        return None
    try:
        options = FitOptions(
            delta=None if settings["delta"] is None else float(settings["delta"]),
            band=str(settings["band"]),
            roc=str(settings.get("roc", "empirical")),
            actions={str(k): str(v) for k, v in settings["actions"].items()},
            drop_unknown=bool(settings["drop_unknown"]),
            compliant=str(settings["compliant"]),
        )
        monitors = {str(k): str(v) for k, v in settings["monitors"].items()}
        columns = tuple(str(c) for c in settings.get("columns", monitors.values()))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return FitRecord(options, monitors, tuple(files), columns)


def _check_named(opts: FitOptions, actions: Sequence[str], monitors: Sequence[str]) -> None:
    """Every action --gain names and every monitor --audit-cost names is in the fit: a
    typo would otherwise leave that action at the default gain (or a placeholder) and that
    monitor at the default cost, silently."""
    findings = []
    known = {"--gain": [opts.compliant, *actions], "--audit-cost": list(monitors)}
    for flag, given in (("--gain", opts.gains), ("--audit-cost", opts.audit_cost)):
        for name in given:
            if name not in known[flag]:
                what = "action" if flag == "--gain" else "monitor"
                findings.append(
                    Finding(
                        file="<options>",
                        key=f"{flag} {name}",
                        message=f"no {what} {name!r} in the fit; "
                        f"its {what}s: {', '.join(known[flag])}",
                    )
                )
    if findings:
        raise SpecError(findings)


def _located(frame: Any, row: int, column: str, message: str) -> Finding:
    line = int(frame["line"].iat[row])
    where = str(frame["where"].iat[row])
    return Finding(
        file=str(frame["source"].iat[row]),
        key=column,
        message=f"{where}: {message}" if line < 0 else message,
        line=line if line >= 0 else None,
    )


def _number(x: float) -> str:
    return repr(float(x))


def _spec_text(
    samples: Samples,
    opts: FitOptions,
    curves: list[MonitorCurve],
    actions: tuple[str, ...],
    kinds: Mapping[str, str],
    counts: Mapping[str, int],
    dropped: Mapping[str, int],
    call_cost: Mapping[str, float],
    delta_each: float | None,
    binormal: Mapping[str, Mapping[str, tuple[float, float]]],
) -> str:
    date = opts.date or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        SCHEMA_LINE,
        f"# Fitted by `deter fit` at {date} from scored trajectories (docs/ai-control.md).",
    ]
    for file, digest in zip(samples.files, samples.digests, strict=True):
        lines.append(f"{FILE_LINE}{file} (sha256 {digest})")
    used = sum(counts.values())
    lines.append(
        f"# samples: {len(samples)} read, {used} used: "
        + ", ".join(f"{a} {n}" for a, n in counts.items())
    )
    for reason, count in sorted(dropped.items()):
        lines.append(f"# dropped or noted: {count} x {reason}")
    if opts.roc == "binormal":
        lines.append(
            "# curves: binormal (a normal per class, maximum likelihood), made concave"
            + (
                " (no confidence band)."
                if opts.delta is None
                else f"; the pessimistic edge of exact joint confidence regions for each "
                f"class's mean and SD, all holding together with probability >= "
                f"{1 - opts.delta:g} (each at {delta_each:.3g}) IF the scores are normal."
            )
        )
    elif opts.delta is None:
        lines.append("# curves: empirical operating points (no confidence band).")
    else:
        kind = (
            "one-sided DKW bands (Massart 1990)"
            if opts.band == "dkw"
            else "binomial bands on a grid of rates (Bonferroni)"
        )
        lines.append(
            f"# curves: the pessimistic edge of {kind}; all hold "
            f"together with probability >= {1 - opts.delta:g} (each at {delta_each:.3g})."
        )
    mapping = ", ".join(f"{k} -> {a}" for k, a in kinds.items())
    lines.append(f"# attack kinds: {mapping}")
    settings = {
        "delta": opts.delta,
        "band": opts.band,
        "roc": opts.roc,
        "compliant": opts.compliant,
        "actions": dict(kinds),
        "drop_unknown": opts.drop_unknown,
        "monitors": {identifier(c.monitor): c.monitor for c in curves},
        "columns": list(samples.monitors),  # every score column read (delta is split over them)
    }
    lines.append(FIT_LINE + json.dumps(settings, separators=(", ", ": ")))
    placeholders = []
    if opts.penalty_cap is None:
        placeholders.append(f"penalty_cap {PLACEHOLDER_CAP:g}")
    if opts.default_gain is None and any(a not in opts.gains for a in actions):
        placeholders.append(f"gain {PLACEHOLDER_GAIN:g} of actions without --gain")
    if placeholders:
        lines.append("# PLACEHOLDERS (not in the data; set them): " + "; ".join(placeholders))
    description = f"Fitted from {used} scored samples ({', '.join(samples.files)})" + (
        "" if opts.delta is None else f"; robust at delta = {opts.delta:g}"
    )
    cap = PLACEHOLDER_CAP if opts.penalty_cap is None else opts.penalty_cap
    lines += [
        "",
        "version = 1",
        "",
        "[problem]",
        f"name = {_toml_string(opts.name)}",
        f"description = {_toml_string(description)}",
        "",
        "[agent]",
        f"compliant = {_toml_string(opts.compliant)}",
        f"penalty_cap = {_number(cap)}",
    ]
    if opts.budget is not None:
        lines += ["", "[oversight]", f"budget = {_number(opts.budget)}"]
    lines += [
        "",
        "[[actions]]",
        f"name = {_toml_string(opts.compliant)}",
        f"gain = {_number(opts.gains.get(opts.compliant, 0.0))}",
    ]
    for action in actions:
        gain = opts.gains.get(action, opts.default_gain)
        lines += [
            "",
            "[[actions]]",
            f"name = {_toml_string(action)}",
            f"gain = {_number(PLACEHOLDER_GAIN if gain is None else gain)}"
            + ("  # placeholder" if gain is None else ""),
        ]
    for curve in curves:
        name = identifier(curve.monitor)
        cost = opts.audit_cost.get(curve.monitor, opts.default_audit_cost)
        lines += ["", "[[monitors]]"]
        lines.append(
            f"# {curve.n_honest} honest samples (band {curve.eps_honest:.4f}); attack samples "
            + ", ".join(
                f"{a} {n} (band {curve.eps_attack[a]:.4f}, AUC {curve.auc[a]:.4f})"
                for a, n in curve.n_attack.items()
            )
        )
        if not math.isnan(call_cost[curve.monitor]):
            lines.append(f"# cost per call (paid on every episode): {call_cost[curve.monitor]:.6g}")
        if curve.monitor in binormal:
            lines.append(
                "# binormal (a, b), TPR = Phi(a + b Phi^-1(FPR)): "
                + ", ".join(
                    f"{a} ({ab[0]:.4f}, {ab[1]:.4f})" for a, ab in binormal[curve.monitor].items()
                )
            )
        thresholds = ", ".join(_threshold(t) for t in curve.thresholds)
        lines.append(f"# thresholds (flag when score >= t), one per point: [{thresholds}]")
        lines += [f"name = {_toml_string(name)}", f"cost = {_number(cost)}"]
        if opts.max_rate is not None:
            lines.append(f"max_rate = {_number(opts.max_rate)}")
        rocs = []
        for action in curve.tpr:
            points = ", ".join(f"[{_number(x)}, {_number(y)}]" for x, y in curve.points(action))
            rocs.append(f"{_toml_string(action)} = [{points}]")
        lines.append("roc = { " + ", ".join(rocs) + " }")
    return "\n".join(lines) + "\n"


def _threshold(t: float) -> str:
    return "inf" if t == math.inf else ("-inf" if t == -math.inf else f"{t:.6g}")


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


__all__ = [
    "FitOptions",
    "FitRecord",
    "FitResult",
    "band_width",
    "fit_record",
    "fit_samples",
    "fit_spec_text",
]
