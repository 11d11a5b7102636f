"""One escaping function per output kind, applied where text from a spec leaves deter.

A spec is written by someone else: its ``[problem] name``, ``currency`` and ``description``
are free text, and a quoted TOML key may hold any character, a newline or an ANSI escape
sequence included. Whatever reaches an output that another program reads (a terminal, a
Markdown renderer, a spreadsheet, a JUnit parser, matplotlib's text engine) goes through the
function here for that output, at the point where it is rendered:

- :func:`terminal`: control characters (C0, DEL, C1, so every ANSI escape sequence) and the
  bidirectional overrides become visible ``\\x1b``-style escapes; newlines and tabs are kept.
  So do a file name's bytes that are not UTF-8 (lone surrogates, ``\\xff``), in every output
  kind below but JSON (whose encoder writes ``\\udcff``, which reads back to the same name);
  :func:`unpaired` does only that, for CSV cells and GitHub annotations.
- :func:`one_line`: as :func:`terminal`, and a newline or tab is escaped too, so a value put
  into a one-line message (``error: ...``) can never start a line of its own.
- :func:`markdown` (a block's start) and :func:`markdown_inline` (a table cell): HTML and
  Markdown metacharacters are turned into entities or backslash-escaped, so spec text is
  shown as text and never becomes HTML, a link, emphasis or a table column.
- :func:`csv_cell`: a text cell starting with ``= + - @``, a tab or a carriage return gets a
  leading ``'`` (OWASP, CSV injection), so a spreadsheet never evaluates it as a formula.
- :func:`xml_text`: characters XML 1.0 forbids are dropped (the XML library escapes
  ``< > & "``), so a JUnit report always parses.
- :func:`plain_figure_text`: every text of a matplotlib figure but its tick labels is drawn
  as written, never as mathtext (a ``$\\foo$`` in a name would crash a plot, ``$x$`` would
  be drawn as maths); applied to every figure just before it is saved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

# One copy, in results (the engine drops addresses where messages are made); re-exported.
from ..results.serialise import no_addresses as no_addresses

#: C0 controls except tab and newline, DEL, C1 controls (ESC and CSI start ANSI sequences),
#: and the Unicode bidirectional controls (text that reads differently than it runs).
#: Lone surrogates too: a file name's bytes that are not UTF-8 (``os.fsdecode`` makes each a
#: surrogate, ``\\udcff``), which no UTF-8 output can hold; shown as the byte, ``\\xff``.
_TERMINAL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_ONE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """``text`` safe to print on a terminal: no control character or ANSI sequence acts;
    each is shown as an escape (``\\x1b``). Newlines and tabs are kept."""
    return _TERMINAL.sub(_visible, text)


def one_line(text: str) -> str:
    """``text`` on one line, safe for a terminal: newlines, tabs and every control character
    shown as escapes (``\\n``), so the value cannot forge a line of a message."""
    return _ONE_LINE.sub(_visible, text)


#: Characters with a meaning anywhere in Markdown (emphasis, code, links and images, table
#: cells, strikethrough), escaped with a backslash, which CommonMark allows before any ASCII
#: punctuation. ``< > &`` become entities instead. An underscore inside a word
#: (``reward_hack``) never delimits emphasis, so it is left as written.
_MARKDOWN = re.compile(r"([\\`*\[\]|~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
#: What means something only at the start of a line: a heading, a list item, a quote.
_MARKDOWN_START = re.compile(r"^(\s*)([#+\-=>]|\d+(?=[.)]))")


def markdown(text: str) -> str:
    """``text`` shown as itself in Markdown, where a block starts (a heading, a list item):
    as :func:`markdown_inline`, and a leading ``#``, ``-``, ``+`` or ``1.`` is escaped too."""
    return _MARKDOWN_START.sub(_escape_start, markdown_inline(text))


def markdown_inline(text: str) -> str:
    """``text`` shown as itself inside a line of Markdown (a table cell): HTML is turned into
    entities (no raw HTML, no autolinks), Markdown metacharacters are backslash-escaped, and
    the text is one line (a newline would end a table row)."""
    text = one_line(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)


