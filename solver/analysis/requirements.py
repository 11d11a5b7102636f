"""Checking a solved spec against its ``[requirements]`` (CI gating for ``deter check``).

A requirement is a statement about the optimal policy, measured on the verified result:

- ``max_cost``:   total oversight cost  sum_j c_j x_j  <=  max_cost
- ``deter_all``:  every non-compliant action is deterred (the program is feasible); by
                  default true, except under ``objective = "min_loss"``, whose answer may
                  leave an action undeterred on purpose (set it to hold such a spec to it)
- ``min_margin``: for every deviation i, compliance leads by at least min_margin, i.e.
                  -(net incentive_i) = CE_0 - CE_i >= min_margin (certainty equivalents,
                  the same figure as the "net incentive" column of ``deter solve``)
- ``max_rate``:   x_j <= ceiling_j for the monitors named

Limits given on the command line override the file's. Nothing here imports cvxpy or prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..results.errors import Finding
from ..results.result import Result
from ..results.status import Status
from ..spec.document import Requirements, Spec
from ..spec.suggest import did_you_mean

#: Slack allowed when a measured figure is compared with a limit (relative, floor 1).
REQUIREMENT_TOLERANCE = 1e-7


@dataclass(frozen=True)
class RequirementOverrides:
    """Limits from the command line; ``None`` (or a missing name) keeps the file's value."""

    max_cost: float | None = None
    min_margin: float | None = None
    max_rate: Mapping[str, float] = field(default_factory=dict)
    deter_all: bool | None = None

    def apply(self, requirements: Requirements | None) -> Requirements:
        base = requirements if requirements is not None else Requirements()
        changes: dict[str, object] = {}
        if self.max_cost is not None:
            changes["max_cost"] = self.max_cost
        if self.min_margin is not None:
            changes["min_margin"] = self.min_margin
        if self.deter_all is not None:
            changes["deter_all"] = self.deter_all
        if self.max_rate:
            changes["max_rate"] = {**base.max_rate, **self.max_rate}
        return base.model_copy(update=changes) if changes else base


def _deter_all_given(spec: Spec, overrides: RequirementOverrides | None) -> bool:
    """Whether ``deter_all`` was set, in the file's ``[requirements]`` or as an override."""
    if overrides is not None and overrides.deter_all is not None:
        return True
    return spec.requirements is not None and "deter_all" in spec.requirements.model_fields_set


def failure(
    spec: Spec, requirement: str, limit: str, measured: str, message: str, line: int | None
) -> Finding:
    """One failed requirement: which (``key``, e.g. ``max_rate.human_review``), the limit, what
    was measured, and where it is written (the line of the key, or of the offending action)."""
    return Finding(
        spec.source_file,
        requirement,
        message,
        line,
        kind="requirement",
        limit=limit,
        measured=measured,
    )


def _shown(value: float) -> str:
    """A measured figure for a message: 6 significant digits, solver round-off as 0 (never
    "-0" or "8.7e-14")."""
    return "0" if abs(value) < 1e-9 else f"{value:.6g}"


def _exceeds(measured: float, limit: float) -> bool:
    return measured > limit + REQUIREMENT_TOLERANCE * max(1.0, abs(limit))


