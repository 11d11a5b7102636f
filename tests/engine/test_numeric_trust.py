"""Numeric trust (issue #12): deter's answers re-checked in exact arithmetic.

Every answer is judged by tests/support/exact_reference.py, which reads the spec with
tomllib, builds the LP of docs/model.md itself (scipy HiGHS, its own scaling) and re-checks
any policy exactly (fractions for risk-neutral rows, mpmath at 80 digits for CARA and
exponential rows). An "optimal" answer must pass that re-check (deterred by the margin,
within the budget and rate bounds, exactly) and cost at most 1e-6 relative more than the
reference's exactly checked policy; "infeasible" is wrong when the reference has such a
policy; "solver_error" is wrong when the reference solves. The first tests are the issue's
cases; the last ones run a few hundred generated specs per family
(tests/support/magnitudes.py). Reproduce one generated spec with
``python bench/reliability.py --numeric N --families FAMILY`` (the failing specs are written
to bench/out/numeric/).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import deter
import pytest
from deter import SpecError

from tests.support.exact_reference import (
    FAILURE_CLASSES,
    Verdict,
    check_policy,
    judge,
    nonfinite_paths,
    parse,
    reference,
)
from tests.support.magnitudes import FAMILIES, generate
from tests.support.reference import ONE_ACTION, TWO_ACTIONS, spec_text

STATUSES = {"optimal", "infeasible", "solver_error"}


def solve(text: str) -> tuple[dict[str, Any], list[warnings.WarningMessage]]:
    """deter's answer as JSON data, and every warning raised while solving."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = deter.solve(deter.loads(text)).to_dict(timing=False)
    return result, list(caught)


def refused_at_load(text: str) -> bool:
    """True when the spec is refused as beyond the range deter computes in (issue 12: a
    number the model cannot represent is refused with a located message, exit 2)."""
    try:
        deter.loads(text)
    except SpecError as exc:
        assert "range deter computes in" in str(exc), str(exc)
        assert all(issue.key for issue in exc.issues), exc.issues
        return True
    return False


def runtime_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def assert_trustworthy(text: str) -> tuple[dict[str, Any], Verdict]:
    """Solve, judge against the reference, and assert nothing in FAILURE_CLASSES."""
    result, caught = solve(text)
    assert not runtime_warnings(caught), runtime_warnings(caught)
    verdict = judge(text, result)
    assert verdict.ok, (result["status"], verdict.failures, verdict.reference)
    return result, verdict


def rate(result: dict[str, Any], monitor: str) -> float:
    return next(m["rate"] for m in result["monitors"] if m["name"] == monitor)


# --- the reference itself, on hand-derived optima ----------------------------------------


@pytest.mark.parametrize("ref", [ONE_ACTION, TWO_ACTIONS], ids=lambda r: r.name)
def test_reference_matches_closed_forms(ref: Any) -> None:
    answer = reference(ref.text)
    assert answer.status == "optimal"
    assert answer.cost is not None
    assert math.isclose(float(answer.cost), ref.cost, rel_tol=1e-8)


def test_exact_check_catches_one_ulp() -> None:
    """One action, one monitor: x* = 0.25 deters exactly; one ulp less does not."""
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 1.0, "penalty_cap": 4.0}],
        [{"name": "m", "cost": 1.0, "detects": {"cheat": 1.0}}],
    )
    model = parse(text)
    assert check_policy(model, {"m": 0.25}).passed
    below = check_policy(model, {"m": math.nextafter(0.25, 0.0)})
    assert not below.passed and below.worst < 1e-15


def test_generator_is_deterministic_and_valid() -> None:
    for family in FAMILIES:
        for seed in range(3):
            case = generate(family, seed)
            assert case.text == generate(family, seed).text
            deter.loads(case.text)  # valid


# --- the issue's cases -------------------------------------------------------------------

CASE_1 = """\
[[actions]]
name = "comply"
gain = 0.0
[[actions]]
name = "cheat"
gain = 1.0
penalty_cap = 1e7
audit_cost = 1000.0
audit_detection = 0.9
[[actions]]
name = "harmless"
gain = -1.0
penalty_cap = 10.0
[[monitors]]
name = "cheap"
cost = 1.0
detects = { cheat = 0.8, harmless = 0.5 }
"""


def test_case_1_non_paying_co_detected_action_does_not_change_the_optimum() -> None:
    """cheat needs P >= 1 / 1e7; cheap gives it at rate 1e-7 / 0.8 = 1.25e-7 for 1.25e-7;
    harmless does not pay, so it asks for nothing (the audit costs 900x more)."""
    result, _ = assert_trustworthy(CASE_1)
    assert result["status"] == "optimal"
    assert math.isclose(result["total_cost"], 1.25e-7, rel_tol=1e-9)
    assert math.isclose(rate(result, "cheap"), 1.25e-7, rel_tol=1e-9)


