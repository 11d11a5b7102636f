"""Plain-text cells, headers and summary lines of a result, shared by every renderer.

The CLI's tables, Markdown and CSV and the HTML report all show the same numbers the same
way, so the formatting lives here, below both (the solver never imports the CLI).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..results.result import Result
from .escape import markdown_inline


def number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if abs(value) < 1e-9:  # solver round-off around zero (far below any solver tolerance)
        return "0"
    return f"{value:.{digits}g}"


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def monitor_rows(result: Result) -> list[list[str]]:
    return [
        [
            m.name,
            number(m.rate),
            number(m.unit_cost),
            number(m.cost),
            percent(m.share),
            m.at_bound or "",
        ]
        for m in result.monitors
    ]


MONITOR_HEADERS = ["Monitor", "Rate", "Unit cost", "Cost", "Share", "At bound"]
ACTION_HEADERS = [
    "Action",
    "Gain",
    "Penalty",
    "P(caught)",
    "E[penalty]",
    "Net",
    "Deterred",
    "Binding",
    "Shadow",
]
ACTION_LEGEND = (
    "* compliant action (its P(caught) is the false-flag rate).  Net: certainty-equivalent "
    "gain over complying (<= 0 when deterred).  Shadow: the shadow price, oversight cost "
    "per extra unit of gain."
)


def action_legend(result: Result) -> str:
    """The legend; with chosen penalties the shadow price is of the total cost (oversight plus
    penalty cost), the objective whose dual it is."""
    if result.penalty_design == "fixed":
        return ACTION_LEGEND
    return ACTION_LEGEND.replace("oversight cost per", "total cost (oversight + penalty) per")


def action_rows(result: Result) -> list[list[str]]:
    rows = []
    for a in result.actions:
        rows.append(
            [
                a.name + ("*" if a.compliant else ""),
                number(a.gain),
                number(a.penalty),
                number(a.detection),
                number(a.expected_penalty),
                "-" if a.compliant else number(a.net_incentive),
                yes_no(a.deterred),
                "" if a.compliant else yes_no(a.binding),
                "" if a.compliant else number(a.shadow_price),
            ]
        )
    return rows


DIAGNOSIS_HEADERS = [
    "Action",
    "Deterrable",
    "Max detection",
    "Max exp. penalty",
    "Penalty cap",
    "Cap needed",
    "Why",
]


def diagnosis_rows(result: Result) -> list[list[str]]:
    if result.diagnosis is None:
        return []
    return [
        [
            d.name,
            yes_no(d.deterrable),
            number(d.max_detection),
            number(d.max_expected_penalty),
            number(d.penalty_cap),
            "none" if d.cap_needed is None else number(d.cap_needed),
            "" if d.deterrable else d.reason,
        ]
        for d in result.diagnosis.actions
    ]


def summary_lines(result: Result) -> list[str]:
    unit = f" {result.currency}" if result.currency else ""
    lines = [f"{result.name}: {result.status}"]
    if result.status == "optimal" and result.penalty_design != "fixed":
        lines.append(
            f"total cost: {number(result.total_cost, 6)}{unit} per episode = oversight "
            f"{number(result.oversight_cost, 6)} + penalty {number(result.penalty_cost, 6)}"
            f" (penalty design: {result.penalty_design})"
        )
        if result.shared_penalty is not None:
            lines.append(f"shared penalty level: {number(result.shared_penalty, 6)}{unit}")
    elif result.status == "optimal":
        lines.append(f"total oversight cost: {number(result.total_cost, 6)}{unit} per episode")
    if result.verification is not None:
        v = result.verification
        state = "passed" if v.passed else "FAILED"
        lines.append(
            f"verified: {state} (max relative violation {v.max_relative_violation:.1e}, "
            f"tolerance {v.tolerance:.0e})"
        )
    if result.solver:
        lines.append(f"solver: {result.solver}")
    lines += [f"note: {note}" for note in result.notes]
    if result.status != "optimal" and result.message:
        lines.append(f"why: {result.message}")
    if result.diagnosis is not None and result.diagnosis.least_cost is not None:
        lines.append(
            f"least cost of full deterrence: {number(result.diagnosis.least_cost, 6)}{unit}"
            f" (budget {number(result.diagnosis.budget, 6)}{unit})"
        )
    return lines


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, escaped: bool = False
) -> str:
    """A GitHub table. Cells are escaped (spec text stays text: no HTML, links, emphasis or
    extra columns) unless ``escaped`` says the caller did it (and added Markdown of its own)."""

    def cell(text: str) -> str:
        return text if escaped else markdown_inline(text)

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
