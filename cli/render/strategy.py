"""Tables of the strategic features (issue 5): induced actions, types, deployment, auditor.

Each function returns (title, headers, rows) triples or lines, so that the rich and Markdown
renderers in ``render.py`` can show them the same way. Nothing here when a spec uses none
of the features.
"""

from __future__ import annotations

from ...solver.report.tables import number as _number
from ...solver.results.result import Result
from ...solver.results.strategy import GameOutcome

Section = tuple[str, list[str], list[list[str]]]


def strategy_sections(result: Result) -> list[Section]:
    """Deployment, types and auditor tables (only those that apply)."""
    sections: list[Section] = []
    report = result.strategy
    if report is None:
        return sections
    if any(m.fixed_cost > 0 for m in result.monitors):
        sections.append(
            (
                "Deployment",
                ["Monitor", "Fixed cost", "Deployed", "Rate"],
                [
                    [m.name, _number(m.fixed_cost), "yes" if m.deployed else "no", _number(m.rate)]
                    for m in result.monitors
                ],
            )
        )
    if len(report.types) > 1 or (report.types and report.types[0].name != "agent"):
        sections.append(
            (
                "Agent types",
                ["Type", "Weight", "Induced action", "Harm"],
                [
                    [t.name, _number(t.weight), t.induced_action, _number(t.harm)]
                    for t in report.types
                ],
            )
        )
    auditor = report.auditor
    if auditor is not None:
        rows = [_game_row("Equilibrium (no commitment)", auditor.equilibrium)]
        if auditor.commitment is not None:
            rows.append(_game_row("Commitment", auditor.commitment))
        sections.append(
            (
                f"Auditor on {auditor.monitor}",
                ["Regime", "Offence rate", "Inspection rate", "Principal loss"],
                rows,
            )
        )
    return sections


def _game_row(label: str, outcome: GameOutcome) -> list[str]:
    return [
        label,
        _number(outcome.offence_rate),
        _number(outcome.inspection_rate),
        _number(outcome.principal_loss),
    ]


def strategy_lines(result: Result) -> list[str]:
    """Summary lines: objective, induced action, harm left, expected loss, auditor findings."""
    report = result.strategy
    if report is None or result.status != "optimal":
        return []
    unit = f" {result.currency}" if result.currency else ""
    lines = [f"objective: {report.objective}"]
    if report.induced_action is not None:
        lines.append(f"induced action: {report.induced_action}")
    lines.append(
        f"harm left: {_number(report.harm_left, 6)}{unit}; expected loss (oversight + harm): "
        f"{_number(report.expected_loss, 6)}{unit}"
    )
    if report.objective == "min_loss":
        lines.append(
            "full deterrence: impossible"
            if report.full_deterrence_cost is None
            else f"full deterrence would cost: {_number(report.full_deterrence_cost, 6)}{unit}"
        )
    auditor = report.auditor
    if auditor is not None:
        if auditor.price_of_no_commitment is not None:
            count = auditor.equilibria
            lines.append(
                f"price of lacking commitment: {_number(auditor.price_of_no_commitment, 6)}{unit}"
                f" ({count} extreme equilibri{'um' if count == 1 else 'a'};"
                " the least-loss one shown)"
            )
        if auditor.target_offence_rate is not None and auditor.catch_reward_needed is not None:
            lines.append(
                f"catch reward for offence rate {_number(auditor.target_offence_rate)}: "
                f"{_number(auditor.catch_reward_needed, 6)} (now {_number(auditor.catch_reward)})"
            )
        if auditor.message:
            lines.append(f"auditor: {auditor.message}")
    return lines
