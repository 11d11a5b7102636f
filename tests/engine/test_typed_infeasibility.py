"""Typed programs with margins proven infeasible (solver/engine/typed_infeasibility.py,
issue 20 item 3). Before, the DOBSS program's "infeasible" had no certificate and every
such spec ended as solver_error (68 of the 71 infeasible ones among seeds 0-149 of
tests/support/typed_margins.py); the reference is tests/support/exact_commitment.py's
enumeration, which imports nothing of deter."""

from __future__ import annotations

import warnings

import deter
import pytest
from deter.solver.engine.typed_infeasibility import prove_no_assignment
from deter.solver.model.types import StrategicArrays

from tests.support.exact_reference import judge, reference
from tests.support.typed_margins import typed_margin_spec

# t0 takes cheat only at x <= (5 - m) / 5, t1 complies only at x >= (2.35 + m) / 5; neither
# can take the other action by the margin. m = 2.4: 0.52 < 0.95, no shared policy.
SHARED_CONFLICT = """
version = 1
[agent]
margin = {margin}
[oversight]
objective = "min_loss"
[[actions]]
name = "comply"
gain = 0.0
[[actions]]
name = "cheat"
gain = 5.0
penalty_cap = 5.0
harm = 3.0
[[monitors]]
name = "m"
cost = 1.0
detects = {{ cheat = 1.0 }}
[[types]]
name = "t0"
weight = 0.5
[[types]]
name = "t1"
weight = 0.5
gains = {{ cheat = 2.35 }}
"""

# Two deviations with equal gains that no monitor sees: t0 cannot comply (they pay 3) and
# neither beats its twin by the margin.
TWINS = """
version = 1
[agent]
margin = 0.5
[oversight]
objective = "min_loss"
[[actions]]
name = "comply"
gain = 0.0
[[actions]]
name = "d"
gain = 3.0
penalty_cap = 5.0
harm = 1.0
[[actions]]
name = "e"
gain = 3.0
penalty_cap = 5.0
harm = 1.0
[[types]]
name = "t0"
weight = 0.4
[[types]]
name = "t1"
weight = 0.6
gains = { d = 2.0, e = 2.0 }
"""


def _solve(text: str) -> deter.Result:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return deter.solve(deter.loads(text))


def test_types_conflicting_through_the_shared_policy_are_proven_infeasible() -> None:
    text = SHARED_CONFLICT.format(margin=2.4)
    result = _solve(text)
    assert result.status == "infeasible", result.attempts
    assert "each of the 1 assignment(s)" in result.attempts[-1]
    assert "(t0: cheat; t1: comply)" in result.attempts[-1]
    verdict = judge(text, result.to_dict(timing=False))
    assert verdict.ok and verdict.reference.status == "infeasible", verdict.failures


def test_the_same_types_with_room_are_not_called_infeasible() -> None:
    # m = 2.0: t1 takes cheat at x <= 0.07 and t0 at x <= 0.6: both cheat at x = 0.
    text = SHARED_CONFLICT.format(margin=2.0)
    data = StrategicArrays.from_spec(deter.load_spec(text))
    assert prove_no_assignment(data) is None
    result = _solve(text)
    assert result.status == "optimal", result.message
    assert judge(text, result.to_dict(timing=False)).ok


def test_a_type_with_no_action_winning_by_the_margin_is_named() -> None:
    result = _solve(TWINS)
    assert result.status == "infeasible", result.attempts
    assert "no action of type 't0'" in result.attempts[-1]
    assert judge(TWINS, result.to_dict(timing=False)).ok


@pytest.mark.parametrize("block", range(2))
def test_generated_typed_margin_specs_agree_with_the_enumeration(block: int) -> None:
    """Every spec the enumeration calls infeasible is proven infeasible (not solver_error),
    and every optimum passes its exact re-check at the enumeration's least loss."""
    statuses: list[str] = []
    for seed in range(6 * block, 6 * block + 6):
        text = typed_margin_spec(seed)
        ref = reference(text)
        result = _solve(text)
        verdict = judge(text, result.to_dict(timing=False), ref)
        assert verdict.ok, (seed, verdict.failures)
        assert result.status == ref.status, (seed, result.status, ref.status, result.attempts)
        statuses.append(result.status)
    assert "infeasible" in statuses  # each block exercises the proof
