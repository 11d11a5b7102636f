"""The policy document: a designed policy as versioned, self-contained JSON.

Everything a runtime needs to run the policy without the solver: the monitors and their
rates, the detection matrix and false-flag rates, the penalties, the audit schedule, the
spec's name and content hash, and the figures the policy was designed to achieve.

This module has two halves. Reading and checking a document (:func:`validate_policy`,
:func:`load_policy_text`) and deriving new documents from one (:func:`with_rates`,
:func:`scaled`) use only the standard library, numpy and pydantic (the one definition of a
document's keys is the model in ``schema.py``, which also makes its JSON Schema), because
the runtime imports them and a serving process must not pay for cvxpy or scipy. Building a
document from a solved spec (:func:`build_policy`) imports the solver's result types only.

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
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..results.errors import SpecError, SpecIssue, UnsupportedError
from ..results.json_depth import TooDeep, check_depth
from ..spec.document import did_you_mean
from .arrays import SCHEDULES, PolicyArrays
from .json_lines import locate, value_lines
from .roc import threshold_value
from .schema import POLICY_FORMAT, POLICY_VERSION, key_path, kind_of, shape_issues

if TYPE_CHECKING:
    from ..results.result import Result
    from ..spec.document import Spec
    from .roc import Calibrated

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


def validate_policy(doc: Any, file: str = "<policy>", text: str = "") -> dict[str, Any]:
    """Check a policy document; return it, or raise :class:`PolicyError` listing every problem.

    Each key's shape is checked by the one definition, :class:`~.schema.PolicyDocument` (the
    JSON Schema ``deter schema --policy`` prints is made from it), and the references
    between keys here. ``text``, the document's JSON text, locates each problem's line.
    """
    if not isinstance(doc, dict):
        raise PolicyError(
            [SpecIssue(file, "", f"a policy document is a JSON object, not {kind_of(doc)}")]
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
    if isinstance(version, bool) or version != POLICY_VERSION:  # 1.0 is 1, as in JSON Schema
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
    issues = shape_issues(doc, file, text) + reference_issues(doc, file, text)
    if issues:
        raise PolicyError(sorted(issues, key=lambda issue: issue.line or 0))
    return doc


def reference_issues(doc: Mapping[str, Any], file: str, text: str = "") -> list[SpecIssue]:
    """What a JSON Schema cannot say: names unique, every reference between keys to a name
    the document defines (a rate for each monitor and no other, a penalty for each
    non-compliant action, ...), and an ROC rule's high threshold at least its low one.
    Keys of the wrong shape are :func:`~.schema.shape_issues`' to report and are passed
    over here."""
    lines = value_lines(text) if text else {}
    issues: list[SpecIssue] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        at = locate(lines, loc)
        line, column = at if at else (None, None)
        issues.append(SpecIssue(file, key_path(loc), message, line=line, column=column))

    def names(key: str, what: str) -> list[str] | None:
        """The names a list defines; None when an entry has none (shape_issues says so,
        and references to the list are not checked against a part of it)."""
        found: list[str] = []
        entries = doc.get(key)
        if not isinstance(entries, list):
            return None
        for i, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name:
                return None
            if name in found:
                add((key, i, "name"), f"duplicate {what} name {name!r}")
            found.append(name)
        return found

    actions, monitors = names("actions", "action"), names("monitors", "monitor")
    if not actions:  # none, or an entry without a name: nothing to check references against
        return issues
    compliant = doc.get("compliant")
    if isinstance(compliant, str) and compliant and compliant not in actions:
        add(("compliant",), f"unknown action {compliant!r}" + did_you_mean(compliant, actions))

    rates = doc.get("rates")
    if isinstance(rates, dict) and monitors is not None:
        for name in rates:
            if name not in monitors:
                add(("rates", name), f"unknown monitor {name!r}" + did_you_mean(name, monitors))
        for name in monitors:
            if name not in rates:
                add(("rates", name), "is missing: every monitor needs a rate")

    detection = doc.get("detection")
    if not isinstance(detection, dict) or monitors is None:
        detection, monitors = {}, []
    for name, row in detection.items():
        if name not in monitors:
            add(("detection", name), f"unknown monitor {name!r}" + did_you_mean(name, monitors))
            continue
        for action in row if isinstance(row, dict) else ():
            if action not in actions:
                add(
                    ("detection", name, action),
                    f"unknown action {action!r}" + did_you_mean(action, actions),
                )
            elif action == compliant:
                add(
                    ("detection", name, action),
                    "the compliant action is not detected; "
                    "false flags are the monitor's false_positive",
                )

    penalties = doc.get("penalties")
    if isinstance(penalties, dict):
        for action in penalties:
            if action not in actions or action == compliant:
                add(
                    ("penalties", action),
                    f"not a non-compliant action {action!r}" + did_you_mean(action, actions),
                )
        for action in actions:
            if action != compliant and action not in penalties:
                add(("penalties", action), "is missing: every non-compliant action needs a penalty")

    designed = doc.get("designed")
    caught = designed.get("detection") if isinstance(designed, dict) else None
    for action in caught if isinstance(caught, dict) else ():
        if action not in actions:
            add(
                ("designed", "detection", action),
                f"unknown action {action!r}" + did_you_mean(action, actions),
            )

    roc = doc.get("roc")
    for name, entry in roc.items() if isinstance(roc, dict) and monitors is not None else ():
        if name not in monitors:
            add(("roc", name), f"unknown monitor {name!r}" + did_you_mean(name, monitors))
            continue
        for part in ("points", "detection"):
            table = entry.get(part) if isinstance(entry, dict) else None
            for action in table if isinstance(table, dict) else ():
                if action not in actions or action == compliant:
                    add(("roc", name, part, action), f"not a non-compliant action {action!r}")
        rule = entry.get("rule") if isinstance(entry, dict) else None
        if isinstance(rule, dict):
            try:
                high = threshold_value(rule.get("high_threshold"))
                low = threshold_value(rule.get("low_threshold"))
            except ValueError:
                continue  # a threshold of the wrong shape: shape_issues says so
            if high < low:
                add(("roc", name, "rule"), "high_threshold must be at least low_threshold")
    return issues


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
    return validate_policy(doc, file=file, text=text)


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
