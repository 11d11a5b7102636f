"""Rendering an explanation: indented text, Markdown for a review, or JSON."""

from __future__ import annotations

import textwrap
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...solver.analysis.explain import Explanation


class ExplainFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


def render_explanation(explanation: Explanation, fmt: ExplainFormat, width: int = 100) -> str:
    if fmt is ExplainFormat.json:
        return explanation.to_json()
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