def test_case_2_budget_is_met_exactly_or_the_spec_is_infeasible() -> None:
    """Deterrence needs rate 0.25 of a monitor costing 8e-8: 2e-8, twice the budget 1e-8.
    No policy fits, so the only right answer is infeasible (never an over-budget optimum)."""
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 1.0, "penalty_cap": 4.0}],
        [{"name": "m", "cost": 8e-8, "detects": {"cheat": 1.0}}],
        oversight={"budget": 1e-8},
    )
    result, verdict = assert_trustworthy(text)
    if result["status"] == "optimal":  # only acceptable if within budget, exactly
        assert check_policy(parse(text), {"m": rate(result, "m")}).passed
    assert result["status"] == "infeasible"
    assert verdict.reference.status == "infeasible"


@pytest.mark.parametrize("ffp", [0.0, 1.0])
def test_case_3_risk_averse_tiny_need_beside_a_strongly_non_paying_action(ffp: float) -> None:
    """r = 1: pay needs P >= expm1(1) / expm1(201), about e^-200; nopay (gain -1000) is
    co-detected by the same monitor and never pays. Deterrence is cheap, not infeasible."""
    text = spec_text(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "pay", "gain": 1.0, "penalty_cap": 201.0},
            {"name": "nopay", "gain": -1000.0, "penalty_cap": 5.0},
        ],
        [
            {
                "name": "m",
                "cost": 1.0,
                "detects": {"pay": 0.5, "nopay": 0.9},
                "false_positive": 0.01,
            }
        ],
        agent={"risk_aversion": 1.0, "false_positive_penalty": ffp},
    )
    result, verdict = assert_trustworthy(text)
    assert verdict.reference.status == "optimal"
    assert result["status"] == "optimal"


def test_case_4_moderate_cara_with_large_incentive_coefficients_solves() -> None:
    """r = 0.75, caps about 50: u differences of e^{37} next to gaps of order 1."""
    text = spec_text(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "a", "gain": 2.0, "penalty_cap": 48.0},
            {"name": "b", "gain": 0.5, "penalty_cap": 52.0, "audit_cost": 3.0},
            {"name": "c", "gain": 1.2, "penalty_cap": 45.0},
        ],
        [
            {"name": "m0", "cost": 1.0, "detects": {"a": 0.6, "c": 0.3}},
            {"name": "m1", "cost": 2.5, "detects": {"a": 0.2, "b": 0.7, "c": 0.9}},
        ],
        agent={"risk_aversion": 0.75},
    )
    result, _ = assert_trustworthy(text)
    assert result["status"] == "optimal"


@pytest.mark.parametrize(
    ("family", "seed"),
    [
        ("cara_averse", 43),
        ("extreme", 23),
        ("extreme", 29),
        ("tight_budget", 106),
    ],
)
def test_case_4_generated_specs_deter_gave_solver_error_on(family: str, seed: int) -> None:
    """Specs from the first benchmark run (bench/README.md) where deter said solver_error and
    the reference has an exactly checked policy."""
    assert_trustworthy(generate(family, seed).text)


def test_case_4_risk_seeking_false_flag_penalty_beyond_exp_range() -> None:
    """r = -1 and gains of 800: exp(|r| g) overflows binary64; no internal error."""
    text = spec_text(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "grab", "gain": 800.0, "penalty_cap": 1000.0},
        ],
        [{"name": "m", "cost": 1.0, "detects": {"grab": 0.9}, "false_positive": 0.05}],
        agent={"risk_aversion": -1.0, "false_positive_penalty": 2.0},
    )
    if refused_at_load(text):  # |r| x 800 is beyond binary64's exp: a located refusal
        return
    result, caught = solve(text)
    assert result["status"] in STATUSES
    assert not nonfinite_paths(result)
    assert not runtime_warnings(caught)
    assert judge(text, result).ok


