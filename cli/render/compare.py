"""Rendering a comparison of two results: a table, Markdown for a review, or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ...solver.report.escape import markdown, markdown_inline
from ...solver.report.tables import number, yes_no
from .result import fitted, markdown_table, to_console_text

if TYPE_CHECKING:
    from ...solver.analysis.compare import Comparison, Difference, Value


class CompareFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


#: Figures shown to 6 significant digits, as every table shows totals; the rest to 4.
TOTALS = frozenset({"total_cost", "oversight_cost", "penalty_cost"})


def _cell(value: Value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float | int):
        return number(float(value), digits)
    return str(value)


def _delta(row: Difference) -> str:
    if not row.changed:
        return ""
    delta = row.delta
    if delta is None:
        return "changed"
    text = f"{delta:+.4g}"
    relative = row.relative
    return text + (f" ({100 * relative:+.1f}%)" if relative is not None else "")


def _label(row: Difference) -> str:
    return f"{row.item} {row.field}" if row.item else row.field


def comparison_rows(comparison: Comparison) -> list[tuple[str, list[str], bool]]:
    return [
        (
            row.section,
            [
                _label(row),
                *(_cell(v, 6 if row.field in TOTALS else 4) for v in (row.a, row.b)),
                _delta(row),
            ],
            row.changed,
        )
        for row in comparison.rows
    ]


def comparison_csv(comparison: Comparison) -> str:
    """One row per compared figure, as the JSON's ``rows`` (numbers in full precision)."""
    import csv
    import io

    from ...solver.report.escape import csv_cells
    from ...solver.results.serialise import csv_cell

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "item", "field", "a", "b", "delta", "relative", "changed"])
    for r in comparison.rows:
        cells = [r.section, r.item, r.field, r.a, r.b, r.delta, r.relative, r.changed]
        writer.writerow(csv_cells(csv_cell(v) for v in cells))
    return buffer.getvalue()


def _headers(comparison: Comparison) -> list[str]:
    a, b = comparison.a, comparison.b
    left = a.file if a.file != b.file else f"{a.file} (a)"
    right = b.file if a.file != b.file else f"{b.file} (b)"
    return ["", left, right, "Difference"]


def _summary(comparison: Comparison) -> str:
    n = len(comparison.changes)
    if n == 0:
        return "no differences"
    return f"{n} difference{'s' if n != 1 else ''}"


def render_comparison(
    comparison: Comparison, fmt: CompareFormat, *, color: bool = False, width: int = 120
) -> str:
    if fmt is CompareFormat.json:
        return comparison.to_json()
    if fmt is CompareFormat.csv:
        return comparison_csv(comparison)
    headers = _headers(comparison)
    if fmt is CompareFormat.markdown:
        # Markdown for a review: changed rows in bold so they stand out when pasted.
        rows = []
        for section, cells, changed in comparison_rows(comparison):
            cells = [markdown_inline(c) for c in cells]  # spec text stays text
            cells = [f"**{c}**" if changed and c else c for c in cells]
            cells[0] = (
                f"{markdown_inline(section)}: {cells[0]}" if section != "policy" else cells[0]
            )
            rows.append(cells)
        a, b = markdown(comparison.a.name), markdown_inline(comparison.b.name)
        title = f"### {a} vs {b}: {_summary(comparison)}\n\n"
        return title + markdown_table([markdown_inline(h) for h in headers], rows, escaped=True)
    # The specs' paths would crowd the columns of a terminal: the table heads them A and B
    # and names them in full beneath it.
    table = Table(
        title=f"{comparison.a.name} vs {comparison.b.name}",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        title_style="bold",
    )
    for k, header in enumerate(["", "A", "B", headers[3]]):
        table.add_column(header, justify="left" if k == 0 else "right")
    last = None
    for section, cells, changed in comparison_rows(comparison):
        if section != last:
            if last is not None:
                table.add_section()
            last = section
        marked = [("! " if changed else "  ") + cells[0], *cells[1:]]
        table.add_row(*marked, style="bold yellow" if changed else None)
    footer = Text(f"A: {headers[1]}\nB: {headers[2]}\n{_summary(comparison)} (marked !)\n")
    plain = [
        [("! " if changed else "") + cells[0], *cells[1:]]
        for _, cells, changed in comparison_rows(comparison)
    ]
    title = f"{comparison.a.name} vs {comparison.b.name}"
    body = fitted(table, title, ["", "A", "B", headers[3]], plain, width)
    return to_console_text(Group(body, footer), color, width)
