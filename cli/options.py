"""Command-line arguments and options that several commands share, defined once.

Also the one vocabulary of output formats (:class:`OutputFormat`; each command takes the
subset :data:`COMMAND_FORMATS` lists), the solver choice, and the output settings every
command accepts (``-q/--quiet``, ``-v/--verbose``, ``--color``), which ``app.py`` adds to
every command and :data:`settings` carries to the code that prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer


class OutputFormat(StrEnum):
    """Every ``--format`` name any command takes, with one meaning everywhere.

    ``table``: aligned columns for a terminal; ``text``: prose for a terminal (commands whose
    human output is sentences, not columns); ``json``: one JSON document with the envelope
    ``{"schema_version": 1, "kind": ...}``; ``csv``: one header row, lowercase ``true``/``false``;
    ``markdown``: GitHub-flavoured Markdown to paste into a review; ``jsonl``: one JSON object
    per file; ``junit``: JUnit XML; ``github``: GitHub Actions annotations.
    """

    table = "table"
    text = "text"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    jsonl = "jsonl"
    junit = "junit"
    github = "github"


class DocumentFormat(StrEnum):
    """The ``--format`` names of a command that writes one document to a file (``report``):
    ``html``, one self-contained page; ``markdown``, the same content with its plots as SVG
    files beside it. The default follows the file's suffix."""

    html = "html"
    markdown = "markdown"


#: The ``--format`` choices of each command that prints (the first is the default). A command
#: not listed here or in :data:`DOCUMENT_FORMATS` has one output only: ``schema`` and
#: ``export`` JSON, ``init`` TOML, ``experiment`` a folder. ``tests/cli/test_vocabulary.py``
#: holds every command to this.
COMMAND_FORMATS: dict[str, tuple[str, ...]] = {
    "solve": ("table", "json", "csv", "markdown"),
    "validate": ("text", "json"),
    "batch": ("table", "json", "jsonl", "csv", "junit", "github"),
    "check": ("table", "json", "jsonl", "csv", "junit", "github"),
    "simulate": ("table", "json", "csv", "markdown"),
    "sweep": ("table", "json", "csv", "markdown"),
    "frontier": ("table", "json", "csv", "markdown"),
    "compare": ("table", "json", "csv", "markdown"),
    "explain": ("text", "json", "markdown"),
}

#: Commands that write one document to ``-o FILE``: their ``--format`` choices (no default:
#: the file's suffix decides). Their JSON is the library's (``Report.to_dict()``).
DOCUMENT_FORMATS: dict[str, tuple[str, ...]] = {
    "report": tuple(f.value for f in DocumentFormat),
}


#: The ``kind`` of each command's JSON document (``schema_version`` and ``kind`` come first).
#: ``export`` writes a policy document and ``schema`` a JSON Schema: file formats of their own
#: (``"format": "deter-policy"`` and ``"$schema"``), not in the envelope.
JSON_KINDS: dict[str, str] = {
    "solve": "result",
    "validate": "validation",
    "batch": "batch",
    "check": "check",
    "simulate": "simulation",
    "sweep": "sweep",
    "frontier": "frontier",
    "compare": "comparison",
    "explain": "explanation",
}


def envelope(kind: str, payload: Any, key: str = "") -> dict[str, Any]:
    """The one JSON envelope (``schema_version``, ``kind``), defined in
    :func:`deter.solver.results.serialise.envelope` for the library and commands alike."""
    from ..solver.results.serialise import envelope as one_envelope

    return one_envelope(kind, payload, key)


def json_text(kind: str, payload: Any, key: str = "") -> str:
    """:func:`envelope` as indented JSON text through the NaN-safe serialiser."""
    from ..solver.results.serialise import envelope_json

    return envelope_json(kind, payload, key)


class Solver(StrEnum):
    """``--solver``: use only this solver (programs with cones always use clarabel)."""

    highs = "highs"
    clarabel = "clarabel"


class Color(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


@dataclass
class OutputSettings:
    """How much to say on stderr and whether to colour: set once per command run."""

    quiet: bool = False
    verbose: bool = False
    color: Color = Color.auto


#: The current command's settings (one command runs per process; tests reset it per call).
settings = OutputSettings()


SpecArgument = Annotated[
    str, typer.Argument(metavar="SPEC", help="Spec file (TOML), or '-' to read stdin.")
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write the output to this file (atomically)."
    ),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
MaxSizeOption = Annotated[
    int,
    typer.Option(
        "--max-size",
        metavar="BYTES",
        help="Largest spec file accepted, in bytes (default 5,000,000; at most 1,000,000,000).",
        min=1,
        max=1_000_000_000,
    ),
]
SolverOption = Annotated[
    Solver | None,
    typer.Option(
        "--solver",
        help="Use only this solver (programs with cones always use clarabel). Default: highs, "
        "then clarabel.",
    ),
]
NoTimingOption = Annotated[
    bool,
    typer.Option("--no-timing", help="Leave timing out of the output (reproducible bytes)."),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print only the output and errors (no notes, no summary)."),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Say more on stderr (timing, full summaries).")
]
ColorOption = Annotated[
    Color,
    typer.Option(
        "--color",
        help="Colour the terminal output: auto (a terminal without NO_COLOR), always or never.",
    ),
]
