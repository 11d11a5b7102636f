"""Rendering results as tables, JSON, CSV and Markdown. No solving happens here."""

from __future__ import annotations

import csv
import io
import re
import textwrap
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ...solver.report.escape import (
    TerminalSafe,
    csv_fields,
    markdown,
    markdown_inline,
    one_line,
)
from ...solver.report.tables import (
    ACTION_HEADERS,
    DIAGNOSIS_HEADERS,
    MONITOR_HEADERS,
    action_legend,
    action_rows,
    diagnosis_rows,
    monitor_rows,
    summary_lines,
)

# The cell formatting moved to the library (solver/report/tables.py, shared with the HTML
# report); other renderers (render/batch.py) still import it from here.
from ...solver.report.tables import markdown_table as markdown_table
from ...solver.report.tables import number as number
from ...solver.report.tables import percent as percent
from ...solver.report.tables import yes_no as yes_no
from ...solver.results.errors import SpecError
from ...solver.results.result import Result
from ...solver.results.serialise import csv_row, dumps, envelope
from ..options import JSON_KINDS
from .strategy import strategy_lines, strategy_sections


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


def to_console_text(renderable: RenderableType, color: bool, width: int) -> str:
    """Render with rich to a string (colour only when asked: a terminal without NO_COLOR)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
    )
    console.print(TerminalSafe(renderable))  # no control character from a spec acts
    return strip_trailing(buffer.getvalue())


#: Spaces at the end of a line, before any closing colour codes.
_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


def strip_trailing(text: str) -> str:
    """No line ends in spaces (rich pads every cell and line to the table's width)."""
    return _TRAILING.sub(r"\1", text)


def natural_width(renderable: RenderableType) -> int:
    """The width ``renderable`` takes with nothing wrapped or cut."""
    return Console(width=10_000).measure(renderable).maximum


def stacked(title: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Text:
    """A table too wide for the terminal, one record per row: its first cell as a heading,
    then ``Header: value`` lines. Every column is kept and no number is cut."""
    text = Text()
    if title:
        text.append(title + "\n", style="bold")
    for row in rows:
        text.append("\n  ")
        text.append(Text(row[0] if row else ""))
        text.append("\n")
        for header, cell in zip(headers[1:], row[1:], strict=False):
            if cell:
                text.append(f"    {header}: ", style="dim")
                text.append(Text(cell))
                text.append("\n")
    return text


def fitted(
    table: Table,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None,
) -> RenderableType:
    """``table`` when it fits ``width``, else the same rows :func:`stacked`."""
    if width is None or natural_width(table) <= width:
        return table
    return stacked(title, headers, rows)


def wrap_note(text: str, width: int) -> str:
    """A footnote wrapped to ``width`` (the table's width, not the terminal's)."""
    return textwrap.fill(text, width=max(40, width), break_on_hyphens=False)


# --- one result ------------------------------------------------------------------------


def rich_table(
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    width: int | None = None,
) -> RenderableType:
    """A table of plain-text cells; with ``width``, stacked when it would not fit."""
    rows = [list(row) for row in rows]
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    last = len(headers) - 1
    for k, header in enumerate(headers):
        text_column = k == 0 or (k == last and header == "Why")
        table.add_column(
            Text(header),
            justify="left" if text_column else "right",
            no_wrap=not text_column or k == 0,
        )
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # cells are data, never rich markup
    return fitted(table, title, headers, rows, width)


def result_table(result: Result, width: int | None = None) -> RenderableType:
    parts: list[RenderableType] = []
    if result.monitors:
        parts.append(rich_table("Monitors", MONITOR_HEADERS, monitor_rows(result), width))
    if result.actions:
        actions = rich_table("Actions", ACTION_HEADERS, action_rows(result), width)
        parts.append(actions)
        note_width = natural_width(actions) if isinstance(actions, Table) else (width or 100)
        if width is not None:
            note_width = min(note_width, width)
        parts.append(Text(wrap_note(action_legend(result), note_width) + "\n", style="dim"))
    if result.diagnosis is not None:
        parts.append(
            rich_table("Why it cannot be met", DIAGNOSIS_HEADERS, diagnosis_rows(result), width)
        )
    parts += [rich_table(*section, width) for section in strategy_sections(result)]
    style = {"optimal": "green", "infeasible": "yellow"}.get(result.status, "red")
    summary = Text()
    for k, line in enumerate(summary_lines(result) + strategy_lines(result)):
        summary.append(line + "\n", style=f"bold {style}" if k == 0 else "")
    parts.append(summary)
    return Group(*parts)


def result_json(result: Result, timing: bool = True) -> str:
    """The library's ``result.to_json()``: the one envelope (``schema_version``,
    ``kind: "result"``), byte for byte."""
    # (object addresses never reach a result: the engine drops them where a solver's
    # exception becomes an attempt line, engine/attempts.py)
    return result.to_json(timing=timing)


CSV_COLUMNS = [
    "kind",
    "name",
    "rate",
    "unit_cost",
    "cost",
    "share",
    "gain",
    "penalty",
    "detection",
    "expected_penalty",
    "net_incentive",
    "deterred",
    "binding",
    "shadow_price",
    "status",
    "oversight_cost",
    "penalty_cost",
    "penalty_design",
    "shared_penalty",
]


def result_csv(result: Result) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()

    def write(row: dict[str, Any]) -> None:
        # non-finite numbers as empty cells, as JSON's null; text never a formula
        writer.writerow(csv_fields(csv_row(row)))

    write(
        {
            "kind": "total",
            "name": result.name,
            "cost": result.total_cost,
            "status": result.status,
            "oversight_cost": result.oversight_cost,
            "penalty_cost": result.penalty_cost,
            "penalty_design": result.penalty_design,
            "shared_penalty": result.shared_penalty,
        }
    )
    for m in result.monitors:
        write(
            {
                "kind": "monitor",
                "name": m.name,
                "rate": m.rate,
                "unit_cost": m.unit_cost,
                "cost": m.cost,
                "share": m.share,
            }
        )
    for a in result.actions:
        write(
            {
                "kind": "action",
                "name": a.name,
                "gain": a.gain,
                "penalty": a.penalty,
                "detection": a.detection,
                "expected_penalty": a.expected_penalty,
                "net_incentive": a.net_incentive,
                "deterred": a.deterred,
                "binding": a.binding,
                "shadow_price": a.shadow_price,
            }
        )
    return buffer.getvalue()


def result_markdown(result: Result) -> str:
    out = [f"## {markdown(result.name)}\n"]
    lines = summary_lines(result)
    out.append(f"**status: {markdown_inline(result.status)}**\n")
    out += [f"- {markdown(line)}" for line in lines[1:] + strategy_lines(result)]
    out.append("")
    if result.monitors:
        out += ["### Monitors\n", markdown_table(MONITOR_HEADERS, monitor_rows(result))]
    if result.actions:
        out += [
            "### Actions\n",
            markdown_table(ACTION_HEADERS, action_rows(result)),
            markdown(action_legend(result)) + "\n",
        ]
    if result.diagnosis is not None:
        out += [
            "### Why it cannot be met\n",
            markdown_table(DIAGNOSIS_HEADERS, diagnosis_rows(result)),
        ]
    for title, headers, rows in strategy_sections(result):
        out += [f"### {title}\n", markdown_table(headers, rows)]
    return "\n".join(out)


def render_result(
    result: Result, fmt: Format, *, color: bool = False, width: int = 120, timing: bool = True
) -> str:
    if fmt is Format.json:
        return result_json(result, timing=timing)
    if fmt is Format.csv:
        return result_csv(result)
    if fmt is Format.markdown:
        return result_markdown(result)
    return to_console_text(result_table(result, width), color=color, width=width)


# --- errors -----------------------------------------------------------------------------


def spec_error_lines(error: SpecError) -> list[str]:
    """One line per issue: a key or value holding a newline cannot forge a line."""
    return [f"error: {one_line(str(issue))}" for issue in error.issues]


def error_json(file: str, status: str, message: str, issues: list[dict[str, Any]]) -> str:
    return (
        dumps(
            envelope(
                JSON_KINDS["solve"],
                {
                    "file": file,
                    "status": status,
                    "total_cost": None,
                    "error": message,
                    "issues": issues,
                },
            ),
            indent=2,
        )
        + "\n"
    )
