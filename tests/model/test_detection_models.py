"""Exponential detection and ROC-curve monitors (issue 4): closed forms, the envelope against
its definition, properties, spec checks and the CLI.

Closed forms:

* one exponential monitor (detection q, cost c), one action with need k / F: the least rate
  solves 1 - (1 - q)^x = k / F, x = ln(1 - k/F) / ln(1 - q).
* with a false-positive penalty F_fp and false flags f, the program bounds the honest
  agent's flags by the tangent phi x, phi = -ln(1 - f) (docs/model.md); its least rate is then
  the smallest root of F (1 - e^{-L x}) - F_fp phi x = k, L = -ln(1 - q).
* ROC points (0,0), (0.01,0.2), (0.02,0.25), (0.05,0.5), (1,1): the upper concave envelope
  skips (0.02, 0.25) (below the chord from (0.01, 0.2) to (0.05, 0.5), slope 7.5), so a need
  of 0.4 is met at x = 0.01 + 0.2 / 7.5 and a need of 0.1 at x = 0.1 / 20 on the first segment.
"""

from __future__ import annotations

import json
import math

import deter
import numpy as np
import pytest
from deter.cli.app import app
from deter.solver.model.envelope import envelope_segments, randomised_detection, upper_envelope
from deter.solver.results.errors import SpecError
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from typer.testing import CliRunner

from tests.support.design_specs import design_spec, solve_text
from tests.support.paths import ROOT

REL = 1e-6
ROOT = ROOT
COMPLY = {"name": "comply", "gain": 0.0}


def exponential_spec(k: float, cap: float, q: float, cost: float = 1.0, **agent: float) -> str:
    return design_spec(
        [COMPLY, {"name": "cheat", "gain": k}],
        [{"name": "m", "cost": cost, "detects": {"cheat": q}}],
        agent={"penalty_cap": cap, **agent},
        oversight={"detection": "exponential"},
    )


@pytest.mark.parametrize(
    ("k", "cap", "q"), [(2.0, 10.0, 0.3), (1.0, 2.0, 0.9), (0.5, 100.0, 0.01), (3.0, 4.0, 0.95)]
)
def test_one_exponential_monitor(k: float, cap: float, q: float) -> None:
    result = solve_text(exponential_spec(k, cap, q, cost=2.0))
    rate = math.log(1 - k / cap) / math.log(1 - q)
    assert result.status == "optimal"
    assert math.isclose(result.monitor("m").rate, rate, rel_tol=1e-5)
    assert math.isclose(result.total_cost or 0, 2.0 * rate, rel_tol=1e-5)
    reported = result.monitor("m").rate
    assert math.isclose(result.action("cheat").detection, 1 - (1 - q) ** reported, rel_tol=1e-9)


def test_exponential_is_beyond_reach_where_linear_is_not() -> None:
    # need 0.5 with q = 0.6: linear reaches it at x = 0.83, exponential needs 1-(0.4)^x = 0.5,
    # x = 0.756 < 1... while need 0.65 > q is out of reach for both at max_rate 1.
    result = solve_text(exponential_spec(6.5, 10.0, 0.6))
    assert result.status == "infeasible"
    assert result.diagnosis is not None
    assert math.isclose(result.diagnosis.actions[0].max_detection, 0.6, rel_tol=1e-12)


def test_two_exponential_monitors_combine_as_independent_chances() -> None:
    text = design_spec(
        [COMPLY, {"name": "a", "gain": 4.0}, {"name": "b", "gain": 1.0}],
        [
            {"name": "m1", "cost": 1.0, "detects": {"a": 0.5, "b": 0.2}},
            {"name": "m2", "cost": 3.0, "detects": {"a": 0.7}},
        ],
        agent={"penalty_cap": 5.0},
        oversight={"detection": "exponential"},
    )
    result = solve_text(text)
    assert result.status == "optimal"
    x1, x2 = result.monitor("m1").rate, result.monitor("m2").rate
    assert math.isclose(result.action("a").detection, 1 - 0.5**x1 * 0.3**x2, rel_tol=1e-9)
    assert result.action("a").detection * 5.0 >= 4.0 * (1 - 1e-6)
    assert result.action("b").detection * 5.0 >= 1.0 * (1 - 1e-6)


