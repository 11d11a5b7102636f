"""Rendering a simulation as tables, JSON or CSV. No simulating happens here."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ...solver.report.escape import csv_cells, csv_fields, markdown, markdown_inline
from ...solver.report.tables import number
from ...solver.results.serialise import csv_cell, csv_row
from ...solver.simulation.auditor import AuditorSimulation
from ...solver.simulation.outcomes import Estimate, PolicyRun, Simulation
from .result import markdown_table, natural_width, rich_table, stacked, to_console_text


def interval(estimate: Estimate, digits: int = 3) -> str:
    """'0.123 ± 0.005': the mean and the half-width of its 95% CI (the wider side).

    JSON and CSV carry both ends exactly; the table stays narrow.
    """
    if estimate.low != estimate.low:  # NaN: one agent, no interval across the population
        return number(estimate.mean, digits)
    half = max(estimate.high - estimate.mean, estimate.mean - estimate.low)
    if half < 1e-12:
        return number(estimate.mean, digits)
    return f"{number(estimate.mean, digits)} ± {half:.2g}"


POLICY_METRICS: list[tuple[str, str]] = [
    ("Violation rate", "violation_rate"),
    ("Final 10% violation rate", "final_violation_rate"),
    ("Detections per episode", "detections_per_episode"),
    ("False flags per episode", "false_flags_per_episode"),
    ("Oversight cost per episode", "oversight_cost_per_episode"),
    ("Mean payoff per episode", "mean_payoff"),
]


def policy_columns(sim: Simulation) -> tuple[list[str], list[list[str]]]:
    """Metrics down, policies across (so that several policies still fit 100 columns)."""
    headers = ["Policy", *(run.label for run in sim.runs)]
    rows = [
        ["Predicted action (model)", *(run.prediction.induced_action for run in sim.runs)],
        [
            "Best response (simulated P)",
            *(run.prediction.schedule_induced_action for run in sim.runs),
        ],
        [
            "Predicted cost per episode",
            *(number(run.prediction.oversight_cost_per_episode) for run in sim.runs),
        ],
    ]
    for title, key in POLICY_METRICS:
        rows.append([title, *(interval(getattr(run, key)) for run in sim.runs)])
    return headers, rows


ACTION_HEADERS = ["Action", "Share", "Taken", "Caught (simulated)", "Model P", "Sched. P", "z"]


def action_rows(run: PolicyRun) -> list[list[str]]:
    return [
        [
            a.name + (" (compliant)" if a.compliant else ""),
            interval(a.rate),
            f"{a.taken:,}",
            "-" if a.taken == 0 else interval(a.detection),
            number(a.model_detection, 3),
            number(a.schedule_detection, 3),
            "-" if a.z is None else f"{a.z:+.2f}",
        ]
        for a in run.actions
    ]


def header_lines(sim: Simulation, timing: bool = True) -> list[str]:
    params = ", ".join(f"{k} {v:.4g}" for k, v in sim.parameters.items())
    agent = sim.agent + (f" ({params})" if params else "")
    seconds = sim.seconds
    speed = sim.episodes * sim.population * len(sim.runs) / seconds if seconds > 0 else 0.0
    return [
        f"{sim.name}: simulated {sim.population:,} {agent} agents x {sim.episodes:,} episodes"
        f" per policy, seed {sim.seed}, {sim.schedule} inspections",
        ("(" if not timing else f"({seconds:.2f} s, {speed:,.0f} agent-episodes/s; ")
        + "intervals are 95% across agents; "
        "detection: pooled, Wilson interval; z: its distance from the schedule's P in "
        "binomial standard errors)",
    ]


def simulation_table(
    sim: Simulation, width: int | None = None, timing: bool = True
) -> RenderableType:
    head = Text()
    for k, line in enumerate(header_lines(sim, timing)):
        head.append(line + "\n", style="bold" if k == 0 else "")
    headers, rows = policy_columns(sim)
    tables: list[tuple[str, Sequence[str], list[list[str]]]] = [("Policies", headers, rows)]
    for run in sim.runs:
        rates = ", ".join(f"{name}={rate:.4g}" for name, rate in run.rates.items())
        tables.append((f"Actions under {run.label} ({rates})", ACTION_HEADERS, action_rows(run)))
        if run.types:
            tables.append((f"Agent types under {run.label}", TYPE_HEADERS, type_rows(run)))
    whole = [rich_table(title, h, r) for title, h, r in tables]
    # One shape for all: when one table would not fit, every one is stacked into records.
    if width is not None and any(natural_width(t) > width for t in whole if isinstance(t, Table)):
        whole = [stacked(title, h, r) for title, h, r in tables]
    return Group(head, *whole)


TYPE_HEADERS = [
    "Type",
    "Weight",
    "Agents",
    "Predicted action",
    "Best response (sim. P)",
    "Violation rate",
]


def type_rows(run: PolicyRun) -> list[list[str]]:
    return [
        [
            t.name,
            number(t.weight),
            f"{t.agents:,}",
            t.induced_action,
            t.schedule_induced_action,
            "-" if t.agents == 0 else interval(t.violation_rate),
        ]
        for t in run.types
    ]


CSV_COLUMNS = [
    "kind",
    "policy",
    "name",
    "value",
    "ci_low",
    "ci_high",
    "taken",
    "caught",
    "model",
    "schedule",
    "z",
]


def simulation_csv(sim: Simulation) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()

    def write(row: dict[str, Any]) -> None:
        # non-finite numbers as empty cells, as JSON's null; text never a formula
        writer.writerow(csv_fields(csv_row(row)))

    for run in sim.runs:
        for key in (
            "violation_rate",
            "final_violation_rate",
            "detections_per_episode",
            "false_flags_per_episode",
            "oversight_cost_per_episode",
            "mean_payoff",
        ):
            estimate: Estimate = getattr(run, key)
            model: Any = {
                "violation_rate": run.prediction.violation_rate,
                "final_violation_rate": run.prediction.violation_rate,
                "oversight_cost_per_episode": run.prediction.oversight_cost_per_episode,
            }.get(key, "")
            write(
                {
                    "kind": "policy",
                    "policy": run.label,
                    "name": key,
                    "value": estimate.mean,
                    "ci_low": estimate.low,
                    "ci_high": estimate.high,
                    "model": model,
                }
            )
        for a in run.actions:
            write(
                {
                    "kind": "action",
                    "policy": run.label,
                    "name": a.name,
                    "value": a.rate.mean,
                    "ci_low": a.rate.low,
                    "ci_high": a.rate.high,
                    "taken": a.taken,
                    "caught": a.caught,
                    "model": a.model_detection,
                    "schedule": a.schedule_detection,
                    "z": "" if a.z is None else a.z,
                }
            )
        for name, rate in run.rates.items():
            write({"kind": "rate", "policy": run.label, "name": name, "value": rate})
        compliant = next(a.name for a in run.actions if a.compliant)
        for t in run.types:  # model: the type's predicted violation rate (0 or 1)
            write(
                {
                    "kind": "type",
                    "policy": run.label,
                    "name": t.name,
                    "value": t.violation_rate.mean,
                    "ci_low": t.violation_rate.low,
                    "ci_high": t.violation_rate.high,
                    "taken": t.agents,
                    "model": float(t.induced_action != compliant),
                }
            )
    return buffer.getvalue()


def simulation_markdown(sim: Simulation, timing: bool = True) -> str:
    """The tables of :func:`simulation_table` as Markdown, for a review."""
    head, *rest = header_lines(sim, timing)
    out = [f"## {markdown(head)}\n", *(markdown(line) + "\n" for line in rest)]
    headers, rows = policy_columns(sim)
    out += ["### Policies\n", markdown_table(headers, rows)]
    for run in sim.runs:
        out += [f"### Actions under {markdown_inline(run.label)}\n"]
        out.append(markdown_table(ACTION_HEADERS, action_rows(run)))
        if run.types:
            out += [f"### Agent types under {markdown_inline(run.label)}\n"]
            out.append(markdown_table(TYPE_HEADERS, type_rows(run)))
    return "\n".join(out)


def render_simulation(
    sim: Simulation, fmt: str, *, color: bool = False, width: int = 120, timing: bool = True
) -> str:
    if fmt == "json":
        return sim.to_json(timing=timing)
    if fmt == "csv":
        return simulation_csv(sim)
    if fmt == "markdown":
        return simulation_markdown(sim, timing)
    return to_console_text(simulation_table(sim, width, timing), color=color, width=width)


# --- both sides learning (an [auditor]) ----------------------------------------------------

AUDITOR_KEYS: list[tuple[str, str, str]] = [
    ("Offence rate (time average)", "offence_rate", "offence_rate"),
    ("Inspection rate (time average)", "inspection_rate", "inspection_rate"),
    ("Offence rate, final 10%", "final_offence_rate", "offence_rate"),
    ("Inspection rate, final 10%", "final_inspection_rate", "inspection_rate"),
    ("Agent payoff per episode", "agent_payoff", ""),
    ("Auditor payoff per episode", "auditor_payoff", ""),
]


def auditor_rows(sim: AuditorSimulation) -> list[list[str]]:
    rows = []
    for title, key, eq_key in AUDITOR_KEYS:
        equilibrium = (
            ""
            if not eq_key or sim.equilibrium is None
            else number(getattr(sim.equilibrium, eq_key))
        )
        rows.append([title, interval(getattr(sim, key)), equilibrium])
    return rows


def auditor_table(
    sim: AuditorSimulation, width: int | None = None, timing: bool = True
) -> RenderableType:
    params = ", ".join(f"{k} {v:.4g}" for k, v in sim.parameters.items())
    a = sim.auditor
    head = Text()
    head.append(
        f"{sim.name}: {sim.population:,} pairs of {sim.agent}"
        f"{f' ({params})' if params else ''} agents and learning auditors x "
        f"{sim.episodes:,} episodes, seed {sim.seed}\n",
        style="bold",
    )
    head.append(
        f"auditor runs {a.monitor!r} (inspection cost {a.inspection_cost:g}, catch reward "
        f"{a.catch_reward:g}, miss loss {a.miss_loss:g}); it learns with Exp3 over its "
        f"min_rate/max_rate (gamma {sim.auditor_gamma:.3g})"
        + (f"; {sim.seconds:.2f} s\n" if timing else "\n")
    )
    table = rich_table(
        "Both sides learning (95% intervals across pairs)",
        ["Quantity", "Simulated", "Equilibrium"],
        auditor_rows(sim),
        width,
    )
    return Group(head, table)


def auditor_csv(sim: AuditorSimulation) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "value", "ci_low", "ci_high", "equilibrium"])
    for _, key, eq_key in AUDITOR_KEYS:
        estimate: Estimate = getattr(sim, key)
        equilibrium = (
            "" if not eq_key or sim.equilibrium is None else getattr(sim.equilibrium, eq_key)
        )
        row = (key, estimate.mean, estimate.low, estimate.high, equilibrium)
        writer.writerow(csv_cells(csv_cell(v) for v in row))
    return buffer.getvalue()


def render_auditor_simulation(
    sim: AuditorSimulation,
    fmt: str,
    *,
    color: bool = False,
    width: int = 120,
    timing: bool = True,
) -> str:
    if fmt == "json":
        return sim.to_json(timing=timing)
    if fmt == "csv":
        return auditor_csv(sim)
    if fmt == "markdown":
        head = f"## {markdown(sim.name)}: both sides learning\n\n"
        return head + markdown_table(["Quantity", "Simulated", "Equilibrium"], auditor_rows(sim))
    return to_console_text(auditor_table(sim, width, timing), color=color, width=width)
