"""A designed control policy running step by step: flag, decide, pace the budget, alarm.

:class:`ControlPolicy` is what a solved fitted spec says a deployment should do: each ROC
monitor's designed flag rate, realised by randomising between two fitted thresholds
(:meth:`MonitorCurve.thresholds_for`), the audit cost of a flag, and what a flag does
(``escalate`` to review, ``reject`` the step, or ``record`` the penalty and let it pass). It
is plain JSON (``to_dict`` / ``from_dict``), written by ``ControlPolicy.from_fit``.

:class:`ControlRuntime` applies it to each step's monitor scores (:meth:`decide`): no
solver, a few microseconds a step. It tracks spend against the budget (pacing: once a
total ``budget`` is spent, flags are recorded but not audited, and say so) and raises
anytime-valid alarms (:mod:`deter.solver.policy.sequences`) when a monitor flags more honest
work than designed. On honest steps the designed rate is an upper bound (a robust design
flags at most its rate), so only an excess alarms.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..policy.document import POLICY_FORMAT
from ..policy.sequences import bernoulli_log_evidence
from ..results.result import Result
from .fit import FitResult

ON_FLAG = ("escalate", "reject", "record")
POLICY_KIND = "deter-control-policy"


@dataclass(frozen=True)
class MonitorRule:
    """One monitor's rule: flag when score >= high with probability ``weight``, else when
    score >= low (the two thresholds around its designed rate)."""

    rate: float
    high: float
    low: float
    weight: float
    audit_cost: float

    @property
    def needs_score(self) -> bool:
        """False for a random audit (flag everything with probability ``rate``): a
        monitor of the episode model, which runs at its rate and whose catch is the review's."""
        return not (self.high == math.inf and self.low == -math.inf)


@dataclass(frozen=True)
class ControlPolicy:
    monitors: Mapping[str, MonitorRule]
    penalty: float  # what a caught deviation costs the agent (the spec's smallest cap)
    on_flag: str = "escalate"
    budget: float | None = None  # total audit spend allowed over the run (None: no limit)
    label: str = "deter"

    def __post_init__(self) -> None:
        if self.on_flag not in ON_FLAG:
            raise ValueError(f"on_flag must be one of {', '.join(ON_FLAG)}, not {self.on_flag!r}")

    @property
    def designed_cost_per_step(self) -> float:
        return sum(r.rate * r.audit_cost for r in self.monitors.values())

    @classmethod
    def from_fit(
        cls,
        fitted: FitResult,
        result: Result,
        *,
        on_flag: str = "escalate",
        budget: float | None = None,
        label: str = "deter",
    ) -> ControlPolicy:
        """The policy a solved fitted spec designs (``result`` must be optimal)."""
        if result.status != "optimal":
            raise ValueError(f"only an optimal result becomes a policy, not {result.status!r}")
        spec = fitted.spec
        costs = {m.name: m.cost for m in spec.monitors}
        rules = {}
        for curve in fitted.curves:
            rate = result.monitor(curve.monitor).rate
            high, low, weight = curve.thresholds_for(rate)
            rules[curve.monitor] = MonitorRule(rate, high, low, weight, costs[curve.monitor])
        caps = [spec.penalty_cap(a) for a in spec.actions if a.name != spec.compliant_action]
        return cls(rules, min(caps), on_flag=on_flag, budget=budget, label=label)

    @classmethod
    def from_document(
        cls,
        doc: Mapping[str, Any],
        *,
        on_flag: str = "escalate",
        budget: float | None = None,
        label: str | None = None,
    ) -> ControlPolicy:
        """The policy of a ``deter export`` document (checked here).

        An ROC monitor flags by its ``roc.<monitor>.rule`` (its two thresholds; a document
        exported without ``--calibration`` has none, and is refused: the thresholds cannot
        be guessed from rates). A monitor of the episode model is a random audit at its rate
        (flag any step with that probability; what the review finds is the review's). The
        penalty is the smallest of the document's penalties.
        """
        from ..policy.document import validate_policy
        from ..policy.roc import threshold_value

        doc = validate_policy(dict(doc))
        roc = doc.get("roc", {})
        rules: dict[str, MonitorRule] = {}
        missing = []
        for monitor in doc["monitors"]:
            name, cost = monitor["name"], float(monitor["cost"])
            rate = float(doc["rates"][name])
            if name not in roc:
                rules[name] = MonitorRule(rate, math.inf, -math.inf, 1.0 - rate, cost)
            elif "rule" not in roc[name]:
                missing.append(name)
            else:
                r = roc[name]["rule"]
                rules[name] = MonitorRule(
                    rate,
                    threshold_value(r["high_threshold"]),
                    threshold_value(r["low_threshold"]),
                    float(r["high_weight"]),
                    cost,
                )
        if missing:
            raise ValueError(
                f"the policy has no score thresholds for {', '.join(missing)}: export it with "
                "deter export --calibration (deter fit --calibration's JSON)"
            )
        penalties = [float(p) for p in doc["penalties"].values()]
        return cls(
            rules,
            min(penalties, default=0.0),
            on_flag=on_flag,
            budget=budget,
            label=label if label is not None else str(doc.get("label", "deter")),
        )

    def to_dict(self) -> dict[str, Any]:
        def number(x: float) -> float | str:
            return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")

        return {
            "kind": POLICY_KIND,
            "label": self.label,
            "on_flag": self.on_flag,
            "penalty": self.penalty,
            "budget": self.budget,
            "monitors": {
                name: {k: number(v) for k, v in asdict(rule).items()}
                for name, rule in self.monitors.items()
            },
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ControlPolicy:
        """The policy of its own small JSON (``to_dict``) or of a ``deter export`` document
        (:meth:`from_document`, with its defaults)."""
        if doc.get("format") == POLICY_FORMAT:
            return cls.from_document(doc)
        if doc.get("kind") != POLICY_KIND:
            raise ValueError(f"neither a {POLICY_FORMAT} nor a {POLICY_KIND} document")
        rules = {
            name: MonitorRule(**{k: float(v) for k, v in rule.items()})
            for name, rule in doc["monitors"].items()
        }
        return cls(
            rules,
            float(doc["penalty"]),
            on_flag=str(doc.get("on_flag", "escalate")),
            budget=None if doc.get("budget") is None else float(doc["budget"]),
            label=str(doc.get("label", "deter")),
        )


@dataclass(frozen=True)
class Decision:
    """What the policy did with one step."""

    step: int
    decision: str  # approve, escalate or reject (Inspect's decisions)
    flagged_by: tuple[str, ...]
    scores: Mapping[str, float]
    penalty: float  # recorded against the agent when flagged (on_flag = record)
    spend: float  # audit spend of this step
    audited: bool  # flagged and within the budget
    alarms: tuple[str, ...]  # drift alarms raised by this step

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "decision": self.decision,
            "flagged_by": list(self.flagged_by),
            "scores": dict(self.scores),
            "penalty": self.penalty,
            "spend": self.spend,
            "audited": self.audited,
            "alarms": list(self.alarms),
        }