def test_exponential_false_flags_get_the_exact_least_rate() -> None:
    """P_0 = 1 - e^{-phi x} exactly (not its tangent phi x, a restriction that asked 0.4738)."""
    k, cap, q, f, f_pen = 2.0, 10.0, 0.4, 0.1, 3.0
    result = solve_text(
        exponential_spec(k, cap, q, false_positive_penalty=f_pen).replace(
            "detects = { cheat = 0.4 }", "detects = { cheat = 0.4 }\nfalse_positive = 0.1"
        )
    )
    big_l, phi = -math.log(1 - q), -math.log(1 - f)
    rate = brentq(
        lambda x: cap * (1 - math.exp(-big_l * x)) - f_pen * (1 - math.exp(-phi * x)) - k,
        0.0,
        1.0,
        xtol=1e-15,
    )
    assert result.status == "optimal"
    assert math.isclose(result.monitor("m").rate, rate, rel_tol=1e-5)
    honest = result.action("comply")
    reported = result.monitor("m").rate
    assert math.isclose(honest.detection, 1 - (1 - f) ** reported, rel_tol=1e-9)  # exact P_0
    assert result.action("cheat").deterred


def best_incentive(cap: float, q: float, f: float, f_pen: float) -> float:
    """max over x in [0, 1] of cap (1 - (1 - q)^x) - f_pen (1 - (1 - f)^x), the model's row,
    on a fine grid (not the diagnosis's optimiser)."""
    x = np.linspace(0.0, 1.0, 200_001)
    return float(np.max(cap * -np.expm1(np.log1p(-q) * x) + f_pen * np.expm1(np.log1p(-f) * x)))


@pytest.mark.parametrize(("side", "budget"), [(1.001, None), (0.999, 0.01)])
def test_exponential_diagnosis_with_false_flags_matches_the_program(
    side: float, budget: float | None
) -> None:
    # q = 0.99, f = 0.3, penalties 10 and 5: the row is best at an interior rate (~0.765),
    # 8.51089, above its value at the ceiling x = 1 (8.4).
    cap, q, f, f_pen = 10.0, 0.99, 0.3, 5.0
    gain = side * best_incentive(cap, q, f, f_pen)
    text = design_spec(
        [COMPLY, {"name": "cheat", "gain": gain}],
        [{"name": "m", "cost": 1.0, "detects": {"cheat": q}, "false_positive": f}],
        agent={"penalty_cap": cap, "false_positive_penalty": f_pen},
        oversight={"detection": "exponential", **({"budget": budget} if budget else {})},
    )
    result = solve_text(text)
    assert result.status == "infeasible" and result.diagnosis is not None
    found = result.diagnosis.actions[0]
    assert found.deterrable == (side < 1)
    if side > 1:
        assert "cannot be deterred" in result.diagnosis.reason
        assert "false flags" in found.reason
    else:
        assert "over the budget" in result.diagnosis.reason


@pytest.mark.parametrize(("gain", "deterrable"), [(1.8, True), (2.05, False)])
def test_roc_diagnosis_with_a_false_flagging_linear_monitor(gain: float, deterrable: bool) -> None:
    # lin adds 10 * 0.2 to the expected penalty per unit rate but costs the honest agent
    # 5 * 0.5, so the best policy leaves it off: the ROC monitor alone reaches 10 * 0.2 = 2.
    text = design_spec(
        [COMPLY, {"name": "cheat", "gain": gain}],
        [
            {"name": "lin", "cost": 1.0, "detects": {"cheat": 0.2}, "false_positive": 0.5},
            {"name": "r", "cost": 1.0, "max_rate": 0.1, "roc": {"cheat": [[0.1, 0.2], [1.0, 1.0]]}},
        ],
        agent={"penalty_cap": 10.0, "false_positive_penalty": 5.0},
        oversight={"budget": 0.05},
    )
    result = solve_text(text)
    assert result.status == "infeasible" and result.diagnosis is not None
    assert result.diagnosis.actions[0].deterrable == deterrable
    if deterrable:  # r at 0.09 catches 0.18 of cheats: 1.8
        assert math.isclose(result.diagnosis.least_cost or 0, 0.09, rel_tol=1e-6)
    else:
        assert math.isclose(result.diagnosis.actions[0].max_detection, 0.2, rel_tol=1e-9)


