"""The HTML report: self-contained, and it renders in a real headless browser.

Chromium is installed by scripts/install-browser.sh (CI runs it before pytest); when it is
missing the browser test fails rather than skips, so a broken install cannot pass silently.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.paths import ROOT

PROBLEMS = ROOT / "problems"
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def make_report(runner: Any, tmp_path: Path, spec: Path, *extra: str) -> tuple[Any, Path]:
    from deter.cli.app import app

    out = tmp_path / "report.html"
    run = runner.invoke(app, ["report", str(spec), "-o", str(out), *extra])
    return run, out


def test_report_is_self_contained(runner: Any, tmp_path: Path) -> None:
    run, out = make_report(runner, tmp_path, PROBLEMS / "coding_agent.toml")
    assert run.exit_code == 0, run.stderr
    html = out.read_text(encoding="utf-8")
    assert '<table id="policy"' in html and 'id="explanation"' in html
    assert html.count("<svg") == 2  # the frontier and the default sweep, inline
    # Nothing is fetched: no scripts, stylesheets, images or frames from anywhere.
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "default-src 'none'" in html
    assert run.stdout == ""


def test_report_of_a_penalty_design_states_it_and_its_lever(runner: Any, tmp_path: Path) -> None:
    run, out = make_report(runner, tmp_path, PROBLEMS / "audit_games_penalty.toml")
    assert run.exit_code == 0, run.stderr
    html = out.read_text(encoding="utf-8")
    assert "penalties chosen (shared) at a cost of 0.02 per unit of penalty level" in html
    assert "penalty.cost 0.02 -&gt; 0.018" in html  # explain's lever, in the report too


def test_report_of_an_infeasible_spec_still_explains(runner: Any, tmp_path: Path) -> None:
    run, out = make_report(runner, tmp_path, PROBLEMS / "infeasible" / "over_budget.toml")
    assert run.exit_code == 1
    html = out.read_text(encoding="utf-8")
    assert 'id="diagnosis"' in html and "oversight.budget" in html


def browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(
        "no Chromium found: run scripts/install-browser.sh (CI does, before pytest)"
    )


def test_report_renders_in_headless_chromium(runner: Any, tmp_path: Path) -> None:
    run, out = make_report(
        runner, tmp_path, PROBLEMS / "coding_agent.toml", "--vary", "agent.penalty_cap=5:60:12"
    )
    assert run.exit_code == 0, run.stderr
    exe = browser()
    profile = tmp_path / "profile"
    url = out.resolve().as_uri()
    dom = subprocess.run(
        [exe, *BROWSER_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<table id="policy"' in dom.stdout
    assert "human_review" in dom.stdout and "<svg" in dom.stdout
    assert "coding-agent" in dom.stdout
    for broken in ("ERR_", "This page has been blocked", "Traceback", "internal error"):
        assert broken not in dom.stdout

    shot = tmp_path / "shot.png"
    screenshot = subprocess.run(
        [
            exe,
            *BROWSER_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            "--hide-scrollbars",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert screenshot.returncode == 0 and shot.exists(), screenshot.stderr[-2000:]
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    dark = np.mean(np.all(pixels < 0.5, axis=-1))  # text and table rules
    coloured = np.mean(np.any(pixels < 0.95, axis=-1))
    assert dark > 0.005, "the page looks empty"
    assert 0.02 < coloured < 0.9, "the page is blank or a solid block"
