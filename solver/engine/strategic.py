"""Harms and optimal (partial) deterrence; also the solve path of types and fixed costs.

Becker (1968, "Crime and punishment: an economic approach", J. Political Economy 76(2))
observed that when enforcement is costly the optimal number of offences is not zero: the
principal minimises oversight cost plus the harm that is left. With harm h_a of the action
the agent takes,

    min_{x, a}  sum_j c_j x_j (+ fixed costs)  +  h_a
    s.t.        a is a best response of the agent to x (ties to the principal).

For a fixed a the constraint is linear (``agent_types.py``: a against every other action i,
misaligned ones included, which is marginal deterrence), so the problem is solved exactly
by one linear program per candidate a, keeping the best: the multiple-LPs method of
Conitzer & Sandholm, "Computing the optimal strategy to commit to" (EC 2006). Every
candidate's optimum is a feasible commitment and every commitment induces some a, so the
best of the candidates is the optimum. With a budget, the same search gives the least harm
(plus cost) the budget can buy. With several agent types the assignment of actions to
types is chosen by the DOBSS mixed-integer program instead (``agent_types.py``).

deter_all (the default objective) is the assignment "every type complies", so specs with
types or fixed deployment costs but no harms solve through here too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from ..formulation.commitment import CommitmentProgram, build_commitment_program
from ..formulation.linear import solve_linear
from ..formulation.program import SOLVER_ORDER, SolveRecord, variable_bound
from ..model.pair_rows import all_pairs, pair_values
from ..model.types import StrategicArrays, type_detection
from ..model.utility import FloatArray
from ..results.result import ActionDiagnosis, ActionResult, Diagnosis, Result, Verification
from ..results.status import Status
from ..results.strategy import AuditorReport, StrategyReport, TypeOutcome
from ..spec.document import Spec
from .attempts import TIGHT_OPTIONS, Attempt, Verdict, attempt_plan, run
from .certificate import GAP_TOLERANCE, certify
from .diagnose import diagnose
from .infeasibility import certify_commitment_infeasible, floors_over_budget, uncaught_pays
from .readout import Clock, monitor_results, no_verified_answer, unsolved
from .repair import NEAR, REPAIRABLE, ROOMS, SOLVER_SHORTFALL, TRUST
from .typed_infeasibility import infeasible_alone, prove_no_assignment
from .verify import TOLERANCE, evaluate_policy
from .verify_commitment import verify_commitment


@dataclass(frozen=True)
class TightAttempt(Attempt):
    """A solver on the program as compiled, with tightened tolerances."""

    @property
    def label(self) -> str:
        return f"{self.solver} (tight)"


@dataclass
class Commitment:
    """The verified outcome of one commitment program (or why there is none)."""

    status: Status
    rates: FloatArray | None = None
    deployed: FloatArray | None = None
    induced: tuple[int, ...] = ()
    cost: float = float("nan")  # oversight cost, fixed costs included
    harm: float = float("nan")
    verification: Verification | None = None
    solver: str | None = None
    attempts: list[str] = field(default_factory=list)
    shadow: dict[str, float] | None = None  # d(oversight cost)/d(gain), where an LP gives it

    @property
    def loss(self) -> float:
        return self.cost + self.harm


def solve_commitment(
    data: StrategicArrays,
    assignment: Sequence[int] | None,
    *,
    budget: bool = True,
    solvers: Sequence[str] = SOLVER_ORDER,
    tolerance: float = TOLERANCE,
    certified: bool = True,
    search: Exclusions | None = None,
) -> Commitment:
    """Solve one commitment program through the engine's attempts; verify (see
    ``verify_commitment.py``) and, when ``certified``, certify its answer.

    ``search`` (the DOBSS search, ``assignment`` None): only the assignment is read, the
    solver's point is neither verified nor certified (its polish is), and the excluded
    assignments and (type, action) pairs are cut off."""
    if assignment is not None and uncaught_pays(data, assignment) is not None:
        # a type's action that nothing can catch pays more than its assigned one: proven
        # in closed form (a need of e^-3242 is 0 in the program's rows, so no solver says so)
        return Commitment(Status.infeasible)
    cuts = search or Exclusions()
    program = build_commitment_program(
        data, assignment, budget=budget, excluded=cuts.assignments, forbidden=cuts.pairs
    )
    integer = program.problem.is_mixed_integer()
    plan = attempt_plan(solvers, integer=integer, rescale=False)
    if not integer:
        # then each solver with tightened tolerances: a row whose terms are 1e-8 of its
        # largest coefficient is within a default tolerance of any point (a gain of 1e-8
        # left undeterred at rate 0); tightened, the row is met to round-off, which the
        # repair below closes
        plan += tuple(TightAttempt(s, False, TIGHT_OPTIONS.get(s, {})) for s in solvers)

    def judge(
        current: CommitmentProgram, attempt: Attempt, record: SolveRecord
    ) -> Verdict[Commitment]:
        outcome = _read(data, current, budget, tolerance)
        if search is not None and outcome.rates is not None:
            return Verdict.accept(outcome, "assignment chosen (its polish is checked)")
        verification = outcome.verification
        repaired = False
        if verification is not None and not verification.passed and outcome.rates is not None:
            # rows held only to round-off: the least-cost step that gives them room
            for fixed in _repairs(data, outcome, budget, tolerance):
                outcome, verification, repaired = fixed, fixed.verification, True
                break
        if verification is None or not verification.passed:
            why = "no policy" if verification is None else verification.failure()
            return Verdict.reject(f"failed verification ({why})")
        if not certified:
            return Verdict.accept(outcome, "verified")
        certificate = certify(
            current.problem,
            record.raw,
            GAP_TOLERANCE,
            current.scale,
            variable_bound=variable_bound(data.base),
            reported=outcome.loss if repaired else None,
        )
        if not certificate.passed:
            return Verdict.reject(f"failed its certificate ({certificate.reason})")
        outcome.verification = replace(verification, duality=certificate)
        return Verdict.accept(outcome, "verified and certified")

    def proven(attempt: Attempt) -> bool:
        """A solver's "infeasible" stands only with an exact argument: the rate floors
        over the budget, or (a fixed assignment) a certificate checked in exact arithmetic
        (``infeasibility.certify_commitment_infeasible``); otherwise the next attempt runs."""
        if budget and floors_over_budget(data):
            return True
        if assignment is None:
            return False
        return certify_commitment_infeasible(data, assignment, budget) is not None

    done = run(plan, lambda attempt: program, judge, infeasible=proven)
    if done.answer is None:
        return Commitment(Status(done.status), attempts=list(done.attempts))
    done.answer.solver, done.answer.attempts = done.solver, list(done.attempts)
    return done.answer


def _read(
    data: StrategicArrays, program: CommitmentProgram, budget: bool, tolerance: float
) -> Commitment:
    base = data.base
    value = program.rates.value
    if value is None:
        return Commitment(Status.solver_error)
    rates = np.clip(np.asarray(value, dtype=float), base.min_rate, base.max_rate)
    deployed = program.deployment.values()
    # A monitor switched off runs at rate 0; one deployed at rate 0 need not pay (and an
    # optimal solver never does so, unless its fixed cost is 0).
    rates = np.where(deployed > 0.5, rates, 0.0)
    deployed = np.where(
        (rates <= 1e-9) & (base.min_rate <= 0) & (data.fixed_cost > 0), 0.0, deployed
    )
    outcome = _checked(data, rates, deployed, program.induced(), budget, tolerance)
    outcome.shadow = program.shadow_prices(data, rates)
    return outcome


def _checked(
    data: StrategicArrays,
    rates: FloatArray,
    deployed: FloatArray,
    induced: tuple[int, ...],
    budget: bool,
    tolerance: float,
) -> Commitment:
    """The outcome of a policy, verified against the model."""
    base = data.base
    cost = float(base.cost @ rates + data.fixed_cost @ (deployed > 0.5))
    harm = float(data.weight @ data.harm[list(induced)])
    checked = data if budget else _without_budget(data)
    verification = verify_commitment(checked, rates, deployed, induced, cost, harm, tolerance)
    return Commitment(Status.optimal, rates, deployed, induced, cost, harm, verification)


def _repairs(
    data: StrategicArrays, outcome: Commitment, budget: bool, tolerance: float
) -> Iterator[Commitment]:
    """Verified repairs of an answer whose best-response rows hold only to round-off, least
    room first (as ``repair.py`` does for full deterrence).

    With linear detection each row EU^hi_k(i) - EU^lo_k(a_k) + m_k <= 0 is affine in the
    rates where P = Q x is below 1: its gradient is d^lo_a Q_a - d^hi_i Q_i (d: the utility
    lost when caught; the compliant action's P_0 = f x). The least-cost step Delta with
    value + gradient Delta <= -tau size for every row near binding (tau: 1e-12, then 1e-10,
    1e-8 of the row's terms), within the rate bounds, a trust region and the budget, and
    only on deployed monitors, is a small LP (HiGHS). A row short by more than 1e-6 of its
    terms is a wrong answer, not round-off: no repair. Every repaired policy is verified as
    any answer is (exactly), and its cost is certified as the policy reported."""
    rates, deployed = outcome.rates, outcome.deployed
    if rates is None or deployed is None:
        return
    rows = _near_rows(data, rates, outcome.induced)
    if rows is None:
        return
    gradient, value, size = rows
    base = data.base
    free = deployed > 0.5
    # a row no deployed monitor moves keeps its value whatever the step (a tie of equal
    # gains at P = 0 exactly): no room can be made for it, so it is left to verification
    moved = np.any(gradient[:, free] != 0, axis=1)
    if not np.any(moved):
        return
    gradient, value, size = gradient[moved], value[moved], size[moved]
    reach = np.where(free, TRUST * max(float(np.max(rates, initial=0.0)), 1e-300), 0.0)
    low = np.maximum(base.min_rate - rates, -reach)
    high = np.minimum(base.max_rate - rates, reach)
    spent = float(base.cost @ rates + data.fixed_cost @ free)
    normal = gradient / size[:, None]
    for room in ROOMS:
        # in units where the LP is O(1) (a solver's tolerance would otherwise accept no
        # step at all): each row over its room, each rate in the step its rows need
        with np.errstate(divide="ignore"):
            need = np.where(normal != 0, room / np.abs(normal), np.inf).min(axis=0)
        unit = np.where(np.isfinite(need) & (need > 0), need, np.maximum(high - low, 1e-300))
        a_ub = sp.csr_matrix(normal * unit[None, :] / room)
        b_ub = -1.0 - value / size / room
        if budget and base.budget is not None:
            left = base.budget - spent
            scale = max(abs(left), float(np.abs(base.cost) @ unit), 1e-300)
            a_ub = sp.vstack([a_ub, sp.csr_matrix(base.cost * unit / scale)]).tocsr()
            b_ub = np.append(b_ub, left / scale)
        # costs per unit step, the cheapest useful one 1 (a solver ignores cost differences
        # below its tolerance: scaled by the dearest, a cheap column would drift to the
        # trust region); a free monitor still pays a little, so the step stays small
        # (the least among the columns that can move: a column held at 0, a monitor not
        # deployed, would make the others look equally dear once clipped at 1e9)
        weights = base.cost * unit
        positive = weights[(weights > 0) & (high > low)]
        least = float(positive.min()) if positive.size else 1.0
        step = solve_linear(
            np.clip(weights / least, 1e-6, 1e9),
            a_ub,
            b_ub,
            bounds=list(zip(low / unit, high / unit, strict=True)),
        )
        if not step.optimal or step.x is None:
            continue
        delta = np.asarray(step.x, dtype=float) * unit
        moved = np.clip(rates + delta, base.min_rate, base.max_rate)
        moved = np.where(free, moved, 0.0)
        fixed = _checked(data, moved, deployed, outcome.induced, budget, tolerance)
        if fixed.verification is not None and fixed.verification.passed:
            fixed.shadow = outcome.shadow
            yield fixed
            return


def _near_rows(
    data: StrategicArrays, rates: FloatArray, induced: tuple[int, ...]
) -> tuple[FloatArray, FloatArray, FloatArray] | None:
    """(gradient, value, size) of the best-response rows near binding (value > -NEAR size),
    or None when a row is short by more than round-off (REPAIRABLE) or beyond float range.

    P = min(1, Q x) enters a row twice. The induced action's side, + loss_a P_a, is held
    at its upper bound on the current piece (Q_a x below 1, else the constant 1), which
    is conservative. The other action's side, - loss_i min(1, Q_i x), is the larger of
    - loss_i Q_i x and - loss_i, so the row holds iff it holds on both pieces: where Q_i x
    is within NEAR of 1 both are rows of the step (the hypograph of min(1, .), as
    ``repair.py`` writes it for full deterrence). types-400105: the least-cost policy has
    Q_i x = 1 exactly with the row binding through false flags, and a step on one piece
    alone breaks the other.

    Each row is divided by a positive number of its own (``pair_rows.pair_values``: log
    space for CARA types), which changes neither value / size nor the row's direction."""
    base = data.base
    c = base.compliant
    reach = sp.csr_matrix(base.detection, copy=True).tolil()
    reach[c] = base.false_positive.reshape(1, -1)
    slopes = np.asarray(reach.todense(), dtype=float)
    uncapped = slopes @ np.asarray(rates, dtype=float)
    p = type_detection(data, rates)
    pairs = all_pairs(data.n_types, base.n_actions, induced)
    rows = pair_values(data, pairs, p)
    # each row where the other action is caught surely (the flat piece of min(1, Q x)),
    # evaluated there: in log space the row at P_i = 1 can be e^-3000 of its terms at p
    caught = pair_values(data, pairs, p, other_detection=np.ones(len(pairs)))
    gradients, values, sizes = [], [], []

    def add(gradient: FloatArray, value: float, size: float, slope: float) -> bool:
        """Keep a row near binding; False if it is short by more than round-off of its
        terms and than a solver's tolerance in probability units (``slope``: the row's
        largest coefficient of P)."""
        if not (np.isfinite(value) and size > 0 and np.all(np.isfinite(gradient))):
            return False
        if value > REPAIRABLE * size and not value <= SOLVER_SHORTFALL * slope:
            return False
        if value > -NEAR * size:
            gradients.append(gradient)
            values.append(value)
            sizes.append(size)
        return True

    for t, (_, a, i) in enumerate(pairs.tolist()):
        value, size, other = float(rows.value[t]), float(rows.size[t]), float(rows.other[t])
        if size == 0:  # every term 0 here (equal gains, nothing caught): the row's scale
            size = max(abs(float(rows.own[t])), other)  # is that of its P coefficients
            if size == 0:
                continue  # 0 >= 0 at every policy
        held = a == c or uncapped[a] < 1.0
        with np.errstate(invalid="ignore"):  # inf x 0: a D beyond float range, refused below
            own = rows.own[t] * (slopes[a] if held else 0.0 * slopes[a])
            own_caught = caught.own[t] * (slopes[a] if held else 0.0 * slopes[a])
        flat, flat_size, flat_other = (
            float(caught.value[t]),
            float(caught.size[t]) or size,
            float(caught.other[t]),
        )
        if i != c and flat <= 0 and flat_other > 0 and 1.0 + flat / flat_other >= SURE:
            # Only P_i = 1 deters (a risk-seeking type caught surely: its need is
            # 1 - e^{-2000}, 1 in binary64, and D_i can be beyond float range at P_i < 1):
            # the row is Q_i x >= 1 + room in probability units, which a step reaches
            # exactly (P = min(1, Q x) = 1), and the row itself where P_i = 1.
            if uncapped[i] < 1.0 + NEAR and not add(-slopes[i], 1.0 - float(uncapped[i]), 1.0, 1.0):
                return None
            if not add(own_caught, flat, flat_size, abs(float(caught.own[t]))):
                return None
            continue
        for sloped, piece in _pieces(i == c, float(uncapped[i]), float(p[i]), value, other):
            if sloped:
                with np.errstate(invalid="ignore"):
                    grad = own - other * slopes[i]
                kept = add(grad, piece, size, max(abs(float(rows.own[t])), other))
            else:  # evaluated where P_i = 1, not extrapolated (in log space the row there
                # can be e^-3000 of its terms at p)
                kept = add(own_caught, flat, flat_size, abs(float(caught.own[t])))
            if not kept:
                return None
    if not values:
        return None
    return np.array(gradients, dtype=float), np.array(values), np.array(sizes)


#: A needed detection at or above this is P = 1: a row that needs it asks Q x >= 1.
SURE = 1.0 - 1e-12


def _pieces(
    compliant: bool, reach: float, p: float, value: float, loss: float
) -> list[tuple[bool, float]]:
    """The pieces of a row in the other action's P = min(1, reach): (on the sloped piece
    Q x, the row's value there), one piece away from 1, both within NEAR of it."""
    if compliant or reach < 1.0 - NEAR:
        return [(True, value)]
    if reach > 1.0 + NEAR:
        return [(False, value)]
    with np.errstate(all="ignore"):
        return [(True, value - loss * (reach - p)), (False, value - loss * (1.0 - p))]


def _without_budget(data: StrategicArrays) -> StrategicArrays:
    return replace(data, base=replace(data.base, budget=None))


@dataclass(frozen=True)
class Exclusions:
    """What a DOBSS search may not choose: whole assignments, and (type, action) pairs."""

    assignments: tuple[tuple[int, ...], ...] = ()
    pairs: tuple[tuple[int, int], ...] = ()


#: The most assignments a DOBSS search excludes before it answers solver_error.
DOBSS_CUTS = 40


def solve_dobss(
    data: StrategicArrays,
    *,
    solvers: Sequence[str] = SOLVER_ORDER,
    tolerance: float = TOLERANCE,
) -> Commitment:
    """The DOBSS program, then its assignment re-solved as a fixed-assignment program.

    Branch and bound accepts binaries within an integrality tolerance, and through the big-M
    terms that can leave an incentive row violated by about M times it; re-solving with the
    chosen assignment fixed makes every row exact (the polish cannot raise the loss beyond
    the MIP's own tolerance, since the MIP's rates were nearly feasible for it).

    The MIP meets its rows only to its tolerance, and a row whose gain difference is 1e-10
    of its caught loss (a CARA type facing a penalty of 37 at r = 0.59: types-400058) is
    met by any point, so the MIP may choose an assignment no policy induces. Its polish then
    proves it infeasible (an exact certificate, ``certify_commitment_infeasible``) and the
    search runs again without it: without each (type, action) pair whose rows alone are
    proven infeasible (no assignment giving that type that action is feasible), else
    without the assignment itself (a no-good cut). Only proven-infeasible assignments are
    cut, so the search's optimum over the rest is the optimum it was before.
    """
    cuts = Exclusions()
    lines: list[str] = []
    names = data.base.action_names
    for _ in range(DOBSS_CUTS + 1):
        # The search only picks the assignment: its answer is neither checked nor
        # certified; the polished program's is.
        found = solve_commitment(data, None, solvers=solvers, certified=False, search=cuts)
        lines += [f"DOBSS: {line}" for line in found.attempts]
        if found.status == "solver_error":
            # the MIP's "infeasible" (or no answer) is no proof: the assignments are checked
            proof = prove_no_assignment(data, cuts.pairs, cuts.assignments)
            if proof is not None:
                return Commitment(Status.infeasible, attempts=[*lines, proof])
        if found.status != "optimal":
            return Commitment(found.status, attempts=lines)
        polished = solve_commitment(data, found.induced, solvers=solvers, tolerance=tolerance)
        lines += [f"polish: {line}" for line in polished.attempts]
        if polished.status == "optimal":
            polished.attempts = lines
            return polished
        if polished.status != "infeasible":  # unproven: no optimum claimed
            return Commitment(Status.solver_error, attempts=lines)
        alone = tuple((k, a) for k, a in enumerate(found.induced) if infeasible_alone(data, k, a))
        chosen = ", ".join(f"{data.type_names[k]}: {names[a]}" for k, a in enumerate(found.induced))
        if alone:
            cuts = replace(cuts, pairs=(*cuts.pairs, *alone))
            cut = ", ".join(f"{data.type_names[k]} taking {names[a]}" for k, a in alone)
        else:
            cuts = replace(cuts, assignments=(*cuts.assignments, found.induced))
            cut = "that assignment"
        lines.append(f"assignment ({chosen}) proven infeasible: searched again without {cut}")
    lines.append(f"no verified assignment after {DOBSS_CUTS} proven infeasible")
    return Commitment(Status.solver_error, attempts=lines)


#: Why a spec whose rate floors cost more than its budget is infeasible (checked exactly).
FLOORS_OVER_BUDGET = (
    "the rate floors alone (and the fixed costs of the monitors they force on) cost more "
    "than the budget, exactly"
)


def best_commitment(
    data: StrategicArrays,
    objective: str,
    *,
    solvers: Sequence[str] = SOLVER_ORDER,
    tolerance: float = TOLERANCE,
) -> Commitment:
    """The principal's optimal commitment under ``objective`` (deter_all or min_loss)."""
    c = data.base.compliant
    everyone_complies = (c,) * data.n_types
    if floors_over_budget(data):
        # Decided exactly before any solve: every policy pays at least the floors (a
        # budget 1e-17 under them left the candidates' polishes failing the exact budget
        # row, and the spec ended as solver_error; bench/peers.py).
        return Commitment(Status.infeasible, attempts=[FLOORS_OVER_BUDGET])
    if objective == "deter_all":
        return solve_commitment(data, everyone_complies, solvers=solvers, tolerance=tolerance)
    if data.n_types > 1:
        return solve_dobss(data, solvers=solvers, tolerance=tolerance)
    # One LP per candidate induced action; compliance first so that it wins ties.
    order = [c] + [a for a in range(data.base.n_actions) if a != c]
    best: Commitment | None = None
    attempts: list[str] = []
    unsolved_floor: list[float] = []  # a lower bound on each unsolved candidate's loss
    floor_cost = float(data.base.cost @ data.base.min_rate) + float(
        data.fixed_cost @ (data.base.min_rate > 0)
    )
    for a in order:
        outcome = solve_commitment(data, (a,), solvers=solvers, tolerance=tolerance)
        name = data.base.action_names[a]
        attempts += [f"induce {name}: {line}" for line in outcome.attempts]
        if outcome.status == "solver_error":
            unsolved_floor.append(floor_cost + float(data.harm[a]))
            continue
        if outcome.status != "optimal":
            continue
        if best is None or outcome.loss < best.loss - 1e-9 * max(1.0, abs(best.loss)):
            best = outcome
    if best is None:
        status = Status.solver_error if unsolved_floor else Status.infeasible
        return Commitment(status, attempts=attempts)
    if any(floor < best.loss for floor in unsolved_floor):
        # A candidate without a verified answer might have been better: no optimum claimed.
        # One whose loss cannot be below the best (its harm plus the cost of the rate
        # floors, an exact lower bound) cannot change the optimum.
        return Commitment(Status.solver_error, attempts=attempts)
    best.attempts = attempts
    if best.verification is not None and best.verification.duality is not None:
        # The certificate proves the chosen candidate's LP; the choice among candidates is
        # the exact enumeration (one LP per induced action).
        certificate = best.verification.duality
        best.verification = replace(
            best.verification,
            duality=replace(
                certificate,
                reason=f"{certificate.reason}; the least loss over the candidate LPs, one "
                "per induced action (Conitzer & Sandholm 2006)",
            ),
        )
    return best


def solve_strategic(
    spec: Spec, *, solvers: Sequence[str] = SOLVER_ORDER, tolerance: float = TOLERANCE
) -> Result:
    """Solve a spec with harms (min_loss), types or fixed deployment costs."""
    clock = Clock()
    data = StrategicArrays.from_spec(spec)
    objective = spec.oversight.objective
    began = time.perf_counter()
    chosen = best_commitment(data, objective, solvers=solvers, tolerance=tolerance)
    clock.add("solve", time.perf_counter() - began)
    c = data.base.compliant
    full = chosen if objective == "deter_all" and chosen.status == "optimal" else None
    if full is None:
        full = solve_commitment(
            data, (c,) * data.n_types, budget=False, solvers=solvers, tolerance=tolerance
        )
    full_cost = full.cost if full.status == "optimal" else None
    auditor = None
    if spec.auditor is not None and chosen.status == "optimal":
        from .auditor import auditor_report

        auditor = auditor_report(spec)
    return _result(spec, data, chosen, objective, full_cost, auditor, clock)


def _result(
    spec: Spec,
    data: StrategicArrays,
    chosen: Commitment,
    objective: str,
    full_cost: float | None,
    auditor: AuditorReport | None,
    clock: Clock,
) -> Result:
    base = data.base
    if chosen.status != "optimal" or chosen.rates is None or chosen.deployed is None:
        return _not_met(spec, data, chosen, objective, full_cost, clock)
    rates, deployed = chosen.rates, chosen.deployed
    monitors = monitor_results(
        base.monitor_names,
        rates,
        base.cost,
        base.cost * rates + data.fixed_cost * (deployed > 0.5),
        chosen.cost,
        base.min_rate,
        base.max_rate,
        deployed=[
            bool(deployed[j] > 0.5 and (rates[j] > 1e-9 or data.fixed_cost[j] > 0))
            for j in range(base.n_monitors)
        ],
        fixed_cost=data.fixed_cost,
    )
    taken = set(chosen.induced)
    evaluation = evaluate_policy(base, rates)
    # Binding: some type is indifferent between its induced action and this one, within
    # 1e-7 of the row's terms (log space for CARA types: pair_rows.py).
    pairs = all_pairs(data.n_types, base.n_actions, chosen.induced)
    rows = pair_values(data, pairs, type_detection(data, rates))
    with np.errstate(divide="ignore", invalid="ignore"):
        slack = np.where(rows.size > 0, -rows.value / np.where(rows.size > 0, rows.size, 1), 0.0)
    actions = []
    for i, name in enumerate(base.action_names):
        compliant = i == base.compliant
        penalty = base.false_positive_penalty if compliant else float(base.penalty_cap[i])
        binding = bool(np.any(slack[pairs[:, 2] == i] <= 1e-7))
        actions.append(
            ActionResult(
                name=name,
                compliant=compliant,
                gain=float(base.stated_gain[i]),
                penalty=penalty,
                detection=float(evaluation.detection[i]),
                expected_penalty=float(evaluation.detection[i] * penalty),
                # in the agent's money: a [horizon]'s arrays are divided by kappa
                net_incentive=float(evaluation.net_incentive[i]) * base.present_value,
                deterred=compliant or i not in taken,
                binding=binding,
                shadow_price=(
                    None if chosen.shadow is None else chosen.shadow[name] / base.present_value
                ),
            )
        )
    types = tuple(
        TypeOutcome(
            name=data.type_names[k],
            weight=float(data.weight[k]),
            induced_action=base.action_names[a],
            harm=float(data.harm[a]),
        )
        for k, a in enumerate(chosen.induced)
    )
    names = {t.induced_action for t in types}
    induced_action = names.pop() if len(names) == 1 else None
    report = StrategyReport(
        objective=objective,
        induced_action=induced_action,
        types=types,
        harm_left=chosen.harm,
        expected_loss=chosen.loss,
        full_deterrence_cost=full_cost,
        auditor=auditor,
    )
    return Result(
        name=spec.name,
        file=spec.source_file,
        status=Status.optimal,
        total_cost=chosen.cost,
        monitors=monitors,
        actions=tuple(actions),
        verification=chosen.verification,
        solver=chosen.solver,
        currency=spec.problem.currency,
        message=_message(data, chosen, objective, full_cost),
        attempts=tuple(chosen.attempts),
        strategy=report,
        timing=clock.timing(),
    )


def _message(
    data: StrategicArrays, chosen: Commitment, objective: str, full_cost: float | None
) -> str:
    names = data.base.action_names
    if objective == "deter_all":
        who = "every type" if data.typed else "the agent"
        return f"every action is deterred at least cost ({who} complies)"
    if data.typed:
        taken = ", ".join(f"{data.type_names[k]}: {names[a]}" for k, a in enumerate(chosen.induced))
        what = f"each type takes its best response ({taken})"
    else:
        what = f"the agent takes {names[chosen.induced[0]]!r}"
    full = (
        "full deterrence is impossible"
        if full_cost is None
        else f"full deterrence would cost {full_cost:.6g}"
    )
    return (
        f"least expected loss: {what}; harm left {chosen.harm:.6g}, expected loss "
        f"{chosen.loss:.6g} ({full})"
    )


def _typed_diagnosis(data: StrategicArrays, full_cost: float | None) -> Diagnosis | None:
    """Without monitors no rate is shared between the types, so each type's own diagnosis
    (at its worst case: the highest gain of each deviation, the lowest of complying; its
    own risk aversion) says what no policy deters; an action is undeterrable when it is for
    some type, and is reported for the first such type. None when every type's actions are
    each deterrable (the types then conflict only through the shared limits)."""
    findings: dict[str, ActionDiagnosis] = {}
    for k, type_name in enumerate(data.type_names):
        gain = data.gain_high[k].copy()
        gain[data.base.compliant] = data.gain_low[k, data.base.compliant]
        arrays = replace(data.base, gain=gain, risk_aversion=float(data.risk_aversion[k]))
        for found in diagnose(arrays, full_cost).actions:
            known = findings.get(found.name)
            if known is None or (known.deterrable and not found.deterrable):
                reason = found.reason if found.deterrable else f"type {type_name!r}: {found.reason}"
                findings[found.name] = replace(found, reason=reason)
    blocked = [name for name, found in findings.items() if not found.deterrable]
    if not blocked:
        return None
    return Diagnosis(
        reason=f"cannot be deterred by any allowed monitoring: {', '.join(blocked)}",
        actions=tuple(findings.values()),
        least_cost=full_cost,
        budget=data.base.budget,
    )


def _not_met(
    spec: Spec,
    data: StrategicArrays,
    chosen: Commitment,
    objective: str,
    full_cost: float | None,
    clock: Clock,
) -> Result:
    diagnosis = None
    if chosen.status == "infeasible":
        if objective == "deter_all" and not data.typed:
            diagnosis = diagnose(data.base, full_cost)
            reason = diagnosis.reason
        elif objective == "deter_all":
            reason = "no allowed policy deters every type of agent"
            if full_cost is not None and data.base.budget is not None:
                reason += f" within the budget (full deterrence needs {full_cost:.6g})"
            if data.base.n_monitors == 0:
                diagnosis = _typed_diagnosis(data, full_cost)
                reason = diagnosis.reason if diagnosis is not None else reason
        else:
            reason = "no allowed policy meets the constraints (rate floors, budget, margin)"
        if chosen.attempts == [FLOORS_OVER_BUDGET]:
            reason = FLOORS_OVER_BUDGET
        return unsolved(
            spec, Status.infeasible, reason, chosen.attempts, clock, diagnosis=diagnosis
        )
    return unsolved(
        spec, Status.solver_error, no_verified_answer(chosen.attempts), chosen.attempts, clock
    )


__all__ = [
    "Commitment",
    "best_commitment",
    "solve_commitment",
    "solve_strategic",
]
