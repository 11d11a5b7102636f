"""Designs for Exp3 and Hedge learners (model/no_regret.py) through the engine: the least
cost is the closed form, an infeasible answer says the learner cannot be deterred in T
rounds, and learner specs are never answered from a batch stack (their verdicts need the
engine's own path)."""

from __future__ import annotations

import deter
import pytest
from deter.solver.engine.stacked import arrays_of
from deter.solver.model.learning import learner_margins

from tests.model.test_no_regret import TWO


@pytest.mark.parametrize(
    "learner",
    [
        'algorithm = "exp3"\nrounds = 20000\nexploration = 0.5\n',
        'algorithm = "exp3"\nrounds = 400000\n',
        'algorithm = "exp3"\nrounds = 20000\nviolation = "average"\nconfidence = 0.5\n',
        'algorithm = "hedge"\nrounds = 300\n',
        'algorithm = "hedge"\nrounds = 300\nbound = "bernstein"\n',
        'algorithm = "hedge"\nrounds = 20000\nviolation = "average"\n',
    ],
)
def test_the_least_cost_gives_the_shortcut_exactly_its_lead(learner: str) -> None:
    """One monitor (cost 1, detects 1) and a cap of 4: the shortcut (gain 1) needs
    4 P - 1 >= m, so the cost is (1 + m) / 4 with m the learner's margin."""
    problem = deter.loads(TWO + "\n[learner]\n" + learner)
    result = problem.solve()
    assert result.status == "optimal", result.message
    if "bernstein" in learner:
        # the margin depends on the rates: certified at the policy's own
        assert any("Bernstein margins certified" in note for note in result.notes)
        return
    margin = float(learner_margins(problem.spec)[1])
    assert 0 < margin < 3
    assert result.total_cost == pytest.approx((1 + margin) / 4, rel=1e-7)
    shortcut = next(a for a in result.actions if a.name == "shortcut")
    assert 4 * shortcut.detection - 1 >= margin * (1 - 1e-7)


def test_a_learner_that_cannot_be_deterred_in_t_rounds_is_infeasible_and_told_why() -> None:
    result = deter.loads(TWO + '\n[learner]\nalgorithm = "exp3"\nrounds = 500\n').solve()
    assert result.status == "infeasible"
    (note,) = [n for n in result.notes if n.startswith("learner:")]
    assert "an Exp3 learner in T = 500 rounds" in note and "cannot be deterred" in note
    assert "shortcut" in note


def test_a_batch_gives_learner_specs_the_answers_solve_gives() -> None:
    """Constant margins (sample-mean Hoeffding, exp3, hedge) stack; Bernstein margins depend
    on the rates and are solved alone (engine/learner.py); an infeasible member carries the
    learner's note in a stack too."""
    from deter.solver.engine.stacked import solve_stacked

    texts = [
        'algorithm = "exp3"\nrounds = 500\n',
        'algorithm = "exp3"\nrounds = 20000\nexploration = 0.5\n',
        "samples = 100\n",
    ]
    specs = [deter.loads(TWO + "\n[learner]\n" + t).spec for t in texts]
    stacked = solve_stacked(specs)
    for spec, got in zip(specs, stacked, strict=True):
        assert got is not None
        alone = deter.solve(spec)
        assert got.status == alone.status
        assert [n for n in got.notes if n.startswith("learner:")] == [
            n for n in alone.notes if n.startswith("learner:")
        ]
    bernstein = deter.loads(TWO + '\n[learner]\nsamples = 100\nbound = "bernstein"\n').spec
    assert arrays_of(bernstein) is None
