"""Rendering batch and check runs: tables, JSON, JSON lines, CSV, JUnit XML, GitHub annotations.

Everything here turns finished :class:`~deter.solver.batch.outcome.FileOutcome` objects into
text; nothing is solved. A :class:`BatchWriter` writes a run's output as its files finish (in
input order) and keeps only tallies (:class:`Tally`), so a batch of any length renders in flat
memory; :func:`render_run` renders a whole finished run to a string. The summary is for stderr.
"""

from __future__ import annotations

import csv
import heapq
import io
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any, Protocol

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ...solver.report.escape import csv_fields, one_line, terminal, unpaired, xml_tree
from ...solver.results.errors import Finding
from ...solver.results.serialise import csv_row, dumps, envelope
from ...solver.results.status import FILE_STATUSES, Status
from ..exit_codes import ExitCode, OutcomeCode, for_codes
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
    """A finished run's whole output (its ``outcomes``), as :class:`BatchWriter` streams it."""
    out = io.StringIO()
    writer = BatchWriter(out, fmt, code, command=command, color=color, width=width, timing=timing)
    for outcome in run.outcomes:
        writer.add(outcome)
    writer.finish(run)
    return out.getvalue()


class Tally:
    """What a run's summary, JSON head, JUnit suite and exit code need of its outcomes,
    counted as they stream past (none of them is kept)."""

    def __init__(self, code: OutcomeCode, command: str = "batch") -> None:
        self.code = code
        self.command = command
        self.finished = 0
        self.statuses: Counter[str] = Counter()
        self.codes: set[int] = set()
        self.passed = 0  # exit code 0
        self.requirements_failed = 0  # files that solved (or were infeasible) and failed one
        self.failed_requirements = 0  # failed requirements, over all files
        self.junit_failures = 0
        self._slowest: list[tuple[float, int, str]] = []  # a heap: (seconds, -position, file)

    @classmethod
    def of(cls, outcomes: Iterable[FileOutcome], code: OutcomeCode, command: str) -> Tally:
        tally = cls(code, command)
        for outcome in outcomes:
            tally.add(outcome)
        return tally

    def add(self, o: FileOutcome) -> None:
        position = self.finished
        self.finished += 1
        self.statuses[o.status] += 1
        code = self.code(o)
        self.codes.add(code)
        self.passed += code == ExitCode.OK
        failed = o.failed_requirements
        self.failed_requirements += len(failed)
        if failed and o.status in (Status.optimal, Status.infeasible):
            self.requirements_failed += 1
        if o.status not in (Status.bad_input, Status.solver_error) and (
            failed or (o.status == Status.infeasible and not o.checked)
        ):
            self.junit_failures += 1
        if not o.resumed:
            heapq.heappush(self._slowest, (o.seconds, -position, o.file))
            if len(self._slowest) > SLOWEST:
                heapq.heappop(self._slowest)

    def counts(self) -> dict[Status, int]:
        return {s: self.statuses[s] for s in FILE_STATUSES}

    def run_counts(self) -> dict[str, int]:
        """Files per status; for check also ``requirements_failed``: the files that solved
        (or were infeasible) and failed a requirement, each counted once, and ``passed``."""
        doc: dict[str, int] = {str(s): n for s, n in self.counts().items()}
        if self.command == "check":
            doc["requirements_failed"] = self.requirements_failed
            doc["passed"] = self.passed
        return doc

    def exit_code(self, run: BatchRun) -> ExitCode:
        return for_codes(self.codes, interrupted=run.interrupted, lost=run.lost is not None)

    def slowest(self) -> list[tuple[str, float]]:
        """The slowest files solved in this run (not resumed), slowest first."""
        ranked = sorted(self._slowest, key=lambda item: (-item[0], -item[1]))
        return [(file, seconds) for seconds, _, file in ranked]


#: Files in the summary's "Slowest files".
SLOWEST = 5
_RESULTS = "@@deter-batch-results@@"  # where a JSON document's streamed entries go