def _no_internal_error(text: str, explain: bool = False) -> str:
    """A spec deter accepts must be answered: a status, never a crash, a non-finite number
    in JSON, or a RuntimeWarning. Returns the status."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        problem = deter.loads(text)
        result = problem.solve().to_dict(timing=False)
        assert result["status"] in STATUSES
        assert not nonfinite_paths(result)
        if explain:
            assert not nonfinite_paths(problem.explain().to_dict())
    assert not runtime_warnings(list(caught))
    return str(result["status"])


def _refused_at(text: str) -> dict[str, int | None]:
    """The keys (and their lines) a spec refused at load names."""
    with pytest.raises(SpecError) as refused:
        deter.loads(text)
    return {issue.key: issue.line for issue in refused.value.issues}


def _huge_gain(gain: object) -> str:
    return spec_text(
        [{"name": "comply", "gain": 0}, {"name": "cheat", "gain": gain, "penalty_cap": 1.0}],
        [{"name": "m", "cost": 1.0, "detects": {"cheat": 1.0}}],
    )


def test_case_4_integer_gain_beyond_float_range() -> None:
    """10**400 has no float: refused at its own line; the largest gain deter computes in
    (1e100, docs/spec-format.md, Limits) is answered."""
    keys = _refused_at(_huge_gain(10**400))
    assert list(keys) == ["actions.cheat.gain"] and keys["actions.cheat.gain"] is not None
    assert _no_internal_error(_huge_gain(1e100)) == "infeasible"  # a cap of 1 cannot offset it


def _auditor_spec(big: float) -> str:
    return (
        spec_text(
            [
                {"name": "comply", "gain": 0.0},
                {"name": "cut", "gain": big, "penalty_cap": big, "harm": big},
            ],
            [{"name": "review", "cost": big, "detects": {"cut": 0.5}}],
        )
        + f'\n[auditor]\nmonitor = "review"\ninspection_cost = {big!r}\n'
        + f"catch_reward = {big!r}\nmiss_loss = {big!r}\n"
    )


def test_case_4_auditor_values_near_float_max() -> None:
    """Values near float max are refused, each at its own key; at the largest accepted
    magnitude the auditor game is answered without an internal error."""
    keys = _refused_at(_auditor_spec(1e308))
    assert {"actions.cut.gain", "actions.cut.harm", "actions.cut.penalty_cap"} <= set(keys)
    assert all(line is not None for line in keys.values())
    _no_internal_error(_auditor_spec(1e100))


def _risk_averse(r: float) -> str:
    return spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 1.0, "penalty_cap": 4.0}],
        [{"name": "m", "cost": 1.0, "detects": {"cheat": 0.5}}],
        agent={"risk_aversion": r},
    )


def test_case_4_explain_at_huge_risk_aversion() -> None:
    """A risk aversion of 1e308 is refused at its key; at 1e9 (the largest accepted,
    docs/spec-format.md, Limits; 1e3 before issue 20 item 6) and at the old 1e3 the solve
    and its explanation are finite."""
    assert list(_refused_at(_risk_averse(1e308))) == ["agent.risk_aversion"]
    assert list(_refused_at(_risk_averse(1.0000001e9))) == ["agent.risk_aversion"]
    assert _no_internal_error(_risk_averse(1e9), explain=True) in STATUSES
    assert _no_internal_error(_risk_averse(1000.0), explain=True) in STATUSES


@pytest.mark.parametrize(
    "agent",
    [
        {"risk_aversion": 1.0},
        {"risk_aversion": -1.0},
        {"risk_aversion": 3.0, "false_positive_penalty": 1.0},
    ],
    ids=["averse", "seeking", "averse_fp"],
)
def test_case_5_deterred_agrees_with_status_and_json_is_finite(agent: dict[str, Any]) -> None:
    """Gains of 800 and 1000 put exp(r w) beyond binary64 for the agent's utilities."""
    text = spec_text(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "big", "gain": 800.0, "penalty_cap": 1000.0},
            {"name": "bigger", "gain": 1000.0, "penalty_cap": 1200.0},
        ],
        [
            {"name": "m", "cost": 1.0, "detects": {"big": 0.9, "bigger": 0.9}},
            {"name": "n", "cost": 0.5, "detects": {"bigger": 0.5}, "false_positive": 0.01},
        ],
        agent=agent,
    )
    if agent["risk_aversion"] < 0 and refused_at_load(text):  # exp(|r| 1000) overflows
        return
    result, caught = solve(text)
    assert not nonfinite_paths(result), nonfinite_paths(result)
    assert not runtime_warnings(caught)
    deterred = [a["deterred"] for a in result["actions"]]
    if result["status"] == "optimal":
        assert all(deterred)
    verdict = judge(text, result)
    assert verdict.ok, verdict.failures


def test_case_5_risk_seeking_need_just_below_one_holds_exactly() -> None:
    """r = -1, gap 30, cap 30.000001: P must be (1 - e^-30) / (1 - e^-30.000001), within
    1e-13 of 1. Rounded to binary64 it can land one ulp short; the answer must deter exactly."""
    text = spec_text(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "grab", "gain": 30.0, "penalty_cap": 30.000001},
        ],
        [
            {"name": "m", "cost": 1.0, "detects": {"grab": 0.7}},
            {"name": "n", "cost": 3.0, "detects": {"grab": 0.7}},
        ],
        agent={"risk_aversion": -1.0},
    )
    result, _ = assert_trustworthy(text)
    assert result["status"] == "optimal"


