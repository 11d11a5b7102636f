"""Find the line of a key in TOML text.

tomli returns plain dicts without positions, so errors found after parsing (a wrong type,
an unknown action) are located by scanning the text for the key's table header and
assignment. The scan understands what spec files use: ``[table]``, ``[[array]]`` headers,
``key = value`` and dotted keys, and inline tables (located to the line that holds them).
Multi-line strings and arrays are skipped over so their contents are never taken for keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

Loc = Sequence[str | int]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_PART = r"""(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")


def _split_key(dotted: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", dotted)
    return tuple(p.strip("\"'") for p in parts)


def key_lines(text: str) -> dict[tuple[str | int, ...], tuple[int, int]]:
    """Map every key path in ``text`` to its (line, column), both 1-based.

    Array-of-tables entries get integer indices: the second ``[[actions]]`` is ``("actions", 1)``.
    """
    positions: dict[tuple[str | int, ...], tuple[int, int]] = {}
    array_counts: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    in_multiline: str | None = None
    bracket_depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if bracket_depth > 0:
            bracket_depth += line.count("[") - line.count("]")
            continue
        header = _HEADER.match(line)
        if header:
            path = _split_key(header.group(2))
            if header.group(1) == "[[":
                index = array_counts.get(path, 0)
                array_counts[path] = index + 1
                table = (*path, index)
                # The array itself (e.g. "too few actions", an unknown [[monitor]]) is
                # located at its first header.
                positions.setdefault(path, (number, line.index("[") + 1))
            else:
                table = path
            positions.setdefault(table, (number, line.index("[") + 1))
            continue
        key = _KEY.match(line)
        if not key:
            continue
        full = (*table, *_split_key(key.group(1)))
        positions.setdefault(full, (number, len(line) - len(line.lstrip()) + 1))
        value = line[key.end() :]
        for quote in ('"""', "'''"):
            if value.count(quote) % 2 == 1:
                in_multiline = quote
        if in_multiline is None:
            # An array value that continues on later lines.
            stripped = re.sub(r"""("[^"]*"|'[^']*')""", "", value.split("#", 1)[0])
            bracket_depth = max(0, stripped.count("[") - stripped.count("]"))
    return positions


class KeyIndex:
    """The key positions and lines of one TOML text, scanned once.

    Locating many keys (one per error: a file may have thousands) then costs a dictionary
    lookup each, not a scan of the whole text each.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.positions = key_lines(text)

    def locate(self, loc: Loc) -> tuple[int, int] | None:
        """The (line, column) of ``loc``, or of its nearest located ancestor.

        A key inside an inline table (``detects = { sandbg = 0.5 }``) is located on the line
        of the inline table, at the column where the inner key is written.
        """
        path = tuple(loc)
        for depth in range(len(path), 0, -1):
            found = self.positions.get(path[:depth])
            if found is None:
                continue
            line, column = found
            if depth < len(path) and isinstance(path[depth], str):
                source = self.lines[line - 1]
                key = re.escape(str(path[depth]))
                match = re.search(rf"(?<![A-Za-z0-9_\-]){key}\s*=", source)
                if match:
                    column = match.start() + 1
            return line, column
        return None


@lru_cache(maxsize=8)
def key_index(text: str) -> KeyIndex:
    """The :class:`KeyIndex` of ``text``, built once per text (a spec's errors and its
    ``line_of`` lookups all share it)."""
    return KeyIndex(text)


def locate(text: str, loc: Loc) -> tuple[int, int] | None:
    """The (line, column) of ``loc`` in ``text``, or of its nearest located ancestor (see
    :meth:`KeyIndex.locate`); the text is scanned once, however many keys are located."""
    return key_index(text).locate(loc)