class TextOut(Protocol):
    """Where a :class:`BatchWriter` writes: a text file, stdout, a ``StringIO``."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class BatchWriter:
    """A run's output in one format, written as its files finish (``add``, in input order),
    ended by ``finish``. JSON lines, CSV rows, annotations and ``check``'s lines go out at
    once; the entries of a JSON document and JUnit's test cases wait in a temporary file
    until the counts that head them are known; only a table keeps its rows (it aligns them;
    the results are dropped)."""

    def __init__(
        self,
        out: TextOut,
        fmt: BatchFormat,
        code: OutcomeCode,
        *,
        command: str = "batch",
        timing: bool = True,
        color: bool = False,
        width: int = 120,
    ) -> None:
        self.out, self.fmt, self.code, self.command = out, fmt, code, command
        self.timing, self.color, self.width = timing, color, width
        self.tally = Tally(code, command)
        self.rows: list[FileOutcome] = []
        self.spool: IO[str] | None = None
        if fmt in (BatchFormat.json, BatchFormat.junit):
            self.spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.csv: Any = None
        if fmt is BatchFormat.csv:
            columns = CSV_COLUMNS if timing else CSV_COLUMNS[:-1]
            self.csv = csv.DictWriter(
                out, fieldnames=columns, lineterminator="\n", extrasaction="ignore"
            )
            self.csv.writeheader()

    def add(self, o: FileOutcome) -> None:
        first = self.tally.finished == 0
        self.tally.add(o)
        fmt = self.fmt
        if fmt is BatchFormat.jsonl:
            self.out.write(dumps(outcome_doc(o, self.code, self.timing)) + "\n")
        elif fmt is BatchFormat.csv:
            self.csv.writerow(csv_fields(csv_row(csv_record(o, self.code))))
        elif fmt is BatchFormat.github:
            self.out.write("".join(line + "\n" for line in github_annotations(o)))
        elif fmt is BatchFormat.json:
            entry = dumps(outcome_doc(o, self.code, self.timing, result=True), indent=2)
            assert self.spool is not None
            self.spool.write(("\n" if first else ",\n") + _indented(entry, "    "))
        elif fmt is BatchFormat.junit:
            assert self.spool is not None
            self.spool.write("    " + _tostring(junit_case(o, self.command, self.timing)) + "\n")
        elif self.command == "check":  # terminal lines: each one line, escaped
            self.out.write("".join(one_line(line) + "\n" for line in check_lines(o)))
        else:
            self.rows.append(replace(o, result=None))

    def finish(self, run: BatchRun) -> None:
        """Write what follows the files (or, for a table, the whole table)."""
        if self.fmt is BatchFormat.json:
            self._finish_json(run)
        elif self.fmt is BatchFormat.junit:
            self._finish_junit(run)
        elif self.fmt is BatchFormat.table and self.command != "check":
            table = outcome_table(self.rows, self.code, self.width)
            self.out.write(to_console_text(table, color=self.color, width=self.width))
        self.out.flush()
        self.close()

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None

    def _copy_spool(self) -> None:
        assert self.spool is not None
        self.spool.seek(0)
        shutil.copyfileobj(self.spool, self.out)

    def _finish_json(self, run: BatchRun) -> None:
        tally = self.tally
        # kind is "batch" or "check", as the command (kept: "command")
        doc: dict[str, Any] = envelope(
            self.command,
            {
                "command": self.command,
                "files": len(run.files),
                "finished": tally.finished,
                "counts": tally.run_counts(),
                "exit_code": tally.exit_code(run),
                "interrupted": run.interrupted,
                "stopped_early": run.stopped_early,
                "not_run": run.not_run,
                "results": _RESULTS,
            },
        )
        if self.command == "check":
            doc["requirements_failed"] = tally.failed_requirements
        if self.timing:
            doc["timing"] = {"elapsed": run.elapsed, "jobs": run.jobs, "resumed": run.resumed}
        head, tail = dumps(doc, indent=2).split(f'"{_RESULTS}"')
        if tally.finished == 0:
            self.out.write(head + "[]" + tail + "\n")
            return
        self.out.write(head + "[")
        self._copy_spool()
        self.out.write("\n  ]" + tail + "\n")

    def _finish_junit(self, run: BatchRun) -> None:
        tally = self.tally
        skipped = run.not_run
        suite = ET.Element("testsuite", name=f"deter {self.command}")
        suite.set("tests", str(tally.finished + len(skipped)))
        suite.set("failures", str(tally.junit_failures))
        suite.set(
            "errors", str(tally.statuses[Status.bad_input] + tally.statuses[Status.solver_error])
        )
        suite.set("skipped", str(len(skipped)))
        if self.timing:
            suite.set("time", f"{run.elapsed:.3f}")
        self.out.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        opening = _tostring(suite)
        if not (tally.finished or skipped):
            self.out.write(f"  {opening}\n</testsuites>\n")
            return
        self.out.write("  " + opening.removesuffix(" />") + ">\n")
        self._copy_spool()
        for file in skipped:
            case = ET.Element("testcase", classname=f"deter.{self.command}", name=file)
            ET.SubElement(case, "skipped", message="not run (interrupted or --max-failures)")
            self.out.write("    " + _tostring(case) + "\n")
        self.out.write("  </testsuite>\n</testsuites>\n")


def _indented(text: str, prefix: str) -> str:
    """Every line of a JSON document indented (it nests in a list of the one around it;
    JSON text has no newline inside a string)."""
    return "\n".join(prefix + line for line in text.split("\n"))


def _tostring(element: ET.Element) -> str:
    """An element as ``ET.indent`` would lay it out two levels deep in the JUnit document."""
    xml_tree(element)  # a control character from a spec would make the XML unreadable
    ET.indent(element, level=2)
    return ET.tostring(element, "unicode")


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


def csv_record(o: FileOutcome, code: OutcomeCode) -> dict[str, Any]:
    """One file's CSV row (``seconds`` left out by the writer under ``--no-timing``)."""
    return {
        "file": o.file,
        "name": o.name,
        "status": o.status,
        "total_cost": o.total_cost,
        "exit_code": code(o),
        "error": o.error or "",
        "failed_requirements": ";".join(f.key for f in o.failed_requirements),
        "seconds": f"{o.seconds:.4f}",
    }


