"""The formulation checked without solving: incentive rows on hand-set numbers, the
independent verification, and the compiled cvxpy program evaluated at hand-set values."""

from __future__ import annotations

import dataclasses
import math

import cvxpy as cp
import deter
import numpy as np
import pytest
from deter.solver.engine.verify import verify_policy
from deter.solver.formulation.components import components_for
from deter.solver.formulation.components.deterrence import IncentiveHandles, incentive_rows
from deter.solver.formulation.components.monitoring import BudgetHandles, cost_scale
from deter.solver.formulation.program import compile_program, program_for, value_of
from deter.solver.model.arrays import ProblemArrays

from tests.support.reference import (
    CARA_SHIFTED,
    FALSE_POSITIVES,
    MARGIN,
    ONE_ACTION,
    TWO_ACTIONS,
    spec_text,
    u,
)


def arrays_of(text: str) -> ProblemArrays:
    return ProblemArrays.from_spec(deter.load_spec(text))


# --- arrays and incentive rows ------------------------------------------------------------


def test_arrays_of_two_actions() -> None:
    arrays = arrays_of(TWO_ACTIONS.text)
    assert arrays.action_names == ("honest", "a", "b")
    assert arrays.compliant == 0
    assert list(arrays.deviations) == [1, 2]
    assert arrays.monitor_names == ("judge",)
    np.testing.assert_allclose(arrays.detection.toarray(), [[0.0], [0.6], [0.5]])
    np.testing.assert_allclose(arrays.penalty_cap, [0.0, 20.0, 10.0])
    np.testing.assert_allclose(arrays.cost, [2.0])


def test_audit_monitors_follow_declared_ones() -> None:
    text = spec_text(
        [
            {"name": "ok", "gain": 0.0},
            {
                "name": "x",
                "gain": 1.0,
                "penalty_cap": 2.0,
                "audit_cost": 3.0,
                "audit_detection": 0.4,
            },
        ],
        [{"name": "m", "cost": 1.0, "detects": {"x": 0.2}}],
    )
    arrays = arrays_of(text)
    assert arrays.monitor_names == ("m", "audit:x")
    np.testing.assert_allclose(arrays.detection.toarray(), [[0.0, 0.0], [0.2, 0.4]])
    np.testing.assert_allclose(arrays.cost, [1.0, 3.0])


def test_incentive_rows_risk_neutral() -> None:
    """r = 0: d_i = F_i, d_0 = F_fp, k_i = g_i - g_0 + m."""
    rows = incentive_rows(arrays_of(TWO_ACTIONS.text))
    np.testing.assert_allclose(rows.loss, [20.0, 10.0])
    np.testing.assert_allclose(rows.need, [3.0, 2.0])
    assert rows.false_flag_loss == 0.0
    rows = incentive_rows(arrays_of(MARGIN.text))
    np.testing.assert_allclose(rows.need, [2.0 + 0.5])
    rows = incentive_rows(arrays_of(FALSE_POSITIVES.text))
    assert rows.false_flag_loss == pytest.approx(6.0)
    np.testing.assert_allclose(rows.loss, [20.0])


@pytest.mark.parametrize("r", [0.3, -0.25])
def test_incentive_rows_cara(r: float) -> None:
    """Rows are the model's, multiplied by exp(r g_0) > 0 (wealth relative to g_0):
    d = (u(g) - u(g - F)) e^{r g_0}, d_0 = (u(g_0) - u(g_0 - F_fp)) e^{r g_0},
    k = (u(g) - u(g_0) + m) e^{r g_0}."""
    g0, g, cap, ffp, m = 1.5, 4.0, 7.0, 2.0, 0.1
    text = spec_text(
        [{"name": "comply", "gain": g0}, {"name": "evade", "gain": g, "penalty_cap": cap}],
        [{"name": "audit", "cost": 1.0, "false_positive": 0.1, "detects": {"evade": 0.5}}],
        agent={"risk_aversion": r, "margin": m, "false_positive_penalty": ffp},
    )
    rows = incentive_rows(arrays_of(text))
    scale = math.exp(r * g0)
    assert rows.loss[0] == pytest.approx((u(g, r) - u(g - cap, r)) * scale, rel=1e-12)
    assert rows.false_flag_loss == pytest.approx((u(g0, r) - u(g0 - ffp, r)) * scale, rel=1e-12)
    assert rows.need[0] == pytest.approx((u(g, r) - u(g0, r) + m) * scale, rel=1e-12)


def test_incentive_rows_without_penalty_cap_scale_by_one() -> None:
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "free", "gain": 1.0, "penalty_cap": 0.0}],
        [{"name": "m", "cost": 1.0, "detects": {"free": 1.0}}],
    )
    rows = incentive_rows(arrays_of(text))
    assert rows.loss[0] == 0.0
    assert rows.row_scale[0] == 1.0


# --- verification on hand-set policies -----------------------------------------------------


