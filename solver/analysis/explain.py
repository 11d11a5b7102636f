"""A plain-language account of an optimal policy, derived from its solution and duals.

The least-cost program is a linear program (docs/model.md). Writing lambda_i >= 0 for the
multiplier of action i's incentive row  d_i P_i - d_0 P_0 >= k_i  (cost units per unit of
the row), eta_i for that of  P_i <= sum_j q_ij x_j  and mu_j for a monitor's rate ceiling,
LP duality (e.g. Bertsimas & Tsitsiklis 1997, ch. 4, and the sensitivity analysis of 5.1)
gives every number reported here:

- shadow price of action i's gain: d cost / d g_i = lambda_i * (expected marginal utility);
- value of one unit of monitor j's rate: v_j = sum_i eta_i q_ij - zeta f_j, where zeta is the
  cost of the false flags it raises (zeta = sum_i lambda_i d_0). Stationarity says v_j = c_j
  for a monitor used at an interior rate, so its cost splits across actions in proportion
  to eta_i q_ij: that is "what the monitor buys"; v_j - c_j = mu_j > 0 at a ceiling;
  v_j < c_j for an unused monitor, which would pay for itself at a cost below v_j;
- d cost / d F_i = -lambda_i P_i u'(g_i - F_i) for a penalty cap (Becker's severity lever),
  d cost / d max_rate_j = -mu_j, d cost / d F_fp = sum_i lambda_i P_0 u'(-F_fp),
  d cost / d margin = sum_i lambda_i.
- under a penalty design (a cone program, solver/features/penalty.py) lambda_i is the penalty
  component's shadow price, d cost / d cap_i = -(lambda_i P_i - a)^+ (stationarity in F_i),
  and d cost / d a = the penalty level paid for (envelope theorem).

These derivatives are one-sided and local; each relaxation is therefore also re-solved at
10% slack, and the exact saving is reported beside the first-order estimate. For an
infeasible spec the account instead lists the smallest single changes (from the diagnosis)
that make it feasible, each verified by a re-solve.
"""

from __future__ import annotations

import math
import struct
import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..results.errors import SpecError
from ..results.serialise import dumps, envelope, jsonable
from ..spec.document import AUDIT_PREFIX, Spec
from .sweep import get_value, set_value

if TYPE_CHECKING:
    from ..model.arrays import ProblemArrays
    from ..results.result import Result

#: How far each constraint is relaxed to measure its exact saving.
RELAX = 0.10
#: Multipliers and shares below this are treated as zero (solver round-off).
SMALL = 1e-9
#: A relaxation whose first-order saving is below this share of the cost is round-off.
NOISE = 1e-7


@dataclass(frozen=True)
class ActionAccount:
    name: str
    gain_over_compliant: float
    detection: float
    expected_penalty: float
    deterred: bool
    binding: bool
    shadow_price: float  # d cost / d gain
    detection_price: float  # d cost / d P_i: what one more unit of detection of it costs
    detected_by: dict[str, float]  # share of its detection from each monitor
    # a CARA agent (risk_aversion != 0): the expected utility it loses to penalties (net of
    # false flags) over the utility its gain brings, the program's row (deterred at >= 1);
    # None for a risk-neutral agent, whose terms are money
    risk_aversion: float = 0.0
    utility_share: float | None = None


@dataclass(frozen=True)
class MonitorAccount:
    name: str
    rate: float
    cost: float  # c_j x_j
    unit_cost: float
    state: str  # "interior", "ceiling", "floor", "unused"
    value_per_rate: float  # v_j: oversight cost one unit of its rate saves elsewhere
    buys: dict[str, float]  # share of its value from deterring each action
    false_flag_drag: float  # part of v_j lost to false flags (cost units per unit rate)
    marginal_for: tuple[str, ...]  # actions whose deterrence it prices at the margin
    break_even_cost: float | None  # unused: the unit cost at which it would start to pay


@dataclass(frozen=True)
class Relaxation:
    constraint: str  # human label
    path: str  # the spec field to change
    current: float
    relaxed: float
    marginal: float  # d cost / d value at the current value
    first_order_saving: float
    exact_saving: float | None
    exact_cost: float | None
    status: str  # of the re-solve


@dataclass(frozen=True)
class Fix:
    """One change that would make an infeasible spec feasible."""

    path: str
    current: float | None
    needed: float
    why: str
    verified: bool  # the re-solved spec with this change alone is optimal
    cost_after: float | None


