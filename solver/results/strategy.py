"""Result pieces of the strategic features (issue 5): induced actions, types, harm, auditors.

Plain frozen dataclasses, attached to :class:`~deter.solver.results.result.Result` as ``strategy``;
:func:`strategy_keys` gives their top-level JSON keys (null when a spec uses none of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .serialise import jsonable, restore


@dataclass(frozen=True)
class TypeOutcome:
    """What one agent type ends up doing under the policy."""

    name: str
    weight: float
    induced_action: str
    harm: float  # the principal's loss per episode of this type (its action's harm)


@dataclass(frozen=True)
class GameOutcome:
    """One way of running the auditor's monitor: the agent's play and the principal's loss."""

    offence_rate: float  # probability the agent takes a non-compliant action
    inspection_rate: float  # the auditor's monitor rate
    principal_loss: float  # oversight cost + expected harm, per episode
    agent_strategy: dict[str, float]  # probability of each action


@dataclass(frozen=True)
class AuditorReport:
    """The inspection game (no commitment) next to the committed optimum."""

    monitor: str
    equilibrium: GameOutcome
    commitment: GameOutcome | None  # None when no committed rate meets the objective
    price_of_no_commitment: float | None  # equilibrium loss - commitment loss
    equilibria: int  # how many extreme equilibria the game has (the reported one: least loss)
    catch_reward: float
    target_offence_rate: float | None = None
    catch_reward_needed: float | None = None  # least catch reward reaching the target
    message: str = ""


@dataclass(frozen=True)
class StrategyReport:
    """Harms, types and deployment: what the principal's policy leads to."""

    objective: str  # "deter_all" | "min_loss"
    induced_action: str | None  # the action taken (None when types differ)
    types: tuple[TypeOutcome, ...]
    harm_left: float
    expected_loss: float  # oversight cost + harm left
    full_deterrence_cost: float | None  # least oversight cost of deterring every action
    auditor: AuditorReport | None = None


#: The top-level keys of the result document that carry a strategy report.
STRATEGY_KEYS = (
    "objective",
    "induced_action",
    "types",
    "harm_left",
    "expected_loss",
    "full_deterrence_cost",
    "equilibrium",
    "commitment",
    "auditor",
)


def strategy_keys(report: StrategyReport | None) -> dict[str, Any]:
    """The top-level JSON keys of a strategy report (all null without one)."""
    if report is None:
        return dict.fromkeys(STRATEGY_KEYS)
    auditor = report.auditor
    return {
        "objective": report.objective,
        "induced_action": report.induced_action,
        "types": jsonable(report.types),
        "harm_left": report.harm_left,
        "expected_loss": report.expected_loss,
        "full_deterrence_cost": report.full_deterrence_cost,
        "equilibrium": jsonable(auditor.equilibrium) if auditor else None,
        "commitment": jsonable(auditor.commitment) if auditor and auditor.commitment else None,
        # the auditor's own figures; its two outcomes are the keys above
        "auditor": (
            {k: v for k, v in jsonable(auditor).items() if k not in ("equilibrium", "commitment")}
            if auditor
            else None
        ),
    }


def strategy_from_keys(doc: Mapping[str, Any]) -> StrategyReport | None:
    """The inverse of :func:`strategy_keys`: the report those keys of ``doc`` describe."""
    if all(doc.get(key) is None for key in STRATEGY_KEYS):
        return None
    auditor = None
    if doc.get("auditor") is not None:
        auditor = restore(
            AuditorReport,
            {**doc["auditor"], "equilibrium": doc["equilibrium"], "commitment": doc["commitment"]},
        )
    report = {k: doc.get(k) for k in STRATEGY_KEYS[:6]}
    return restore(StrategyReport, {**report, "auditor": auditor})
