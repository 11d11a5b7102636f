"""Simulation plots (matplotlib, a dependency of deter), drawn with ``figures.py``'s machinery.

The violation rate over episodes, one line per policy; for strategic auditors, the offence
and inspection rates beside the computed equilibrium.
"""

from __future__ import annotations

from pathlib import Path

from ..simulation.auditor import AuditorSimulation
from ..simulation.outcomes import Simulation, downsample
from .figures import PlotUnavailable, new_figure, require_matplotlib, save

__all__ = ["PlotUnavailable", "plot_auditor_simulation", "plot_simulation", "require_matplotlib"]


def plot_simulation(sim: Simulation, path: Path, points: int = 200) -> None:
    """Write the learning curves to ``path`` (.png, .svg or .pdf), atomically."""
    figure = new_figure(4.2, width=7.5)
    axes = figure.axes[0]
    for run in sim.runs:
        ends, values = downsample(run.curve, points)
        predicted = (
            "deterred" if run.prediction.deterred else f"predicts {run.prediction.induced_action}"
        )
        axes.plot(ends, values, linewidth=1.6, label=f"{run.label} ({predicted})")
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlim(0, sim.episodes)
    axes.set_xlabel("episode")
    axes.set_ylabel("violation rate (share of agents)")
    params = ", ".join(f"{k}={v:.3g}" for k, v in sim.parameters.items())
    axes.set_title(
        f"{sim.name}: {sim.agent}{f' ({params})' if params else ''} agents, "
        f"K={sim.population:,}, seed {sim.seed}",
        fontsize=10,
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    save(figure, path)


def plot_auditor_simulation(sim: AuditorSimulation, path: Path, points: int = 200) -> None:
    """Offence and inspection rates over episodes, with the computed equilibrium dashed."""
    figure = new_figure(4.2, width=7.5)
    axes = figure.axes[0]
    for curve, label, colour in (
        (sim.offence_curve, "offence rate", "tab:red"),
        (sim.inspection_curve, "inspection rate", "tab:blue"),
    ):
        ends, values = downsample(curve, points)
        axes.plot(ends, values, linewidth=1.6, color=colour, label=label)
    if sim.equilibrium is not None:
        axes.axhline(
            sim.equilibrium.offence_rate,
            color="tab:red",
            linestyle="--",
            linewidth=1,
            label="equilibrium offence rate",
        )
        axes.axhline(
            sim.equilibrium.inspection_rate,
            color="tab:blue",
            linestyle="--",
            linewidth=1,
            label="equilibrium inspection rate",
        )
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlim(0, sim.episodes)
    axes.set_xlabel("episode")
    axes.set_ylabel("share of pairs")
    axes.set_title(
        f"{sim.name}: {sim.agent} agents vs Exp3 auditors, K={sim.population:,}, seed {sim.seed}",
        fontsize=10,
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    save(figure, path)
