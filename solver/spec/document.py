"""The validated, immutable spec model (spec format v1).

A spec is data: this module checks its types, ranges and cross-references and nothing else.
It does not import cvxpy, so ``deter validate`` and ``deter schema`` stay fast.
The contract is documented in ``docs/spec-format.md``. The tables a spec is made of are in
``sections.py``; the cross-field checks of the newer features in ``design.py`` and
``strategy.py``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from .design import detection_and_penalty_problems
from .sections import (
    AUDIT_PREFIX,
    Action,
    Agent,
    AgentType,
    Auditor,
    FrozenModel,
    Horizon,
    Learner,
    Monitor,
    Oversight,
    Penalty,
    Problem,
    Requirements,
)
from .strategy import strategy_problems
from .suggest import did_you_mean
from .toml_lines import locate

__all__ = [
    "AUDIT_PREFIX",
    "Action",
    "Agent",
    "AgentType",
    "Auditor",
    "CrossReferenceError",
    "Horizon",
    "Learner",
    "Monitor",
    "Oversight",
    "Penalty",
    "Problem",
    "Requirements",
    "Spec",
    "SpecSource",
    "did_you_mean",
    "json_schema",
]


#: id(spec) -> (a weak reference to it, name -> position of its actions): see action_index.
_ACTION_POSITIONS: dict[int, tuple[weakref.ReferenceType[Any], dict[str, int]]] = {}


@dataclass(frozen=True)
class SpecSource:
    """Where a spec came from: its file name (or ``<text>``) and its TOML text."""

    file: str = "<spec>"
    text: str = ""

    # Immutable: pydantic deep-copies a private attribute's default for every spec it makes,
    # which for a dataclass took ~5% of a batch worker's time; a copy of this is itself.
    def __copy__(self) -> SpecSource:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SpecSource:
        return self


class CrossReferenceError(ValueError):
    """Several cross-field problems at once, each with its own key path."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))


class Spec(FrozenModel):
    """A whole deterrence problem, as written in a spec file (format version 1)."""

    version: Literal[1] = Field(1, description="Spec format version; only 1 exists.")
    problem: Problem = Field(default_factory=Problem)
    agent: Agent = Field(default_factory=Agent)
    oversight: Oversight = Field(default_factory=Oversight)
    actions: tuple[Action, ...] = Field(min_length=1)
    monitors: tuple[Monitor, ...] = ()
    penalty: Penalty = Field(default_factory=Penalty)
    types: tuple[AgentType, ...] = ()
    auditor: Auditor | None = None
    learner: Learner | None = None
    horizon: Horizon | None = None
    requirements: Requirements | None = None

    # Where the spec came from, for messages that point at a line: not a key of the spec, so
    # not a field; set by the loader (or with_source(), which returns a new spec).
    # A default, not a default_factory: pydantic inspects a factory's signature at every
    # instance (~6% of a batch worker's time); a frozen default is copied instead.
    _source: SpecSource = PrivateAttr(default=SpecSource())

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
    def source(self) -> SpecSource:
        """The file and text this spec was read from (``<spec>`` and '' when built in code)."""
        return self._source

    @property
    def source_file(self) -> str:
        return self._source.file

    def with_source(self, source: SpecSource) -> Spec:
        """This spec, remembering that it was read from ``source`` (a copy; ``self`` is kept)."""
        copy = self.model_copy()
        copy._source = source
        return copy

    def line_of(self, *loc: str | int) -> int | None:
        """The line of a key path in the spec's text, e.g. ``line_of("actions", 2)``."""
        found = locate(self._source.text, loc) if self._source.text else None
        return found[0] if found else None

    def action_index(self, name: str) -> int:
        """The position of the action called ``name`` (ValueError if there is none).

        From an index built once: a scan per call made the explanation of a 10,000-action
        spec quadratic (issue 25: a minute of a report's time, hours at 99,999 actions).
        The index lives beside the spec (:data:`_ACTION_POSITIONS`), not in it: a private
        attribute would take part in ``==``."""
        held = _ACTION_POSITIONS.get(id(self))
        if held is None or held[0]() is not self:
            held = (weakref.ref(self), {a.name: k for k, a in enumerate(self.actions)})
            _ACTION_POSITIONS[id(self)] = held
            weakref.finalize(self, _ACTION_POSITIONS.pop, id(self), None)
        position = held[1].get(name)
        if position is None:
            raise ValueError(f"{name!r} is not an action")
        return position

    def action(self, name: str) -> Action:
        try:
            return self.actions[self.action_index(name)]
        except ValueError:
            raise KeyError(name) from None

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