@settings(max_examples=20, deadline=None)
@given(
    gains=st.lists(st.floats(0.1, 3.0), min_size=1, max_size=3),
    q=st.lists(st.floats(0.2, 0.95), min_size=6, max_size=6),
    costs=st.lists(st.floats(0.1, 5.0), min_size=2, max_size=2),
)
def test_exponential_answers_deter_and_are_verified(
    gains: list[float], q: list[float], costs: list[float]
) -> None:
    actions = [COMPLY] + [{"name": f"a{i}", "gain": g} for i, g in enumerate(gains)]
    monitors = [
        {
            "name": f"m{j}",
            "cost": costs[j],
            "detects": {f"a{i}": q[3 * j + i] for i in range(len(gains))},
        }
        for j in range(2)
    ]
    result = solve_text(
        design_spec(
            actions, monitors, agent={"penalty_cap": 10.0}, oversight={"detection": "exponential"}
        )
    )
    assert result.status == "optimal" and result.verification is not None
    assert result.verification.passed
    rates = np.array([result.monitor(f"m{j}").rate for j in range(2)])
    for i, gain in enumerate(gains):
        escape = np.prod([(1 - q[3 * j + i]) ** rates[j] for j in range(2)])
        assert (1 - escape) * 10.0 >= gain * (1 - 1e-6)


# --- ROC curves -------------------------------------------------------------------------------

POINTS = [[0.01, 0.2], [0.05, 0.5], [0.02, 0.25], [1.0, 1.0]]  # unsorted on purpose


def roc_spec(
    gain: float, cap: float = 10.0, max_rate: float = 0.1, points: object = None, **monitor: object
) -> str:
    return design_spec(
        [COMPLY, {"name": "cheat", "gain": gain}],
        [
            {
                "name": "m",
                "cost": 100.0,
                "max_rate": max_rate,
                "roc": {"cheat": POINTS if points is None else points},
                **monitor,
            }
        ],
        agent={"penalty_cap": cap},
    )


@pytest.mark.parametrize(
    ("gain", "rate"), [(4.0, 0.01 + 0.2 / 7.5), (1.0, 0.1 / 20), (2.0, 0.01), (5.0, 0.05)]
)
def test_roc_case_solved_by_hand(gain: float, rate: float) -> None:
    result = solve_text(roc_spec(gain))
    assert result.status == "optimal"
    assert math.isclose(result.monitor("m").rate, rate, rel_tol=1e-7)
    assert math.isclose(result.total_cost or 0, 100.0 * rate, rel_tol=1e-7)
    assert math.isclose(result.action("cheat").detection, gain / 10.0, rel_tol=1e-7)
    assert result.action("comply").detection == 0.0  # flagged honest episodes are not penalised


def test_roc_beyond_the_audit_budget_is_infeasible() -> None:
    # max_rate 0.02: the envelope reaches 0.2 + 7.5 * 0.01 = 0.275 < 0.4 needed.
    result = solve_text(roc_spec(4.0, max_rate=0.02))
    assert result.status == "infeasible"
    assert result.diagnosis is not None
    assert math.isclose(result.diagnosis.actions[0].max_detection, 0.275, rel_tol=1e-12)


def test_roc_adds_to_a_linear_monitor() -> None:
    text = design_spec(
        [COMPLY, {"name": "cheat", "gain": 4.0}],
        [
            {"name": "m", "cost": 100.0, "max_rate": 0.1, "roc": {"cheat": POINTS}},
            {"name": "cheap", "cost": 0.5, "detects": {"cheat": 0.1}},
        ],
        agent={"penalty_cap": 10.0},
    )
    result = solve_text(text)
    # the cheap monitor runs fully (0.1 for 0.5), the ROC monitor covers 0.3: x = 0.01 + 0.1/7.5
    assert math.isclose(result.monitor("cheap").rate, 1.0, rel_tol=1e-7)
    assert math.isclose(result.monitor("m").rate, 0.01 + 0.1 / 7.5, rel_tol=1e-7)


def test_roc_with_penalty_design_is_verified() -> None:
    text = design_spec(
        [COMPLY, {"name": "cheat", "gain": 4.0}],
        [{"name": "m", "cost": 100.0, "max_rate": 0.1, "roc": {"cheat": POINTS}}],
        agent={"penalty_cap": 40.0},
        penalty={"design": "per_action", "cost": 0.05},
    )
    result = solve_text(text)
    assert result.status == "optimal" and result.verification is not None
    assert result.verification.passed
    cheat = result.action("cheat")
    assert cheat.detection * cheat.penalty >= 4.0 * (1 - 1e-9)


@settings(max_examples=40, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=8),
    rate=st.floats(0, 1),
)
def test_envelope_segments_match_the_best_mix_of_two_thresholds(
    points: list[tuple[float, float]], rate: float
) -> None:
    curve = [*points, (1.0, 1.0)]
    slope, intercept = envelope_segments(curve)
    from_segments = float(np.min(slope * rate + intercept))
    assert math.isclose(from_segments, randomised_detection(curve, rate), abs_tol=1e-9)
    fpr, tpr = upper_envelope(curve)
    assert np.all(np.diff(fpr) > 0) and np.all(np.diff(np.diff(tpr) / np.diff(fpr)) < 1e-12)


