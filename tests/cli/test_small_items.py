"""Issue 21 item 9's smaller edges: one status vocabulary in batch and check summaries, a
frontier's factors as a reader wrote them, intervals inside their quantity's range, an
infeasible report not headed "The optimal policy", and --solver saying when it was not used."""

from __future__ import annotations

import math
from typing import Any

import deter
from deter.cli.app import app
from deter.solver.analysis.frontier import default_factors
from deter.solver.rl.experiment import NON_NEGATIVE, RATE, t_interval
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV
from tests.support.paths import PROBLEMS

BAD = "[agent\n"


def invoke(*args: str) -> Any:
    return CliRunner(env=CLI_ENV).invoke(app, list(args), catch_exceptions=False)


def test_batch_and_check_summaries_use_the_status_words_of_the_json(tmp_path: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD, encoding="utf-8")
    for command in ("batch", "check"):
        summary = invoke(command, str(bad), "-j", "1").stderr
        assert "bad_input" in summary and "bad input" not in summary, summary
    assert "no verified answer" not in invoke("check", str(bad), "-j", "1").stderr


def test_frontier_factors_are_the_round_numbers_asked_for() -> None:
    factors = default_factors(5, 0.25, 4.0)
    assert factors == (0.25, 0.5, 1.0, 2.0, 4.0)
    assert all(len(repr(f)) <= 14 for f in default_factors())  # never 1.9999999999999998


def test_intervals_stay_inside_their_quantitys_range() -> None:
    mean, low, high = t_interval([0.0, 10.0], NON_NEGATIVE)  # 2 seeds: a wide t interval
    assert mean == 5.0 and low == 0.0 and high > 10.0
    _, low, high = t_interval([0.9, 1.0], RATE)
    assert low >= 0.0 and high == 1.0
    assert math.isnan(t_interval([1.0])[1])


def test_an_infeasible_report_is_not_headed_the_optimal_policy(tmp_path: Any) -> None:
    report = deter.load(PROBLEMS / "infeasible" / "over_budget.toml").report(tmp_path / "r.html")
    assert "No policy meets the spec" in report.html
    assert "The optimal policy" not in report.html


def test_solver_says_when_the_program_needed_another() -> None:
    cone = str(PROBLEMS / "diminishing_returns_review.toml")
    result = invoke("solve", cone, "--solver", "highs", "-f", "json")
    assert result.exit_code == 0 and "note: --solver highs" in result.stderr, result.stderr
    plain = invoke("solve", str(PROBLEMS / "minimal.toml"), "--solver", "highs")
    assert "note: --solver" not in plain.stderr


def test_a_point_without_a_policy_is_null_as_in_batch() -> None:
    coding = deter.load(PROBLEMS / "coding_agent.toml")
    points = coding.sweep("agent.penalty_cap=1,20").to_dict()["points"]
    assert [p["rates"] is None for p in points] == [True, False]
    assert points[0]["detection"] is None and points[1]["message"] is None
    frontier = coding.frontier([0.25]).to_dict()["points"]
    assert frontier[0]["status"] == "infeasible" and frontier[0]["rates"] is None
    assert frontier[1]["rates"]  # factor 1, optimal


def test_compare_rounds_as_every_table_does(tmp_path: Any) -> None:
    """4 significant digits, 6 for totals, as the README says of every table."""
    text = (PROBLEMS / "coding_agent.toml").read_text(encoding="utf-8")
    cheaper = tmp_path / "cheaper.toml"
    cheaper.write_text(text.replace("cost = 25.0", "cost = 20.0"), encoding="utf-8")
    shown = invoke("compare", str(PROBLEMS / "coding_agent.toml"), str(cheaper), "-f", "markdown")
    rows = {line.split("|")[1].strip("* "): line for line in shown.stdout.splitlines()[4:]}
    assert "**1.58888**" in rows["total_cost"]  # a total: 6 digits
    assert "**1.567**" in rows["monitor: **human_review cost"]  # the rest: 4


def test_check_gives_one_annotation_for_one_over_budget_line() -> None:
    over = str(PROBLEMS / "infeasible" / "over_budget.toml")
    checked = invoke("check", over, "-f", "github", "-q").stdout.splitlines()
    assert len(checked) == 1 and "deter_all" in checked[0], checked
    batched = invoke("batch", over, "-f", "github", "-q").stdout.splitlines()
    assert len(batched) == 1 and "cannot be deterred" in batched[0], batched