def failing(arrays: ProblemArrays, rates: list[float], cost: float | None = None) -> set[str]:
    x = np.asarray(rates, dtype=float)
    reported = float(arrays.cost @ x) if cost is None else cost
    verification = verify_policy(arrays, x, reported)
    names = {c.name for c in verification.checks if c.max_relative_violation > 1e-6}
    assert verification.passed == (not names)
    return names


def test_verify_accepts_the_hand_computed_optimum() -> None:
    assert failing(arrays_of(TWO_ACTIONS.text), [0.4]) == set()
    # The float nearest 3 / 11.4 falls an ulp short of the exact tie, and verification
    # decides ties exactly: the next float up is the optimum in binary64.
    assert failing(arrays_of(FALSE_POSITIVES.text), [math.nextafter(3.0 / 11.4, 1.0)]) == set()
    assert failing(arrays_of(MARGIN.text), [0.5]) == set()
    # a feasible policy that is not optimal is still feasible
    assert failing(arrays_of(TWO_ACTIONS.text), [0.9]) == set()


def test_verify_rejects_too_little_monitoring() -> None:
    assert failing(arrays_of(TWO_ACTIONS.text), [0.39]) == {"incentive"}
    assert failing(arrays_of(MARGIN.text), [0.45]) == {"incentive"}  # beats gap, not margin
    # the false-positive penalty weakens deterrence: gap / (q F) alone is not enough
    assert failing(arrays_of(FALSE_POSITIVES.text), [3.0 / 12.0]) == {"incentive"}


def test_verify_checks_cara_with_the_model_utility() -> None:
    arrays = arrays_of(CARA_SHIFTED.text)
    rate = CARA_SHIFTED.rates["audit"]
    assert failing(arrays, [rate * (1 + 1e-9)]) == set()
    assert failing(arrays, [rate * 0.99]) == {"incentive"}


def test_verify_rejects_rates_out_of_bounds() -> None:
    arrays = arrays_of(TWO_ACTIONS.text)
    assert failing(arrays, [1.2]) == {"max_rate"}
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 1.0, "penalty_cap": 10.0}],
        [{"name": "m", "cost": 1.0, "min_rate": 0.5, "detects": {"cheat": 1.0}}],
    )
    assert failing(arrays_of(text), [0.3]) == {"min_rate"}


def test_verify_rejects_over_budget_and_misreported_cost() -> None:
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0, "penalty_cap": 16.0}],
        [{"name": "m", "cost": 1.2, "detects": {"cheat": 0.5}}],
        oversight={"budget": 0.29},
    )
    arrays = arrays_of(text)
    assert failing(arrays, [0.25]) == {"budget"}
    assert failing(arrays, [0.2]) == {"incentive"}
    assert failing(arrays_of(ONE_ACTION.text), [0.25], cost=0.5) == {"reported_cost"}


def test_verify_rejects_nan() -> None:
    arrays = arrays_of(ONE_ACTION.text)
    assert not verify_policy(arrays, np.array([np.nan]), 0.0).passed


# --- the compiled program ------------------------------------------------------------------


def compiled(text: str, parametric: bool = True):  # type: ignore[no-untyped-def]
    arrays = arrays_of(text)
    return arrays, compile_program(arrays, components_for(arrays), parametric=parametric)


@pytest.mark.parametrize("parametric", [True, False])
def test_program_is_dcp_and_dpp(parametric: bool) -> None:
    _, program = compiled(FALSE_POSITIVES.text, parametric)
    assert program.problem.is_dcp(dpp=parametric)
    assert program.problem.is_dcp()


def test_program_sizes_and_named_pieces() -> None:
    budgeted = spec_text(
        [
            {"name": "h", "gain": 0.0},
            {"name": "a", "gain": 1.0},
            {"name": "b", "gain": 2.0},
            {"name": "c", "gain": 0.5},
        ],
        [
            {"name": "m1", "cost": 1.0, "detects": {"a": 0.5}},
            {"name": "m2", "cost": 2.0, "detects": {"b": 0.5, "c": 0.1}},
        ],
        agent={"penalty_cap": 5.0},
        oversight={"budget": 3.0},
    )
    _, program = compiled(budgeted)
    ctx = program.context
    assert ctx.rates.shape == (2,)
    assert ctx.detection.shape == (3,)  # one per non-compliant action
    assert ctx.false_flags.shape == ()
    assert {"incentive", "min_rate", "max_rate", "budget"} <= set(named_constraints(program))
    handles = program.find(IncentiveHandles)
    assert handles is not None and handles.incentive.shape == (3,)
    assert program.find(BudgetHandles) is not None
    assert compiled(TWO_ACTIONS.text)[1].find(BudgetHandles) is None
    assert "budget" not in named_constraints(compiled(TWO_ACTIONS.text)[1])
    assert len(program.problem.variables()) == 3
    assert program.key[:2] == (3, 2)
    assert all(p.value is not None for p in program.problem.parameters())