def test_case_5_subnormal_gain_is_not_deterred_at_rate_zero() -> None:
    """A gain of 5e-324 over complying strictly pays when undetected, so rate 0 does not
    deter it: the answer must detect it (rate >= 5e-324 here) or say solver_error."""
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "tiny", "gain": 5e-324, "penalty_cap": 1.0}],
        [{"name": "m", "cost": 1.0, "detects": {"tiny": 1.0}}],
    )
    if refused_at_load(text):  # 5e-324 is below the range deter computes in
        return
    result, caught = solve(text)
    assert not runtime_warnings(caught)
    assert result["status"] in ("optimal", "solver_error")
    if result["status"] == "optimal":
        assert rate(result, "m") > 0
        assert check_policy(parse(text), {"m": rate(result, "m")}).passed
    else:
        assert result["message"]
    tiny = next(a for a in result["actions"] if a["name"] == "tiny")
    assert tiny["deterred"] == (result["status"] == "optimal")


def test_case_5_reported_probabilities_are_probabilities() -> None:
    """Two monitors flag honest work at 0.9 each and both are needed at rate 1: sum f x = 1.8.
    Whatever deter does about it, every reported detection is a probability."""
    text = spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 9.0, "penalty_cap": 10.0}],
        [
            {"name": "m", "cost": 1.0, "detects": {"cheat": 0.5}, "false_positive": 0.9},
            {"name": "n", "cost": 1.0, "detects": {"cheat": 0.5}, "false_positive": 0.9},
        ],
        agent={"false_positive_penalty": 0.1},
    )
    result, caught = solve(text)
    assert not runtime_warnings(caught)
    assert not nonfinite_paths(result)
    for action in result["actions"]:
        assert 0.0 <= action["detection"] <= 1.0, action


def test_case_6_degenerate_inspection_game_lists_only_extreme_equilibria() -> None:
    """Inspection is free (c = 0), so the auditor is indifferent against compliance at every
    rate: the equilibria are (comply, x) for x in [0.6, 1] (a: 1 - 2x <= 0 from 0.5, b:
    3 - 5x <= 0 from 0.6), whose extreme points are x = 0.6 and x = 1. Lines a and b cross
    at x = 2/3, inside that segment: not an extreme point, so it must not be listed."""
    text = (
        spec_text(
            [
                {"name": "comply", "gain": 0.0},
                {"name": "a", "gain": 1.0, "penalty_cap": 10.0, "harm": 1.0},
                {"name": "b", "gain": 3.0, "penalty_cap": 10.0, "harm": 1.0},
            ],
            [{"name": "review", "cost": 1.0, "detects": {"a": 0.2, "b": 0.5}}],
        )
        + '\n[auditor]\nmonitor = "review"\ninspection_cost = 0.0\n'
        + "catch_reward = 1.0\nmiss_loss = 1.0\n"
    )
    result = deter.solve(deter.loads(text)).to_dict(timing=False)
    assert result["auditor"]["equilibria"] == 2, result["auditor"]


# --- generated specs against the reference -----------------------------------------------

SPECS_PER_FAMILY = 200


@pytest.mark.slow
@pytest.mark.parametrize(
    "family",
    FAMILIES,
)
def test_generated_specs_are_answered_right(family: str) -> None:
    """SPECS_PER_FAMILY seeded specs of one family: no answer in any failure class
    (FAILURE_CLASSES: internal error, RuntimeWarning, non-finite JSON, optimal with an action
    not deterred, optimal failing the exact re-check (even by round-off), misreported cost,
    cost above the reference's by 1e-6, infeasible or solver_error where the reference has an
    exactly checked policy)."""
    failures: list[str] = []
    outcomes: dict[str, int] = {}
    unsure = 0
    for seed in range(SPECS_PER_FAMILY):
        case = generate(family, seed)
        if refused_at_load(case.text):  # a number beyond the range deter computes in
            outcomes["refused"] = outcomes.get("refused", 0) + 1
            continue
        try:
            result, caught = solve(case.text)
        except Exception as error:  # every exception is a failure to report, not to stop on
            failures.append(f"{case.label}: internal_error {type(error).__name__}: {error}")
            continue
        if runtime_warnings(caught):
            failures.append(f"{case.label}: runtime_warning {runtime_warnings(caught)[0]}")
        verdict = judge(case.text, result)
        outcomes[verdict.reference.status] = outcomes.get(verdict.reference.status, 0) + 1
        unsure += verdict.reference.status == "unsure"
        failures += [f"{case.label}: {cls} {why[:200]}" for cls, why in verdict.failures]
    # The family must exercise both outcomes, and the reference must almost always decide.
    assert outcomes.get("optimal", 0) >= SPECS_PER_FAMILY // 5, outcomes
    assert unsure <= SPECS_PER_FAMILY // 50, outcomes
    counts = {cls: sum(f" {cls} " in f for f in failures) for cls in FAILURE_CLASSES}
    assert not failures, f"{len(failures)} failures {counts}:\n" + "\n".join(failures[:15])