@dataclass(frozen=True)
class Explanation:
    name: str
    currency: str
    status: str
    total_cost: float | None
    actions: tuple[ActionAccount, ...] = ()
    monitors: tuple[MonitorAccount, ...] = ()
    relaxations: tuple[Relaxation, ...] = ()
    fixes: tuple[Fix, ...] = ()
    reason: str = ""
    paragraphs: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    penalty_design: str = "fixed"  # under another design the cost includes the penalty's

    def __str__(self) -> str:
        """The explanation as ``deter explain`` prints it: ``print(problem.explain())``."""
        return self.to_text()

    def to_text(self, width: int = 100, clean: Callable[[str], str] = str) -> str:
        """Indented prose, one paragraph per heading, lines filled to ``width``.

        ``clean`` is applied to every heading and sentence first (the command line passes
        its terminal escaping, so no control character from a spec acts on a terminal).
        """
        out: list[str] = []
        for title, sentences in self.paragraphs:
            out.append(clean(title))
            for raw in sentences:
                sentence = clean(raw)
                indent = "    " if sentence.startswith("  ") else "  "
                out.append(
                    textwrap.fill(
                        sentence.strip(),
                        width=max(40, width),
                        initial_indent=indent + ("" if indent == "    " else "- "),
                        subsequent_indent=indent + "  ",
                    )
                )
            out.append("")
        return "\n".join(out)

    @property
    def relax_first(self) -> Relaxation | None:
        useful = [r for r in self.relaxations if (r.exact_saving or 0.0) > SMALL]
        return max(useful, key=lambda r: r.exact_saving or 0.0) if useful else None

    def to_json(self) -> str:
        """``to_dict()`` as the JSON text ``deter explain --format json`` prints."""
        return dumps(self.to_dict(), indent=2) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``deter explain --format json`` (non-finite numbers as null)."""
        doc = asdict(self)
        doc["paragraphs"] = [{"title": t, "sentences": list(s)} for t, s in self.paragraphs]
        doc["relax_first"] = self.relax_first.path if self.relax_first else None
        return jsonable(envelope("explanation", doc))


# --- duals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duals:
    """The LP multipliers in model units (cost per unit of each constraint)."""

    incentive: np.ndarray  # lambda_i, per deviation, on d_i P_i - d_0 P_0 >= k_i
    reach: np.ndarray  # eta_i, per deviation, on P_i <= Q_i x
    false_flag: float  # zeta
    ceiling: np.ndarray  # mu_j on x_j <= max_rate_j
    floor: np.ndarray  # on x_j >= min_rate_j
    budget: float


def solve_duals(arrays: ProblemArrays, solver: str) -> Duals | None:
    """Re-solve the compiled program with the solver that produced the result; read its duals.

    The program is the cached one (same shape), so this costs one solver call.
    """
    import cvxpy as cp

    from ..formulation.components.detection import DetectionHandles
    from ..formulation.components.deterrence import IncentiveHandles, incentive_rows
    from ..formulation.components.monitoring import BudgetHandles, RateHandles, cost_scale
    from ..formulation.program import program_for

    program = program_for(arrays)
    try:
        status = program.solve(solver).status
    except Exception:
        return None
    if status not in ("optimal", "optimal_inaccurate"):
        return None
    scale = cost_scale(arrays)
    n, m = len(arrays.deviations), arrays.n_monitors

    def dual(constraint: cp.Constraint | None, size: int) -> np.ndarray:
        value = None if constraint is None else program.dual_of(constraint)
        if value is None:
            return np.zeros(size)
        return np.maximum(value, 0.0) * scale

    bounds = program.find(RateHandles)
    deterrence = program.find(IncentiveHandles)
    detection = program.find(DetectionHandles)
    budget_row = program.find(BudgetHandles)
    rows = incentive_rows(arrays)
    # in units of the program's scaled rows
    program_incentive = dual(deterrence.incentive if deterrence else None, n)
    incentive = program_incentive / rows.row_scale
    false_flag = float(np.sum(program_incentive * rows.false_flag_loss / rows.row_scale))
    budget = dual(budget_row.budget if budget_row else None, 1)
    return Duals(
        incentive=incentive,
        reach=dual(detection.reach if detection else None, n),
        false_flag=false_flag,
        ceiling=dual(bounds.max_rate if bounds else None, m),
        floor=dual(bounds.min_rate if bounds else None, m),
        budget=float(budget[0]) / scale if budget.size else 0.0,
    )


# --- the account ----------------------------------------------------------------------------


def explain(
    spec: Spec,
    result: Result | None = None,
    *,
    solve: Callable[[Spec], Result] | None = None,
    relax: float = RELAX,
) -> Explanation:
    """Explain the optimal policy of ``spec`` (solving it unless ``result`` is given)."""
    from ..model.arrays import ProblemArrays

    if solve is None:
        from ..engine.solve import solve as solve_spec

        solve = solve_spec
    if result is None:
        result = solve(spec)
    arrays = ProblemArrays.from_spec(spec)
    if result.status == "infeasible":
        return _explain_infeasible(spec, result, arrays, solve)
    if result.status != "optimal" or result.solver is None:
        return Explanation(
            spec.name,
            spec.problem.currency,
            result.status,
            None,
            reason=result.message,
            paragraphs=(("No verified answer", (result.message,)),),
        )
    duals = solve_duals(arrays, result.solver)
    actions = _action_accounts(arrays, result, duals)
    monitors = _monitor_accounts(arrays, result, duals)
    relaxations = _relaxations(spec, arrays, result, duals, solve, relax)
    explanation = Explanation(
        name=spec.name,
        currency=spec.problem.currency,
        status=result.status,
        total_cost=result.total_cost,
        actions=actions,
        monitors=monitors,
        relaxations=relaxations,
        reason=result.message,
        penalty_design=arrays.penalty_design,
    )
    return _with_paragraphs(explanation, duals is not None)


def _action_accounts(
    arrays: ProblemArrays, result: Result, duals: Duals | None
) -> tuple[ActionAccount, ...]:
    rates = np.array([result.monitor(name).rate for name in arrays.monitor_names])
    shares = _utility_shares(arrays, result)
    accounts = []
    for k, i in enumerate(arrays.deviations):
        name = arrays.action_names[i]
        action = result.action(name)
        q = np.asarray(arrays.detection[i].todense()).ravel()
        reach = q * rates
        total = float(reach.sum())
        detected_by = {
            arrays.monitor_names[j]: float(reach[j] / total)
            for j in np.argsort(-reach)
            if total > 0 and reach[j] > SMALL * max(total, 1.0)
        }
        accounts.append(
            ActionAccount(
                name=name,
                gain_over_compliant=float(arrays.gain[i] - arrays.gain[arrays.compliant]),
                detection=action.detection,
                expected_penalty=action.expected_penalty,
                deterred=action.deterred,
                binding=action.binding,
                shadow_price=float(action.shadow_price or 0.0),
                detection_price=float(duals.reach[k]) if duals is not None else 0.0,
                detected_by=detected_by,
                risk_aversion=float(arrays.risk_aversion),
                utility_share=None if shares is None else shares[k],
            )
        )
    return tuple(accounts)


def _utility_shares(arrays: ProblemArrays, result: Result) -> list[float | None] | None:
    """For a CARA agent, (P_i - w_i P_0) / n_i per non-compliant action at the reported
    detections: the program's rows (``Deterrence``), finite in log space where utilities
    overflow. None for a risk-neutral agent."""
    if arrays.risk_aversion == 0:
        return None
    from ..formulation.components.deterrence import Deterrence

    values = Deterrence().values(arrays)
    shape = arrays.deviations.shape
    need = np.broadcast_to(np.asarray(values["need"], dtype=float), shape)
    flag = np.broadcast_to(np.asarray(values["false_flag_weight"], dtype=float), shape)
    weight = np.broadcast_to(np.asarray(values["detection_weight"], dtype=float), shape)
    p0 = result.action(arrays.action_names[arrays.compliant]).detection
    shares: list[float | None] = []
    for k, i in enumerate(arrays.deviations):
        p = result.action(arrays.action_names[i]).detection
        with np.errstate(all="ignore"):
            share = (float(weight[k]) * p - float(flag[k]) * p0) / float(need[k])
        shares.append(share if need[k] > 0 and math.isfinite(share) else None)
    return shares


def _monitor_accounts(
    arrays: ProblemArrays, result: Result, duals: Duals | None
) -> tuple[MonitorAccount, ...]:
    accounts = []
    dev = arrays.deviations
    q = np.asarray(arrays.detection[dev].todense())  # deviations x monitors
    for j, name in enumerate(arrays.monitor_names):
        m = result.monitor(name)
        if m.at_bound == "max_rate":
            state = "ceiling"
        elif m.at_bound == "min_rate":
            state = "floor"
        elif m.rate <= 1e-9:
            state = "unused"
        else:
            state = "interior"
        buys: dict[str, float] = {}
        value = drag = 0.0
        if duals is not None:
            contributions = duals.reach * q[:, j]
            drag = duals.false_flag * float(arrays.false_positive[j])
            value = float(contributions.sum()) - drag
            gross = float(contributions.sum())
            if gross > SMALL:
                for k in np.argsort(-contributions):
                    if contributions[k] > SMALL * gross:
                        buys[arrays.action_names[dev[k]]] = float(contributions[k] / gross)
        marginal_for = tuple(buys) if state == "interior" else ()
        break_even = value if state == "unused" and m.unit_cost > value else None
        accounts.append(
            MonitorAccount(
                name=name,
                rate=m.rate,
                cost=m.cost,
                unit_cost=m.unit_cost,
                state=state,
                value_per_rate=value,
                buys=buys,
                false_flag_drag=drag,
                marginal_for=marginal_for,
                break_even_cost=break_even,
            )
        )
    return tuple(accounts)


def _relaxations(
    spec: Spec,
    arrays: ProblemArrays,
    result: Result,
    duals: Duals | None,
    solve: Callable[[Spec], Result],
    relax: float,
) -> tuple[Relaxation, ...]:
    """Each constraint that costs something, relaxed by ``relax``: estimate and exact saving."""
    from ..model.utility import marginal_utility

    if duals is None or result.total_cost is None:
        return ()
    candidates: list[tuple[str, str, float, float, float]] = []  # label, path, now, new, d/dv
    r = arrays.risk_aversion
    dev = arrays.deviations
    relative = arrays.gain[dev] - arrays.gain[arrays.compliant]
    detection = np.array([result.action(arrays.action_names[i]).detection for i in dev])
    # Penalty caps: an action's own, or the agent's default shared by every action without one.
    design = arrays.penalty_design
    if design == "fixed":
        incentive = duals.incentive
        cap_slope = -incentive * detection * marginal_utility(relative - arrays.penalty_cap[dev], r)
    else:
        own_cap = np.array(
            [spec.action(arrays.action_names[i]).penalty_cap is not None for i in dev], dtype=bool
        )
        incentive, cap_slope = _penalty_design_slopes(arrays, result, detection, own_cap)
    default_slope = 0.0
    for k, i in enumerate(dev):
        action = spec.action(arrays.action_names[i])
        if action.penalty_cap is None:
            default_slope += float(cap_slope[k])
        elif cap_slope[k] < -SMALL:
            cap = action.penalty_cap
            candidates.append(
                (
                    f"penalty cap of {action.name}",
                    f"actions.{action.name}.penalty_cap",
                    cap,
                    cap * (1 + relax),
                    float(cap_slope[k]),
                )
            )
    if design != "fixed" and spec.penalty.cost > 0:
        # Envelope theorem: d cost / d a = the penalty level paid for (F, or sum_i F_i).
        level = (result.penalty_cost or 0.0) / spec.penalty.cost
        if level > SMALL:
            candidates.append(
                (
                    "cost of the penalty level",
                    "penalty.cost",
                    spec.penalty.cost,
                    spec.penalty.cost * (1 - relax),
                    level,
                )
            )
    if default_slope < -SMALL and spec.agent.penalty_cap is not None:
        cap = spec.agent.penalty_cap
        candidates.append(
            ("default penalty cap", "agent.penalty_cap", cap, cap * (1 + relax), default_slope)
        )
    # Rate ceilings and floors of declared monitors (audits always range over [0, 1]).
    for j, monitor in enumerate(spec.monitors):
        if duals.ceiling[j] > SMALL and monitor.max_rate < 1:
            new = min(1.0, monitor.max_rate * (1 + relax)) if monitor.max_rate > 0 else relax
            candidates.append(
                (
                    f"rate ceiling of {monitor.name}",
                    f"monitors.{monitor.name}.max_rate",
                    monitor.max_rate,
                    new,
                    -float(duals.ceiling[j]),
                )
            )
        if duals.floor[j] > SMALL and monitor.min_rate > 0:
            candidates.append(
                (
                    f"rate floor of {monitor.name}",
                    f"monitors.{monitor.name}.min_rate",
                    monitor.min_rate,
                    monitor.min_rate * (1 - relax),
                    float(duals.floor[j]),
                )
            )
    if spec.oversight.budget is not None and duals.budget > SMALL:
        budget = spec.oversight.budget
        candidates.append(
            ("oversight budget", "oversight.budget", budget, budget * (1 + relax), -duals.budget)
        )
    false_flags = result.action(spec.compliant_action).detection
    fp_penalty = spec.agent.false_positive_penalty
    if fp_penalty > 0 and false_flags > 0:
        slope = float(incentive.sum()) * false_flags * float(marginal_utility(-fp_penalty, r))
        if slope > SMALL:
            candidates.append(
                (
                    "penalty on falsely flagged compliant agents",
                    "agent.false_positive_penalty",
                    fp_penalty,
                    fp_penalty * (1 - relax),
                    slope,
                )
            )
    if spec.agent.margin > 0:
        scale = math.exp(r * float(arrays.gain[arrays.compliant])) if r else 1.0
        slope = float(incentive.sum()) * scale
        if slope > SMALL:
            margin = spec.agent.margin
            candidates.append(
                ("required compliance margin", "agent.margin", margin, margin * (1 - relax), slope)
            )
    relaxations = []
    for label, path, now, new, slope in candidates:
        if abs(slope * (new - now)) <= NOISE * max(abs(result.total_cost), SMALL):
            continue  # a multiplier at the solver's round-off (cone solvers leave ~1e-9)
        exact_cost: float | None = None
        status = "invalid"
        try:
            relaxed = solve(set_value(spec, path, new))
            status = relaxed.status
            exact_cost = relaxed.total_cost
        except SpecError:
            pass
        relaxations.append(
            Relaxation(
                constraint=label,
                path=path,
                current=now,
                relaxed=new,
                marginal=slope,
                first_order_saving=-slope * (new - now),
                exact_saving=None if exact_cost is None else result.total_cost - exact_cost,
                exact_cost=exact_cost,
                status=status,
            )
        )
    relaxations.sort(key=lambda x: -(x.exact_saving or 0.0))
    return tuple(relaxations)


def _penalty_design_slopes(
    arrays: ProblemArrays, result: Result, detection: np.ndarray, own_cap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Under a penalty design: lambda_i and d cost / d cap_i.

    The program is a cone program without the LP's incentive rows, so lambda_i (d cost / d k_i
    for the row P_i F_i >= k_i) is the shadow price the penalty component reports. In the
    original variables, stationarity in F_i reads a - lambda_i P_i + nu_i = 0, with nu_i the
    multiplier of F_i <= cap_i, so d cost / d cap_i = -nu_i = -(lambda_i P_i - a)^+ (zero
    while the chosen penalty is below its cap). For a shared level F <= min_i cap_i the same
    holds with sum_i lambda_i P_i, and only the smallest cap(s) carry it.
    """
    dev = arrays.deviations
    incentive = np.array(
        [float(result.action(arrays.action_names[i]).shadow_price or 0.0) for i in dev]
    )
    a = float(arrays.penalty_cost)
    if arrays.penalty_design == "shared":
        caps = arrays.penalty_cap[dev]
        lowest = caps == caps.min() if caps.size else caps.astype(bool)
        slope = -max(float(incentive @ detection) - a, 0.0)
        # One field raises the ceiling only if it sets every smallest cap: the agent's default
        # (the caller sums the shares back) or a single action's own cap.
        one_field = not own_cap[lowest].any() or int(lowest.sum()) == 1
        share = slope / max(int(lowest.sum()), 1) if one_field else 0.0
        cap_slope = np.where(lowest, share, 0.0)
    else:
        cap_slope = -np.maximum(incentive * detection - a, 0.0)
    return incentive, cap_slope


