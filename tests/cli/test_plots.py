"""Plots are drawn, non-empty and readable formats; unusable requests fail cleanly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import deter
import pytest
from deter.cli.app import app
from deter.solver.analysis.frontier import run_frontier
from deter.solver.analysis.sweep import parse_vary, run_sweep
from deter.solver.report.figures import PlotUnavailable, frontier_figure, svg_inline, sweep_figure

from tests.support.paths import ROOT
from tests.support.reference import spec_text

PROBLEMS = ROOT / "problems"


def ink(path: Path) -> float:
    """The share of pixels that are not white: a blank or broken image has almost none."""
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(path)[..., :3]
    return float(np.mean(np.any(pixels < 0.95, axis=-1)))


def small_text() -> str:
    return spec_text(
        actions=[
            {"name": "comply", "gain": 0.0},
            {"name": "steal", "gain": 3.0},
            {"name": "loaf", "gain": 1.0},
        ],
        monitors=[
            {"name": "audit", "cost": 2.0, "detects": {"steal": 0.8, "loaf": 0.2}},
            {"name": "camera", "cost": 0.3, "max_rate": 0.5, "detects": {"loaf": 0.5}},
        ],
        agent={"penalty_cap": 10.0},
        problem={"currency": "USD"},
    )


def test_sweep_plot_png_and_svg(runner: Any, write_spec: Any, tmp_path: Path) -> None:
    spec = write_spec(small_text())
    png, svg = tmp_path / "sweep.png", tmp_path / "sweep.svg"
    for target in (png, svg):
        run = runner.invoke(
            app,
            [
                "sweep",
                str(spec),
                "--vary",
                "agent.penalty_cap=2:30:8",
                "--plot",
                str(target),
                "-f",
                "json",
            ],
        )
        assert run.exit_code == 1, run.stderr  # the smallest caps cannot be met
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 0.03 < ink(png) < 0.8
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and len(text) > 10_000


def test_heat_map_and_frontier(tmp_path: Path) -> None:
    spec = deter.load_spec(small_text())
    sweep = run_sweep(
        spec,
        [
            parse_vary(spec, "agent.penalty_cap=4:30:6"),
            parse_vary(spec, "monitors.camera.cost=0.1:1:5"),
        ],
    )
    figure = sweep_figure(sweep)
    path = tmp_path / "heat.png"
    figure.savefig(path)
    assert ink(path) > 0.2
    frontier = svg_inline(frontier_figure(run_frontier(spec)))
    assert frontier.startswith("<svg") and "<path" in frontier


def test_unusable_plots_fail_with_a_message(
    runner: Any, write_spec: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_spec(small_text())
    run = runner.invoke(
        app,
        ["sweep", str(spec), "--vary", "agent.penalty_cap=5,10", "--plot", str(tmp_path / "x.jpg")],
    )
    assert run.exit_code == 2 and ".png, .svg or .pdf" in run.stderr
    three = [
        "--vary",
        "agent.penalty_cap=5,10",
        "--vary",
        "monitors.audit.cost=1,2",
        "--vary",
        "monitors.camera.cost=1,2",
    ]
    run = runner.invoke(app, ["sweep", str(spec), *three, "--plot", str(tmp_path / "x.png")])
    assert run.exit_code == 2 and "one or two" in run.stderr
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the extra were not installed
    with pytest.raises(PlotUnavailable, match="pip install matplotlib"):
        frontier_figure(run_frontier(deter.load_spec(small_text()), [1.0]))
    run = runner.invoke(app, ["frontier", str(spec), "--plot", str(tmp_path / "f.png")])
    assert run.exit_code == 2 and "pip install matplotlib" in run.stderr
