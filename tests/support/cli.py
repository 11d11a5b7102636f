"""What the CLI tests share."""

from __future__ import annotations

#: The environment every CLI test runs in: no colour, a fixed width.
CLI_ENV = {"NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