def _escape_start(match: re.Match[str]) -> str:
    indent, mark = match.group(1), match.group(2)
    if mark[0].isdigit():  # "1." starts a list: escape the dot or bracket after the digits
        return indent + mark + "\\"
    return indent + "\\" + mark


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text starting with ``= + - @``, a tab or a
    carriage return is prefixed with ``'`` (OWASP). Numbers and other values are unchanged,
    so a negative number stays a number."""
    if isinstance(value, str):
        value = unpaired(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


def unpaired(text: str) -> str:
    """``text`` with every lone surrogate (a file name's byte that is not UTF-8) shown as an
    escape (``\\xff``), as :func:`terminal` shows it: every output kind that is UTF-8 text
    (CSV, GitHub annotations) can then hold it."""
    return _SURROGATE.sub(_visible, text) if _SURROGATE.search(text) else text


def csv_cells(values: Iterable[Any]) -> list[Any]:
    """:func:`csv_cell` on each value of a ``csv.writer`` row."""
    return [csv_cell(v) for v in values]


def csv_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`csv_cell` on each value of a ``csv.DictWriter`` row."""
    return {key: csv_cell(value) for key, value in row.items()}


#: Characters XML 1.0 does not allow in a document, escaped or not.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` that XML 1.0 can hold: forbidden characters are replaced by ``?``-free
    visible escapes (``\\x1b``); ``< > & "`` are left to the XML serialiser to escape."""
    return _XML_FORBIDDEN.sub(_visible, text)


def xml_tree(root: Any) -> Any:
    """:func:`xml_text` on every text, tail and attribute of an ElementTree ``root``, in place
    (the tree is then always serialisable as XML 1.0); returns ``root``."""
    for element in root.iter():
        if element.text:
            element.text = xml_text(element.text)
        if element.tail:
            element.tail = xml_text(element.tail)
        for key, value in list(element.attrib.items()):
            element.attrib[key] = xml_text(value)
    return root


def plain_figure_text(figure: Any) -> Any:
    """Every title, axis label, legend entry and annotation of a matplotlib ``figure`` drawn
    as written, never as mathtext (``$\\foo$`` in a name would crash the drawing, ``$x$``
    would be drawn as maths). Tick labels are left alone: deter formats them (numbers, and
    matplotlib's own ``10^2`` on log axes). Idempotent; returns ``figure``."""
    from matplotlib.text import Text

    ticks: set[int] = set()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            ticks.add(id(axis.offsetText))
            for tick in (*axis.get_major_ticks(), *axis.get_minor_ticks()):
                ticks.update((id(tick.label1), id(tick.label2)))
    for text in figure.findobj(Text):
        if id(text) not in ticks:
            text.set_parse_math(False)
    return figure


class TerminalSafe:
    """A rich renderable drawn as ``inner`` is, with every piece of text through
    :func:`terminal`: whatever cell, title or line a spec's text reached, no control
    character or ANSI sequence from it reaches the terminal (rich's own colours, added when
    the segments are written out, are unaffected)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.segment import Segment

        for segment in console.render(self.inner, options):
            if segment.control or not _TERMINAL.search(segment.text):
                yield segment
            else:
                yield Segment(terminal(segment.text), segment.style)


def html_text(text: str) -> str:
    """``text`` for HTML element content or a quoted attribute: ``< > & " '`` as entities,
    and control characters (which HTML forbids) as visible escapes."""
    from html import escape

    return escape(terminal(text).replace("\x00", "\\x00"), quote=True)


#: Joins the cells that :func:`html_texts` escapes in one pass (when no cell holds it).
_CELL_JOIN = "\x01"
_TERMINAL_BUT_JOIN = re.compile(_TERMINAL.pattern.replace("\x00-\x08", "\x00\x02-\x08"))


def html_texts(texts: Sequence[str]) -> list[str]:
    """:func:`html_text` of each of ``texts``, in one pass over their joined text rather
    than a call per text (a report's tables hold up to 400,000 cells, issue 25). Each text
    is escaped character by character, so escaping the join is the join of the escapes."""
    from html import escape

    if not texts:
        return []
    joined = _CELL_JOIN.join(texts)
    if joined.count(_CELL_JOIN) != len(texts) - 1:  # a text holds the joiner: escape apart
        return [html_text(text) for text in texts]
    return escape(_TERMINAL_BUT_JOIN.sub(_visible, joined), quote=True).split(_CELL_JOIN)
