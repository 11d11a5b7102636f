"""Command-line arguments and options that several commands share, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SpecArgument = Annotated[str, typer.Argument(help="Spec file (TOML), or '-' to read stdin.")]
OutputOption = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write the output to this file (atomically).")
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors.")]
MaxSizeOption = Annotated[
    int, typer.Option("--max-size", help="Largest spec file accepted, in bytes.", min=1)
]
