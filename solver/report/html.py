"""One self-contained HTML report: the problem, the policy, the explanation and the plots.

Everything is inline (CSS, SVG plots with text drawn as paths); a Content-Security-Policy
forbids every fetch, so the file opens the same offline, in a mail attachment or in CI.
All text from the spec is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..results.serialise import dumps, envelope
from .escape import html_text as escape
from .escape import html_texts
from .tables import (
    ACTION_HEADERS,
    DIAGNOSIS_HEADERS,
    MONITOR_HEADERS,
    action_legend,
    action_rows,
    diagnosis_rows,
    monitor_rows,
    number,
    summary_lines,
)

if TYPE_CHECKING:
    from ..analysis.explanation import Explanation
    from ..analysis.frontier import Frontier
    from ..analysis.sweep import Axis, Sweep
    from ..results.result import Result
    from ..spec.document import Spec

_CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1b1b1b; line-height: 1.45; padding: 0 1em; }
h1 { margin-bottom: 0.1em; } h1 + p { margin-top: 0; color: #555; }
h2 { border-bottom: 2px solid #1f4e79; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.92em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef3f8; }
#problem-actions td:last-child, #problem-actions th:last-child { text-align: left; }
tr.yes td { background: #fff7e0; }
.status-optimal { color: #1e7b34; } .status-infeasible { color: #b36b00; }
.status-solver_error { color: #b00020; }
.summary { background: #f6f8fa; padding: 0.6em 1em; border-left: 4px solid #1f4e79; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
footer { color: #777; font-size: 0.85em; margin-top: 3em; }
"""


@dataclass(frozen=True)
class Section:
    """A section a higher layer adds to the report (AI control's metrics, from the samples):
    its HTML (escaped by its maker, with :func:`table` and :func:`figure`) and the figures
    behind it as JSON-ready data (``Report.to_dict()["sections"][ident]``)."""

    ident: str
    title: str
    html: str
    data: dict[str, Any]
    markdown: str = ""  # the same for the Markdown form (escaped by its maker), no figures
    figures: tuple[Figure, ...] = ()  # drawn after ``markdown`` in the Markdown form


@dataclass(frozen=True)
class Figure:
    """A plot of the report: its id, caption and SVG (standalone files in the Markdown form)."""

    ident: str
    caption: str
    svg: str


FRONTIER_CAPTION = (
    "Least oversight cost, and the detection it buys, as every penalty cap is scaled; the star "
    "is the spec as written."
)
SWEEP_CAPTION = (
    "Least oversight cost as the value varies, monitor rates beneath; dashed lines mark where "
    "the binding actions change, grey where the spec cannot be met."
)


