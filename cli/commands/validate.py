"""``deter validate``: check specs without solving (never imports cvxpy)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ...solver.results.errors import SpecError
from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import err, fail, guarded, plural, read_spec
from ..exit_codes import ExitCode
from ..options import DebugOption, MaxSizeOption
from ..render.result import spec_error_lines


def validate(
    specs: Annotated[list[str], typer.Argument(help="Spec files to check ('-' for stdin).")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="Output format: text or json.")
    ] = "text",
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Check spec files without solving them (fast: does not load the solver)."""
    if format not in ("text", "json"):
        fail(ExitCode.BAD_INPUT, f"error: unknown format {format!r}; choose text or json")

    def body() -> int:
        code = ExitCode.OK
        report = []
        for source in specs:
            try:
                parsed = read_spec(source, max_size)
            except SpecError as exc:
                code = ExitCode.BAD_INPUT
                for line in spec_error_lines(exc):
                    err(line)
                report.append(
                    {
                        "file": source,
                        "valid": False,
                        "issues": [
                            {"key": i.key, "line": i.line, "message": i.message} for i in exc.issues
                        ],
                    }
                )
                continue
            n_actions, n_monitors = len(parsed.actions), len(parsed.all_monitors())
            report.append(
                {"file": source, "valid": True, "actions": n_actions, "monitors": n_monitors}
            )
            if format == "text":
                typer.echo(
                    f"{source}: ok ({plural(n_actions, 'action')}, {plural(n_monitors, 'monitor')})"
                )
        if format == "json":
            typer.echo(json.dumps(report, indent=2))
        return int(code)

    raise typer.Exit(guarded(debug, body))