# --- infeasible specs -------------------------------------------------------------------


def _explain_infeasible(
    spec: Spec, result: Result, arrays: ProblemArrays, solve: Callable[[Spec], Result]
) -> Explanation:
    diagnosis = result.diagnosis
    candidates: list[tuple[str, float, str]] = []  # path, needed value, why
    if diagnosis is not None:
        for finding in diagnosis.actions:
            if finding.deterrable:
                continue
            action = spec.action(finding.name)
            if finding.cap_needed is not None and finding.max_detection > 0:
                path = (
                    f"actions.{action.name}.penalty_cap"
                    if action.penalty_cap is not None or spec.agent.penalty_cap is None
                    else "agent.penalty_cap"
                )
                candidates.append(
                    (
                        path,
                        _round_up(finding.cap_needed),
                        f"{action.name} is caught at most with probability "
                        f"{finding.max_detection:.4g}; its penalty must reach "
                        f"{finding.cap_needed:.4g} to outweigh its gain",
                    )
                )
                if path == "agent.penalty_cap":
                    candidates.append(
                        (
                            f"actions.{action.name}.penalty_cap",
                            _round_up(finding.cap_needed),
                            f"give {action.name} its own, larger cap",
                        )
                    )
            candidates += _ceiling_fixes(spec, arrays, finding.name)
            gain0 = spec.action(spec.compliant_action).gain
            if finding.max_detection == 0 and isinstance(gain0, int | float):
                candidates.append(
                    (
                        f"actions.{action.name}.gain",
                        float(gain0),
                        f"nothing can detect {action.name}; it is deterred only "
                        "if it pays no more than complying (or add a monitor "
                        "that detects it)",
                    )
                )
        if (
            diagnosis.least_cost is not None
            and diagnosis.budget is not None
            and (diagnosis.least_cost > diagnosis.budget)
        ):
            candidates.append(
                (
                    "oversight.budget",
                    _round_up(diagnosis.least_cost),
                    f"full deterrence costs at least {diagnosis.least_cost:.6g}",
                )
            )
    fixes = []
    for path, needed, why in candidates:
        try:
            current = get_value(spec, path)
            needed, fixed = _smallest_verified(spec, path, needed, solve)
        except SpecError:
            continue
        fixes.append(
            Fix(
                path=path,
                current=current,
                needed=needed,
                why=why,
                verified=fixed.status == "optimal",
                cost_after=fixed.total_cost,
            )
        )
    explanation = Explanation(
        name=spec.name,
        currency=spec.problem.currency,
        status=result.status,
        total_cost=None,
        fixes=tuple(fixes),
        reason=result.message,
    )
    return _with_paragraphs(explanation, True)


