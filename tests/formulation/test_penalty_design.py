"""Penalties as decisions (issue 4): closed forms, properties, a grid cross-check, spec checks.

Closed forms (risk-neutral agent, k = gain gap + margin, a = penalty cost per unit of level):

* one action, one dedicated audit of cost c and detection 1: minimise c p + a F subject to
  p F >= k, p <= 1, F <= cap. With p = k / F the cost is c k / F + a F, convex in F, least at
  F* = sqrt(c k / a); so F = clip(F*, k, cap) (F >= k because p <= 1), p = k / F, and while
  F* is inside the interval, p = sqrt(a k / c), cost = 2 sqrt(a c k), d cost / d k = sqrt(a c / k).
* shared level, dedicated audits i with cost c_i and detection q_i: p_i = k_i / (q_i F), the
  cost sum_i c_i k_i / (q_i F) + a F is least at sqrt(sum_i c_i k_i / q_i / a), clipped to
  [max_i k_i / q_i, cap] (each p_i <= 1). With q_i = 1 this is the issue's formula.
* per_action with dedicated audits separates into one-action problems.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import deter
import numpy as np
import pytest
from deter.cli.app import app
from deter.solver.results.errors import SpecError
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from typer.testing import CliRunner

from tests.support.design_specs import design_spec, penalty_level, solve_text
from tests.support.paths import ROOT

REL = 1e-6  # costs
#: The cost is flat at its minimum (quadratic in F), so the minimiser is only as accurate as
#: the square root of the solver's tolerance: levels and rates are checked more loosely.
ARG_REL = 1e-3
ROOT = ROOT


def single_action(
    c: float, a: float, k: float, cap: float, design: str = "per_action", margin: float = 0.0
) -> str:
    return design_spec(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": k - margin, "audit_cost": c}],
        agent={"penalty_cap": cap, "margin": margin},
        penalty={"design": design, "cost": a},
    )


def single_action_optimum(c: float, a: float, k: float, cap: float) -> tuple[float, float, float]:
    """(p, F, cost) from the closed form above."""
    level = min(max(math.sqrt(c * k / a), k), cap)
    p = k / level
    return p, level, c * p + a * level


@pytest.mark.parametrize("design", ["per_action", "shared"])
@pytest.mark.parametrize(
    ("c", "a", "k"), [(4.0, 0.5, 2.0), (10.0, 0.1, 3.0), (1.0, 0.01, 0.5), (2.5, 1.0, 1.0)]
)
def test_one_action_interior_closed_form(design: str, c: float, a: float, k: float) -> None:
    result = solve_text(single_action(c, a, k, cap=1000.0, design=design))
    assert result.status == "optimal"
    cheat = result.action("cheat")
    assert math.isclose(cheat.detection, math.sqrt(a * k / c), rel_tol=ARG_REL)
    assert math.isclose(cheat.penalty, math.sqrt(c * k / a), rel_tol=ARG_REL)
    assert math.isclose(result.total_cost or 0, 2 * math.sqrt(a * c * k), rel_tol=REL)
    assert math.isclose(result.oversight_cost or 0, c * math.sqrt(a * k / c), rel_tol=ARG_REL)
    assert math.isclose(result.penalty_cost or 0, a * math.sqrt(c * k / a), rel_tol=ARG_REL)
    # d cost / d gain = d(2 sqrt(a c k)) / dk
    assert math.isclose(cheat.shadow_price or 0, math.sqrt(a * c / k), rel_tol=ARG_REL)
    if design == "shared":
        assert math.isclose(result.shared_penalty or 0, cheat.penalty, rel_tol=1e-12)
    else:
        assert result.shared_penalty is None


@pytest.mark.parametrize(
    ("c", "a", "k", "cap"),
    [
        (4.0, 0.01, 2.0, 10.0),  # F* = 28.3 above the cap: F = cap
        (1.0, 1.0, 2.0, 100.0),  # F* = 1.41 below k: p = 1, F = k
        (3.0, 0.2, 1.5, 4.0),  # F* = 4.74 above the cap
    ],
)
def test_one_action_clipped_closed_form(c: float, a: float, k: float, cap: float) -> None:
    p, level, cost = single_action_optimum(c, a, k, cap)
    result = solve_text(single_action(c, a, k, cap))
    cheat = result.action("cheat")
    assert math.isclose(cheat.detection, p, rel_tol=ARG_REL)
    assert math.isclose(cheat.penalty, level, rel_tol=ARG_REL)
    assert math.isclose(result.total_cost or 0, cost, rel_tol=REL)


def test_margin_enters_the_need() -> None:
    # k = gain gap + margin = 1.5 + 0.5
    result = solve_text(single_action(4.0, 0.5, 2.0, 1000.0, margin=0.5))
    assert math.isclose(result.total_cost or 0, 2 * math.sqrt(0.5 * 4.0 * 2.0), rel_tol=REL)


def audits_spec(
    costs: list[float],
    needs: list[float],
    detections: list[float],
    a: float,
    cap: float,
    design: str,
) -> str:
    actions = [{"name": "comply", "gain": 0.0}]
    for i, (c, k, q) in enumerate(zip(costs, needs, detections, strict=True)):
        actions.append({"name": f"a{i}", "gain": k, "audit_cost": c, "audit_detection": q})
    return design_spec(actions, agent={"penalty_cap": cap}, penalty={"design": design, "cost": a})


@pytest.mark.parametrize(
    ("costs", "needs", "detections", "a", "cap"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0, 0.5], [1.0, 1.0, 1.0], 0.05, 100.0),  # interior
        ([1.0, 2.0, 3.0], [1.0, 2.0, 0.5], [1.0, 1.0, 1.0], 0.001, 20.0),  # clipped at the cap
        ([0.1, 0.2], [3.0, 1.0], [1.0, 1.0], 5.0, 100.0),  # clipped at max k: p = 1
        ([1.0, 2.0], [1.0, 2.0], [0.5, 0.8], 0.05, 100.0),  # audits that catch with q < 1
    ],
)
def test_shared_level_closed_form(
    costs: list[float], needs: list[float], detections: list[float], a: float, cap: float
) -> None:
    c, k, q = np.array(costs), np.array(needs), np.array(detections)
    level = float(np.clip(math.sqrt(np.sum(c * k / q) / a), np.max(k / q), cap))
    cost = float(np.sum(c * k / (q * level)) + a * level)
    result = solve_text(audits_spec(costs, needs, detections, a, cap, "shared"))
    assert result.status == "optimal"
    assert math.isclose(result.shared_penalty or 0, level, rel_tol=ARG_REL)
    assert math.isclose(result.total_cost or 0, cost, rel_tol=REL)
    for i, action in enumerate(a for a in result.actions if not a.compliant):
        assert math.isclose(action.penalty, level, rel_tol=ARG_REL)
        assert math.isclose(
            result.monitor(f"audit:{action.name}").rate,
            k[i] / (q[i] * level),
            rel_tol=ARG_REL,
            abs_tol=1e-7,
        )


def test_per_action_with_dedicated_audits_separates() -> None:
    costs, needs, a, cap = [1.0, 4.0, 0.5], [2.0, 1.0, 3.0], 0.2, 8.0
    result = solve_text(audits_spec(costs, needs, [1.0] * 3, a, cap, "per_action"))
    expected = [single_action_optimum(c, a, k, cap) for c, k in zip(costs, needs, strict=True)]
    for i, (p, level, _) in enumerate(expected):
        assert math.isclose(result.action(f"a{i}").penalty, level, rel_tol=ARG_REL)
        assert math.isclose(result.action(f"a{i}").detection, p, rel_tol=ARG_REL)
    assert math.isclose(result.total_cost or 0, sum(e[2] for e in expected), rel_tol=REL)


def test_fixed_design_reports_no_penalty_cost() -> None:
    result = deter.solve(deter.load_spec(ROOT / "problems" / "minimal.toml"))
    assert result.penalty_design == "fixed"
    assert result.penalty_cost == 0.0
    assert result.shared_penalty is None
    assert result.total_cost == result.oversight_cost
    doc = result.to_dict()
    assert doc["penalty_cost"] == 0.0 and doc["shared_penalty"] is None
    assert doc["total_cost"] == doc["oversight_cost"]


# --- properties over random specs with shared monitors --------------------------------------


@st.composite
def shared_monitor_specs(draw: st.DrawFn) -> dict[str, object]:
    n = draw(st.integers(1, 3))
    m = draw(st.integers(1, 3))
    unit = st.floats(0.1, 1.0)  # with gains <= 5 and caps >= 60, every action is deterrable
    gains = [draw(st.floats(0.1, 5.0)) for _ in range(n)]
    monitors = []
    for j in range(m):
        detects = {f"a{i}": draw(unit) for i in range(n) if j == 0 or draw(st.booleans())}
        monitors.append({"name": f"m{j}", "cost": draw(st.floats(0.1, 10.0)), "detects": detects})
    return {"gains": gains, "monitors": monitors, "cap": draw(st.floats(60.0, 200.0))}


def random_spec(case: dict[str, object], design: str, a: float) -> str:
    gains = case["gains"]
    assert isinstance(gains, list)
    actions = [{"name": "comply", "gain": 0.0}] + [
        {"name": f"a{i}", "gain": g} for i, g in enumerate(gains)
    ]
    penalty = {"design": design, "cost": a} if design != "fixed" else None
    monitors = case["monitors"]
    assert isinstance(monitors, list)
    return design_spec(actions, monitors, agent={"penalty_cap": case["cap"]}, penalty=penalty)


@settings(max_examples=20, deadline=None)
@given(case=shared_monitor_specs())
def test_free_penalties_never_cost_more_than_fixed_caps(case: dict[str, object]) -> None:
    fixed = solve_text(random_spec(case, "fixed", 0.0))
    chosen = solve_text(random_spec(case, "per_action", 0.0))
    assert fixed.status == chosen.status == "optimal"
    assert fixed.total_cost is not None and chosen.total_cost is not None
    assert chosen.total_cost <= fixed.total_cost * (1 + 1e-6) + 1e-9
    assert chosen.verification is not None and chosen.verification.passed


@settings(max_examples=15, deadline=None)
@given(
    case=shared_monitor_specs(),
    low=st.floats(0.001, 0.1),
    factor=st.floats(1.5, 20.0),
    design=st.sampled_from(["per_action", "shared"]),
)
def test_raising_the_penalty_cost_never_raises_the_penalty_level(
    case: dict[str, object], low: float, factor: float, design: str
) -> None:
    cheap = solve_text(random_spec(case, design, low))
    dear = solve_text(random_spec(case, design, low * factor))
    assert cheap.status == dear.status == "optimal"
    # (b - a)(S_b - S_a) <= 0 for any optima; the slack covers the solvers' tolerances.
    assert penalty_level(dear) <= penalty_level(cheap) * (1 + 1e-4) + 1e-6


# --- cross-check: a grid over the shared level with an LP at each point (Audit Games) ---------


def grid_least_cost(text: str, grid: np.ndarray) -> float:
    """min over F in the grid of (least oversight cost with every penalty at F) + a F."""
    spec = deter.load_spec(text)
    from deter.solver.model.arrays import ProblemArrays

    arrays = ProblemArrays.from_spec(spec)
    q = arrays.detection[arrays.deviations].toarray()
    k = arrays.gain[arrays.deviations] - arrays.gain[arrays.compliant]
    best = math.inf
    for level in grid:
        need = k / level
        if np.any(need > 1):
            continue
        lp = linprog(
            arrays.cost,
            A_ub=-q,
            b_ub=-need,
            bounds=list(zip(arrays.min_rate, arrays.max_rate, strict=True)),
            method="highs",
        )
        if lp.status == 0:
            best = min(best, float(lp.fun) + arrays.penalty_cost * level)
    return best


@pytest.mark.parametrize("seed", range(3))
def test_convex_answer_never_worse_than_the_grid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m, cap = 3, 3, 50.0
    actions = [{"name": "comply", "gain": 0.0}] + [
        {"name": f"a{i}", "gain": float(rng.uniform(0.5, 5.0))} for i in range(n)
    ]
    monitors = [
        {
            "name": f"m{j}",
            "cost": float(rng.uniform(0.5, 5.0)),
            "detects": {
                f"a{i}": float(rng.uniform(0.3, 0.9))
                for i in range(n)
                if j == 0 or rng.random() < 0.6
            },
        }
        for j in range(m)
    ]
    text = design_spec(
        actions,
        monitors,
        agent={"penalty_cap": cap},
        penalty={"design": "shared", "cost": float(rng.uniform(0.005, 0.05))},
    )
    result = solve_text(text)
    assert result.status == "optimal" and result.total_cost is not None
    grid = np.linspace(0.5, cap, 300)
    grid_best = grid_least_cost(text, grid)
    assert result.total_cost <= grid_best * (1 + 1e-6)
    assert grid_best <= result.total_cost * (1 + 1e-3)


def test_budget_diagnosis_uses_the_least_oversight_cost() -> None:
    # With penalties at the cap (10) the audit needs p = 0.2, oversight 0.8 > budget 0.5.
    text = design_spec(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0, "audit_cost": 4.0}],
        agent={"penalty_cap": 10.0},
        oversight={"budget": 0.5},
        penalty={"design": "per_action", "cost": 0.1},
    )
    result = solve_text(text)
    assert result.status == "infeasible"
    assert result.diagnosis is not None and result.diagnosis.least_cost is not None
    assert math.isclose(result.diagnosis.least_cost, 0.8, rel_tol=1e-6)


# --- spec validation ------------------------------------------------------------------------


def spec_issues(text: str) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as caught:
        deter.load_spec(text)
    return [(issue.key, issue.message) for issue in caught.value.issues]


BASE = [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0, "audit_cost": 1.0}]


@pytest.mark.parametrize(
    ("agent", "penalty", "key", "words"),
    [
        (
            {"penalty_cap": 10.0, "risk_aversion": 0.5},
            {"design": "per_action"},
            "penalty.design",
            "agent.risk_aversion",
        ),
        (
            {"penalty_cap": 10.0, "false_positive_penalty": 1.0},
            {"design": "shared"},
            "penalty.design",
            "agent.false_positive_penalty",
        ),
        ({"penalty_cap": 10.0}, {"cost": 0.5}, "penalty.cost", "per_action"),
        ({"penalty_cap": 10.0}, {"design": "maximal"}, "penalty.design", "per_action"),
        ({"penalty_cap": 10.0}, {"design": "shared", "cost": -1.0}, "penalty.cost", "0"),
        (
            {"penalty_cap": 10.0},
            {"design": "shared", "costs": 1.0},
            "penalty.costs",
            "did you mean 'cost'",
        ),
    ],
)
def test_penalty_spec_errors(
    agent: dict[str, float], penalty: dict[str, object], key: str, words: str
) -> None:
    issues = spec_issues(design_spec(BASE, agent=agent, penalty=penalty))
    assert any(k == key and words in message for k, message in issues), issues


def test_penalty_error_names_the_line() -> None:
    text = design_spec(
        BASE, agent={"penalty_cap": 10.0, "risk_aversion": 0.5}, penalty={"design": "per_action"}
    )
    with pytest.raises(SpecError) as caught:
        deter.load_spec(text)
    line = text.splitlines().index('design = "per_action"') + 1
    assert caught.value.issues[0].line == line


# --- end to end through the CLI ---------------------------------------------------------------


def test_cli_solves_the_audit_games_problem(runner: CliRunner) -> None:
    path = str(ROOT / "problems" / "audit_games_penalty.toml")
    table = runner.invoke(app, ["solve", path])
    assert table.exit_code == 0, table.output
    assert "shared penalty level" in table.stdout and "= oversight" in table.stdout
    done = runner.invoke(app, ["solve", path, "--format", "json"])
    assert done.exit_code == 0
    doc = json.loads(done.stdout)
    assert doc["penalty_design"] == "shared"
    assert math.isclose(
        doc["total_cost"], doc["oversight_cost"] + doc["penalty_cost"], rel_tol=1e-12
    )
    penalties = {a["penalty"] for a in doc["actions"] if not a["compliant"]}
    assert all(math.isclose(p, doc["shared_penalty"], rel_tol=1e-12) for p in penalties)


def test_penalty_design_example_spec(write_spec: Callable[..., Path], runner: CliRunner) -> None:
    path = write_spec(single_action(4.0, 0.5, 2.0, 100.0))
    done = runner.invoke(app, ["solve", str(path), "-f", "json"])
    assert done.exit_code == 0
    doc = json.loads(done.stdout)
    cheat = next(a for a in doc["actions"] if a["name"] == "cheat")
    assert math.isclose(cheat["penalty"], 4.0, rel_tol=ARG_REL)
    assert doc["shared_penalty"] is None


def test_cli_csv_and_legend_report_the_cost_split(runner: CliRunner) -> None:
    path = str(ROOT / "problems" / "audit_games_penalty.toml")
    doc = json.loads(runner.invoke(app, ["solve", path, "-f", "json"]).stdout)
    done = runner.invoke(app, ["solve", path, "-f", "csv"])
    assert done.exit_code == 0
    total = next(r for r in csv.DictReader(io.StringIO(done.stdout)) if r["kind"] == "total")
    assert total["penalty_design"] == "shared"
    for key in ("oversight_cost", "penalty_cost", "shared_penalty"):
        assert math.isclose(float(total[key]), doc[key], rel_tol=1e-12), key
    assert math.isclose(
        float(total["cost"]),
        float(total["oversight_cost"]) + float(total["penalty_cost"]),
        rel_tol=1e-12,
    )
    # The shadow price is the dual of the whole objective, so the legend says total cost.
    for fmt in ("table", "markdown"):
        text = " ".join(runner.invoke(app, ["solve", path, "-f", fmt]).stdout.split())
        assert "total cost (oversight + penalty) per extra unit of gain" in text
    fixed = runner.invoke(app, ["solve", str(ROOT / "problems" / "roc_trusted_monitoring.toml")])
    assert "oversight cost per extra unit of gain" in " ".join(fixed.stdout.split())
