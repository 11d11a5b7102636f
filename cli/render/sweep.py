"""Rendering sweeps and frontiers: tables, JSON, CSV and Markdown. No solving happens here."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from ...solver.report.escape import csv_cells, markdown
from ...solver.report.tables import number
from ...solver.results.serialise import csv_cell
from .result import markdown_table, stacked, to_console_text

if TYPE_CHECKING:
    from ...solver.analysis.frontier import Frontier
    from ...solver.analysis.sweep import Sweep, SweepPoint

#: Marks a point where the set of binding actions changes (the policy changes character).
CHANGE_MARK = "*"


class SeriesFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


def _unit(currency: str) -> str:
    return f" ({currency})" if currency else ""


# --- sweeps -----------------------------------------------------------------------------


def sweep_headers(sweep: Sweep) -> list[str]:
    return [
        *(a.name for a in sweep.axes),
        "Status",
        f"Total cost{_unit(sweep.currency)}",
        *(f"{m} rate" for m in sweep.monitor_names),
        "Binding actions",
        "Change",
    ]


def sweep_rows(sweep: Sweep) -> list[list[str]]:
    rows = []
    for p in sweep.points:
        rows.append(
            [
                *(number(v, 6) for v in p.values),
                p.status,
                number(p.total_cost, 6),
                *(number(p.rates.get(m)) if p.ok else "-" for m in sweep.monitor_names),
                ", ".join(p.binding) if p.ok else "-",
                CHANGE_MARK if p.binding_changed else "",
            ]
        )
    return rows


def sweep_footer(sweep: Sweep, timing: bool = True) -> list[str]:
    total = len(sweep.points)
    solved = sum(p.ok for p in sweep.points)
    changes = sum(p.binding_changed for p in sweep.points)
    lines = [
        f"{sweep.name}: {total} points, {solved} optimal, {total - solved} not"
        + (f" ({sweep.seconds:.2f} s)" if timing else "")
    ]
    if changes:
        lines.append(f"{CHANGE_MARK} the set of binding actions changes at {changes} point(s)")
    return lines


def _rich_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for k, header in enumerate(headers):
        label = k == len(headers) - 1  # the binding set's label
        table.add_column(header, justify="left" if label else "right", no_wrap=True)
    for row in rows:
        style = "yellow" if row and row[-1].endswith(CHANGE_MARK) else None
        table.add_row(*row, style=style)
    return table


def render_sweep(
    sweep: Sweep, fmt: SeriesFormat, *, color: bool = False, width: int = 120, timing: bool = True
) -> str:
    if fmt is SeriesFormat.json:
        return sweep.to_json()  # the library's document, in the one envelope
    if fmt is SeriesFormat.csv:
        return sweep_csv(sweep)
    if fmt is SeriesFormat.markdown:
        return (
            f"## Sweep of {markdown(sweep.name)}\n\n"
            + markdown_table(sweep_headers(sweep), sweep_rows(sweep))
            + "\n"
            + "\n".join(markdown(line) for line in sweep_footer(sweep, timing))
            + "\n"
        )
    from rich.console import Group

    # Headers break at dots and spaces; binding sets are short labels explained under the
    # table (a list of action names per row would wrap); numbers never wrap.
    headers = [h.replace(".", ".\n").replace(" ", "\n") for h in sweep_headers(sweep)]
    headers[-2:] = ["Binding\nset"]
    labels = binding_set_labels(sweep)
    rows = [
        [*row[:-2], _set_cell(labels, p) + (f" {CHANGE_MARK}" if row[-1] else "")]
        for p, row in zip(sweep.points, sweep_rows(sweep), strict=True)
    ]
    table = _rich_table(f"Sweep: {sweep.name}", headers, rows)
    legend = [
        f"  {label}  {', '.join(binding) or '(no action binds)'}"
        for binding, label in labels.items()
    ]
    footer = sweep_footer(sweep, timing)
    if legend:
        footer = [footer[0], "binding sets:", *legend, *footer[1:]]
    body = table if _natural_width(table) <= width else _stacked_sweep(sweep, rows)
    return to_console_text(Group(body, Text("\n".join(footer))), color, width)


def _stacked_sweep(sweep: Sweep, rows: list[list[str]]) -> Text:
    """A sweep too wide for the terminal: one record per point, every column kept."""
    headers = [*sweep_headers(sweep)[:-2], "Binding set"]
    records = [[f"#{k + 1}", *row] for k, row in enumerate(rows)]
    return stacked(f"Sweep: {sweep.name}", ["Point", *headers], records)


def binding_set_labels(sweep: Sweep) -> dict[tuple[str, ...], str]:
    """A, B, C, ... for each distinct set of binding actions, in order of first appearance."""
    labels: dict[tuple[str, ...], str] = {}
    for p in sweep.points:
        if p.ok and p.binding not in labels:
            labels[p.binding] = _letters(len(labels))
    return labels


def _letters(k: int) -> str:
    text = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        text = chr(ord("A") + r) + text
    return text


def _set_cell(labels: dict[tuple[str, ...], str], point: SweepPoint) -> str:
    return labels[point.binding] if point.ok else "-"


def sweep_csv(sweep: Sweep) -> str:
    columns = [
        *(a.name for a in sweep.axes),
        "status",
        "total_cost",
        *(f"rate:{m}" for m in sweep.monitor_names),
        *(f"detection:{a}" for a in _deviations(sweep)),
        "binding",
        "binding_changed",
        "message",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_cells(columns))
    for p in sweep.points:
        row = csv_cells(  # text never a formula in a spreadsheet
            [
                # through the serialiser: a missing or non-finite number is an empty cell
                *(csv_cell(v) for v in p.values),
                p.status,
                csv_cell(p.total_cost),
                *(csv_cell(p.rates.get(m)) for m in sweep.monitor_names),
                *(csv_cell(p.detection.get(a)) for a in _deviations(sweep)),
                ";".join(p.binding),
                "true" if p.binding_changed else "false",
                p.message,
            ]
        )
        writer.writerow(row)
    return buffer.getvalue()


def _deviations(sweep: Sweep) -> list[str]:
    seen: dict[str, None] = {}
    for p in sweep.points:
        for name in p.detection:
            seen.setdefault(name, None)
    return list(seen)


# --- frontiers --------------------------------------------------------------------------


def frontier_headers(frontier: Frontier) -> list[str]:
    deviations = list(frontier.own.caps)
    cap = "Penalty cap" if frontier.common_cap is not None else "Cap factor"
    return [
        cap + (_unit(frontier.currency) if frontier.common_cap is not None else ""),
        "Status",
        f"Least cost{_unit(frontier.currency)}",
        *(f"P(caught) {a}" for a in deviations),
        "Spec",
    ]


def frontier_rows(frontier: Frontier) -> list[list[str]]:
    rows = []
    for p in frontier.points:
        x = p.factor * frontier.common_cap if frontier.common_cap is not None else p.factor
        rows.append(
            [
                number(x, 6),
                p.status,
                number(p.total_cost, 6),
                *(
                    number(p.detection.get(a)) if p.status == "optimal" else "-"
                    for a in frontier.own.caps
                ),
                "<- as written" if p is frontier.own else "",
            ]
        )
    return rows


def render_frontier(
    frontier: Frontier, fmt: SeriesFormat, *, color: bool = False, width: int = 120
) -> str:
    if fmt is SeriesFormat.json:
        return frontier.to_json()
    if fmt is SeriesFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        deviations = list(frontier.own.caps)
        writer.writerow(
            csv_cells(
                [
                    "factor",
                    "status",
                    "total_cost",
                    *(f"cap:{a}" for a in deviations),
                    *(f"detection:{a}" for a in deviations),
                    *(f"rate:{m}" for m in frontier.own.rates),
                ]
            )
        )
        for p in frontier.points:
            writer.writerow(
                [
                    csv_cell(p.factor),
                    p.status,
                    csv_cell(p.total_cost),
                    *(csv_cell(p.caps[a]) for a in deviations),
                    *(csv_cell(p.detection.get(a)) for a in deviations),
                    *(csv_cell(p.rates.get(m)) for m in frontier.own.rates),
                ]
            )
        return buffer.getvalue()
    if fmt is SeriesFormat.markdown:
        return (
            f"## Probability-severity frontier of {markdown(frontier.name)}\n\n"
            + markdown_table(frontier_headers(frontier), frontier_rows(frontier))
        )
    table = Table(
        title=f"Probability-severity frontier: {frontier.name}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        title_style="bold",
    )
    headers = frontier_headers(frontier)
    for k, header in enumerate(headers):
        table.add_column(
            header.replace(" ", "\n"),
            no_wrap=True,
            justify="left" if k == len(headers) - 1 else "right",
        )
    for p, row in zip(frontier.points, frontier_rows(frontier), strict=True):
        table.add_row(*row, style="bold" if p is frontier.own else None)
    if _natural_width(table) <= width:
        return to_console_text(table, color, width)
    title = f"Probability-severity frontier: {frontier.name}"
    return to_console_text(stacked(title, headers, frontier_rows(frontier)), color, width)


def _natural_width(table: Table) -> int:
    """The table's width with nothing wrapped or cut: a narrower terminal folds the lines
    rather than lose digits."""
    from rich.console import Console

    return Console(width=10_000).measure(table).maximum
