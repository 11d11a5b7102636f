"""Pictures of sweeps and frontiers (matplotlib, a dependency of deter, imported only when drawing).

matplotlib is imported only here and only when a plot is drawn, through its object API
(``Figure``) with the Agg canvas: no pyplot state, no display needed.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..analysis.frontier import Frontier
from ..analysis.sweep import Sweep
from ..results.errors import DeterError
from .escape import plain_figure_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("png", "svg", "pdf")
_STYLE = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "svg.fonttype": "path",  # text as paths: the SVG needs no fonts where it is opened
    "svg.hashsalt": "deter",  # stable ids, so the same plot gives the same file
}
INFEASIBLE_COLOUR = "#d9d9d9"
CHANGE_COLOUR = "#c0392b"


class PlotUnavailable(DeterError):
    """matplotlib is not installed, or the plot asked for cannot be drawn."""


def require_matplotlib() -> Any:
    """matplotlib on the Agg backend, or PlotUnavailable saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable(
            "plots need matplotlib, which deter depends on but is not installed: "
            "pip install matplotlib"
        ) from None
    matplotlib.use("Agg", force=False)
    return matplotlib


def new_figure(
    height: float, rows: int = 1, ratios: Sequence[float] | None = None, width: float = 8.0
) -> Figure:
    """A figure (no pyplot state) with ``rows`` stacked axes, laid out by matplotlib."""
    require_matplotlib()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    if rows > 1:
        figure.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    else:
        figure.subplots()
    return figure


def _money(currency: str) -> str:
    return f"{currency} per episode" if currency else "cost per episode"


def save(figure: Figure, path: Path) -> None:
    """Write a figure as PNG, SVG or PDF, chosen by the file's suffix (atomically)."""
    from .files import write_atomic

    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise PlotUnavailable(
            f"{path}: a plot is written as .png, .svg or .pdf, not {path.suffix!r}"
        )
    write_atomic(path, render(figure, suffix))


def render(figure: Figure, fmt: str) -> bytes:
    matplotlib = require_matplotlib()
    buffer = io.BytesIO()
    plain_figure_text(figure)  # spec text (names, currency) is never mathtext
    with matplotlib.rc_context(_STYLE):
        metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
        figure.savefig(buffer, format=fmt, dpi=110, metadata=metadata)
    return buffer.getvalue()


def svg_inline(figure: Figure) -> str:
    """The figure as an ``<svg>`` element for inlining in HTML (no XML prolog)."""
    text = render(figure, "svg").decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


# --- sweeps -------------------------------------------------------------------------------


def sweep_figure(sweep: Sweep) -> Figure:
    """Cost against one varied value with rates stacked beneath, or a heat map for two."""
    if len(sweep.axes) == 1:
        return _sweep_line(sweep)
    if len(sweep.axes) == 2:
        return _sweep_heatmap(sweep)
    raise PlotUnavailable(
        f"a plot shows one or two varied values, not {len(sweep.axes)}; drop --plot or a --vary"
    )


def _is_log(values: Sequence[float]) -> bool:
    """Geometric spacing (as --log makes) is drawn on a log axis."""
    if len(values) < 3 or min(values) <= 0:
        return False
    ratios = [b / a for a, b in itertools.pairwise(values)]
    return max(ratios) - min(ratios) < 1e-6 * max(ratios) and abs(ratios[0] - 1) > 1e-9


def _spans(xs: Sequence[float], bad: Sequence[bool]) -> list[tuple[float, float]]:
    """Intervals around runs of bad points, reaching halfway to their good neighbours."""
    spans = []
    k = 0
    n = len(xs)
    while k < n:
        if not bad[k]:
            k += 1
            continue
        start = k
        while k < n and bad[k]:
            k += 1
        left = xs[start] if start == 0 else (xs[start - 1] + xs[start]) / 2
        right = xs[k - 1] if k == n else (xs[k - 1] + xs[k]) / 2
        if left == right:
            width = (max(xs) - min(xs)) / max(n - 1, 1) / 2 or 0.5
            left, right = left - width, right + width
        spans.append((left, right))
    return spans