# --- spec validation ----------------------------------------------------------------------------


def spec_issues(text: str) -> list[tuple[str, str, int | None]]:
    with pytest.raises(SpecError) as caught:
        deter.load_spec(text)
    return [(issue.key, issue.message, issue.line) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (exponential_spec(1.0, 10.0, 1.0), "monitors.m.detects.cheat", "below 1"),
        (
            design_spec(
                [COMPLY, {"name": "cheat", "gain": 1.0, "audit_cost": 1.0}],
                agent={"penalty_cap": 5.0},
                oversight={"detection": "exponential"},
            ),
            "actions.cheat.audit_detection",
            "defaults to 1",
        ),
        (
            exponential_spec(1.0, 10.0, 0.5).replace(
                "detects = { cheat = 0.5 }", "detects = { cheat = 0.5 }\nfalse_positive = 1.0"
            ),
            "monitors.m.false_positive",
            "below 1",
        ),
        (
            design_spec(
                [COMPLY, {"name": "cheat", "gain": 1.0}],
                agent={"penalty_cap": 5.0},
                oversight={"detection": "quadratic"},
            ),
            "oversight.detection",
            "exponential",
        ),
        (roc_spec(1.0, points=[[0.1, 0.5], [0.9, 0.95]]), "monitors.m.roc.cheat", "[1.0, 1.0]"),
        (
            roc_spec(1.0, points=[[0.1, 0.5], [0.2, 0.4], [1.0, 1.0]]),
            "monitors.m.roc.cheat",
            "falls",
        ),
        (roc_spec(1.0, points=[[0.1, 1.5], [1.0, 1.0]]), "monitors.m.roc.cheat[0][1]", "1"),
        (roc_spec(1.0, points=[[0.1, 0.5, 0.2], [1.0, 1.0]]), "monitors.m.roc.cheat[0]", ""),
        (roc_spec(1.0, detects={"cheat": 0.5}), "monitors.m.detects", "remove detects"),
        (roc_spec(1.0, false_positive=0.1), "monitors.m.false_positive", "cleared"),
        (
            roc_spec(1.0).replace("roc = { cheat =", "roc = { chaet ="),
            "monitors.m.roc.chaet",
            "did you mean 'cheat'",
        ),
        (
            roc_spec(1.0).replace("roc = { cheat =", "roc = { comply ="),
            "monitors.m.roc.comply",
            "compliant",
        ),
        (
            roc_spec(1.0).replace("[agent]", '[oversight]\ndetection = "exponential"\n\n[agent]'),
            "monitors.m.roc",
            "exponential",
        ),
    ],
)
def test_detection_spec_errors(text: str, key: str, words: str) -> None:
    issues = spec_issues(text)
    assert any(k.startswith(key) and words in message for k, message, _ in issues), issues


def test_roc_error_names_the_line() -> None:
    text = roc_spec(1.0, points=[[0.1, 0.5], [0.9, 0.95]])
    issues = spec_issues(text)
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row.startswith("roc"))
    assert issues[0][2] == line


# --- problems and the CLI -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["diminishing_returns_review", "roc_trusted_monitoring"])
def test_detection_problems_solve_through_the_cli(name: str, runner: CliRunner) -> None:
    path = str(ROOT / "problems" / f"{name}.toml")
    table = runner.invoke(app, ["solve", path])
    assert table.exit_code == 0, table.output
    done = runner.invoke(app, ["solve", path, "-f", "json"])
    assert done.exit_code == 0
    doc = json.loads(done.stdout)
    assert doc["status"] == "optimal" and doc["verification"]["passed"]
    assert doc["penalty_cost"] == 0.0 and doc["total_cost"] == doc["oversight_cost"]


def test_specs_without_the_new_keys_are_unchanged() -> None:
    # Linear detection, fixed penalties: the program is the v1 program, penalties are the caps.
    for path in sorted((ROOT / "problems").glob("*.toml")):
        spec = deter.load_spec(path)
        if (
            spec.penalty.design != "fixed"
            or spec.oversight.detection != "linear"
            or any(m.roc for m in spec.monitors)
        ):
            continue
        result = deter.solve(spec)
        if result.status != "optimal" or result.strategy is not None:
            continue  # the strategic solver (issue 5) reports its own costs
        for action in result.actions:
            if not action.compliant:
                assert action.penalty == spec.penalty_cap(spec.action(action.name))
        assert result.penalty_cost == 0.0 and result.total_cost == result.oversight_cost