def set_policy(program, arrays: ProblemArrays, rates: list[float]) -> None:  # type: ignore[no-untyped-def]
    """Set the shared variables at a policy: P_i = min(1, Q x), P_0 = f x."""
    x = np.asarray(rates, dtype=float)
    ctx = program.context
    ctx.rates.value = x
    ctx.detection.value = np.minimum(1.0, arrays.detection[arrays.deviations] @ x)
    ctx.false_flags.value = float(arrays.false_positive @ x)


def named_constraints(program) -> dict[str, cp.Constraint]:  # type: ignore[no-untyped-def]
    """Each component's constraints by the name of its handle (e.g. ``incentive``)."""
    named = {}
    for _, handles in program.parts:
        for item in dataclasses.fields(handles):
            value = getattr(handles, item.name)
            if isinstance(value, cp.Constraint):
                named[item.name] = value
    return named


def worst_violation(program) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {
        name: float(np.max(np.atleast_1d(c.violation())))
        for name, c in named_constraints(program).items()
    }


@pytest.mark.parametrize(
    "ref", [TWO_ACTIONS, FALSE_POSITIVES, CARA_SHIFTED, MARGIN], ids=lambda r: r.name
)
def test_constraints_hold_at_the_optimum_and_fail_below_it(ref) -> None:  # type: ignore[no-untyped-def]
    arrays, program = compiled(ref.text)
    rate = next(iter(ref.rates.values()))
    set_policy(program, arrays, [rate])
    assert max(worst_violation(program).values()) <= 1e-9
    # The program's objective is the cost over the largest unit cost.
    assert program.problem.objective.value * cost_scale(arrays) == pytest.approx(ref.cost)
    set_policy(program, arrays, [rate * 0.9])
    violations = worst_violation(program)
    assert violations["incentive"] > 1e-6
    assert all(v <= 1e-9 for name, v in violations.items() if name != "incentive")
    # The incentive residual's sign: positive slack (lhs - rhs >= 0) at more monitoring.
    set_policy(program, arrays, [min(1.0, rate * 1.5)])
    incentive = named_constraints(program)["incentive"]
    assert np.all(incentive.args[0].value - incentive.args[1].value <= 0)  # need <= reached


def test_bounds_and_budget_rows_detect_their_violations() -> None:
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 2.0, "penalty_cap": 16.0}],
        [{"name": "m", "cost": 1.2, "min_rate": 0.1, "max_rate": 0.8, "detects": {"cheat": 0.5}}],
        oversight={"budget": 0.5},
    )
    arrays, program = compiled(text)
    set_policy(program, arrays, [0.9])
    v = worst_violation(program)
    assert v["max_rate"] == pytest.approx(0.1)
    assert v["budget"] == pytest.approx((1.2 * 0.9 - 0.5) / 1.2)
    set_policy(program, arrays, [0.05])
    v = worst_violation(program)
    assert v["min_rate"] == pytest.approx(0.05)


def test_parametric_reload_reuses_the_compiled_program() -> None:
    """Two specs of one shape: the second is loaded into the first's program (DPP)."""

    def text(gain: float, cost: float) -> str:
        return spec_text(
            [{"name": "ok", "gain": 0.0}, {"name": "bad", "gain": gain, "penalty_cap": 10.0}],
            [
                {"name": "w", "cost": cost, "detects": {"bad": 0.25}},
                {"name": "z", "cost": 9.0, "detects": {"bad": 0.75}},
            ],
            agent={"margin": 0.0625},
        )

    first = arrays_of(text(1.0, 1.0))
    program = program_for(first)
    assert program.solve("HIGHS").status == "optimal"
    x1 = value_of(program.context.rates, 2).copy()
    second = arrays_of(text(2.0, 5.0))
    again = program_for(second)
    assert again is program  # no recompilation
    assert again.solve("HIGHS").status == "optimal"
    x2 = value_of(again.context.rates, 2)
    # cost per unit of detection: w 4 (then 20), z 12: w alone, then z alone
    np.testing.assert_allclose(x1, [(1.0 + 0.0625) / 2.5, 0.0], atol=1e-8)
    np.testing.assert_allclose(x2, [0.0, (2.0 + 0.0625) / 7.5], atol=1e-8)
    # and deter.solve agrees, through the same cache
    result = deter.solve(deter.load_spec(text(2.0, 5.0)))
    assert result.total_cost == pytest.approx(9.0 * (2.0 + 0.0625) / 7.5)


def test_constant_and_parametric_builds_agree() -> None:
    _, parametric = compiled(CARA_SHIFTED.text, True)
    _, constant = compiled(CARA_SHIFTED.text, False)
    assert not constant.problem.parameters()
    for program in (parametric, constant):
        assert program.solve("CLARABEL").status in ("optimal", "optimal_inaccurate")
    np.testing.assert_allclose(
        value_of(parametric.context.rates, 1), value_of(constant.context.rates, 1), rtol=1e-6
    )
    np.testing.assert_allclose(
        value_of(constant.context.rates, 1), [CARA_SHIFTED.rates["audit"]], rtol=1e-6
    )
