"""The policy document: a designed policy as versioned, self-contained JSON.

Everything a runtime needs to run the policy without the solver: the monitors and their
rates, the detection matrix and false-flag rates, the penalties, the audit schedule, the
spec's name and content hash, and the figures the policy was designed to achieve.

This module has two halves. Reading and checking a document (:func:`validate_policy`,
:func:`load_policy_text`) and deriving new documents from one (:func:`with_rates`,
:func:`scaled`) use only the standard library and numpy, because the runtime imports them
and a serving process must not pay for cvxpy or scipy. Building a document from a solved
spec (:func:`build_policy`) imports the solver's result types only.

Layout (``version`` 1)::

    {
      "format": "deter-policy", "version": 1, "label": "optimal",
      "spec": {"name", "file", "sha256", "currency"},
      "compliant": "honest", "schedule": "coordinated", "risk_aversion": 0.0,
      "actions": [{"name", "gain"}],                 # gains as the solver took them
      "monitors": [{"name", "cost", "min_rate", "max_rate", "false_positive"}],
      "rates": {"monitor": rate},                    # exactly as `deter solve -f json`
      "detection": {"monitor": {"action": q}},        # P(caught | action, monitor runs)
      "penalties": {"action": F},                    # every non-compliant action
      "false_positive_penalty": F_fp, "penalty_design": "fixed",
      "designed": {"source", "cost_per_episode", "total_cost",
                   "detection": {"action": P}, "false_flag_rate": P_0,
                   "induced_action", "deterred"},
      "notes": [...]
    }
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..results.errors import SpecError, SpecIssue, UnsupportedError
from ..results.json_depth import TooDeep, check_depth
from ..spec.document import did_you_mean
from .arrays import SCHEDULES, PolicyArrays

if TYPE_CHECKING:
    from ..results.result import Result
    from ..spec.document import Spec
    from .roc import Calibrated

POLICY_FORMAT = "deter-policy"
POLICY_VERSION = 1
#: Policy documents larger than this are refused before they are parsed.
MAX_POLICY_BYTES = 20_000_000


class PolicyError(SpecError):
    """A policy document cannot be read or is invalid (exit code 2, like a bad spec)."""


class UnsupportedPolicy(PolicyError, UnsupportedError):
    """A valid document a reader cannot run (ROC monitors in the episode auditor): exit
    code 4, as for any valid input a command does not support."""


# --- building ------------------------------------------------------------------------------


def spec_sha256(spec: Spec) -> str:
    """SHA-256 of the validated spec as canonical JSON: comments and layout do not count."""
    data = spec.model_dump(mode="json")
    # Tables added after documents were exported count only when set, so a spec without them
    # keeps the hash its documents carry ([learner], issue 23).
    for table in ("learner", "horizon"):  # [learner] and [horizon], issue 23
        if data.get(table) is None:
            data.pop(table, None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def build_policy(
    spec: Spec,
    result: Result,
    *,
    schedule: str = "coordinated",
    label: str = "optimal",
    calibration: Mapping[str, Calibrated] | None = None,
    calibration_file: str = "<calibration>",
) -> dict[str, Any]:
    """The policy document of a solved spec (``result`` must be optimal).

    Rates and penalties are copied from ``result`` unchanged, so the document's ``rates``
    equal ``deter solve --format json``'s, and each penalty is the chosen one under a
    penalty design, the cap otherwise. ROC monitors get a ``roc`` entry (:mod:`.roc`): the
    detection designed at their rate and, with ``calibration`` (``deter fit``'s), the two
    score thresholds that realise it.
    """
    from ..spec.strategy import worst_case_gain

    if result.status != "optimal":
        raise ValueError(f"only an optimal result becomes a policy, not {result.status!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    from .roc import roc_section

    monitors = spec.all_monitors()
    roc = roc_section(spec, result, calibration, calibration_file)
    compliant = spec.compliant_action
    by_action = {a.name: a for a in result.actions}
    by_monitor = {m.name: m for m in result.monitors}
    notes = list(result.notes)
    if spec.types:
        notes.append(
            "the spec has [[types]]; actions' gains are the worst case the solver deterred"
        )
    if spec.oversight.detection != "linear":
        notes.append(
            f"the spec's detection is {spec.oversight.detection!r}; the runtime draws each "
            "running monitor's catch independently, as the model's schedule assumes"
        )
    if roc:
        notes.append(
            f"monitors {', '.join(roc)} are described by ROC curves: they score every "
            "episode and flag at their rate; run this policy with the control loop "
            "(deter.solver.control.loop.ControlRuntime or the Inspect approver), which "
            "applies their thresholds to the scores; deter.runtime.Auditor refuses it"
            + (
                ""
                if all("rule" in e for e in roc.values())
                else "; thresholds need deter export --calibration (from deter fit --calibration)"
            )
        )
    induced = result.strategy.induced_action if result.strategy is not None else None
    deterred = all(a.deterred for a in result.actions)
    doc: dict[str, Any] = {
        "format": POLICY_FORMAT,
        "version": POLICY_VERSION,
        "label": label,
        "spec": {
            "name": spec.name,
            "file": result.file,
            "sha256": spec_sha256(spec),
            "currency": spec.problem.currency,
        },
        "compliant": compliant,
        "schedule": schedule,
        "risk_aversion": spec.agent.risk_aversion,
        "actions": [
            {"name": a.name, "gain": worst_case_gain(a.gain, a.name == compliant)}
            for a in spec.actions
        ],
        "monitors": [
            {
                "name": m.name,
                "cost": m.cost,
                "min_rate": m.min_rate,
                "max_rate": m.max_rate,
                "false_positive": m.false_positive,
            }
            for m in monitors
        ],
        "rates": {m.name: by_monitor[m.name].rate for m in monitors},
        "detection": {
            m.name: {a: q for a, q in m.detects.items() if q > 0 and a != compliant}
            for m in monitors
        },
        "penalties": {
            a.name: by_action[a.name].penalty for a in spec.actions if a.name != compliant
        },
        "false_positive_penalty": spec.agent.false_positive_penalty,
        "penalty_design": result.penalty_design,
        "designed": {
            "source": "solver",
            "status": result.status,
            "cost_per_episode": result.oversight_cost
            if result.oversight_cost is not None
            else result.total_cost,
            "total_cost": result.total_cost,
            "detection": {a.name: a.detection for a in result.actions if a.name != compliant},
            "false_flag_rate": by_action[compliant].detection,
            "induced_action": induced if induced is not None else compliant,
            "deterred": deterred,
        },
        "notes": notes,
    }
    if roc:
        doc["roc"] = roc
    return validate_policy(doc, file=result.file)


# --- deriving ------------------------------------------------------------------------------


def with_rates(
    doc: Mapping[str, Any],
    rates: Mapping[str, float],
    *,
    label: str,
    penalties: Mapping[str, float] | None = None,
    false_positive_penalty: float | None = None,
) -> dict[str, Any]:
    """A copy of ``doc`` with other rates (and penalties), its designed figures recomputed.

    Unnamed monitors keep their rates. The designed figures become what the runtime's
    schedule gives at these rates (``designed.source = "derived"``): the oversight cost
    sum_j c_j x_j and each action's exact detection probability; the policy is not
    re-solved, so ``induced_action`` is the rational best response at those figures.
    """
    new = json.loads(json.dumps(doc))
    unknown = set(rates) - set(new["rates"])
    if unknown:
        raise ValueError(f"unknown monitor(s): {', '.join(sorted(unknown))}")
    for name, rate in rates.items():
        new["rates"][name] = float(min(1.0, max(0.0, rate)))
    if penalties is not None:
        new["penalties"].update({k: float(v) for k, v in penalties.items()})
    if false_positive_penalty is not None:
        new["false_positive_penalty"] = float(false_positive_penalty)
    new["label"] = label
    new["designed"] = derived_figures(new)
    return validate_policy(new)


def scaled(doc: Mapping[str, Any], factor: float, *, label: str | None = None) -> dict[str, Any]:
    """``doc`` with every rate multiplied by ``factor`` (clipped to [0, 1])."""
    rates = {name: float(rate) * factor for name, rate in doc["rates"].items()}
    return with_rates(doc, rates, label=label or f"{doc.get('label', 'policy')} x{factor:g}")


def derived_figures(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Designed figures of ``doc`` computed from its own rates and schedule (no solver)."""
    refuse_roc(doc, "derived figures")
    arrays = PolicyArrays.from_document(doc)
    detection = arrays.exact_detection()
    free, caught = arrays.utilities()
    expected = (1 - detection) * free + detection * caught
    # Ties go to compliance, as the solver's verification breaks them.
    best = int(np.argmax(expected))
    if expected[best] <= expected[arrays.compliant] + 1e-9 * max(1.0, abs(expected[best])):
        best = arrays.compliant
    return {
        "source": "derived",
        "status": "derived",
        "cost_per_episode": float(arrays.cost @ arrays.rates),
        "total_cost": float(arrays.cost @ arrays.rates),
        "detection": {
            name: float(detection[i])
            for i, name in enumerate(arrays.action_names)
            if i != arrays.compliant
        },
        "false_flag_rate": float(detection[arrays.compliant]),
        "induced_action": arrays.action_names[best],
        "deterred": best == arrays.compliant,
    }


def refuse_roc(doc: Mapping[str, Any], what: str) -> None:
    """Raise :class:`UnsupportedPolicy` when ``doc`` has ROC monitors: the episode game
    (a monitor runs at its rate, then catches with a probability) cannot hold a monitor that
    scores every episode and flags by threshold."""
    if doc.get("roc"):
        raise UnsupportedPolicy.single(
            "<policy>",
            f"{what}: monitors {', '.join(doc['roc'])} are described by ROC curves; run the "
            "policy with deter.solver.control.loop.ControlRuntime or the Inspect approver "
            "(docs/ai-control.md)",
            key="roc",
        )


# --- reading and checking ------------------------------------------------------------------

_TOP = {
    "format": "the document's kind, 'deter-policy'",
    "version": "the policy format version",
    "label": "a name for this policy",
    "spec": "where the policy came from",
    "compliant": "the compliant action",
    "schedule": "'coordinated' or 'independent'",
    "risk_aversion": "the agent's CARA coefficient",
    "actions": "the actions, with their gains",
    "monitors": "the monitors",
    "rates": "each monitor's rate",
    "detection": "P(caught | action, monitor runs)",
    "penalties": "each non-compliant action's penalty",
    "false_positive_penalty": "what a falsely flagged compliant agent pays",
    "penalty_design": "how the penalties were set",
    "designed": "the figures the policy was designed to achieve",
    "notes": "caveats",
    "roc": "ROC monitors: designed detection and the thresholds that realise each rate",
}
_OPTIONAL = {"notes", "penalty_design", "risk_aversion", "label", "roc"}


class _Checker:
    """Collects every problem of a document at once, each with its key path."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.issues: list[SpecIssue] = []

    def add(self, key: str, message: str) -> None:
        self.issues.append(SpecIssue(file=self.file, key=key, message=message))

    def number(
        self, value: Any, key: str, low: float | None = None, high: float | None = None
    ) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(key, f"must be a number, not {_kind(value)}")
            return False
        if not math.isfinite(value):
            self.add(key, f"must be a finite number, not {value}")
            return False
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
            self.add(key, f"must be in {bounds}, not {value:g}")
            return False
        return True

    def string(self, value: Any, key: str) -> bool:
        if not isinstance(value, str) or not value:
            self.add(key, f"must be a non-empty string, not {_kind(value)}")
            return False
        return True

    def mapping(self, value: Any, key: str) -> bool:
        if not isinstance(value, dict):
            self.add(key, f"must be an object, not {_kind(value)}")
            return False
        return True

    def keys(self, value: dict[str, Any], key: str, allowed: set[str], required: set[str]) -> None:
        for name in value:
            if name not in allowed:
                self.add(
                    f"{key}.{name}" if key else name,
                    f"unknown key {name!r}" + did_you_mean(name, allowed),
                )
        for name in sorted(required - set(value)):
            self.add(f"{key}.{name}" if key else name, "is missing")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def validate_policy(doc: Any, file: str = "<policy>") -> dict[str, Any]:
    """Check a policy document; return it, or raise :class:`PolicyError` listing every problem."""
    check = _Checker(file)
    if not isinstance(doc, dict):
        raise PolicyError(
            [SpecIssue(file, "", f"a policy document is a JSON object, not {_kind(doc)}")]
        )
    if doc.get("format") != POLICY_FORMAT:
        raise PolicyError(
            [
                SpecIssue(
                    file,
                    "format",
                    f"is {doc.get('format')!r}, not {POLICY_FORMAT!r}: "
                    "this is not a deter policy document",
                )
            ]
        )
    version = doc.get("version")
    if type(version) is not int or version != POLICY_VERSION:
        raise PolicyError(
            [
                SpecIssue(
                    file,
                    "version",
                    f"unsupported policy format version {version!r}; "
                    f"this deter reads version {POLICY_VERSION}",
                )
            ]
        )
    check.keys(doc, "", set(_TOP), set(_TOP) - _OPTIONAL)

    actions: list[str] = []
    if isinstance(doc.get("actions"), list) and doc["actions"]:
        for i, action in enumerate(doc["actions"]):
            key = f"actions[{i}]"
            if not check.mapping(action, key):
                continue
            check.keys(action, key, {"name", "gain"}, {"name", "gain"})
            if check.string(action.get("name"), f"{key}.name"):
                if action["name"] in actions:
                    check.add(f"{key}.name", f"duplicate action name {action['name']!r}")
                actions.append(action["name"])
            if "gain" in action:
                check.number(action["gain"], f"{key}.gain")
    elif "actions" in doc:
        check.add("actions", "must be a non-empty list of actions")

    monitors: list[str] = []
    if isinstance(doc.get("monitors"), list):
        for j, monitor in enumerate(doc["monitors"]):
            key = f"monitors[{j}]"
            if not check.mapping(monitor, key):
                continue
            fields = {"name", "cost", "min_rate", "max_rate", "false_positive"}
            check.keys(monitor, key, fields, {"name", "cost", "false_positive"})
            if check.string(monitor.get("name"), f"{key}.name"):
                if monitor["name"] in monitors:
                    check.add(f"{key}.name", f"duplicate monitor name {monitor['name']!r}")
                monitors.append(monitor["name"])
            if "cost" in monitor:
                check.number(monitor["cost"], f"{key}.cost", 0.0)
            for name in ("min_rate", "max_rate", "false_positive"):
                if name in monitor:
                    check.number(monitor[name], f"{key}.{name}", 0.0, 1.0)
    elif "monitors" in doc:
        check.add("monitors", "must be a list of monitors")

    compliant: Any = doc.get("compliant")
    if (
        "compliant" in doc
        and check.string(compliant, "compliant")
        and actions
        and compliant not in actions
    ):
        check.add("compliant", f"unknown action {compliant!r}" + did_you_mean(compliant, actions))
    if "schedule" in doc and doc["schedule"] not in SCHEDULES:
        check.add("schedule", f"must be one of {', '.join(SCHEDULES)}, not {doc['schedule']!r}")
    if "risk_aversion" in doc:
        check.number(doc["risk_aversion"], "risk_aversion")
    if "label" in doc and not isinstance(doc["label"], str):
        check.add("label", f"must be a string, not {_kind(doc['label'])}")
    if "false_positive_penalty" in doc:
        check.number(doc["false_positive_penalty"], "false_positive_penalty", 0.0)

    rates: Any = doc.get("rates")
    if "rates" in doc and check.mapping(rates, "rates"):
        for name, rate in rates.items():
            if name not in monitors:
                check.add(
                    f"rates.{name}", f"unknown monitor {name!r}" + did_you_mean(name, monitors)
                )
            else:
                check.number(rate, f"rates.{name}", 0.0, 1.0)
        for name in monitors:
            if name not in rates:
                check.add(f"rates.{name}", "is missing: every monitor needs a rate")

    detection: Any = doc.get("detection")
    if "detection" in doc and check.mapping(detection, "detection"):
        for name, row in detection.items():
            if name not in monitors:
                check.add(
                    f"detection.{name}", f"unknown monitor {name!r}" + did_you_mean(name, monitors)
                )
                continue
            if not check.mapping(row, f"detection.{name}"):
                continue
            for action, q in row.items():
                key = f"detection.{name}.{action}"
                if action not in actions:
                    check.add(key, f"unknown action {action!r}" + did_you_mean(action, actions))
                elif action == compliant:
                    check.add(
                        key,
                        "the compliant action is not detected; "
                        "false flags are the monitor's false_positive",
                    )
                else:
                    check.number(q, key, 0.0, 1.0)

    penalties: Any = doc.get("penalties")
    if "penalties" in doc and check.mapping(penalties, "penalties"):
        for action, value in penalties.items():
            if action not in actions or action == compliant:
                check.add(
                    f"penalties.{action}",
                    f"not a non-compliant action {action!r}" + did_you_mean(action, actions),
                )
            else:
                check.number(value, f"penalties.{action}", 0.0)
        for action in actions:
            if action != compliant and action not in penalties:
                check.add(
                    f"penalties.{action}", "is missing: every non-compliant action needs a penalty"
                )

    if "spec" in doc and check.mapping(doc["spec"], "spec"):
        check.keys(doc["spec"], "spec", {"name", "file", "sha256", "currency"}, {"name", "sha256"})
        for name in ("name", "sha256"):
            if name in doc["spec"]:
                check.string(doc["spec"][name], f"spec.{name}")

    designed: Any = doc.get("designed")
    if "designed" in doc and check.mapping(designed, "designed"):
        allowed = {
            "source",
            "status",
            "cost_per_episode",
            "total_cost",
            "detection",
            "false_flag_rate",
            "induced_action",
            "deterred",
        }
        check.keys(
            designed, "designed", allowed, {"cost_per_episode", "detection", "false_flag_rate"}
        )
        if "cost_per_episode" in designed:
            check.number(designed["cost_per_episode"], "designed.cost_per_episode", 0.0)
        if "false_flag_rate" in designed:
            check.number(designed["false_flag_rate"], "designed.false_flag_rate", 0.0, 1.0)
        if "detection" in designed and check.mapping(designed["detection"], "designed.detection"):
            for action, p in designed["detection"].items():
                if action not in actions:
                    check.add(f"designed.detection.{action}", f"unknown action {action!r}")
                else:
                    check.number(p, f"designed.detection.{action}", 0.0, 1.0)
    if "roc" in doc and check.mapping(doc["roc"], "roc"):
        _check_roc(check, doc["roc"], monitors, actions, compliant)
    if "notes" in doc and not (
        isinstance(doc["notes"], list) and all(isinstance(n, str) for n in doc["notes"])
    ):
        check.add("notes", "must be a list of strings")
    if check.issues:
        raise PolicyError(check.issues)
    return doc


_RULE = {"high_threshold", "low_threshold", "high_weight", "high_rate", "low_rate"}


def _check_roc(
    check: _Checker, roc: dict[str, Any], monitors: list[str], actions: list[str], compliant: Any
) -> None:
    from .roc import threshold_value

    for name, entry in roc.items():
        key = f"roc.{name}"
        if name not in monitors:
            check.add(key, f"unknown monitor {name!r}" + did_you_mean(name, monitors))
            continue
        if not check.mapping(entry, key):
            continue
        check.keys(entry, key, {"points", "detection", "rule"}, {"points", "detection"})
        for part in ("points", "detection"):
            if part not in entry or not check.mapping(entry[part], f"{key}.{part}"):
                continue
            for action, value in entry[part].items():
                where = f"{key}.{part}.{action}"
                if action not in actions or action == compliant:
                    check.add(where, f"not a non-compliant action {action!r}")
                elif part == "detection":
                    check.number(value, where, 0.0, 1.0)
                elif not isinstance(value, list) or not all(
                    isinstance(p, list) and len(p) == 2 for p in value
                ):
                    check.add(where, "must be a list of [fpr, tpr] pairs")
                else:
                    for i, point in enumerate(value):
                        for coordinate in point:
                            check.number(coordinate, f"{where}[{i}]", 0.0, 1.0)
        rule = entry.get("rule")
        if rule is None or not check.mapping(rule, f"{key}.rule"):
            continue
        check.keys(rule, f"{key}.rule", _RULE, _RULE)
        for part in ("high_weight", "high_rate", "low_rate"):
            if part in rule:
                check.number(rule[part], f"{key}.rule.{part}", 0.0, 1.0)
        limits = []
        for part in ("high_threshold", "low_threshold"):
            if part in rule:
                try:
                    limits.append(threshold_value(rule[part]))
                except ValueError as exc:
                    check.add(f"{key}.rule.{part}", str(exc))
        if len(limits) == 2 and limits[0] < limits[1]:
            check.add(f"{key}.rule", "high_threshold must be at least low_threshold")


def load_policy_text(text: str | bytes, file: str = "<policy>") -> dict[str, Any]:
    """Parse and check a policy document's JSON text."""
    if isinstance(text, bytes):
        if len(text) > MAX_POLICY_BYTES:
            raise PolicyError.single(
                file, f"the document is over the limit of {MAX_POLICY_BYTES:,} bytes"
            )
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError.single(file, "the document is not UTF-8 text") from None
    try:
        check_depth(text)  # hostile nesting: refused where it is, not a RecursionError
    except TooDeep as exc:
        message = f"nested deeper than {exc.limit} levels"
        raise PolicyError.single(file, message, line=exc.line) from None
    try:
        # NaN and Infinity are not JSON; refuse them rather than let them through.
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PolicyError.single(file, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    except ValueError as exc:
        raise PolicyError.single(file, str(exc)) from None
    return validate_policy(doc, file=file)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not valid JSON: {name} is not a number JSON allows")


def load_policy_file(path: str, max_bytes: int = MAX_POLICY_BYTES) -> dict[str, Any]:
    """Read and check a policy document from a file."""
    import os

    try:
        if os.path.isdir(path):
            raise PolicyError.single(path, "is a folder, not a policy document")
        if os.path.getsize(path) > max_bytes:
            raise PolicyError.single(path, f"the file is over the limit of {max_bytes:,} bytes")
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise PolicyError.single(path, "no such file") from None
    except OSError as exc:
        raise PolicyError.single(path, f"cannot read the file: {exc.strerror or exc}") from None
    return load_policy_text(data, file=path)


# --- the JSON Schema -----------------------------------------------------------------------


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of policy documents, version 1."""
    number = {"type": "number"}
    probability = {"type": "number", "minimum": 0, "maximum": 1}
    non_negative = {"type": "number", "minimum": 0}
    name = {"type": "string", "minLength": 1}
    threshold = {"oneOf": [number, {"enum": ["inf", "-inf"]}]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "deter policy document (version 1)",
        "description": "A designed oversight policy, self-contained: "
        "what deter.runtime.Auditor runs.",
        "type": "object",
        "additionalProperties": False,
        "required": sorted(set(_TOP) - _OPTIONAL),
        "properties": {
            "format": {"const": POLICY_FORMAT, "description": _TOP["format"]},
            "version": {"const": POLICY_VERSION, "description": _TOP["version"]},
            "label": {"type": "string", "description": _TOP["label"]},
            "spec": {
                "type": "object",
                "description": _TOP["spec"],
                "additionalProperties": False,
                "required": ["name", "sha256"],
                "properties": {
                    "name": name,
                    "file": {"type": "string"},
                    "sha256": {
                        "type": "string",
                        "description": "SHA-256 of the spec as canonical JSON",
                    },
                    "currency": {"type": "string"},
                },
            },
            "compliant": {**name, "description": _TOP["compliant"]},
            "schedule": {"enum": list(SCHEDULES), "description": _TOP["schedule"]},
            "risk_aversion": {**number, "description": _TOP["risk_aversion"]},
            "actions": {
                "type": "array",
                "minItems": 1,
                "description": _TOP["actions"],
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "gain"],
                    "properties": {"name": name, "gain": number},
                },
            },
            "monitors": {
                "type": "array",
                "description": _TOP["monitors"],
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "cost", "false_positive"],
                    "properties": {
                        "name": name,
                        "cost": non_negative,
                        "min_rate": probability,
                        "max_rate": probability,
                        "false_positive": probability,
                    },
                },
            },
            "rates": {
                "type": "object",
                "description": _TOP["rates"],
                "additionalProperties": probability,
            },
            "detection": {
                "type": "object",
                "description": _TOP["detection"],
                "additionalProperties": {"type": "object", "additionalProperties": probability},
            },
            "penalties": {
                "type": "object",
                "description": _TOP["penalties"],
                "additionalProperties": non_negative,
            },
            "false_positive_penalty": {
                **non_negative,
                "description": _TOP["false_positive_penalty"],
            },
            "penalty_design": {
                "enum": ["fixed", "per_action", "shared"],
                "description": _TOP["penalty_design"],
            },
            "designed": {
                "type": "object",
                "description": _TOP["designed"],
                "additionalProperties": False,
                "required": ["cost_per_episode", "detection", "false_flag_rate"],
                "properties": {
                    "source": {"enum": ["solver", "derived"]},
                    "status": {"type": "string"},
                    "cost_per_episode": non_negative,
                    "total_cost": {"type": ["number", "null"]},
                    "detection": {"type": "object", "additionalProperties": probability},
                    "false_flag_rate": probability,
                    "induced_action": {"type": ["string", "null"]},
                    "deterred": {"type": "boolean"},
                },
            },
            "notes": {"type": "array", "items": {"type": "string"}, "description": _TOP["notes"]},
            "roc": {
                "type": "object",
                "description": _TOP["roc"],
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["points", "detection"],
                    "properties": {
                        "points": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "items": probability,
                                    "minItems": 2,
                                    "maxItems": 2,
                                },
                            },
                        },
                        "detection": {"type": "object", "additionalProperties": probability},
                        "rule": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": sorted(_RULE),
                            "properties": {
                                "high_threshold": threshold,
                                "low_threshold": threshold,
                                "high_weight": probability,
                                "high_rate": probability,
                                "low_rate": probability,
                            },
                        },
                    },
                },
            },
        },
    }
