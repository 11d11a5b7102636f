"""A ``[learner]`` with ``bound = "bernstein"``: the outer iteration over the false-flag rate,
and the certificate of the final policy (docs/model.md, "Learners").

A Bernstein margin depends on the policy twice: through the shortcut's own detection P_i,
which ``model/learning.py`` handles exactly (the requirement is an interval of P_i, so a
constant margin gives the same linear program), and through compliance's false-flag rate
P_0 = sum_j f_j x_j, which shifts every shortcut's gap and adds compliance's variance. The
latter is not convex jointly with P_i, so it is iterated:

1. P_0 := 0; solve the program with the margins taken at P_0 (the spec's own solve, every
   formulation: core, strategic, false-flag search);
2. certify the answer: at its own rates, every deterred deviation's lead over compliance,
   EU_0 - EU_i, is at least its requirement M_i(P_i, P_0) (Bernstein or Hoeffding,
   whichever is smaller: each alone is a valid bound), to the engine's verification
   tolerance (relative to the terms' size);
3. if it fails, P_0 := the answer's false-flag rate and solve again (at most
   :data:`MAX_ITERATIONS` times).

A certified answer is the least-cost policy of the program whose margins it was solved with
("optimal" as for any spec), and the learner's guarantee holds at its rates; the note says
after how many iterations. Without false flags that cost anything (F_fp = 0 or every
f_j = 0) the margins do not depend on P_0: one solve is exact, an infeasible answer is
certified as for any spec. With them, an iterate found infeasible proves nothing about the
non-convex problem by itself: the spec is then solved with every margin at its smallest over
all rates (a relaxation, ``model/learning.smallest_margins``), whose certified infeasibility
is the learner's; otherwise the answer is ``solver_error`` with the reason (use ``bound =
"hoeffding"``, whose margins are rate-free, for a certified verdict). An iteration that does
not certify falls back to the Hoeffding margins, which hold at any rates, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..model.arrays import ProblemArrays
from ..model.horizon import payment_probability, penalty_discount, present_value_factor
from ..model.learning import bernstein_requirement, learner_margins
from ..results.result import Result
from ..results.status import Status
from ..spec.document import Spec
from .readout import Clock, unsolved

#: Outer iterations over the false-flag rate before falling back to Hoeffding's margins.
MAX_ITERATIONS = 25


def with_flag_detection(spec: Spec, flag_detection: float) -> Spec:
    """``spec`` whose learner's Bernstein margins are taken at false-flag rate P_0."""
    assert spec.learner is not None
    return spec.model_copy(update={"learner": spec.learner.at_flag_detection(flag_detection)})


def with_lower_bound(spec: Spec) -> Spec:
    """``spec`` whose learner's margins are their smallest over every policy (a relaxation:
    ``model/learning.smallest_margins``)."""
    assert spec.learner is not None
    return spec.model_copy(update={"learner": spec.learner.as_lower_bound()})


def flags_matter(spec: Spec) -> bool:
    """Do false flags cost a compliant agent anything (so the margins depend on P_0)?"""
    arrays = ProblemArrays.from_spec(spec)
    return arrays.false_positive_penalty > 0 and bool(np.any(arrays.false_positive > 0))


def shortfalls(spec: Spec, result: Result, tolerance: float) -> list[str]:
    """The certificate: each deterred deviation whose lead over compliance at ``result``'s
    rates falls short of the learner's requirement there (empty: certified). Utilities are
    in money at the act: under a ``[horizon]`` a penalty F caught with probability P costs
    kappa F P, and the learner sees it as gamma^d F paid with probability rho^d P."""
    learner = spec.learner
    assert learner is not None
    arrays = ProblemArrays.from_spec(spec)  # the spec's gains (worst case of intervals)
    kappa = present_value_factor(spec)
    discount = penalty_discount(spec)
    paid = payment_probability(spec)
    by_name = {a.name: a for a in result.actions}
    honest = by_name[arrays.action_names[arrays.compliant]]
    p0 = honest.detection
    eu0 = arrays.gain[arrays.compliant] - kappa * honest.penalty * p0
    short = []
    for i, name in enumerate(arrays.action_names):
        action = by_name[name]
        if i == arrays.compliant or not action.deterred:
            continue
        eu = arrays.gain[i] - kappa * action.penalty * action.detection
        need = float(
            bernstein_requirement(
                action.detection,
                discount * action.penalty,
                discount * honest.penalty,
                p0,
                learner.reward_noise,
                learner.sample_count,
                learner.confidence,
                paid,
            )
        )
        scale = max(1.0, abs(eu0), abs(eu), need)
        if eu0 - eu < need - tolerance * scale:
            short.append(f"{name}: lead {eu0 - eu:.6g} < required {need:.6g}")
    return short


