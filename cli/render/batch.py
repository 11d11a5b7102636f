"""Rendering batch and check runs: tables, JSON, JSON lines, CSV, JUnit XML, GitHub annotations.

Everything here turns finished :class:`~deter.solver.batch.run.FileOutcome` objects into text;
nothing is solved. Output for stdout is returned as a string; the summary is for stderr.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ...solver.report.escape import csv_fields, xml_tree
from ...solver.results.errors import Finding
from ...solver.results.serialise import csv_row, dumps
from ...solver.results.status import FILE_STATUSES, Status
from ..exit_codes import OutcomeCode, for_run
from .result import number, to_console_text

if TYPE_CHECKING:  # the batch engine loads only when a batch runs
    from ...solver.batch.outcome import FileOutcome
    from ...solver.batch.run import BatchRun


class BatchFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    junit = "junit"
    github = "github"


def render_run(
    run: BatchRun,
    fmt: BatchFormat,
    code: OutcomeCode,
    *,
    command: str = "batch",
    color: bool = False,
    width: int = 120,
    timing: bool = True,
) -> str:
    outcomes = run.outcomes
    if fmt is BatchFormat.json:
        return run_json(run, code, command, timing)
    if fmt is BatchFormat.jsonl:
        return "".join(dumps(outcome_doc(o, code, timing)) + "\n" for o in outcomes)
    if fmt is BatchFormat.csv:
        return run_csv(outcomes, code, timing)
    if fmt is BatchFormat.junit:
        return run_junit(run, command, timing)
    if fmt is BatchFormat.github:
        return "".join(line + "\n" for o in outcomes for line in github_annotations(o))
    if command == "check":
        return "".join(line + "\n" for o in outcomes for line in check_lines(o))
    return to_console_text(outcome_table(outcomes, code, width), color=color, width=width)


# --- per-file documents -------------------------------------------------------------------


def where(outcome: FileOutcome, finding: Finding | None = None) -> str:
    line = finding.line if finding is not None else None
    return f"{outcome.file}:{line}" if line else outcome.file


def note(outcome: FileOutcome) -> str:
    """One short line on why a file did not simply pass."""
    failed = outcome.failed_requirements
    if failed:
        return f"{len(failed)} requirement(s) failed: " + ", ".join(f.key for f in failed)
    if outcome.status == Status.optimal:
        return ""
    return outcome.error or (outcome.findings[0].message if outcome.findings else "")


def finding_doc(finding: Finding) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": finding.kind,
        "message": finding.message,
        "line": finding.line,
        "key": finding.key,
    }
    if finding.kind == "requirement":
        doc.update(requirement=finding.key, limit=finding.limit, measured=finding.measured)
    return doc


def outcome_doc(
    outcome: FileOutcome, code: OutcomeCode, timing: bool = True, result: bool = False
) -> dict[str, Any]:
    """One file as a JSON object (a line of jsonl; an entry of the json document)."""
    doc: dict[str, Any] = {
        "file": outcome.file,
        "name": outcome.name,
        "status": outcome.status,
        "total_cost": outcome.total_cost,
        "error": outcome.error,
        "exit_code": code(outcome),
        "rates": outcome.rates,
        "findings": [finding_doc(f) for f in outcome.findings],
        "sha256": outcome.sha256,
    }
    if outcome.checked:
        doc["requirements_met"] = not outcome.failed_requirements and outcome.status in (
            Status.optimal,
            Status.infeasible,
        )
        doc["failed_requirements"] = [finding_doc(f) for f in outcome.failed_requirements]
    if result:
        doc["result"] = outcome.result.to_dict(timing=False) if outcome.result else None
    if timing:
        doc["timing"] = {"seconds": outcome.seconds, "resumed": outcome.resumed}
    return doc


def counts(outcomes: Sequence[FileOutcome]) -> dict[Status, int]:
    tally = Counter(o.status for o in outcomes)
    return {s: tally[s] for s in FILE_STATUSES}


def run_counts(run: BatchRun, code: OutcomeCode, command: str) -> dict[str, int]:
    """Files per status; for check also ``requirements_failed``: the files that solved (or
    were infeasible) and failed a requirement, each counted once, and ``passed``."""
    doc: dict[str, int] = {str(s): n for s, n in counts(run.outcomes).items()}
    if command == "check":
        checked = [o for o in run.outcomes if o.status in (Status.optimal, Status.infeasible)]
        doc["requirements_failed"] = sum(1 for o in checked if o.failed_requirements)
        doc["passed"] = sum(1 for o in run.outcomes if code(o) == 0)
    return doc


def run_json(run: BatchRun, code: OutcomeCode, command: str, timing: bool) -> str:
    doc: dict[str, Any] = {
        "schema_version": 1,
        "kind": command,  # "batch" or "check", as the command (kept: "command")
        "command": command,
        "files": len(run.files),
        "finished": len(run.outcomes),
        "counts": run_counts(run, code, command),
        "exit_code": for_run(run, code),
        "interrupted": run.interrupted,
        "stopped_early": run.stopped_early,
        "not_run": run.not_run,
        "results": [outcome_doc(o, code, timing, result=True) for o in run.outcomes],
    }
    if command == "check":
        doc["requirements_failed"] = sum(len(o.failed_requirements) for o in run.outcomes)
    if timing:
        doc["timing"] = {"elapsed": run.elapsed, "jobs": run.jobs, "resumed": run.resumed}
    return dumps(doc, indent=2) + "\n"


CSV_COLUMNS = [
    "file",
    "name",
    "status",
    "total_cost",
    "exit_code",
    "error",
    "failed_requirements",
    "seconds",
]


def run_csv(outcomes: Sequence[FileOutcome], code: OutcomeCode, timing: bool) -> str:
    buffer = io.StringIO()
    columns = CSV_COLUMNS if timing else CSV_COLUMNS[:-1]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for o in outcomes:
        row = {
            "file": o.file,
            "name": o.name,
            "status": o.status,
            "total_cost": o.total_cost,
            "exit_code": code(o),
            "error": o.error or "",
            "failed_requirements": ";".join(f.key for f in o.failed_requirements),
            "seconds": f"{o.seconds:.4f}",
        }
        writer.writerow(csv_fields(csv_row(row)))  # text never a formula in a spreadsheet
    return buffer.getvalue()


# --- CI formats -----------------------------------------------------------------------------


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, file: str, line: int | None, title: str, message: str) -> str:
    """A GitHub Actions workflow command, e.g. ``::error file=a.toml,line=3,title=..::msg``."""
    props = [f"file={_escape_property(file)}"]
    if line:
        props.append(f"line={line}")
    props.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


_TITLES = {
    "bad_input": "deter: bad input",
    "infeasible": "deter: cannot be deterred",
    "solver_error": "deter: no verified answer",
    "requirement": "deter: requirement failed",
}


def github_annotations(outcome: FileOutcome) -> list[str]:
    """One ``::error`` per finding, at the line of the offending key or action."""
    lines = []
    for f in outcome.findings:
        title = _TITLES.get(f.kind, "deter")
        if f.kind == "requirement":
            title += f" ({f.key})"
            message = f"{f.key}: measured {f.measured}, limit {f.limit}: {f.message}"
        else:
            message = f"{f.key}: {f.message}" if f.key else f.message
        lines.append(annotation("error", outcome.file, f.line, title, message))
    if not lines and outcome.status != Status.optimal:
        lines.append(
            annotation(
                "error",
                outcome.file,
                None,
                _TITLES.get(outcome.status, "deter"),
                outcome.error or outcome.status,
            )
        )
    return lines


def run_junit(run: BatchRun, command: str, timing: bool = True) -> str:
    """JUnit XML: one testcase per file; infeasible or a failed requirement is a failure,
    bad input or a solver failure an error. ``time`` attributes only with ``timing``."""
    suite = ET.Element("testsuite", name=f"deter {command}")
    failures = errors = 0
    for o in run.outcomes:
        case = ET.SubElement(
            suite, "testcase", classname=f"deter.{command}", name=o.file, file=o.file
        )
        if timing:
            case.set("time", f"{o.seconds:.4f}")
        text = "\n".join(f"{where(o, f)}: {f.message}" for f in o.findings) or (o.error or "")
        if o.status in (Status.bad_input, Status.solver_error):
            errors += 1
            element = ET.SubElement(case, "error", type=o.status, message=o.error or o.status)
            element.text = text
        elif o.failed_requirements or (o.status == Status.infeasible and not o.checked):
            failures += 1
            element = ET.SubElement(case, "failure", type=o.status, message=note(o) or o.status)
            element.text = text
    for file in run.not_run:
        case = ET.SubElement(suite, "testcase", classname=f"deter.{command}", name=file)
        ET.SubElement(case, "skipped", message="not run (interrupted or --max-failures)")
    suite.set("tests", str(len(run.outcomes) + len(run.not_run)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(len(run.not_run)))
    if timing:
        suite.set("time", f"{run.elapsed:.3f}")
    root = ET.Element("testsuites")
    root.append(suite)
    xml_tree(root)  # a control character from a spec would make the XML unreadable
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def check_lines(outcome: FileOutcome) -> list[str]:
    """deter check's plain output: one line per failed requirement (and per error)."""
    if outcome.status in (Status.bad_input, Status.solver_error):
        return [f"{where(outcome, f)}: {outcome.status}: {f.message}" for f in outcome.findings]
    return [
        f"{where(outcome, f)}: {f.key} failed: {f.message} (measured: {f.measured}; "
        f"limit: {f.limit})"
        for f in outcome.failed_requirements
    ]


