"""The validated, immutable spec model (spec format v1).

A spec is data: this module checks its types, ranges and cross-references and nothing else.
It does not import cvxpy, so ``deter validate`` and ``deter schema`` stay fast.
The contract is documented in ``docs/spec-format.md``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    field_validator,
    model_validator,
)

from .design import detection_and_penalty_problems
from .strategy import Gain, strategy_problems

# Every number is a finite float; TOML integers are accepted, booleans and strings are not.
Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=0)]
Probability = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=0, le=1)]
Name = Annotated[
    str,
    Strict(),
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$",
        description="An identifier: letters, digits, '_' and '-', not starting with a digit.",
    ),
]
Text = Annotated[str, Strict()]

AUDIT_PREFIX = "audit:"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(_Model):
    """Descriptive metadata, shown in tables."""

    name: Text | None = Field(None, description="Defaults to the spec file's stem.")
    description: Text = ""
    currency: Text = Field("", description="A label for money units, shown in tables.")


class Agent(_Model):
    """The agent's preferences and the penalty defaults."""

    compliant: Name | None = Field(
        None, description="The reference (aligned) action; defaults to the first action listed."
    )
    penalty_cap: NonNegative | None = Field(
        None, description="Default penalty cap for every action that sets none."
    )
    risk_aversion: Number = Field(
        0.0, description="CARA coefficient r: 0 neutral, > 0 averse, < 0 seeking."
    )
    margin: NonNegative = Field(
        0.0, description="Compliance must beat every deviation by at least this (utility units)."
    )
    false_positive_penalty: NonNegative = Field(
        0.0, description="Penalty a compliant agent suffers when a monitor falsely flags it."
    )


class Oversight(_Model):
    """Constraints on the principal's policy as a whole."""

    budget: NonNegative | None = Field(
        None, description="Total oversight cost may not exceed this."
    )
    detection: Literal["linear", "exponential"] = Field(
        "linear",
        description="How monitor rates combine into detection: 'linear' min(1, sum q x) or "
        "'exponential' 1 - prod (1 - q)^x (diminishing returns; docs/model.md).",
    )
    objective: Literal["deter_all", "min_loss"] = Field(
        "deter_all",
        description="deter_all: deter every action at least cost; min_loss: minimise oversight "
        "cost plus the harm of the action the agent ends up taking (solver/min_loss.py).",
    )


class Requirements(_Model):
    """What ``deter check`` demands of the optimal policy (CI gating; see requirements.py)."""

    max_cost: NonNegative | None = Field(
        None, description="The optimal oversight cost may not exceed this."
    )
    deter_all: Annotated[bool, Strict()] = Field(True, description="Every action must be deterred.")
    min_margin: NonNegative | None = Field(
        None, description="Every deviation must trail compliance by at least this (net incentive)."
    )
    max_rate: dict[Annotated[str, Strict()], Probability] = Field(
        default_factory=dict, description="Per-monitor ceilings on the optimal rates, by name."
    )


class Action(_Model):
    """One action the agent can take."""

    name: Name
    gain: Gain = Field(
        description="The agent's private gain from this action: a number, or an interval "
        "[low, high] meaning deterrence must hold for every value in it."
    )
    harm: NonNegative = Field(
        0.0, description="The principal's loss each time the agent takes this action."
    )
    penalty_cap: NonNegative | None = Field(
        None, description="Largest penalty the principal can impose when this action is caught."
    )
    audit_cost: NonNegative | None = Field(
        None, description="Shorthand for a dedicated audit monitor 'audit:<name>' with this cost."
    )
    audit_detection: Probability = Field(
        1.0, description="Probability that the dedicated audit catches this action."
    )


class Monitor(_Model):
    """A costly monitor that inspects a fraction of episodes (its rate)."""

    name: Name
    cost: NonNegative = Field(description="Cost per episode when applied to every episode.")
    min_rate: Probability = 0.0
    max_rate: Probability = 1.0
    detects: dict[Name, Probability] = Field(
        default_factory=dict, description="P(caught | action, monitor applied), by action name."
    )
    false_positive: Probability = Field(
        0.0, description="P(compliant episode flagged | monitor applied)."
    )
    fixed_cost: NonNegative = Field(
        0.0, description="Cost of deploying the monitor at all, paid when its rate is above 0."
    )
    roc: dict[Name, tuple[tuple[Probability, Probability], ...]] | None = Field(
        None,
        description="ROC curve per action: [[false-positive rate, true-positive rate], ...]; "
        "the monitor's rate is then the fraction of honest episodes flagged and audited.",
    )


class Penalty(_Model):
    """Penalties fixed at their caps, or chosen at a cost (solver/features/penalty.py)."""

    design: Literal["fixed", "per_action", "shared"] = Field(
        "fixed",
        description="'fixed': penalties at their caps; 'per_action': each action's penalty is a "
        "decision in [0, cap]; 'shared': one penalty level for every action.",
    )
    cost: NonNegative = Field(
        0.0, description="The principal's cost per unit of penalty level (Blocki et al. 2013)."
    )


class AgentType(_Model):
    """One type of agent (a Bayesian game): its probability and how its gains differ."""

    name: Name
    weight: Probability = Field(description="Probability of this type; weights sum to 1.")
    gains: dict[Name, Gain] = Field(
        default_factory=dict, description="Overrides of action gains for this type, by action."
    )
    risk_aversion: Number | None = Field(
        None, description="Overrides agent.risk_aversion for this type."
    )