@dataclass(frozen=True)
class ReportParts:
    spec: Spec
    result: Result
    explanation: Explanation
    frontier: Frontier | None
    frontier_svg: str | None
    sweep: Sweep | None
    sweep_svg: str | None
    version: str
    sections: tuple[Section, ...] = ()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], ident: str, cls: str = "") -> str:
    """An HTML table; every header and cell is escaped."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    # every cell escaped in one pass (100,000 actions: 400,000 cells, issue 25)
    cells = iter(html_texts([c for row in rows for c in row]))
    body = "".join(
        "<tr><td>" + "</td><td>".join(next(cells) for _ in row) + "</td></tr>" for row in rows
    )
    klass = f' class="{cls}"' if cls else ""
    return f'<table id="{ident}"{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _gain(gain: object) -> str:
    """A gain: a number, or an interval [low, high] where the spec gives one."""
    if isinstance(gain, tuple | list):
        return "[" + ", ".join(number(float(g)) for g in gain) + "]"
    return number(float(gain))  # type: ignore[arg-type]


def _problem(spec: Spec) -> str:
    cap_rows = []
    compliant = spec.compliant_action
    detectors: dict[str, list[str]] = {a.name: [] for a in spec.actions}
    for monitor in spec.all_monitors():
        for target, q in monitor.detects.items():
            if q > 0 and target in detectors:
                detectors[target].append(f"{monitor.name} ({q:g})")
    for action in spec.actions:
        cap_rows.append(
            [
                action.name + (" (compliant)" if action.name == compliant else ""),
                _gain(action.gain),
                "-" if action.name == compliant else number(spec.penalty_cap(action)),
                ", ".join(detectors[action.name])
                or ("-" if action.name == compliant else "nothing"),
            ]
        )
    monitor_rows_ = [
        [m.name, number(m.cost), number(m.min_rate), number(m.max_rate), number(m.false_positive)]
        for m in spec.all_monitors()
    ]
    agent = spec.agent
    facts = [
        f"risk aversion {agent.risk_aversion:g}",
        f"margin {agent.margin:g}",
        f"penalty on false flags {agent.false_positive_penalty:g}",
    ]
    if spec.oversight.budget is not None:
        facts.append(f"budget {spec.oversight.budget:g}")
    if spec.penalty.design != "fixed":
        facts.append(
            f"penalties chosen ({spec.penalty.design}) at a cost of "
            f"{spec.penalty.cost:g} per unit of penalty level"
        )
    return (
        "<h2>The problem</h2>"
        + table(
            ["Action", "Gain", "Penalty cap", "Detected by (probability)"],
            cap_rows,
            "problem-actions",
        )
        + table(
            ["Monitor", "Unit cost", "Min rate", "Max rate", "False positive"],
            monitor_rows_,
            "problem-monitors",
        )
        + f"<p>Agent: {escape(', '.join(facts))}.</p>"
    )


def _policy(result: Result) -> str:
    status = escape(result.status)
    lines = "<br>".join(escape(line) for line in summary_lines(result)[1:])
    heading = {
        "optimal": "The optimal policy",
        "infeasible": "No policy meets the spec",
    }.get(str(result.status), "No verified policy")
    out = [
        f'<h2>{heading}</h2><p class="summary"><strong class="status-{status}">'
        f"{status}</strong><br>{lines}</p>"
    ]
    if result.monitors:
        out.append(table(MONITOR_HEADERS, monitor_rows(result), "policy", "policy"))
    if result.actions:
        out.append(table(ACTION_HEADERS, action_rows(result), "policy-actions", "policy"))
        out.append(f'<p class="legend">{escape(action_legend(result))}</p>')
    if result.diagnosis is not None:
        out.append(table(DIAGNOSIS_HEADERS, diagnosis_rows(result), "diagnosis"))
    return "".join(out)


def _explanation(explanation: Explanation) -> str:
    out = ['<h2>Why this policy</h2><div id="explanation">']
    for title, sentences in explanation.paragraphs:
        out.append(f"<h3>{escape(title)}</h3><ul>")
        out += [f"<li>{escape(s.strip())}</li>" for s in sentences]
        out.append("</ul>")
    out.append("</div>")
    return "".join(out)


def figure(svg: str | None, ident: str, caption: str) -> str:
    """An inline SVG figure with its (escaped) caption."""
    if not svg:
        return ""
    return f'<figure id="{ident}">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def build_html(parts: ReportParts) -> str:
    spec, result = parts.spec, parts.result
    title = f"deter report: {spec.name}"
    body = [
        f"<h1>{escape(spec.name)}</h1>",
        f"<p>{escape(spec.problem.description or '')} "
        f"<small>({escape(spec.source_file)})</small></p>",
        _problem(spec),
        _policy(result),
        _explanation(parts.explanation),
    ]
    if parts.frontier_svg:
        body.append("<h2>Probability–severity frontier</h2>")
        body.append(figure(parts.frontier_svg, "frontier-plot", FRONTIER_CAPTION))
    if parts.sweep_svg and parts.sweep is not None:
        varied = ", ".join(a.name for a in parts.sweep.axes)
        body.append(f"<h2>Sweep of {escape(varied)}</h2>")
        body.append(figure(parts.sweep_svg, "sweep-plot", SWEEP_CAPTION))
    for section in parts.sections:
        body.append(f'<section id="{escape(section.ident)}"><h2>{escape(section.title)}</h2>')
        body.append(section.html + "</section>")
    body.append(
        f"<footer>Generated by deter {escape(parts.version)}; solver "
        f"{escape(result.solver or '-')}; every optimal figure was re-checked "
        "against the model's constraints.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def default_sweep_text(spec: Spec, result: Result) -> str | None:
    """When no --vary is given: the gain of the action that is most expensive to deter."""
    if result.status != "optimal":
        return None
    binding = [a for a in result.actions if not a.compliant and a.binding]
    if not binding:
        return None
    top = max(binding, key=lambda a: a.shadow_price or 0.0)
    base = next(a.gain for a in result.actions if a.compliant)
    gap = top.gain - base
    if gap <= 0:
        return None
    return f"actions.{top.name}.gain={base:g}:{base + 2 * gap:g}:{report_points(spec)}"


#: Points of the report's default frontier and sweep, and the fewest it draws.
REPORT_POINTS, FEWEST_POINTS = 25, 3
#: Actions x points a report's default frontier (and sweep) may solve: beyond it the
#: points thin out, so a report costs a bounded number of solves of the spec (5 of the
#: frontier and 5 of the sweep at 10,000 actions, 2 and 3 from 16,667, 24 and 25 under
#: 2,000; the frontier's factor 1 is the spec's own solve), not 50 at any size (issue 25:
#: 10,000 actions took minutes, 99,999 never finished).
REPORT_WORK = 50_000


def report_points(spec: Spec) -> int:
    """The points of the default frontier and sweep for ``spec``'s size."""
    return max(FEWEST_POINTS, min(REPORT_POINTS, REPORT_WORK // max(len(spec.actions), 1)))


# --- the report as a library result ---------------------------------------------------------


def package_version() -> str:
    """deter's installed version (read from the package metadata only when asked for)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deter")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "0+unknown"


@dataclass(frozen=True)
class Report:
    """A self-contained HTML report and the analyses drawn in it."""

    html: str
    result: Result
    explanation: Explanation
    frontier: Frontier
    sweep: Sweep | None  # None when nothing was varied and no default sweep applies
    path: Path | None = None  # where it was written, if it was
    sections: tuple[Section, ...] = ()  # added by higher layers (AI control's metrics)
    figures: tuple[Figure, ...] = ()  # the frontier and sweep plots (for the Markdown form)

    def __repr__(self) -> str:  # short at a prompt: the HTML alone is hundreds of kB
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        return (
            f"Report(name={self.result.name!r}, status={str(self.result.status)!r}, "
            f"html=<{len(self.html):,} characters>{where})"
        )

    def write(self, path: str | Path) -> Report:
        """Write the HTML to ``path`` atomically; returns the report with its ``path`` set."""
        from dataclasses import replace

        from .files import write_atomic

        target = Path(path)
        write_atomic(target, self.html, inputs=[self.result.file])  # never over the spec
        return replace(self, path=target)

    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """The analyses behind the report as one JSON document (the HTML is in ``html``).

        ``timing=False`` drops the solve's timing, the one non-deterministic part.
        """
        body = {
            "name": self.result.name,
            "file": self.result.file,
            "status": self.result.status,
            "path": None if self.path is None else str(self.path),
            "result": self.result.to_dict(timing=timing),
            "explanation": self.explanation.to_dict(),
            "frontier": self.frontier.to_dict(),
            "sweep": None if self.sweep is None else self.sweep.to_dict(),
        }
        if self.sections:
            body["sections"] = {s.ident: s.data for s in self.sections}
        return envelope("report", body)

    def to_json(self, *, timing: bool = True) -> str:
        """``to_dict()`` as indented JSON text."""
        return dumps(self.to_dict(timing=timing), indent=2) + "\n"


def build_report(
    spec: Spec,
    result: Result,
    explanation: Explanation,
    axes: Sequence[Axis] = (),
    *,
    solve: Callable[[Spec], Result] | None = None,
    sections: Callable[[Frontier], Sequence[Section]] | None = None,
) -> Report:
    """The report of ``spec``: its problem, policy, explanation, frontier and a sweep.

    With no ``axes`` the sweep varies the gain of the action that is most expensive to
    deter (:func:`default_sweep_text`). ``sections`` makes further sections from the
    frontier (the AI-control metrics measure its designs on samples). Needs matplotlib for
    the plots (PlotUnavailable).
    """
    from ..analysis.frontier import run_frontier
    from ..analysis.sweep import parse_vary, run_sweep
    from .figures import frontier_figure, svg_inline, sweep_figure

    if not axes:
        default = default_sweep_text(spec, result)
        axes = [parse_vary(spec, default)] if default else []
    from ..analysis.frontier import default_factors

    frontier = run_frontier(spec, default_factors(report_points(spec)), solve=solve, solved=result)
    frontier_svg = svg_inline(frontier_figure(frontier))
    sweep = run_sweep(spec, axes, solve=solve) if axes else None
    sweep_svg = svg_inline(sweep_figure(sweep)) if sweep is not None else None
    extra = tuple(sections(frontier)) if sections is not None else ()
    html = build_html(
        ReportParts(
            spec,
            result,
            explanation,
            frontier,
            frontier_svg,
            sweep,
            sweep_svg,
            package_version(),
            extra,
        )
    )
    figures = [Figure("frontier-plot", FRONTIER_CAPTION, frontier_svg)] if frontier_svg else []
    if sweep_svg:
        figures.append(Figure("sweep-plot", SWEEP_CAPTION, sweep_svg))
    return Report(
        html, result, explanation, frontier, sweep, sections=extra, figures=tuple(figures)
    )