def check_requirements(
    spec: Spec, result: Result, overrides: RequirementOverrides | None = None
) -> list[Finding]:
    """The requirements ``result`` fails, in a stable order (empty when all pass).

    Only ``optimal`` and ``infeasible`` results are checked; for a solver error there is no
    policy to measure and the caller reports the error itself.
    """
    requirements = (overrides or RequirementOverrides()).apply(spec.requirements)
    if not _deter_all_given(spec, overrides) and spec.oversight.objective == "min_loss":
        requirements = requirements.model_copy(update={"deter_all": False})
    failures: list[Finding] = []

    def line(*key: str) -> int | None:
        return spec.line_of("requirements", *key) if spec.requirements is not None else None

    if result.status == Status.infeasible:
        if not requirements.deter_all:
            return []  # no policy to measure, and not deterring everything is allowed
        failures.extend(undeterrable(spec, result, line("deter_all")))
        return failures
    if result.status != Status.optimal:
        return []

    if requirements.deter_all:
        undeterred = [a.name for a in result.actions if not a.deterred]
        if undeterred:
            failures.append(
                failure(
                    spec,
                    "deter_all",
                    "every action deterred",
                    f"{len(undeterred)} not deterred",
                    "not deterred: " + ", ".join(undeterred),
                    line("deter_all"),
                )
            )

    cost = result.total_cost
    if (
        requirements.max_cost is not None
        and cost is not None
        and _exceeds(cost, requirements.max_cost)
    ):
        failures.append(
            failure(
                spec,
                "max_cost",
                f"{requirements.max_cost:g}",
                f"{cost:.6g}",
                f"optimal oversight cost {cost:.6g} exceeds max_cost {requirements.max_cost:g}",
                line("max_cost"),
            )
        )

    if requirements.min_margin is not None:
        deviations = [a for a in result.actions if not a.compliant]
        if deviations:
            tightest = min(deviations, key=lambda a: -a.net_incentive)
            lead = -tightest.net_incentive
            if _exceeds(requirements.min_margin, lead):
                failures.append(
                    failure(
                        spec,
                        "min_margin",
                        f"{requirements.min_margin:g}",
                        _shown(lead),
                        f"action {tightest.name!r} trails compliance by only {_shown(lead)} "
                        f"(min_margin {requirements.min_margin:g})",
                        line("min_margin")
                        or spec.line_of("actions", spec.action_index(tightest.name)),
                    )
                )

    rates = {m.name: m.rate for m in result.monitors}
    for monitor, ceiling in sorted(requirements.max_rate.items()):
        key = f"max_rate.{monitor}"
        if monitor not in rates:
            failures.append(
                failure(
                    spec,
                    key,
                    f"{ceiling:g}",
                    "no such monitor",
                    f"max_rate names monitor {monitor!r}, which this spec does not have"
                    + did_you_mean(monitor, rates),
                    line("max_rate"),
                )
            )
        elif _exceeds(rates[monitor], ceiling):
            failures.append(
                failure(
                    spec,
                    key,
                    f"{ceiling:g}",
                    f"{rates[monitor]:.6g}",
                    f"monitor {monitor!r} runs at rate {rates[monitor]:.6g}, above its "
                    f"ceiling {ceiling:g}",
                    line("max_rate", monitor) or line("max_rate"),
                )
            )
    return failures


def undeterrable(
    spec: Spec,
    result: Result,
    fallback: int | None,
    kind: Literal["requirement", "infeasible"] = "requirement",
) -> list[Finding]:
    """deter_all failures of an infeasible result: one per action no policy can deter.

    ``kind="infeasible"`` gives the same findings as plain facts about the spec (no
    requirement key or figures), for a file that was solved but not checked.
    """
    diagnosis = result.diagnosis
    failures: list[Finding] = []
    if diagnosis is not None:
        for action in diagnosis.actions:
            if action.deterrable:
                continue
            failures.append(
                failure(
                    spec,
                    "deter_all",
                    "every action deterred",
                    "not deterrable",
                    f"action {action.name!r} cannot be deterred: {action.reason}",
                    spec.line_of("actions", spec.action_index(action.name)) or fallback,
                )
            )
        if not failures and diagnosis.least_cost is not None:
            failures.append(
                failure(
                    spec,
                    "deter_all",
                    "every action deterred",
                    f"needs cost {diagnosis.least_cost:.6g}",
                    diagnosis.reason,
                    spec.line_of("oversight", "budget") or fallback,
                )
            )
    if not failures:
        failures.append(
            failure(
                spec,
                "deter_all",
                "every action deterred",
                "infeasible",
                result.message or "the spec cannot be met",
                fallback,
            )
        )
    if kind == "infeasible":
        return [Finding(f.file, "", f.message, f.line, kind="infeasible") for f in failures]
    return failures