# --- CI formats -----------------------------------------------------------------------------


def _escape_data(text: str) -> str:
    return unpaired(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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
    """One ``::error`` per finding, at the line of the offending key or action; under
    ``check`` a failed ``deter_all`` is the one annotation of its line (the infeasibility it
    reports is not said twice)."""
    lines = []
    deter_all = {
        f.line for f in outcome.findings if f.kind == "requirement" and f.key == "deter_all"
    }
    for f in outcome.findings:
        if f.kind == "infeasible" and f.line in deter_all:
            continue
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


def junit_case(o: FileOutcome, command: str, timing: bool = True) -> ET.Element:
    """One file's JUnit testcase; infeasible or a failed requirement is a failure, bad input
    or a solver failure an error. A ``time`` attribute only with ``timing``."""
    case = ET.Element("testcase", classname=f"deter.{command}", name=o.file, file=o.file)
    if timing:
        case.set("time", f"{o.seconds:.4f}")
    text = "\n".join(f"{where(o, f)}: {f.message}" for f in o.findings) or (o.error or "")
    if o.status in (Status.bad_input, Status.solver_error):
        element = ET.SubElement(case, "error", type=o.status, message=o.error or o.status)
        element.text = text
    elif o.failed_requirements or (o.status == Status.infeasible and not o.checked):
        element = ET.SubElement(case, "failure", type=o.status, message=note(o) or o.status)
        element.text = text
    return case


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
    # escaped before the columns are measured (a control character or a file name's byte
    # that is not UTF-8 takes 4 columns as its escape, not the 1 rich would count)
    rows = [
        [terminal(o.file), o.status, number(o.total_cost), str(code(o)), terminal(note(o))]
        for o in outcomes
    ]

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


def summary(
    run: BatchRun, code: OutcomeCode, command: str = "batch", tally: Tally | None = None
) -> RenderableType:
    """The end-of-run summary for stderr: counts per status, slowest files, total time
    (``tally``: the run's streamed outcomes; by default its kept ``outcomes``)."""
    tally = tally or Tally.of(run.outcomes, code, command)
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
        # (the words are the JSON's: run_counts' keys and the statuses, as batch's summary)
        table.add_row("passed", str(tally.passed))
        table.add_row("requirements_failed", str(tally.requirements_failed))
        table.add_row(Status.bad_input.value, str(tally.statuses[Status.bad_input]))
        table.add_row(Status.solver_error.value, str(tally.statuses[Status.solver_error]))
    else:
        for status, n in tally.counts().items():
            table.add_row(status, str(n))
    not_run = len(run.files) - tally.finished
    if not_run:
        table.add_row("not run", str(not_run))
    parts: list[RenderableType] = [table]
    slow = tally.slowest()
    if slow:
        slowest = Table(box=box.SIMPLE_HEAD, title="Slowest files", title_justify="left")
        slowest.add_column("File")
        slowest.add_column("Seconds", justify="right")
        for file, seconds in slow:
            slowest.add_row(file, f"{seconds:.3f}")
        parts.append(slowest)
    line = (
        f"{tally.finished} of {len(run.files)} files in {run.elapsed:.2f} s "
        f"({ran_on(run)}"
        + (f", {run.resumed} resumed from the ledger" if run.resumed else "")
        + f"); exit code {tally.exit_code(run)}"
    )
    parts.append(Text(line))
    return Group(*parts)


def summary_line(run: BatchRun, code: OutcomeCode, tally: Tally | None = None) -> str:
    """The summary in one line, after a machine format."""
    tally = tally or Tally.of(run.outcomes, code, "batch")
    counted = ", ".join(f"{n} {s}" for s, n in tally.counts().items() if n)
    return (
        f"{tally.finished} of {len(run.files)} files ({counted or 'none'}) in "
        f"{run.elapsed:.2f} s ({ran_on(run)}); exit code {tally.exit_code(run)}"
    )


def ran_on(run: BatchRun) -> str:
    """What solved the batch: "in-process", "2 local workers", "1 dask worker"."""
    if run.executor == "in-process":
        return "in-process"
    return f"{run.jobs} {run.executor} worker{'s' if run.jobs != 1 else ''}"
