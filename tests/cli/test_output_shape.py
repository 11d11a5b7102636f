"""Output that is not a terminal keeps its tables' shape (issue 21 item 7): a sweep piped to
a file is one row per point, not records wrapped at 100 columns; simulate's tables are all
tables or all records, never a mix."""

from __future__ import annotations

import io
import re
import sys
from typing import Any

import pytest
from deter.cli.app import app
from deter.cli.common import UNLIMITED_WIDTH, terminal_width
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.paths import PROBLEMS

CODING = str(PROBLEMS / "coding_agent.toml")
TYPES = str(PROBLEMS / "agent_types_bayesian.toml")


def invoke(*args: str, columns: str | None) -> Any:
    env = {**CLI_ENV, "COLUMNS": columns}  # None: unset, as in a shell that does not export it
    return CliRunner(env=env).invoke(app, list(args), catch_exceptions=False)


def test_a_file_or_pipe_is_as_wide_as_the_table(monkeypatch: Any) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    # CliRunner's stdout has no terminal size, as a file or a pipe
    assert terminal_width() == UNLIMITED_WIDTH
    monkeypatch.setenv("COLUMNS", "80")  # asked for: honoured
    assert terminal_width() == 80


def test_a_grid_sweep_to_a_file_is_one_row_per_point() -> None:
    gains = "actions.reward_hack.gain=1:5:6"
    costs = "monitors.llm_judge.cost=0.05:0.3:6"
    result = invoke("sweep", CODING, "--vary", gains, "--vary", costs, "-q", columns=None)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line for line in lines if re.match(r"^\s+\d", line) and "optimal" in line]
    assert len(rows) == 36, result.stdout  # each point one line: the table's shape
    assert len(lines) < 36 + 15, len(lines)
    # the same sweep in a 60-column terminal is stacked into records, as before
    narrow = invoke("sweep", CODING, "--vary", gains, "--vary", costs, "-q", columns="60")
    assert len(narrow.stdout.splitlines()) > 36 * 5
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60


def test_simulate_tables_share_one_shape() -> None:
    def shapes(text: str) -> list[bool]:
        """For each table title, whether a rule (a table's header line) follows it."""
        lines = text.splitlines()
        out = []
        for k, line in enumerate(lines):
            if line.startswith(("Policies", "Actions under", "Agent types under")):
                out.append(any("──" in following for following in lines[k + 1 : k + 6]))
        return out

    wide = invoke("simulate", TYPES, "-n", "30", "-k", "5", columns=None)
    assert wide.exit_code == 0, wide.stderr
    assert len(shapes(wide.stdout)) >= 3 and all(shapes(wide.stdout)), wide.stdout
    for columns in ("60", "90", "110"):
        text = invoke("simulate", TYPES, "-n", "30", "-k", "5", columns=columns).stdout
        seen = shapes(text)
        assert len(seen) >= 3 and len(set(seen)) == 1, (columns, text)


# --- progress on stderr (issue 21 item 6) ---------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_long_work_shows_progress_on_a_terminal_only(
    quiet: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deter.cli import app as cli_app

    args = ["sweep", CODING, "--vary", "actions.reward_hack.gain=1:5:5", "-f", "csv"]
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli_app.run([*args, *(["-q"] if quiet else [])]) == 0
    shown = terminal.getvalue()
    if quiet:
        assert shown == ""
    else:
        assert "solving" in shown and "5/5" in shown, shown
    monkeypatch.undo()
    # not a terminal (a log, a pipe): no progress, only the output
    assert cli_app.run(args) == 0
    assert "solving" not in capsys.readouterr().err
