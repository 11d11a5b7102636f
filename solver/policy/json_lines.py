"""Find the line of each key in a JSON document's text.

``json.loads`` returns plain dicts without positions, so a problem found after parsing (a
wrong type, an unknown monitor) is located by one scan of the text: every value's key path
is mapped to where it is written (an object's member to its key, an array's item to its
first character). Only text that ``json.loads`` accepted is scanned.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass

Path = tuple[str | int, ...]

#: A string (whole, escapes included), one punctuation mark, or a number/true/false/null.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]|[^\s\[\]{}:,"]+', re.DOTALL)


@dataclass
class _Open:
    path: Path
    is_object: bool
    index: int = 0
    key: str = ""
    want_key: bool = True


def value_lines(text: str) -> dict[Path, tuple[int, int]]:
    """Map every key path in the JSON ``text`` to its (line, column), both 1-based:
    ``("monitors", 0, "cost")`` to where ``"cost"`` is written in the first monitor."""
    offsets: dict[Path, int] = {}
    stack: list[_Open] = []
    for match in _TOKEN.finditer(text):
        token, at = match.group(), match.start()
        top = stack[-1] if stack else None
        if top is not None and top.is_object and top.want_key and token.startswith('"'):
            top.key, top.want_key = json.loads(token), False
            offsets.setdefault((*top.path, top.key), at)
            continue
        if token == ":":
            continue
        if token == ",":
            if top is not None:
                if top.is_object:
                    top.want_key = True
                else:
                    top.index += 1
            continue
        if token in ("]", "}"):
            if stack:
                stack.pop()
            continue
        # a value starts here
        if top is None:
            path: Path = ()
        elif top.is_object:
            path = (*top.path, top.key)
        else:
            path = (*top.path, top.index)
        offsets.setdefault(path, at)
        if token in ("[", "{"):
            stack.append(_Open(path, token == "{"))
    newlines = [m.start() for m in re.finditer("\n", text)]
    positions: dict[Path, tuple[int, int]] = {}
    for path, at in offsets.items():
        line = bisect.bisect_left(newlines, at)
        start = newlines[line - 1] + 1 if line else 0
        positions[path] = (line + 1, at - start + 1)
    return positions


def locate(lines: dict[Path, tuple[int, int]], path: Path) -> tuple[int, int] | None:
    """Where ``path`` is written, or else its deepest written parent (a missing key is
    located at the object that should hold it); None without text."""
    for depth in range(len(path), -1, -1):
        if path[:depth] in lines:
            return lines[path[:depth]]
    return None
