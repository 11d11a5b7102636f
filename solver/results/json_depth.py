"""A nesting bound for JSON that deter reads from elsewhere (batch ledgers, policy documents).

``json.loads`` recurses once per level: a line of 200,000 brackets ends in ``RecursionError``
(or worse, deep in whatever walks the result) instead of a refusal (issue 25). What deter
writes nests a few levels (a ledger entry 6, a policy document 5), so anything deeper than
:data:`MAX_JSON_DEPTH` is refused before it is parsed, with where it went too deep.
"""

from __future__ import annotations

import re

#: The deepest nesting of arrays and objects accepted (deter's own documents nest ~6 levels).
MAX_JSON_DEPTH = 64


class TooDeep(ValueError):
    """JSON nested deeper than allowed; ``line`` and ``column`` (1-based) say where."""

    def __init__(self, limit: int, line: int, column: int) -> None:
        super().__init__(f"nested deeper than {limit} levels (line {line}, column {column})")
        self.limit, self.line, self.column = limit, line, column


#: A JSON string (skipped whole: brackets in it do not count) or one bracket.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def check_depth(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`TooDeep` when the arrays and objects in ``text`` nest deeper than
    ``limit``. Brackets inside strings do not count. Meant for text about to be parsed: on
    text that is not JSON it may refuse or pass, and the parser has the last word."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") <= limit:  # the common case: no scan needed
        return
    depth = 0
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                at = match.start()
                line = raw.count(b"\n", 0, at) + 1
                column = at - (raw.rfind(b"\n", 0, at) + 1) + 1
                raise TooDeep(limit, line, column)
        elif token in (b"]", b"}"):
            depth -= 1