def solve_learner(spec: Spec, solve_one: Callable[[Spec], Result], tolerance: float) -> Result:
    """Solve a spec whose ``[learner]`` has ``bound = "bernstein"`` (the module docstring)."""
    assert spec.learner is not None
    clock = Clock()
    depends = flags_matter(spec)
    p0 = 0.0
    tried: list[str] = []
    for iteration in range(1, MAX_ITERATIONS + 1):
        result = solve_one(with_flag_detection(spec, p0))
        if result.status != Status.optimal:
            if not depends:
                return result  # the margins are exact: so is the verdict
            relaxed = solve_one(with_lower_bound(spec))
            if relaxed.status == Status.infeasible:
                note = (
                    "learner: infeasible even with each Bernstein margin at its smallest over "
                    "every rate (a relaxation of the learner's requirement)"
                )
                return replace(relaxed, notes=(*relaxed.notes, note))
            return unsolved(
                spec,
                Status.solver_error,
                f"the learner's Bernstein margins at false-flag rate P_0 = {p0:.6g} admit no "
                f"policy ({result.status}: {result.message}); with false flags the learner's "
                'requirement is not convex, so this proves nothing: bound = "hoeffding" '
                "gives a certified verdict",
                (*tried, *result.attempts),
                clock,
            )
        missing = shortfalls(spec, result, tolerance)
        honest = next(a for a in result.actions if a.compliant)
        if not missing:
            note = (
                f"learner: Bernstein margins certified at the policy's own rates (false-flag "
                f"rate P_0 = {honest.detection:.6g}, {iteration} iteration(s))"
            )
            return replace(result, notes=(*result.notes, note))
        tried.append(f"bernstein iteration {iteration}: P_0 {p0:.6g}: {'; '.join(missing)}")
        if not depends or honest.detection == p0:
            break  # a fixed point that does not certify: iterating more cannot help
        p0 = honest.detection
    hoeffding = spec.model_copy(
        update={"learner": spec.learner.model_copy(update={"bound": "hoeffding"})}
    )
    result = solve_one(hoeffding)
    note = (
        "learner: the Bernstein iteration did not certify a policy "
        f"({tried[-1] if tried else 'no iteration'}); Hoeffding's rate-free margins used"
    )
    return replace(result, notes=(*result.notes, note), attempts=(*tried, *result.attempts))


def with_learner_verdict(spec: Spec, result: Result) -> Result:
    """An infeasible answer for a ``[learner]`` says what it means: no policy within the caps
    and rates gives each deviation the lead this learner needs (its margins, in money at the
    act), so the learner cannot be deterred with that much learning."""
    learner = spec.learner
    if learner is None or result.status != Status.infeasible:
        return result
    margins = learner_margins(spec)
    needs = ", ".join(
        f"{a.name} {m:.4g}"
        for a, m in zip(spec.actions, margins, strict=True)
        if a.name != spec.compliant_action
    )
    if learner.algorithm in ("sample-mean", "ppo"):
        kind = "a sample-mean" if learner.algorithm == "sample-mean" else "a PPO"
        how = f"{kind} learner with {learner.samples} samples of each action"
    else:
        how = f"an {learner.algorithm} learner in T = {learner.rounds} rounds" + (
            " (its average share of rounds on deviations)"
            if learner.violation == "average"
            else " (the action it deploys)"
        )
    note = (
        f"learner: {how} cannot be deterred with confidence {learner.confidence:g}: no "
        f"policy within the caps and rates leads each deviation by what it needs ({needs})"
    )
    return replace(result, notes=(*result.notes, note))
