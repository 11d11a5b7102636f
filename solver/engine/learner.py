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

With ``[[types]]`` each (type, deviation) pair has its own margin (``model/learning.
learner_lift``) and the certificate checks every type the policy leaves complying with its
own gains. Under a ``[penalty]`` design the requirement depends on the chosen penalties as
well: the certificate is taken at the answer's penalties, a short pair's margin is raised
to its requirement there (:func:`raised_floor`) and the program solved again; the
relaxation takes every margin at its smallest over every rate and penalty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..model.arrays import ProblemArrays
from ..model.horizon import payment_probability, penalty_discount, present_value_factor
from ..model.learning import (
    bernstein_requirement,
    learner_lift,
    learner_margins,
    worst_case_gains,
)
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


@dataclass(frozen=True)
class Requirement:
    """One deterred (type, deviation) pair at a result: its lead over compliance and the
    learner's requirement there (money at the act)."""

    type_index: int
    action_index: int
    name: str
    lead: float
    need: float


def requirements(spec: Spec, result: Result) -> list[Requirement]:
    """Each deterred (type, deviation) pair's lead and requirement at ``result``'s own rates
    and penalties. Utilities are in money at the act: under a ``[horizon]`` a penalty F
    caught with probability P costs kappa F P, and the learner sees it as gamma^d F paid
    with probability rho^d P. With ``[[types]]`` each type that complies is checked with its
    own gains (a type the policy leaves on a deviation has no learner guarantee to keep)."""
    learner = spec.learner
    assert learner is not None
    arrays = ProblemArrays.from_spec(spec)
    gains = worst_case_gains(spec)
    kappa = present_value_factor(spec)
    discount = penalty_discount(spec)
    paid = payment_probability(spec)
    by_name = {a.name: a for a in result.actions}
    compliant = arrays.action_names[arrays.compliant]
    honest = by_name[compliant]
    p0 = honest.detection
    outcomes = result.strategy.types if result.strategy is not None else ()
    complying = [
        k
        for k in range(gains.shape[0])
        if not spec.types or (k < len(outcomes) and outcomes[k].induced_action == compliant)
    ]
    out = []
    for k in complying:
        eu0 = gains[k, arrays.compliant] - kappa * honest.penalty * p0
        for i, name in enumerate(arrays.action_names):
            action = by_name[name]
            if i == arrays.compliant or (not spec.types and not action.deterred):
                continue
            eu = gains[k, i] - kappa * action.penalty * action.detection
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
            label = name if not spec.types else f"{spec.types[k].name}/{name}"
            out.append(Requirement(k, i, label, eu0 - eu, need))
    return out


def shortfalls(spec: Spec, result: Result, tolerance: float) -> list[str]:
    """The certificate: each deterred (type, deviation) whose lead over compliance at
    ``result``'s rates and penalties falls short of the learner's requirement there (empty:
    certified), to ``tolerance`` relative to the terms' size."""
    return [
        f"{r.name}: lead {r.lead:.6g} < required {r.need:.6g}"
        for r in requirements(spec, result)
        if _short(r, tolerance)
    ]


def _short(r: Requirement, tolerance: float) -> bool:
    scale = max(1.0, abs(r.lead), r.need)
    return r.lead < r.need - tolerance * scale


def raised_floor(spec: Spec, result: Result, tolerance: float) -> Spec:
    """Under a ``[penalty]`` design the requirement depends on the chosen penalties too:
    ``spec`` whose learner's margins are at least each short pair's requirement at
    ``result`` (and at least what they were), for the next iterate."""
    learner = spec.learner
    assert learner is not None
    floor = learner_lift(spec)
    for r in requirements(spec, result):
        if _short(r, tolerance):
            # a little above the requirement, so the next iterate does not stop just short
            floor[r.type_index, r.action_index] = max(
                floor[r.type_index, r.action_index], r.need * (1 + 4 * tolerance)
            )
    rows = tuple(tuple(float(x) for x in row) for row in floor)
    return spec.model_copy(update={"learner": learner.with_floor(rows)})


def solve_learner(spec: Spec, solve_one: Callable[[Spec], Result], tolerance: float) -> Result:
    """Solve a spec whose ``[learner]`` has ``bound = "bernstein"`` (the module docstring)."""
    assert spec.learner is not None
    clock = Clock()
    designed = spec.penalty.design != "fixed"
    depends = flags_matter(spec) or designed
    p0 = 0.0
    current = spec
    tried: list[str] = []
    for iteration in range(1, MAX_ITERATIONS + 1):
        result = solve_one(with_flag_detection(current, p0))
        if result.status != Status.optimal:
            if not depends:
                return result  # the margins are exact: so is the verdict
            relaxed = solve_one(with_lower_bound(spec))
            if relaxed.status == Status.infeasible:
                note = (
                    "learner: infeasible even with each Bernstein margin at its smallest over "
                    "every rate" + (" and penalty" if designed else "") + " (a relaxation of "
                    "the learner's requirement)"
                )
                return replace(relaxed, notes=(*relaxed.notes, note))
            why = "with false flags" if not designed else "with a [penalty] design"
            return unsolved(
                spec,
                Status.solver_error,
                f"the learner's Bernstein margins at false-flag rate P_0 = {p0:.6g} admit no "
                f"policy ({result.status}: {result.message}); {why} the learner's "
                'requirement is not convex, so this proves nothing: bound = "hoeffding" '
                "gives a certified verdict",
                (*tried, *result.attempts),
                clock,
            )
        missing = shortfalls(spec, result, tolerance)
        honest = next(a for a in result.actions if a.compliant)
        if not missing:
            note = (
                "learner: Bernstein margins certified at the policy's own rates"
                + (" and penalties" if designed else "")
                + f" (false-flag rate P_0 = {honest.detection:.6g}, {iteration} iteration(s))"
            )
            return replace(result, notes=(*result.notes, note))
        tried.append(f"bernstein iteration {iteration}: P_0 {p0:.6g}: {'; '.join(missing)}")
        if designed:
            # the requirement moves with the chosen penalties: raise the short margins
            current = raised_floor(
                with_flag_detection(current, honest.detection), result, tolerance
            )
        elif not depends or honest.detection == p0:
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
        kind = {"exp3": "an Exp3", "hedge": "a Hedge"}[learner.algorithm]
        how = f"{kind} learner in T = {learner.rounds} rounds" + (
            " (its average share of rounds on deviations)"
            if learner.violation == "average"
            else " (the action it deploys)"
        )
    note = (
        f"learner: {how} cannot be deterred with confidence {learner.confidence:g}: no "
        f"policy within the caps and rates leads each deviation by what it needs ({needs})"
    )
    return replace(result, notes=(*result.notes, note))
