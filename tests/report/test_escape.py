"""One escaper per output kind (solver/report/escape.py): spec text reaches a terminal, a
Markdown renderer, a spreadsheet, a JUnit parser or matplotlib as text, never as code."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from deter.solver.report import escape
from rich.console import Console
from rich.table import Table


def test_terminal_shows_control_characters_and_keeps_lines() -> None:
    text = "name\x1b[31m red\x1b]0;title\x07\x9b2J\u202eevil\nnext\tcol"
    safe = escape.terminal(text)
    assert "\x1b" not in safe and "\x07" not in safe and "\x9b" not in safe
    assert "\u202e" not in safe
    assert safe == "name\\x1b[31m red\\x1b]0;title\\x07\\x9b2J\\u202eevil\nnext\tcol"


def test_one_line_cannot_forge_a_line() -> None:
    safe = escape.one_line("key\nerror: forged\r\n\x1b[2K")
    assert "\n" not in safe and "\r" not in safe and "\x1b" not in safe
    assert safe == "key\\nerror: forged\\r\\n\\x1b[2K"


def test_terminal_safe_renderable_strips_escapes_from_every_cell() -> None:
    table = Table(title="\x1b[2Jtitle")
    table.add_column("a")
    table.add_row("\x1b[31mred")
    buffer = io.StringIO()
    Console(file=buffer, width=80, force_terminal=True, color_system="standard").print(
        escape.TerminalSafe(table)
    )
    out = buffer.getvalue()
    assert "\x1b[2J" not in out and "\x1b[31mred" not in out
    assert "\\x1b[2Jtitle" in out and "\\x1b[31mred" in out


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("[click](http://evil)", "\\[click\\](http://evil)"),
        ("**bold** _em_ `code` ~~s~~", "\\*\\*bold\\*\\* \\_em\\_ \\`code\\` \\~\\~s\\~\\~"),
        ("a|b", "a\\|b"),
        ("two\nlines", "two\\\\nlines"),
        ("&amp;", "&amp;amp;"),
    ],
)
def test_markdown_inline(text: str, shown: str) -> None:
    assert escape.markdown_inline(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [("# heading", "\\# heading"), ("- item", "\\- item"), ("1. item", "1\\. item")],
)
def test_markdown_escapes_what_starts_a_block(text: str, shown: str) -> None:
    assert escape.markdown(text) == shown


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cell_neutralises_formulas(start: str) -> None:
    assert escape.csv_cell(start + "HYPERLINK(1)") == "'" + start + "HYPERLINK(1)"


def test_csv_cell_leaves_numbers_and_plain_text() -> None:
    assert escape.csv_cell(-1.5) == -1.5
    assert escape.csv_cell("plain") == "plain"
    assert escape.csv_fields({"a": "=1", "b": 2}) == {"a": "'=1", "b": 2}
    assert escape.csv_cells(["@x", 3]) == ["'@x", 3]


def test_xml_tree_makes_any_text_parse() -> None:
    root = ET.Element("testsuites")
    case = ET.SubElement(root, "testcase", name="bad\x01key\x1b\ufffe")
    case.text = "text \x00 with \x0b controls"
    document = ET.tostring(escape.xml_tree(root), "unicode")
    parsed = ET.fromstring(document)  # would raise on a forbidden character
    assert parsed[0].get("name") == "bad\\x01key\\x1b\\ufffe"


def test_plain_figure_text_draws_dollars_as_written() -> None:
    from matplotlib.figure import Figure

    figure = Figure()
    axes = figure.subplots()
    axes.set_title(r"$\foo$ costs 5")
    axes.plot([1, 2], [1, 2], label=r"$\alpha$")
    axes.legend()
    with pytest.raises(ValueError):  # without it, mathtext fails on an unknown command
        figure.savefig(io.BytesIO(), format="png")
    escape.plain_figure_text(figure)
    escape.plain_figure_text(figure)  # idempotent
    figure.savefig(io.BytesIO(), format="svg")
    assert axes.title.get_text() == r"$\foo$ costs 5"  # the text is unchanged


def test_no_addresses() -> None:
    text = "failed (<cvxpy.Parameter object at 0x7f3a2b1c9d00>, id 0x7f3a2b1c9d00)"
    assert escape.no_addresses(text) == "failed (<cvxpy.Parameter object>, id 0x...)"


def test_html_text() -> None:
    assert escape.html_text('<b a="x">\x1b') == "&lt;b a=&quot;x&quot;&gt;\\x1b"


def test_a_file_names_bytes_that_are_not_utf8_are_shown_as_bytes_in_every_text_kind() -> None:
    """Issue 25: ``os.fsdecode(b"bad\\xff")`` is ``"bad\\udcff"``, which no UTF-8 writer takes."""
    from deter.solver.report.escape import (
        csv_cell,
        html_text,
        markdown_inline,
        one_line,
        terminal,
        unpaired,
        xml_text,
    )

    name = "bad\udcff\ud800.toml"
    for escaper in (terminal, one_line, unpaired, xml_text, csv_cell, html_text):
        shown = escaper(name)
        assert shown == "bad\\xff\\ud800.toml", (escaper, shown)
        shown.encode("utf-8")  # strict: it can be written
    assert markdown_inline(name) == "bad\\\\xff\\\\ud800.toml"


def test_cells_escaped_in_one_pass_are_escaped_as_one_by_one() -> None:
    from deter.solver.report.escape import html_text, html_texts

    cells = ["a<b", "", "\x00\n\t\x1b[31m", "\udcff&\"'", "\u202e", "plain", "\x02\x1f\x7f"]
    assert html_texts(cells) == [html_text(c) for c in cells]
    with_joiner = [*cells, "x\x01y"]  # a cell holding the joiner: escaped one by one
    assert html_texts(with_joiner) == [html_text(c) for c in with_joiner]
    assert html_texts([]) == []
