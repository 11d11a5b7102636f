"""``deter validate``: check specs without solving (never imports cvxpy)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from ...solver.report.files import remember_input
from ...solver.results.errors import SpecError
from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..common import err, fail, guarded, info, json_text, plural, read_spec
from ..exit_codes import ExitCode
from ..options import JSON_KINDS, DebugOption, MaxSizeOption
from ..render.result import spec_error_lines


class ValidateFormat(StrEnum):
    text = "text"
    json = "json"


def validate(
    specs: Annotated[
        list[str],
        typer.Argument(
            metavar="PATHS...",
            help="Spec files, folders (searched for *.toml) and glob patterns; '-' for stdin.",
        ),
    ],
    format: Annotated[
        ValidateFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ValidateFormat.text,
    policy: Annotated[
        bool,
        typer.Option(
            "--policy",
            help="The files are policy documents (deter export), checked against their schema.",
        ),
    ] = False,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Check spec files (or, with --policy, policy documents) without solving them.

    Takes files, folders and globs as batch and check do. JSON: {"schema_version": 1,
    "kind": "validation", "files": [...]} (one entry per file: file, valid, and its actions
    and monitors, or its issues).
    """
    from ...solver.batch.run import discover

    sources = [s for s in specs if s == "-" or policy]
    found, unmatched = discover([] if policy else [s for s in specs if s != "-"])
    if unmatched:
        fail(
            ExitCode.BAD_INPUT,
            "error: no spec files at " + ", ".join(repr(u) for u in unmatched),
        )
    sources += found

    def body() -> int:
        code = ExitCode.OK
        report: list[dict[str, Any]] = []
        for source in sources:
            try:
                if policy:
                    counts = _policy_counts(source, max_size)
                else:
                    parsed = read_spec(source, max_size)
                    counts = (len(parsed.actions), len(parsed.all_monitors()))
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
            n_actions, n_monitors = counts
            report.append(
                {"file": source, "valid": True, "actions": n_actions, "monitors": n_monitors}
            )
            if format is ValidateFormat.text:
                typer.echo(
                    f"{source}: ok ({plural(n_actions, 'action')}, {plural(n_monitors, 'monitor')})"
                )
        if format is ValidateFormat.json:
            typer.echo(json_text(JSON_KINDS["validate"], report, key="files"), nl=False)
        elif len(report) > 1:
            bad = sum(not r["valid"] for r in report)
            info(f"{plural(len(report), 'file')}: {len(report) - bad} valid, {bad} not")
        return int(code)

    raise typer.Exit(guarded(debug, body))


def _policy_counts(source: str, max_size: int) -> tuple[int, int]:
    """(actions, monitors) of a valid policy document; PolicyError (a SpecError) if not."""
    from ...solver.policy.document import load_policy_file, load_policy_text

    if source == "-":
        doc = load_policy_text(sys.stdin.buffer.read(max_size + 1), file="<stdin>")
    else:
        doc = load_policy_file(source, max_bytes=max_size)
    remember_input(source)
    return len(doc["actions"]), len(doc["monitors"])
