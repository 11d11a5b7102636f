"""Rendering an explanation: indented text, Markdown for a review, or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from ...solver.report.escape import markdown, one_line

if TYPE_CHECKING:
    from ...solver.analysis.explanation import Explanation


class ExplainFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def render_explanation(explanation: Explanation, fmt: ExplainFormat, width: int = 100) -> str:
    if fmt is ExplainFormat.json:
        return explanation.to_json()
    out: list[str] = []
    if fmt is ExplainFormat.markdown:
        out.append(f"## Why this policy: {markdown(explanation.name)}\n")
        for title, sentences in explanation.paragraphs:
            out.append(f"### {markdown(title)}\n")
            out += [f"- {markdown(s.strip())}" for s in sentences]
            out.append("")
        return "\n".join(out)
    # no control character from a spec acts on the terminal
    return explanation.to_text(width, clean=one_line)