def _sweep_line(sweep: Sweep) -> Figure:
    matplotlib = require_matplotlib()
    with matplotlib.rc_context(_STYLE):
        figure = new_figure(6.2, rows=2, ratios=(3, 2))
        top, bottom = figure.axes
        axis = sweep.axes[0]
        xs = [p.values[0] for p in sweep.points]
        ok = [p.ok for p in sweep.points]
        solved = [(x, p) for x, p in zip(xs, sweep.points, strict=True) if p.ok]
        top.plot(
            [x for x, _ in solved],
            [p.total_cost or 0.0 for _, p in solved],
            marker="o",
            markersize=3,
            color="#1f4e79",
            linewidth=2,
            label="least oversight cost",
        )
        for left, right in _spans(xs, [not flag for flag in ok]):
            for ax in (top, bottom):
                ax.axvspan(left, right, color=INFEASIBLE_COLOUR, zorder=0, linewidth=0)
        changes = [(x, p) for x, p in solved if p.binding_changed]
        for k, (x, p) in enumerate(changes):
            for ax in (top, bottom):
                ax.axvline(
                    x,
                    color=CHANGE_COLOUR,
                    linestyle="--",
                    linewidth=1,
                    label="binding set changes" if (k == 0 and ax is top) else None,
                )
            top.annotate(
                "binds: " + (", ".join(p.binding) or "none"),
                xy=(x, p.total_cost or 0.0),
                xytext=(4, 10 + 12 * (k % 3)),
                textcoords="offset points",
                fontsize=8,
                color=CHANGE_COLOUR,
            )
        top.set_ylabel(f"least oversight cost\n({_money(sweep.currency)})")
        top.set_title(f"{sweep.name}: oversight cost as {axis.name} varies")
        top.grid(alpha=0.3)
        _legend(top, infeasible=not all(ok))
        names = list(sweep.monitor_names)
        if solved and names:
            series = {m: [p.rates.get(m, 0.0) for _, p in solved] for m in names}
            kept, rest = _largest(series)
            if rest:  # the others as one band: one legend entry each would take minutes
                kept[f"{len(rest)} other monitors"] = [
                    sum(values) for values in zip(*rest.values(), strict=True)
                ]
            bottom.stackplot(
                [x for x, _ in solved], list(kept.values()), labels=list(kept), alpha=0.85
            )
            bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        bottom.set_ylabel("monitor rates\n(stacked, share of episodes)")
        bottom.set_xlabel(_axis_label(axis.name, sweep.currency))
        bottom.grid(alpha=0.3)
        if _is_log(axis.values):
            bottom.set_xscale("log")
            _plain_log_ticks(bottom.xaxis)
    return figure


def _plain_log_ticks(axis: Any) -> None:
    """Log-axis ticks at 1, 2, 5 x 10^k written as plain numbers (0.5, 2, 200), not powers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _legend(ax: Any, infeasible: bool) -> None:
    """The axes' legend, with a grey patch for the region that cannot be met."""
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    if infeasible:
        handles.append(Patch(color=INFEASIBLE_COLOUR))
        labels.append("cannot be met")
    ax.legend(handles, labels, loc="best")


def _nothing_to_plot(ax: Any, note: str) -> None:
    """Say on the axes why they hold no (or only a flat) line, instead of an empty frame."""
    ax.text(
        0.5,
        0.5,
        note,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="#7f7f7f",
        fontsize=10,
    )


def _axis_label(path: str, currency: str) -> str:
    """The varied path, with its unit where the field is money."""
    field = path.rsplit(".", 1)[-1]
    money = {
        "gain",
        "penalty_cap",
        "cost",
        "audit_cost",
        "budget",
        "false_positive_penalty",
        "max_cost",
        "margin",
    }
    probability = {"max_rate", "min_rate", "audit_detection", "false_positive"}
    parts = path.split(".")
    if len(parts) >= 2 and parts[-2] == "detects":
        return f"{path} (probability)"
    if field in money and currency:
        return f"{path} ({currency})"
    if field in probability:
        return f"{path} (share of episodes)" if "rate" in field else f"{path} (probability)"
    return path


def _sweep_heatmap(sweep: Sweep) -> Figure:
    matplotlib = require_matplotlib()
    import numpy as np

    with matplotlib.rc_context(_STYLE):
        figure = new_figure(6.0)
        ax = figure.axes[0]
        first, second = sweep.axes
        shape = (len(first.values), len(second.values))
        cost = np.full(shape, np.nan)
        for p in sweep.points:
            if p.ok and p.total_cost is not None:
                cost[p.index] = p.total_cost
        x = np.asarray(second.values)
        y = np.asarray(first.values)
        ax.set_facecolor(INFEASIBLE_COLOUR)
        mesh = ax.pcolormesh(x, y, np.ma.masked_invalid(cost), shading="nearest", cmap="viridis")
        bar = figure.colorbar(mesh, ax=ax)
        bar.set_label(f"least oversight cost ({_money(sweep.currency)})")
        bad = [p for p in sweep.points if not p.ok]
        if bad:
            ax.scatter(
                [second.values[p.index[1]] for p in bad],
                [first.values[p.index[0]] for p in bad],
                marker="s",
                s=12,
                color="#7f7f7f",
                label="cannot be met (grey)",
            )
        changes = [p for p in sweep.points if p.binding_changed]
        if changes:
            ax.scatter(
                [second.values[p.index[1]] for p in changes],
                [first.values[p.index[0]] for p in changes],
                marker="x",
                s=22,
                color=CHANGE_COLOUR,
                label="binding set changes",
            )
        if bad or changes:
            ax.legend(loc="upper left", bbox_to_anchor=(0, -0.12), ncols=2, frameon=False)
        ax.set_xlabel(_axis_label(second.name, sweep.currency))
        ax.set_ylabel(_axis_label(first.name, sweep.currency))
        if _is_log(second.values):
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)
        if _is_log(first.values):
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
        ax.set_title(f"{sweep.name}: least oversight cost")
    return figure