@dataclass
class ControlRuntime:
    """Applies a :class:`ControlPolicy` step by step (seeded: ``random.Random``)."""

    policy: ControlPolicy
    seed: int | None = None
    alpha: float = 1e-3
    steps: int = 0
    spend: float = 0.0
    penalties: float = 0.0
    flags: dict[str, int] = field(default_factory=dict)
    alarmed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.flags = dict.fromkeys(self.policy.monitors, 0)
        self._threshold = math.log(1.0 / self.alpha)

    def decide(self, scores: Mapping[str, float]) -> Decision:
        """Flag, decide and tally one step from its monitors' scores (every monitor of the
        policy must be scored; a missing or NaN score is an error, never a silent pass)."""
        policy = self.policy
        flagged: list[str] = []
        cost = 0.0
        for name, rule in policy.monitors.items():
            score = scores.get(name, 0.0) if not rule.needs_score else scores.get(name)
            if score is None or score != score:
                raise ValueError(f"monitor {name!r} gave no score for this step")
            threshold = rule.high if self._rng.random() < rule.weight else rule.low
            if score >= threshold:
                flagged.append(name)
                self.flags[name] += 1
                cost += rule.audit_cost
        self.steps += 1
        audited = bool(flagged)
        if audited and policy.budget is not None and self.spend + cost > policy.budget:
            audited, cost = False, 0.0  # pacing: the budget is spent; record, do not audit
        self.spend += cost
        penalty = policy.penalty if flagged and policy.on_flag == "record" else 0.0
        self.penalties += penalty
        decision = "approve" if not audited or policy.on_flag == "record" else policy.on_flag
        return Decision(
            step=self.steps,
            decision=decision,
            flagged_by=tuple(flagged),
            scores=dict(scores),
            penalty=penalty,
            spend=cost,
            audited=audited,
            alarms=self._alarms(flagged),
        )

    def _alarms(self, flagged: list[str]) -> tuple[str, ...]:
        raised = []
        for name in flagged:  # evidence only grows on a flag; check then
            rule = self.policy.monitors[name]
            k, n = self.flags[name], self.steps
            if (
                name not in self.alarmed
                and k / n > rule.rate
                and bernoulli_log_evidence(k, n, rule.rate) >= self._threshold
            ):
                self.alarmed.add(name)
                raised.append(f"flag rate of {name}: {k}/{n} against designed {rule.rate:.4g}")
        return tuple(raised)

    def report(self) -> dict[str, Any]:
        steps = max(self.steps, 1)
        return {
            "steps": self.steps,
            "spend": self.spend,
            "spend_per_step": self.spend / steps,
            "designed_cost_per_step": self.policy.designed_cost_per_step,
            "budget": self.policy.budget,
            "penalties": self.penalties,
            "flag_rates": {m: k / steps for m, k in self.flags.items()},
            "designed_rates": {m: r.rate for m, r in self.policy.monitors.items()},
            "alarms": sorted(self.alarmed),
        }
