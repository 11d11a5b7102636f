"""Rendering an explanation: indented text, Markdown for a review, or JSON."""

from __future__ import annotations

import textwrap
from enum import StrEnum
from typing import TYPE_CHECKING

from ...solver.report.escape import markdown, one_line
from ..options import JSON_KINDS, json_text

if TYPE_CHECKING:
    from ...solver.analysis.explain import Explanation


class ExplainFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def render_explanation(explanation: Explanation, fmt: ExplainFormat, width: int = 100) -> str:
    if fmt is ExplainFormat.json:
        return json_text(JSON_KINDS["explain"], explanation.to_dict())
    out: list[str] = []
    if fmt is ExplainFormat.markdown:
        out.append(f"## Why this policy: {markdown(explanation.name)}\n")
        for title, sentences in explanation.paragraphs:
            out.append(f"### {markdown(title)}\n")
            out += [f"- {markdown(s.strip())}" for s in sentences]
            out.append("")
        return "\n".join(out)
    for title, sentences in explanation.paragraphs:
        out.append(one_line(title))
        for sentence in sentences:
            sentence = one_line(sentence)  # no control character from a spec acts
            indent = "    " if sentence.startswith("  ") else "  "
            out.append(
                textwrap.fill(
                    sentence.strip(),
                    width=max(40, width),
                    initial_indent=indent + ("" if indent == "    " else "- "),
                    subsequent_indent=indent + "  ",
                )
            )
        out.append("")
    return "\n".join(out)