# --- tables ------------------------------------------------------------------------------------


def outcome_table(
    outcomes: Sequence[FileOutcome], code: OutcomeCode, width: int = 120
) -> RenderableType:
    """Files as a table, file names whole and notes wrapped at words; when the names leave
    the note no room (a narrow terminal), one record per file instead."""
    from .result import stacked

    headers = ("File", "Status", "Cost", "Exit", "Note")
    rows = [[o.file, o.status, number(o.total_cost), str(code(o)), note(o)] for o in outcomes]

    def widest(k: int) -> int:
        return max([len(headers[k]), *(len(row[k]) for row in rows)])

    # every column but the note at its widest, a note of 24 at least, and the padding
    if sum(widest(k) for k in range(4)) + min(24, widest(4)) + 12 > width:
        return stacked("Files", headers, rows)
    table = Table(box=box.SIMPLE_HEAD, title="Files", title_justify="left", title_style="bold")
    for header in headers:
        table.add_column(
            header,
            justify="right" if header in ("Cost", "Exit") else "left",
            no_wrap=header != "Note",
        )
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # file names are data, never markup
    return table


def summary(run: BatchRun, code: OutcomeCode, command: str = "batch") -> RenderableType:
    """The end-of-run summary for stderr: counts per status, slowest files, total time."""
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"deter {command}: summary",
        title_justify="left",
        title_style="bold",
    )
    table.add_column("Status")
    table.add_column("Files", justify="right")
    if command == "check":
        # each file once: passed, failed a requirement, or neither checked (bad input, no
        # verified answer); an infeasible spec that fails deter_all counts as failed
        tally = run_counts(run, code, command)
        table.add_row("passed", str(tally["passed"]))
        table.add_row("requirements failed", str(tally["requirements_failed"]))
        table.add_row("bad input", str(tally[Status.bad_input]))
        table.add_row("no verified answer", str(tally[Status.solver_error]))
    else:
        for status, n in counts(run.outcomes).items():
            table.add_row(status, str(n))
    if run.not_run:
        table.add_row("not run", str(len(run.not_run)))
    parts: list[RenderableType] = [table]
    slow = sorted((o for o in run.outcomes if not o.resumed), key=lambda o: -o.seconds)[:5]
    if slow:
        slowest = Table(box=box.SIMPLE_HEAD, title="Slowest files", title_justify="left")
        slowest.add_column("File")
        slowest.add_column("Seconds", justify="right")
        for o in slow:
            slowest.add_row(o.file, f"{o.seconds:.3f}")
        parts.append(slowest)
    line = (
        f"{len(run.outcomes)} of {len(run.files)} files in {run.elapsed:.2f} s "
        f"({run.jobs} {run.executor} worker{'s' if run.jobs != 1 else ''}"
        + (f", {run.resumed} resumed from the ledger" if run.resumed else "")
        + f"); exit code {for_run(run, code)}"
    )
    parts.append(Text(line))
    return Group(*parts)


def summary_line(run: BatchRun, code: OutcomeCode) -> str:
    """The summary in one line, after a machine format."""
    tally = ", ".join(f"{n} {s}" for s, n in counts(run.outcomes).items() if n)
    return (
        f"{len(run.outcomes)} of {len(run.files)} files ({tally or 'none'}) in "
        f"{run.elapsed:.2f} s ({run.jobs} {run.executor} worker{'s' if run.jobs != 1 else ''}); "
        f"exit code {for_run(run, code)}"
    )
