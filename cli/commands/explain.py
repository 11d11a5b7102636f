"""``deter explain spec.toml``: why the optimal policy is what it is, in plain language."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from ...solver.spec.loading import DEFAULT_MAX_BYTES
from ..options import DebugOption, MaxSizeOption, OutputOption, SpecArgument

if TYPE_CHECKING:
    from ...solver.analysis.explain import Explanation


class ExplainFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


def render_explanation(explanation: Explanation, fmt: ExplainFormat, width: int = 100) -> str:
    if fmt is ExplainFormat.json:
        return json.dumps(explanation.to_dict(), indent=2) + "\n"
    import textwrap

    out: list[str] = []
    if fmt is ExplainFormat.markdown:
        out.append(f"## Why this policy: {explanation.name}\n")
        for title, sentences in explanation.paragraphs:
            out.append(f"### {title}\n")
            out += [f"- {s.strip()}" for s in sentences]
            out.append("")
        return "\n".join(out)
    for title, sentences in explanation.paragraphs:
        out.append(title)
        for sentence in sentences:
            indent = "    " if sentence.startswith("  ") else "  "
            out.append(
                textwrap.fill(
                    sentence.strip(),
                    width=max(60, width),
                    initial_indent=indent + ("" if indent == "    " else "- "),
                    subsequent_indent=indent + "  ",
                )
            )
        out.append("")
    return "\n".join(out)


def explain(
    spec: SpecArgument,
    format: Annotated[
        ExplainFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExplainFormat.text,
    output: OutputOption = None,
    max_size: MaxSizeOption = DEFAULT_MAX_BYTES,
    debug: DebugOption = False,
) -> None:
    """Explain the optimal policy in plain language, from its solution and duals.

    Which actions bind and what they cost at the margin, what each monitor buys, which
    constraint to relax first and what 10% would save; for a spec that cannot be met, the
    smallest changes that would make it feasible.

    Exit codes as for solve: 0 optimal; 1 cannot be met; 2 bad input; 3 no verified answer.
    """
    from ..common import emit, guarded, read_spec, terminal_width
    from ..exit_codes import for_status

    def body() -> int:
        from ...solver.analysis.explain import explain as explain_spec

        explanation = explain_spec(read_spec(spec, max_size))
        emit(render_explanation(explanation, format, width=min(terminal_width(), 100)), output)
        return int(for_status(explanation.status))

    raise typer.Exit(guarded(debug, body))