#: How far above a computed threshold (relative) a fix is searched for when the threshold
#: itself is not enough: a tie that float64 rounds to the wrong side (e.g. a rate ceiling
#: of 0.6, whose binary64 value is below 3/5), not a second reason.
ABOVE = 1e-9


def _smallest_verified(
    spec: Spec, path: str, needed: float, solve: Callable[[Spec], Result]
) -> tuple[float, Result]:
    """``needed`` and its solve if that verifies; otherwise, for a limit that helps as it
    rises (a cap, a rate ceiling, the budget), the smallest binary64 value in
    (needed, needed (1 + ABOVE)] whose spec verifies (exactly, as every answer), found by
    doubling steps of one ulp and bisection; else ``needed`` and its failed solve."""
    fixed = solve(set_value(spec, path, needed))
    rising = path.endswith((".penalty_cap", ".max_rate", ".budget"))
    if fixed.status == "optimal" or not rising or not (math.isfinite(needed) and needed > 0):
        return needed, fixed
    top = needed * (1 + ABOVE)
    if path.endswith(".max_rate"):
        top = min(top, 1.0)
    if not top > needed:
        return needed, fixed
    best = solve(set_value(spec, path, top))
    if best.status != "optimal":
        return needed, fixed
    low, high, step = needed, top, 1  # low fails, high verifies
    while True:  # doubling steps of one ulp from needed, up to top
        value = _ulps_above(needed, step)
        if value >= high:
            break
        tried = solve(set_value(spec, path, value))
        if tried.status == "optimal":
            high, best = value, tried
            break
        low, step = value, 2 * step
    while _ulps_above(low, 1) < high:  # bisect: low fails, high verifies
        middle = _between(low, high)
        tried = solve(set_value(spec, path, middle))
        if tried.status == "optimal":
            high, best = middle, tried
        else:
            low = middle
    return high, best


