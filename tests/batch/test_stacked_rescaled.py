"""Blocks that fail their checks in a plain stack (issue 24 item 2): a CARA agent whose rows
need a detection of 1e-8 to 1e-26 is answered by HiGHS with every rate 0 within its
tolerance; alone, such a spec passes at the rescaled attempt. The stack retries its failed
blocks as one rescaled stack (``formulation/stacked_scaling.py``), and proves those that
fail that too infeasible with the certificate a spec solved alone ends with; the answers are
those of ``deter solve``. Before, each such block left the stack and was solved alone
through three to five attempts (~130 ms)."""

from __future__ import annotations

import numpy as np
import pytest
from deter.solver.engine import stacked as engine_stacked
from deter.solver.engine.solve import solve
from deter.solver.engine.stacked import StackStats, arrays_of, solve_stacked
from deter.solver.engine.verify import TOLERANCE
from deter.solver.formulation.stacked import build_stack
from deter.solver.formulation.stacked_scaling import rescaled
from deter.solver.spec.loading import parse_spec_text

#: Needs P >= 4.5e-8: HiGHS returns the rate 0 (bench corpus lp, seed 0, spec 1740).
TINY_NEED = """
[agent]
risk_aversion = 0.452506

[[actions]]
name = "comply"
gain = 1.47775

[[actions]]
name = "a0"
gain = 5.52298
penalty_cap = 41.0389

[[monitors]]
name = "m0"
cost = 1.30776
detects = { a0 = 0.247997 }
"""

#: Needs detections of 5e-21 and 2e-26 and has costs of 1e-21 (spec 1155).
TINIER = """
[agent]
penalty_cap = 4435.41
false_positive_penalty = 833.799
risk_aversion = 0.0125766

[oversight]
budget = 13.079031

[[actions]]
name = "comply"
gain = 109.936

[[actions]]
name = "a0"
gain = -22.2791

[[actions]]
name = "a1"
gain = 827.444
audit_cost = 0.621914
audit_detection = 0.969352

[[actions]]
name = "a2"
gain = 631.688
penalty_cap = 5214.11
audit_cost = 1.28932
audit_detection = 0.792138

[[monitors]]
name = "m0"
cost = 3.98934
detects = { a0 = 0.65472, a2 = 0.533906 }

[[monitors]]
name = "m1"
cost = 3.50651
detects = { a1 = 0.593677, a2 = 0.874931 }

[[monitors]]
name = "m2"
cost = 1.16149
detects = { a0 = 0.165423, a1 = 0.637203 }
false_positive = 0.074758
"""

#: Infeasible ("hidden" is detected by nothing), but the plain stack calls its block
#: optimal within HiGHS's tolerance, and its check refuses it (spec 2082).
HIDDEN = """
[agent]
false_positive_penalty = 0.137437
margin = 0.0771432
risk_aversion = 1.57176

[[actions]]
name = "comply"
gain = 0.0256408

[[actions]]
name = "a0"
gain = 0.0823324
penalty_cap = 0.203836

[[actions]]
name = "hidden"
gain = 3.0966
penalty_cap = 16.9722

[[actions]]
name = "a1"
gain = 0.0991748
penalty_cap = 0.712078

[[monitors]]
name = "m0"
cost = 0.814434
detects = { a1 = 0.475151 }
max_rate = 0.835224

[[monitors]]
name = "m1"
cost = 3.37652
detects = { a0 = 0.936676 }
false_positive = 0.040757
"""

ORDINARY = """
[[actions]]
name = "comply"
gain = 0.0

[[actions]]
name = "steal"
gain = 2.0
penalty_cap = 10.0

[[monitors]]
name = "camera"
cost = 1.5
detects = { steal = 0.6 }
"""


@pytest.fixture(autouse=True)
def plain_stack_first(monkeypatch) -> None:
    monkeypatch.setattr(engine_stacked, "_expect_infeasible", [False])


def parse(*texts: str):
    return [parse_spec_text(t, file=f"s{k}.toml", name=f"s{k}") for k, t in enumerate(texts)]


def test_blocks_needing_tiny_detection_are_answered_from_a_rescaled_stack() -> None:
    specs = parse(ORDINARY, TINY_NEED, TINIER, ORDINARY)
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    assert all(r is not None for r in results), stats
    assert stats[0].reasons == {"answered from a rescaled stack": 2}, stats
    assert stats[0].solves == 2  # the plain stack, the rescaled one
    for spec, result in zip(specs, results, strict=True):
        alone = solve(spec)
        assert result is not None and result.status == alone.status == "optimal"
        assert result.verification is not None and result.verification.passed
        assert result.total_cost == pytest.approx(alone.total_cost, rel=1e-9, abs=0)
        ours = [m.rate for m in result.monitors]
        np.testing.assert_allclose(ours, [m.rate for m in alone.monitors], rtol=1e-6, atol=0)
    assert results[1] is not None and results[1].attempts == (
        "HIGHS (rescaled, tight): optimal, verified and certified",
    )
    # the rates are not 0: the detection the rows need is bought
    assert results[1].monitors[0].rate > 1e-7


def test_an_infeasible_block_the_plain_stack_took_for_feasible_is_proven() -> None:
    """The rescaled stack of the failed blocks is infeasible as a whole (HIDDEN is): each
    block is then retried on its own, and HIDDEN, failing that, is proven infeasible by its
    own certificate (checked exactly), as ``deter solve`` proves it."""
    specs = parse(ORDINARY, HIDDEN, TINY_NEED)
    stats: list[StackStats] = []
    results = solve_stacked(specs, stats=stats)
    assert all(r is not None for r in results), stats
    assert results[1] is not None and results[1].status == "infeasible"
    alone = solve(specs[1])
    assert alone.status == "infeasible"
    assert results[1].diagnosis is not None and alone.diagnosis is not None
    assert [(a.name, a.deterrable) for a in results[1].diagnosis.actions] == [
        (a.name, a.deterrable) for a in alone.diagnosis.actions
    ]
    assert stats[0].reasons == {
        "answered from a rescaled stack": 1,
        "infeasible, certified after its stack's checks failed": 1,
    }


def test_each_block_of_a_rescaled_stack_is_judged_at_its_own_cost_scale() -> None:
    """A block whose costs are 1e-21 beside a block of ordinary costs: each block's objective
    is divided by its own largest cost, so both pass their certificates (with one scale for
    the stack, the tiny block's duality gap was 2e-8 relative: refused)."""
    arrays = [arrays_of(s) for s in parse(ORDINARY, TINIER)]
    assert all(a is not None for a in arrays)
    program = rescaled(build_stack(arrays), arrays)  # type: ignore[arg-type]
    assert engine_stacked._solve(program, "HIGHS", primal_feasibility_tolerance=1e-10) == "optimal"
    z, duals = program.primal(), program.duals()
    assert z is not None and duals is not None
    bounds = engine_stacked.block_bounds(program, arrays)  # type: ignore[arg-type]
    for k, arr in enumerate(arrays):
        verdict = engine_stacked._judge_block(arr, program, k, z, duals[0], bounds, TOLERANCE)  # type: ignore[arg-type]
        assert verdict.answer is not None, verdict.failure