class Auditor(_Model):
    """A strategic auditor who chooses one monitor's rate itself (no commitment)."""

    monitor: Name = Field(description="The declared monitor the auditor runs.")
    inspection_cost: NonNegative = Field(description="The auditor's cost per inspection.")
    catch_reward: NonNegative = Field(
        0.0, description="The auditor's reward when an inspection catches an offence."
    )
    miss_loss: NonNegative = Field(
        0.0, description="The auditor's loss when an offence goes uncaught."
    )
    target_offence_rate: Probability | None = Field(
        None, description="Find the least catch_reward bringing the offence rate to this."
    )


class CrossReferenceError(ValueError):
    """Several cross-field problems at once, each with its own key path."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean ...?)' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Spec(_Model):
    """A whole deterrence problem, as written in a spec file (format version 1)."""

    version: Literal[1] = Field(1, description="Spec format version; only 1 exists.")
    problem: Problem = Field(default_factory=Problem)
    agent: Agent = Field(default_factory=Agent)
    oversight: Oversight = Field(default_factory=Oversight)
    actions: tuple[Action, ...] = Field(min_length=2)
    monitors: tuple[Monitor, ...] = ()
    penalty: Penalty = Field(default_factory=Penalty)
    types: tuple[AgentType, ...] = ()
    auditor: Auditor | None = None
    requirements: Requirements | None = None

    # Where the spec came from, for messages that point at a line (set by the loader).
    _source_file: str = PrivateAttr("<spec>")
    _source_text: str = PrivateAttr("")

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_the_integer_one(cls, value: Any) -> Any:
        if type(value) is not int or value != 1:
            raise ValueError(
                f"unsupported spec format version {value!r}; this deter reads version 1"
            )
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Spec:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        names = [a.name for a in self.actions]
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                problems.append((("actions", i, "name"), f"duplicate action name {name!r}"))
            seen.add(name)

        compliant = self.compliant_action
        if self.agent.compliant is not None and self.agent.compliant not in seen:
            problems.append(
                (
                    ("agent", "compliant"),
                    f"unknown action {self.agent.compliant!r}"
                    + did_you_mean(self.agent.compliant, names),
                )
            )

        for i, action in enumerate(self.actions):
            if action.name == compliant:
                if action.audit_cost is not None:
                    problems.append(
                        (
                            ("actions", i, "audit_cost"),
                            "the compliant action has nothing to audit; remove audit_cost",
                        )
                    )
                continue
            if action.penalty_cap is None and self.agent.penalty_cap is None:
                problems.append(
                    (
                        ("actions", i, "penalty_cap"),
                        f"action {action.name!r} has no penalty cap; set its penalty_cap "
                        "or a default agent.penalty_cap",
                    )
                )

        monitor_names: set[str] = set()
        for j, monitor in enumerate(self.monitors):
            if monitor.name in monitor_names:
                problems.append(
                    (("monitors", j, "name"), f"duplicate monitor name {monitor.name!r}")
                )
            monitor_names.add(monitor.name)
            if monitor.min_rate > monitor.max_rate:
                problems.append(
                    (
                        ("monitors", j, "min_rate"),
                        f"min_rate {monitor.min_rate:g} is above max_rate {monitor.max_rate:g}",
                    )
                )
            for target in monitor.detects:
                if target not in seen:
                    problems.append(
                        (
                            ("monitors", j, "detects", target),
                            f"unknown action {target!r}" + did_you_mean(target, names),
                        )
                    )
                elif target == compliant:
                    problems.append(
                        (
                            ("monitors", j, "detects", target),
                            f"{target!r} is the compliant action; describe false flags "
                            "with the monitor's false_positive instead",
                        )
                    )
        if self.requirements is not None:
            known = [m.name for m in self.all_monitors()]
            for target in self.requirements.max_rate:
                if target not in known:
                    problems.append(
                        (
                            ("requirements", "max_rate", target),
                            f"unknown monitor {target!r}" + did_you_mean(target, known),
                        )
                    )
        problems.extend(detection_and_penalty_problems(self))
        problems.extend(strategy_problems(self))
        if problems:
            raise CrossReferenceError(problems)
        return self

    # Derived views: small, cheap, and kept here so every layer agrees on them.
    @property
    def compliant_action(self) -> str:
        """The reference action: ``agent.compliant`` or the first action listed."""
        return self.agent.compliant or self.actions[0].name

    @property
    def name(self) -> str:
        return self.problem.name or "spec"

    @property
    def source_file(self) -> str:
        return self._source_file

    def line_of(self, *loc: str | int) -> int | None:
        """The line of a key path in the spec's text, e.g. ``line_of("actions", 2)``."""
        from .toml_lines import locate

        found = locate(self._source_text, loc) if self._source_text else None
        return found[0] if found else None

    def action_index(self, name: str) -> int:
        return [a.name for a in self.actions].index(name)

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        raise KeyError(name)

    def penalty_cap(self, action: Action) -> float:
        """The action's own cap, else the agent's default (0 for the compliant action)."""
        if action.penalty_cap is not None:
            return action.penalty_cap
        return self.agent.penalty_cap if self.agent.penalty_cap is not None else 0.0

    def all_monitors(self) -> tuple[Monitor, ...]:
        """The declared monitors followed by one ``audit:<action>`` monitor per audit shorthand."""
        # model_construct: the ':' in the name is reserved, so it bypasses name validation.
        audits = tuple(
            Monitor.model_construct(
                name=f"{AUDIT_PREFIX}{a.name}",
                min_rate=0.0,
                max_rate=1.0,
                false_positive=0.0,
                cost=a.audit_cost,
                detects={a.name: a.audit_detection},
            )
            for a in self.actions
            if a.audit_cost is not None
        )
        return self.monitors + audits


def json_schema() -> dict[str, Any]:
    """The JSON Schema of spec format v1 (for editors that validate TOML)."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "deter spec (format version 1)"
    return schema