def _ulps_above(value: float, count: int) -> float:
    """The binary64 number ``count`` steps above the positive ``value``."""
    bits = struct.unpack("<q", struct.pack("<d", value))[0]
    return float(struct.unpack("<d", struct.pack("<q", bits + count))[0])


def _between(low: float, high: float) -> float:
    """The binary64 number halfway (in steps) between the positive ``low`` < ``high``."""
    a = struct.unpack("<q", struct.pack("<d", low))[0]
    b = struct.unpack("<q", struct.pack("<d", high))[0]
    return float(struct.unpack("<d", struct.pack("<q", (a + b) // 2))[0])


def _figure(value: float) -> str:
    """Four significant digits when they are the number itself, else every digit needed
    (a fix one ulp above 0.6 must not read as 0.6)."""
    text = f"{value:.4g}"
    return text if float(text) == value else repr(float(value))


def _ceiling_fixes(spec: Spec, arrays: ProblemArrays, name: str) -> list[tuple[str, float, str]]:
    """For a blocked action: the rate ceiling one monitor would need, the others at theirs."""
    from ..formulation.components.deterrence import incentive_rows

    i = arrays.action_names.index(name)
    k = int(np.flatnonzero(arrays.deviations == i)[0])
    rows = incentive_rows(arrays)
    if rows.loss[k] <= 0:
        return []
    q = np.asarray(arrays.detection[i].todense()).ravel()
    x = arrays.max_rate
    false_flags = float(arrays.false_positive @ x)
    needed = (rows.need[k] + rows.false_flag_loss * false_flags) / rows.loss[k]
    reached = float(q @ x)
    fixes = []
    for j, monitor in enumerate(spec.monitors):
        if q[j] <= 0 or monitor.max_rate >= 1:
            continue
        ceiling = monitor.max_rate + (needed - reached) / q[j]
        if monitor.max_rate < ceiling <= 1:
            fixes.append(
                (
                    f"monitors.{monitor.name}.max_rate",
                    _round_up(ceiling, 1.0),
                    f"{monitor.name} could catch {name} often enough at this rate",
                )
            )
    return fixes


#: How far above the computed threshold a fix's figure may be rounded (relative): four
#: significant digits when they are that close, more digits otherwise (a least cost of
#: 10.0000000001 is shown as 10.00001, not 10.01).
ROUNDING = 1e-6


def _round_up(value: float, ceiling: float | None = None) -> float:
    """The fewest significant digits (at least four) rounded up that stay within ROUNDING
    (relative) of ``value``, so that the displayed figure is enough and barely more."""
    if value <= 0:
        return 0.0
    if not math.isfinite(value):
        return value
    rounded = value
    for significant in range(4, 18):
        digits = significant - 1 - math.floor(math.log10(value))
        rounded = math.ceil(value * 10**digits * (1 - 1e-12)) / 10**digits
        if rounded <= value * (1 + ROUNDING):
            break
    return min(rounded, ceiling) if ceiling is not None else rounded


# --- sentences ----------------------------------------------------------------------------


def _utility_terms(a: ActionAccount) -> str:
    """A CARA agent's binding row in utility (money would compare an expected penalty with a
    gain that risk aversion weighs differently)."""
    kind = "risk-averse" if a.risk_aversion > 0 else "risk-seeking"
    share = "-" if a.utility_share is None else f"{a.utility_share:.4g}"
    return (
        f"and to this {kind} agent (risk aversion {a.risk_aversion:.4g}) the expected "
        f"utility it loses to penalties is {share} times the utility its gain of "
        f"{a.gain_over_compliant:.4g} over complying brings (deterred at 1 or more)"
    )


def _money(value: float | None, currency: str) -> str:
    if value is None:
        return "-"
    text = f"{value:.4g}"
    return f"{text} {currency}" if currency else text


def _share_list(shares: dict[str, float]) -> str:
    # Shares under half a percent round to 0% and say nothing; the largest is always shown.
    shown = {k: v for k, v in shares.items() if v >= 0.005} or dict(list(shares.items())[:1])
    parts = [f"{name} ({100 * share:.0f}%)" for name, share in shown.items()]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _with_paragraphs(e: Explanation, have_duals: bool) -> Explanation:
    from dataclasses import replace

    paragraphs: list[tuple[str, tuple[str, ...]]] = []
    cur = e.currency
    if e.status == "infeasible":
        lines = [f"{e.name} cannot be met: {e.reason}."]
        verified = [f for f in e.fixes if f.verified]
        for fix in sorted(verified, key=lambda f: f.cost_after or 0.0):
            was = "unset" if fix.current is None else f"{fix.current:.4g}"
            lines.append(
                f"Set {fix.path} to {_figure(fix.needed)} (now {was}): {fix.why}; the spec then "
                f"solves at {_money(fix.cost_after, cur)} per episode."
            )
        for fix in e.fixes:
            if not fix.verified:
                lines.append(
                    f"Setting {fix.path} to {_figure(fix.needed)} alone is not enough ({fix.why})."
                )
        if not e.fixes:
            lines.append(
                "No single change to a penalty cap, rate ceiling or budget makes it feasible."
            )
        paragraphs.append(("Why it cannot be met, and the smallest fixes", tuple(lines)))
        return replace(e, paragraphs=tuple(paragraphs))

    binding = [a for a in e.actions if a.binding]
    slack = [a for a in e.actions if not a.binding and a.deterred]
    lines = [
        f"The cheapest policy that deters every action costs {_money(e.total_cost, cur)} "
        f"per episode."
    ]
    for a in sorted(binding, key=lambda a: -a.shadow_price):
        sentence = f"{a.name} binds: it is caught with probability {a.detection:.4g}, " + (
            f"an expected penalty of {a.expected_penalty:.4g} against a gain of "
            f"{a.gain_over_compliant:.4g} over complying"
            if a.risk_aversion == 0
            else _utility_terms(a)
        )
        if have_duals:
            spent = "oversight" if e.penalty_design == "fixed" else "oversight and penalty cost"
            sentence += (
                f"; each extra unit of gain from {a.name} costs "
                f"{a.shadow_price:.4g} more {spent} per episode"
            )
            if a.detection_price > SMALL:
                sentence += (
                    f", and each extra 0.01 of its detection costs {a.detection_price * 0.01:.4g}"
                )
        if a.detected_by:
            sentence += f" (caught by {_share_list(a.detected_by)})"
        lines.append(sentence + ".")
    if slack:
        names = ", ".join(a.name for a in slack)
        lines.append(
            f"{names} {'is' if len(slack) == 1 else 'are'} deterred with room to "
            "spare, by monitoring bought for the binding actions; "
            f"{'its gain' if len(slack) == 1 else 'their gains'} could rise a little "
            "at no cost."
        )
    if binding and have_duals:
        top = max(binding, key=lambda a: a.shadow_price)
        lines.append(f"The expensive behaviour to deter is {top.name}.")
    paragraphs.append(("What binds", tuple(lines)))

    if have_duals:
        lines = []
        for m in e.monitors:
            label = m.name.removeprefix(AUDIT_PREFIX)
            kind = "the audit of" if m.name.startswith(AUDIT_PREFIX) else ""
            who = f"{kind} {label}".strip()
            if m.state == "interior":
                lines.append(
                    f"{who} runs at rate {m.rate:.4g} ({_money(m.cost, cur)}); at the "
                    f"margin it is what deters {_share_list(m.buys)}."
                )
            elif m.state == "ceiling":
                gain = m.value_per_rate - m.unit_cost
                more = (
                    f"so each extra 0.01 of ceiling would save {_money(gain * 0.01, cur)}"
                    if m.rate < 1 - 1e-9
                    else "but it already inspects every episode"
                )
                lines.append(
                    f"{who} runs at its ceiling {m.rate:.4g} ({_money(m.cost, cur)}); "
                    f"it is worth {_money(m.value_per_rate, cur)} per unit of rate "
                    f"against a cost of {_money(m.unit_cost, cur)}, {more}"
                    + (f"; it buys {_share_list(m.buys)}" if m.buys else "")
                    + "."
                )
            elif m.state == "floor":
                lines.append(
                    f"{who} is held at its floor {m.rate:.4g} "
                    f"({_money(m.cost, cur)}), more than it is worth here."
                )
            else:
                worth = m.value_per_rate
                if worth > SMALL:
                    lines.append(
                        f"{who} is not used: it costs {_money(m.unit_cost, cur)} per "
                        f"unit of rate but would save only {_money(worth, cur)}; it "
                        f"would pay for itself below that cost."
                    )
                else:
                    lines.append(
                        f"{who} is not used: nothing it detects needs more "
                        "deterrence at the margin."
                    )
            if m.false_flag_drag > SMALL and m.state != "unused":
                lines.append(
                    f"  The false flags {who} raises on compliant episodes cost "
                    f"{_money(m.false_flag_drag, cur)} per unit of rate in extra "
                    "deterrence needed."
                )
        paragraphs.append(("What each monitor buys", tuple(lines)))

    lines = []
    first = e.relax_first
    for r in e.relaxations:
        exact = (
            "could not be re-solved"
            if r.exact_saving is None
            else f"saves {_money(r.exact_saving, cur)} exactly (re-solved)"
        )
        lines.append(
            f"{r.constraint} ({r.path} {r.current:.4g} -> {r.relaxed:.4g}): {exact}; "
            f"first-order estimate {_money(r.first_order_saving, cur)} "
            f"(marginal {r.marginal:.4g} per unit)."
        )
    if first is not None:
        lines.insert(
            0,
            f"Relax first: the {first.constraint}. Relaxing it by 10% saves "
            f"{_money(first.exact_saving, cur)} per episode.",
        )
    elif have_duals:
        lines.append("No budget, rate ceiling or penalty cap is holding the cost up.")
    if lines:
        paragraphs.append(("Which constraint to relax first", tuple(lines)))
    return replace(e, paragraphs=tuple(paragraphs))
