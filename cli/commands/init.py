"""``deter init``: start a new spec from a commented template shipped in the package.

Templates: ``starter`` (a commented spec of every common key, ``cli/templates/``) and every
bundled problem (the repository's ``problems/``, installed as the package data
``deter.problems``), by file stem; ``infeasible/NAME`` for the two that cannot be met.
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

from ..common import DEFAULT_TEMPLATE, complete_template, emit, err, fail, info, templates
from ..exit_codes import ExitCode
from ..options import OutputOption

#: The schema file written next to a new spec, for the ``#:schema`` line.
SCHEMA_FILE = "deter.schema.json"


def describe(item: Traversable, width: int = 72) -> str:
    """A template's first sentence, from its opening comment (the file name it starts with
    dropped), shortened at a word to ``width`` characters."""
    words: list[str] = []
    for line in item.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if not text:
            if words:
                break
            continue
        words += text.split()
    text = " ".join(words)
    head, sep, rest = text.partition(" -- ")
    if sep and head.endswith(".toml"):
        text = rest
    text = text.split(". ")[0].rstrip(".:")
    if item.name == "starter.toml":
        return "a commented spec of the common keys (the default)"
    if len(text) > width:
        text = text[: width - 3].rsplit(" ", 1)[0] + "..."
    return text


def init(
    template: Annotated[
        str,
        typer.Argument(
            metavar="TEMPLATE",
            autocompletion=complete_template,
            help="starter (a commented spec of the common keys), or a bundled example by "
            "name (deter init --list).",
        ),
    ] = DEFAULT_TEMPLATE,
    output: OutputOption = None,
    list_: Annotated[
        bool, typer.Option("--list", "-l", help="List the templates and exit.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    no_schema: Annotated[
        bool,
        typer.Option(
            "--no-schema", help=f"Do not write {SCHEMA_FILE} next to the spec (for editors)."
        ),
    ] = False,
) -> None:
    """Write a commented starter spec (or a bundled example) to begin a new problem.

    The spec starts with a '#:schema' line; with -o FILE, the JSON Schema it names is written
    beside it (unless one is there already), so editors check the file as you type. Without
    -o the spec goes to stdout. Then: deter validate FILE; deter solve FILE.
    An unknown template, or a file that exists (without --force), is exit 2.
    """
    available = templates()
    if list_:
        width = max(len(name) for name in available)
        for name, item in available.items():
            typer.echo(f"{name:<{width}}  {describe(item)}".rstrip())
        return
    if template not in available:
        from ...solver.spec.suggest import did_you_mean

        fail(
            ExitCode.BAD_INPUT,
            f"error: unknown template {template!r}"
            + did_you_mean(template, list(available))
            + "; deter init --list shows them",
        )
    text = available[template].read_text(encoding="utf-8")
    schema_line = f"#:schema ./{SCHEMA_FILE}\n"
    to_file = output is not None and str(output) != "-"
    if to_file:
        assert output is not None
        if output.exists() and not force:
            fail(ExitCode.BAD_INPUT, f"error: {output} exists; use --force to overwrite it")
        emit(schema_line + text, output)
        if not no_schema:
            _write_schema(output.parent / SCHEMA_FILE)
        info(f"next: deter validate {output} && deter solve {output}")
    else:
        emit(schema_line + text, None)


def _write_schema(path: Path) -> None:
    import json

    from ...solver.report.files import write_atomic
    from ...solver.spec.document import json_schema

    if path.exists():
        return
    try:
        write_atomic(path, json.dumps(json_schema(), indent=2) + "\n")
    except OSError as exc:
        err(f"note: could not write {path}: {exc.strerror or exc}")
        return
    info(f"wrote {path} (the JSON Schema the #:schema line names)")
