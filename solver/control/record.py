"""What a spec written by ``deter fit`` records of its fit, readable without pandas: the
comment lines (:data:`FIT_LINE`, :data:`FILE_LINE`), whether a text has them, and the
report's section when its metrics cannot be measured (a note)."""

from __future__ import annotations

from ..report.escape import html_text, markdown
from ..report.html import Section

#: The comment that records how the curves were fitted (JSON), so that the samples can be
#: fitted again to recover the thresholds (``deter report --samples``).
FIT_LINE = "# fit: "
#: The comment that names each file the fit read, with its SHA-256.
FILE_LINE = "# file: "
#: The report's section of AI control's metrics.
SECTION_ID = "control"
SECTION_TITLE = "AI control: the policy against auditing the top b%"


def is_fitted(text: str) -> bool:
    """Whether a spec's text carries ``deter fit``'s record (its comments come first)."""
    for line in text.splitlines():
        if line.startswith(FIT_LINE):
            return True
        if line.strip() and not line.startswith("#"):
            return False
    return False


def note_section(note: str) -> Section:
    """The section that says why the metrics were not measured."""
    return Section(
        SECTION_ID,
        SECTION_TITLE,
        f"<p>Not measured: {html_text(note)}.</p>",
        {"note": note},
        markdown=f"Not measured: {markdown(note)}.\n",
    )