# --- frontier -------------------------------------------------------------------------------


def frontier_figure(frontier: Frontier) -> Figure:
    """Becker's trade-off: least cost and the detection it buys against the penalty cap."""
    matplotlib = require_matplotlib()
    with matplotlib.rc_context(_STYLE):
        figure = new_figure(6.4, rows=2, ratios=(3, 2))
        top, bottom = figure.axes
        common = frontier.common_cap
        scale = common if common is not None else 1.0
        xs = [p.factor * scale for p in frontier.points]
        solved = [
            (x, p)
            for x, p in zip(xs, frontier.points, strict=True)
            if p.status == "optimal" and p.total_cost is not None
        ]
        top.plot(
            [x for x, _ in solved],
            [p.total_cost or 0.0 for _, p in solved],
            marker="o",
            markersize=3,
            linewidth=2,
            color="#1f4e79",
            label="least oversight cost",
        )
        own = frontier.own
        own_x = own.factor * scale
        if own.status == "optimal" and own.total_cost:
            top.plot(
                [own_x],
                [own.total_cost],
                marker="*",
                markersize=16,
                color="#e67e22",
                linestyle="none",
                label="this spec as written",
                zorder=5,
            )
            reference = [own.total_cost * own_x / x for x, _ in solved]
            top.plot(
                [x for x, _ in solved],
                reference,
                linestyle=":",
                color="#7f7f7f",
                label="cost ∝ 1 / cap (one action, Becker)",
            )
        bad = [p.status != "optimal" for p in frontier.points]
        for left, right in _spans(xs, bad):
            for ax in (top, bottom):
                ax.axvspan(left, right, color=INFEASIBLE_COLOUR, zorder=0, linewidth=0)
        # A log axis needs a positive cost; where every solved cap costs 0 (nothing pays, no
        # monitors) the line is drawn on a linear axis and the figure says so.
        costly = any((p.total_cost or 0.0) > 0 for _, p in solved)
        if costly:
            top.set_yscale("log")
            _plain_log_ticks(top.yaxis)
        else:
            _nothing_to_plot(
                top,
                "nothing to plot: every cap costs 0"
                if solved
                else "nothing to plot: no cap can be met",
            )
        top.set_ylabel(f"least oversight cost\n({_money(frontier.currency)})")
        top.set_title(f"{frontier.name}: probability–severity frontier")
        top.grid(alpha=0.3, which="both")
        _legend(top, infeasible=any(bad))
        series = {name: [p.detection.get(name, math.nan) for _, p in solved] for name in own.caps}
        kept, rest = _largest(series)
        for name, values in kept.items():
            bottom.plot([x for x, _ in solved], values, linewidth=1.8, label=name)
        if rest:  # named in the legend, not drawn: thousands of lines are neither read nor fast
            bottom.plot([], [], linewidth=0, label=f"({len(rest)} other actions not drawn)")
        if own.status == "optimal":
            bottom.axvline(own_x, color="#e67e22", linewidth=1, linestyle="--")
        bottom.set_ylabel("P(caught)\n(detection bought)")
        unit = f" ({frontier.currency})" if frontier.currency else ""
        bottom.set_xlabel(
            f"penalty cap{unit}"
            if common is not None
            else "penalty caps, as a multiple of the spec's own (1 = as written)"
        )
        bottom.set_xscale("log")
        _plain_log_ticks(bottom.xaxis)
        bottom.grid(alpha=0.3, which="both")
        if kept or rest:
            bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        else:
            _nothing_to_plot(bottom, "nothing to plot: no action needs detection")
    return figure


#: Series drawn one by one in a figure (monitors' rates, actions' detection); the others are
#: summed or left out. A legend entry per series made a report of 10,000 actions take
#: minutes in matplotlib's legend layout (issue 25).
MAX_SERIES = 12


def _largest(
    series: dict[str, list[float]], keep: int = MAX_SERIES
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """The ``keep`` series with the largest values (in their order), and the rest."""
    if len(series) <= keep:
        return dict(series), {}

    def peak(values: list[float]) -> float:
        finite = [v for v in values if v == v]  # NaN: no value there
        return max(finite, default=-math.inf)

    chosen = set(sorted(series, key=lambda name: -peak(series[name]))[:keep])
    kept = {name: values for name, values in series.items() if name in chosen}
    return kept, {name: values for name, values in series.items() if name not in chosen}


def write_plot(figure: Figure, path: Path) -> None:
    save(figure, path)
    figure.clear()
