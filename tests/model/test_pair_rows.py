"""Best-response rows in log space (solver/model/pair_rows.py, issue 20 item 6): the same rows
as the direct utilities where those are finite, finite and of order 1 far beyond exp's range,
and equal to the exact (mpmath) rows there."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
from deter.solver.formulation.commitment import incentive_rows
from deter.solver.model.pair_rows import all_pairs, pair_logs, pair_values, row_values
from deter.solver.model.types import StrategicArrays, type_detection
from deter.solver.model.utility import caught_loss, utility
from deter.solver.spec.loading import parse_spec_text

from tests.support.reference import spec_text


def _data(**numbers: float) -> StrategicArrays:
    """Three types (CARA averse, seeking and neutral) over a point gain and an interval
    gain; ``numbers`` replace the defaults below."""
    v = {
        "r0": 0.4,
        "r1": -0.7,
        "cap": 6.0,
        "ffp": 0.5,
        "margin": 0.01,
        "ga": 3.0,
        "gb_low": 1.0,
        "gb_high": 2.0,
        "cap_b": 4.0,
        "ga1": 2.5,
    }
    v.update(numbers)
    text = spec_text(
        [
            {"name": "comply", "gain": 0.25},
            {"name": "a", "gain": v["ga"]},
            {"name": "b", "gain": [v["gb_low"], v["gb_high"]], "penalty_cap": v["cap_b"]},
        ],
        [
            {"name": "m", "cost": 1.0, "detects": {"a": 0.7, "b": 0.4}, "false_positive": 0.05},
            {"name": "n", "cost": 2.0, "detects": {"b": 0.9}},
        ],
        agent={
            "risk_aversion": v["r0"],
            "penalty_cap": v["cap"],
            "false_positive_penalty": v["ffp"],
            "margin": v["margin"],
        },
        types=[
            {"name": "t0", "weight": 0.3},
            {"name": "t1", "weight": 0.3, "risk_aversion": v["r1"], "gains": {"a": v["ga1"]}},
            {"name": "t2", "weight": 0.4, "risk_aversion": 0.0},
        ],
        version=1,
    )
    return StrategicArrays.from_spec(parse_spec_text(text, "typed.toml"))


def _direct_rows(data: StrategicArrays, pairs: np.ndarray) -> np.ndarray:
    """Row t = (k, a, i) in type k's utility units, [constant, coef of P_a, coef of P_i],
    from u and caught_loss directly (wealth relative to the type's low compliant gain)."""
    base = data.base
    c = base.compliant
    penalty = base.penalty_cap.copy()
    penalty[c] = base.false_positive_penalty
    out = []
    for k, a, i in pairs.tolist():
        r = float(data.risk_aversion[k])
        ref = data.gain_low[k, c]
        g_a, g_i = data.gain_low[k, a] - ref, data.gain_high[k, i] - ref
        margin = base.margin * (np.exp(r * ref) if r else 1.0)
        constant = float(utility(g_a, r) - utility(g_i, r)) - margin
        out.append(
            [
                constant,
                -float(caught_loss(g_a, penalty[a], r)),
                float(caught_loss(g_i, penalty[i], r)),
            ]
        )
    return np.array(out)


def test_the_log_rows_are_the_direct_rows_where_those_are_finite() -> None:
    data = _data()
    pairs = all_pairs(data.n_types, data.base.n_actions, None)
    coefficients, constant, big_m, log_factor = incentive_rows(data, pairs)
    dense = coefficients.toarray()
    factor = np.exp(log_factor)
    got = np.column_stack(
        [
            constant,
            dense[np.arange(len(pairs)), pairs[:, 1]],
            dense[np.arange(len(pairs)), pairs[:, 2]],
        ]
    )
    want = _direct_rows(data, pairs)
    np.testing.assert_allclose(got * factor[:, None], want, rtol=1e-12, atol=1e-14)
    # each row is divided by its largest term: its numbers are at most 1 (constant: 2)
    assert np.all(np.abs(got[:, 1:]) <= 1.0 + 1e-15) and np.all(np.abs(got[:, 0]) <= 2.0)
    # the big-M is the row's violation at P_a = 1, P_i = 0
    np.testing.assert_allclose(big_m, np.maximum(0.0, -(got[:, 0] + got[:, 1])))


def _exact_row(data: StrategicArrays, k: int, a: int, i: int) -> list[mpmath.mpf]:
    """[constant, coef of P_a, coef of P_i] of row (k, a, i) in mpmath, utility units."""
    base = data.base
    c = base.compliant
    penalty = [mpmath.mpf(float(v)) for v in base.penalty_cap]
    penalty[c] = mpmath.mpf(base.false_positive_penalty)
    r = mpmath.mpf(float(data.risk_aversion[k]))
    ref = mpmath.mpf(float(data.gain_low[k, c]))
    g_a = mpmath.mpf(float(data.gain_low[k, a])) - ref
    g_i = mpmath.mpf(float(data.gain_high[k, i])) - ref

    def u(w: mpmath.mpf) -> mpmath.mpf:
        return -mpmath.expm1(-r * w) / r if r else w

    margin = mpmath.mpf(base.margin) * (mpmath.exp(r * ref) if r else 1)
    return [
        u(g_a) - u(g_i) - margin,
        -(u(g_a) - u(g_a - penalty[a])),
        u(g_i) - u(g_i - penalty[i]),
    ]


@pytest.mark.parametrize("r", [-900.0, -40.0, 25.0])
def test_rows_far_beyond_exp_range_are_finite_and_exact(r: float) -> None:
    """|r| x gains up to 4,000 (e^4000 is beyond binary64): the rows are finite, of order 1,
    and, times their factor, the exact rows to 1e-12 of their largest term."""
    mpmath.mp.dps = 60
    data = _data(r0=r, r1=r / 3, ga=4.5, ga1=3.0, gb_high=2.5, cap=30.0, cap_b=2.0)
    pairs = all_pairs(data.n_types, data.base.n_actions, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        coefficients, constant, _, log_factor = incentive_rows(data, pairs)
    dense = coefficients.toarray()
    assert np.all(np.isfinite(dense)) and np.all(np.isfinite(constant))
    assert np.all(np.isfinite(log_factor))
    for t, (k, a, i) in enumerate(pairs.tolist()):
        got = [constant[t], dense[t, a], dense[t, i]]
        scale = mpmath.exp(mpmath.mpf(float(log_factor[t])))
        exact = [v / scale for v in _exact_row(data, k, a, i)]
        top = max(abs(v) for v in exact)
        assert 0.5 <= top <= 2.0, (t, top)  # of order 1
        for g, e in zip(got, exact, strict=True):
            assert abs(mpmath.mpf(g) - e) <= 1e-12 * top, (t, g, e)


def test_values_at_a_saturated_detection_keep_the_caught_outcome() -> None:
    """P_i = 1 for a risk-seeking type with |r| g = 2,600: EU_i is u(g_i - F_i) alone (the
    free outcome, e^2600 times larger, is gone), so the row is decided with the right sign
    and a size of its own terms, not 0 = e^2600 - e^2600 (a wrong optimal before the fix)."""
    data = _data(r0=-900.0, r1=-900.0, ga=3.0, ga1=3.0, cap=12.0, ffp=0.0, margin=0.0)
    pairs = np.array([[0, 0, 1]])  # type t0: comply over a
    rows = pair_values(data, pairs, np.array([0.0, 1.0, 0.0]))
    assert rows.value[0] < 0 and rows.size[0] > 0
    assert rows.value[0] / rows.size[0] == pytest.approx(-1.0)
    # one ulp of detection short of 1, a is taken: (1 - P) e^2600 dwarfs everything
    short = pair_values(data, pairs, np.array([0.0, np.nextafter(1.0, 0.0), 0.0]))
    assert short.value[0] > 0 and short.value[0] / short.size[0] == pytest.approx(1.0)


def test_row_values_agree_with_the_direct_form_within_exp_range() -> None:
    data = _data()
    pairs = all_pairs(data.n_types, data.base.n_actions, None)
    p = type_detection(data, np.array([0.4, 0.3]))
    logs = pair_logs(data, pairs)
    value, size, _, _ = row_values(logs, p[pairs[:, 1]], p[pairs[:, 2]])
    direct = pair_values(data, pairs, p)  # within DIRECT_LIMIT: the utilities themselves
    cara = logs.r != 0
    # the two forms differ by a positive factor per row: same sign, and the log form's value
    # over its size is the direct value over a size measured in the same units
    assert np.all(np.sign(value[cara]) == np.sign(direct.value[cara]))
    factor = np.abs(logs.r) * np.exp(logs.shift - _top_of(logs, p, pairs))
    np.testing.assert_allclose(value[cara], (direct.value * factor)[cara], rtol=1e-10)
    assert np.all(size > 0)


def _top_of(logs, p, pairs):  # type: ignore[no-untyped-def]
    """The per-row e^{top} row_values divided by, recomputed from its definition."""
    r = np.where(logs.r != 0, logs.r, 1.0)
    gap, f_a, f_i, _ = logs.linear
    p_a, p_i = p[pairs[:, 1]], p[pairs[:, 2]]
    with np.errstate(divide="ignore"):
        log_a = np.logaddexp(np.log1p(-p_a), np.log(p_a) + r * f_a)
        log_i = r * gap + np.logaddexp(np.log1p(-p_i), np.log(p_i) + r * f_i)
    return np.maximum(np.maximum(log_a, log_i), logs.margin)


def test_a_game_beyond_exp_range_keeps_the_agents_choices() -> None:
    """|r| g = 4,500 (e^4500 beyond binary64): the simulation's utilities are finite, measured
    from the best outcome (model/game.py), and the rational agent cheats at P = 0.99 and
    complies only at P = 1 (the need is 1 - e^-4500), as the model says; the designed policy
    (detection 1) is best-responded to by complying, in solve and simulate alike."""
    from deter.solver.model.arrays import ProblemArrays
    from deter.solver.model.game import Game
    from deter.solver.simulation.agents import best_response

    text = """\
version = 1
[agent]
risk_aversion = -900.0
penalty_cap = 30.0
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = 5.0
[[monitors]]
name = "m"
cost = 1.0
detects = { cheat = 1.0 }
"""
    spec = parse_spec_text(text, "seeking.toml")
    arrays = ProblemArrays.from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        game = Game.from_arrays(arrays, np.array([1.0]))
        free, caught = game.utilities()
        assert np.all(np.isfinite(free)) and np.all(np.isfinite(caught))
        assert best_response(game, np.array([0.0, 0.99])) == 1
        assert best_response(game, np.array([0.0, 1.0])) == 0
