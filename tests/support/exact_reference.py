"""An independent reference for deter's answers, re-checked in exact arithmetic (issue #12).

Nothing here imports deter: the spec text is read with ``tomllib``, the model is written out
from docs/model.md and docs/spec-format.md, and every number of the spec (a TOML float is a
binary64, a TOML integer an integer) is taken as the exact rational it denotes.

Two parts:

**The exact re-check** (:func:`check_policy`) takes a policy (rates, and penalties under a
penalty design) and decides, exactly, whether

* every rate is within [min_rate, max_rate];
* every non-compliant action is deterred by the margin: EU_i <= EU_0 - margin with
  P_i = min(1, sum_j q_ij x_j) and P_0 = sum_j f_j x_j (linear detection), or
  P_i = 1 - prod_j (1 - q_ij)^x_j (exponential detection);
* the oversight cost sum_j c_j x_j is within the budget.

Risk-neutral linear rows are decided in ``fractions.Fraction`` (exactly). CARA rows and
exponential detection are decided with ``mpmath`` at ``DPS`` significant digits after
multiplying the row by the positive number |r| exp(r g_0), which turns it into

    s [ (1 - P_0) + P_0 e^{r F_fp} - (1 - P_i) e^{-r (g_i - g_0)} - P_i e^{-r (g_i - g_0 - F_i)} ]
        + |r| e^{r g_0} margin  <=  0,            s = sign(r),

so that no term cancels against a constant 1/r (mpmath's exponent range is unbounded, so
nothing overflows either). 1 - P_i is computed from the exact rational, not as 1 minus a
rounded P_i. A row whose value is within 10^-(DPS - 20) of the size of its terms is
re-evaluated at 4 x DPS digits; if it is still that close it is counted as a tie (ties go to
the principal). For CARA agents, an exact tie between transcendental numbers is impossible for
rational data except in degenerate cases, so this never decides a real answer.

**The reference optimum** (:func:`reference`):

* linear detection, fixed penalties: the LP of docs/model.md written in the rates only,
  d_i min(1, Q_i x) - d_0 f x >= k_i  <=>  (d_i Q_i - d_0 f) x >= k_i  and  d_0 f x <= d_i - k_i
  (d_i > 0), with d_i, d_0, k_i and d_i - k_i computed in mpmath in the scaled utility units
  above (d_i - k_i = u(g_0) - u(g_i - F_i) - margin directly, so a need close to 1 is not
  lost to cancellation). A row that holds on the whole box of rates is dropped (an action
  whose need is <= 0 at every rate imposes nothing). Columns are scaled by a rate unit (the
  smallest rate at which the monitor alone meets one of its rows), rows by their right-hand
  side (or their largest coefficient when it is 0), the objective by its largest cost; every
  row and the budget are then tightened by TAU relative (coefficients moved against
  feasibility, right-hand sides too) and the LP is solved with scipy's HiGHS at a 1e-10
  feasibility tolerance. The rates are mapped back and rounded to binary64, and the policy is
  re-checked exactly: only a policy that passes counts as the reference's answer, so the
  reference cost is an *upper bound* on the least cost that is exactly achievable, and
  within about TAU of it. If the tightened LP is infeasible the plain one is tried (ties at a
  rate ceiling) and its policy re-checked the same way.
* exponential detection (the generator never combines it with a false-positive penalty):
  every row only asks P_i >= p_i = k_i / d_i, i.e. sum_j L_ij x_j >= -ln(1 - p_i) with
  L_ij = -ln(1 - q_ij) (docs/model.md derives this; here it is evaluated in mpmath), an LP
  solved as above.
* penalty design (risk neutral, no false-positive penalty; the generator builds these specs
  with every monitor detecting one action only, so the program separates): per action,
  P = q x and F = k / P make the cost c P / q + a k / P, least at P* = sqrt(a k q / c)
  clipped to [max(q lo, k / cap), q hi]; a budget adds a multiplier lambda (P*(lambda) =
  sqrt(a k q / (c (1 + lambda))), spend decreasing in lambda) found by bisection. Shared
  level: x_i = max(lo_i, k_i / (q_i F)), cost(F) = sum_i c_i x_i + a F, convex in F, on
  [max_i k_i / (q_i hi_i) (and the budget's least F, by bisection), min cap], minimised by
  ternary search on log F. The chosen policy is rounded (penalties up) and re-checked exactly.

The reference's answer is a binary64 policy, like deter's. Costs are compared with
:data:`COST_RTOL` relative and :data:`COST_ATOL` absolute (only to absorb the subnormal range,
where a policy's cost cannot be represented to 1e-6 relative).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from scipy.optimize import linprog

DPS = 80  # mpmath significant digits for CARA and exponential rows
TAU = 1e-9  # relative tightening of the reference LP's rows
COST_RTOL = 1e-6  # deter's cost may exceed the reference's by this much, relatively
COST_ATOL = 1e-300  # ... plus this much absolutely (the subnormal range)
# An exact re-check failing by at most this, relative to the size of the terms compared, is
# reported apart ("roundoff_violation"): still a failure (the answer does not deter exactly),
# but one that rounding the rates outward fixes, unlike a real violation.
ROUNDOFF = 1e-12


# --- the spec, exactly -----------------------------------------------------------------


def exact(value: Any) -> Fraction:
    """The rational a TOML number denotes (a float is its binary64 value exactly)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a number: {value!r}")
    return Fraction(value)


@dataclass(frozen=True)
class Monitor:
    name: str
    cost: Fraction
    lo: Fraction
    hi: Fraction
    false_positive: Fraction
    detects: Mapping[str, Fraction]
    fixed_cost: Fraction = Fraction(0)
    # ROC monitors: action -> the vertices of the upper concave envelope, (0, 0) first
    roc: Mapping[str, tuple[tuple[Fraction, Fraction], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str
    gain: Fraction  # the binding end: a deviation's high end, the compliant action's low end
    cap: Fraction
    harm: Fraction = Fraction(0)
    low: Fraction | None = None  # an interval gain's ends (None: a point gain)
    high: Fraction | None = None

    @property
    def lo(self) -> Fraction:
        return self.gain if self.low is None else self.low

    @property
    def hi(self) -> Fraction:
        return self.gain if self.high is None else self.high


@dataclass(frozen=True)
class AgentType:
    name: str
    weight: Fraction
    r: Fraction
    gains: Mapping[str, tuple[Fraction, Fraction]]  # overrides, (low, high)


@dataclass(frozen=True)
class Model:
    compliant: Action
    deviations: tuple[Action, ...]
    monitors: tuple[Monitor, ...]
    r: Fraction
    margin: Fraction
    ffp: Fraction
    budget: Fraction | None
    detection: str  # "linear" or "exponential"
    design: str  # "fixed", "per_action" or "shared"
    penalty_cost: Fraction
    objective: str = "deter_all"
    types: tuple[AgentType, ...] = ()
    auditor: bool = False

    def q(self, action: str, j: int) -> Fraction:
        return self.monitors[j].detects.get(action, Fraction(0))

    @property
    def actions(self) -> tuple[Action, ...]:
        return (self.compliant, *self.deviations)

    @property
    def strategic(self) -> bool:
        """min_loss, types or fixed costs: the commitment program (enumerated here)."""
        return bool(
            self.objective == "min_loss"
            or self.types
            or any(m.fixed_cost > 0 for m in self.monitors)
        )

    @property
    def has_roc(self) -> bool:
        return any(m.roc for m in self.monitors)


def roc_envelope(points: Sequence[Sequence[Any]]) -> tuple[tuple[Fraction, Fraction], ...]:
    """The vertices of the upper concave envelope of ROC points and (0, 0), exactly, in
    order of the false-positive rate (docs/model.md: detection bought at rate x)."""
    pts = sorted({(Fraction(0), Fraction(0)), *((exact(a), exact(b)) for a, b in points)})
    hull: list[tuple[Fraction, Fraction]] = []
    for p in pts:
        # keep the best height per x, and drop vertices below the chord (upper hull)
        if hull and hull[-1][0] == p[0]:
            if p[1] <= hull[-1][1]:
                continue
            hull.pop()
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    return tuple(hull)


def roc_height(hull: Sequence[tuple[Fraction, Fraction]], x: Fraction) -> Fraction:
    """The envelope at x (exact): the chord of the hull over x (0 below the first vertex)."""
    best = Fraction(0)
    for (xa, ya), (xb, yb) in itertools.pairwise(hull):
        if xa <= x <= xb:
            best = max(best, ya + (yb - ya) * (x - xa) / (xb - xa))
    if hull and x >= hull[-1][0]:
        best = max(best, hull[-1][1])
    return best


def parse(text: str) -> Model:
    """The model of a spec's TOML text (assumed valid): every key of docs/spec-format.md."""
    data = tomllib.loads(text)
    agent = data.get("agent", {})
    oversight = data.get("oversight", {})
    penalty = data.get("penalty", {})
    raw_actions = data["actions"]
    compliant_name = agent.get("compliant", raw_actions[0]["name"])
    default_cap = agent.get("penalty_cap")
    monitors: list[Monitor] = []
    for m in data.get("monitors", []):
        monitors.append(
            Monitor(
                name=m["name"],
                cost=exact(m["cost"]),
                lo=exact(m.get("min_rate", 0.0)),
                hi=exact(m.get("max_rate", 1.0)),
                false_positive=exact(m.get("false_positive", 0.0)),
                detects={k: exact(v) for k, v in m.get("detects", {}).items()},
                fixed_cost=exact(m.get("fixed_cost", 0.0)),
                roc={k: roc_envelope(v) for k, v in (m.get("roc") or {}).items()},
            )
        )
    compliant: Action | None = None
    deviations: list[Action] = []
    # A [horizon] divides every gain and the margin by kappa (docs/model.md, "Long horizons")
    kappa = exact(_horizon(data)[0])
    for a in raw_actions:
        lo, hi = (g / kappa for g in _gain_ends(a["gain"]))
        harm = exact(a.get("harm", 0.0))
        interval = isinstance(a["gain"], list)
        if a["name"] == compliant_name:
            compliant = Action(
                a["name"], lo, Fraction(0), harm, lo if interval else None, hi if interval else None
            )
            continue
        cap = a.get("penalty_cap", default_cap)
        # a [learner]'s margin raises the deviation's gain (docs/model.md, "Learners")
        lift = exact(learner_margin(data, a["name"])) / kappa
        lo, hi = lo + lift, hi + lift
        deviations.append(
            Action(
                a["name"], hi, exact(cap), harm, lo if interval else None, hi if interval else None
            )
        )
        if "audit_cost" in a:
            monitors.append(
                Monitor(
                    name=f"audit:{a['name']}",
                    cost=exact(a["audit_cost"]),
                    lo=Fraction(0),
                    hi=Fraction(1),
                    false_positive=Fraction(0),
                    detects={a["name"]: exact(a.get("audit_detection", 1.0))},
                )
            )
    assert compliant is not None
    budget = oversight.get("budget")
    r = exact(agent.get("risk_aversion", 0.0))
    agent_types = tuple(
        AgentType(
            name=t["name"],
            weight=exact(t["weight"]),
            r=exact(t.get("risk_aversion", agent.get("risk_aversion", 0.0))),
            gains={k: _lifted(data, k, v, default_cap) for k, v in t.get("gains", {}).items()},
        )
        for t in data.get("types", [])
    )
    return Model(
        compliant=compliant,
        deviations=tuple(deviations),
        monitors=tuple(monitors),
        r=r,
        margin=exact(agent.get("margin", 0.0)) / kappa,
        ffp=exact(agent.get("false_positive_penalty", 0.0)),
        budget=None if budget is None else exact(budget),
        detection=oversight.get("detection", "linear"),
        design=penalty.get("design", "fixed"),
        penalty_cost=exact(penalty.get("cost", 0.0)),
        objective=oversight.get("objective", "deter_all"),
        types=agent_types,
        auditor="auditor" in data,
    )


def _horizon(data: dict[str, Any]) -> tuple[float, float]:
    """(kappa, gamma^d) of a [horizon] (docs/model.md, "Long horizons"): a penalty paid d
    steps later is worth (gamma rho)^d of itself at the act, and gamma^d when it is paid
    (gamma x lambda for a PPO learner: docs/model.md, "PPO")."""
    horizon = data.get("horizon") or {}
    d = int(horizon.get("audit_delay", 0))
    gamma = float(horizon.get("discount", 1.0))
    learner = data.get("learner") or {}
    if learner.get("algorithm") == "ppo":  # PPO credits a step later by gamma x GAE lambda
        gamma *= float(learner.get("gae_lambda", 0.95))
    rho = float(horizon.get("retention", 1.0))
    return (gamma * rho) ** d, gamma**d


def learner_margin(data: dict[str, Any], name: str) -> float:
    """The [learner]'s margin for deviation ``name`` as docs/model.md ("Learners") and
    docs/spec-format.md write it, for every ``algorithm`` (0 without a [learner])."""
    learner = data.get("learner")
    if not learner:
        return 0.0
    agent = data.get("agent", {})
    action = next(a for a in data["actions"] if a["name"] == name)
    cap = action.get("penalty_cap", agent.get("penalty_cap", 0.0))
    algorithm = learner.get("algorithm", "sample-mean")
    violation = learner.get("violation", "final")
    if algorithm in ("sample-mean", "ppo") or (algorithm == "hedge" and violation == "final"):
        return float(_learner_margin(data, cap))
    # exp3 / hedge: rewards range from the smallest gain - gamma^d cap (F_fp for
    # compliance) to the largest gain, over every type's gains
    paid = _horizon(data)[1]
    compliant = agent.get("compliant", data["actions"][0]["name"])
    ends: dict[str, list[float]] = {}
    for a in data["actions"]:
        ends[a["name"]] = [float(g) for g in _gain_ends(a["gain"])]
    for t in data.get("types", []):
        for k, g in t.get("gains", {}).items():
            lo, hi = (float(x) for x in _gain_ends(g))
            ends[k] = [min(ends[k][0], lo), max(ends[k][1], hi)]
    floor = min(
        ends[a["name"]][0]
        - paid
        * float(
            agent.get("false_positive_penalty", 0.0)
            if a["name"] == compliant
            else a.get("penalty_cap", agent.get("penalty_cap", 0.0))
        )
        for a in data["actions"]
    )
    n, rounds = len(data["actions"]), int(learner["rounds"])
    delta = 1.0 - float(learner.get("confidence", 0.95))
    width = max(hi for _, hi in ends.values()) - floor
    if algorithm == "hedge":  # Cesa-Bianchi & Lugosi 2006, Theorem 2.2
        return width * min(rounds, math.sqrt(rounds * math.log(n) / 2)) / (delta * rounds)
    gamma = float(
        learner.get("exploration", min(1.0, math.sqrt(n * math.log(n) / ((math.e - 1) * rounds))))
    )
    if violation == "average":  # Auer et al. 2002, Theorem 3.1
        regret = min(rounds, (math.e - 1) * gamma * rounds + n * math.log(n) / gamma)
        return width * regret / (delta * rounds)
    # Freedman on Exp3's importance-weighted estimates: T lead >= b L/3 + sqrt((b L/3)^2 + 2 V L)
    c_i, c_0 = ends[name][1] - floor, ends[compliant][1] - floor
    log = math.log(1 / delta)
    b = (n / gamma) * c_i + c_0
    v = rounds * (n / gamma) * (c_i**2 + c_0**2)
    return (b * log / 3 + math.sqrt((b * log / 3) ** 2 + 2 * v * log)) / rounds


def _learner_margin(data: dict[str, Any], cap: Any) -> Fraction:
    """sqrt(2 ln(1/delta) (F^2/4 + F_fp^2/4 + 2 sigma^2) / n), 0 without a [learner]
    (n = samples, or a Hedge learner's rounds)."""
    learner = data.get("learner")
    if not learner:
        return Fraction(0)
    paid = _horizon(data)[1]  # a learner's discounted penalty ranges over gamma^d F
    ffp = float(data.get("agent", {}).get("false_positive_penalty", 0.0)) * paid
    noise = float(learner.get("reward_noise", 0.0))
    delta = 1.0 - float(learner.get("confidence", 0.95))
    cap = float(cap) * paid
    samples = learner.get("samples", learner.get("rounds"))
    proxy = (cap * cap / 4 + ffp * ffp / 4 + 2 * noise * noise) / samples
    return exact(math.sqrt(2 * proxy * math.log(1 / delta)))


def _lifted(
    data: dict[str, Any], name: str, gain: Any, default_cap: Any
) -> tuple[Fraction, Fraction]:
    """A type's gain for action ``name``, raised by a [learner]'s margin unless compliant."""
    kappa = exact(_horizon(data)[0])  # a [horizon] divides gains by kappa
    lo, hi = (g / kappa for g in _gain_ends(gain))
    raw = data["actions"]
    if name == data.get("agent", {}).get("compliant", raw[0]["name"]):
        return lo, hi
    lift = exact(learner_margin(data, name)) / kappa
    return lo + lift, hi + lift


def _gain_ends(gain: Any) -> tuple[Fraction, Fraction]:
    if isinstance(gain, list):
        return exact(gain[0]), exact(gain[1])
    return exact(gain), exact(gain)


def views(model: Model) -> list[Model]:
    """One model per agent type (its r and gains; the compliant action at its low end, the
    deviations at their high ends: the worst case of docs/model.md), or the model itself."""
    if not model.types:
        return [model]
    return [
        replace(
            model,
            r=t.r,
            compliant=_at(t, model.compliant, low=True),
            deviations=tuple(_at(t, a, low=False) for a in model.deviations),
            types=(),
        )
        for t in model.types
    ]


def _at(agent_type: AgentType, action: Action, *, low: bool) -> Action:
    lo, hi = agent_type.gains.get(action.name, (action.lo, action.hi))
    return replace(action, gain=lo if low else hi, low=lo, high=hi)


# --- utility terms in scaled units -----------------------------------------------------


def mpf(value: Fraction | int) -> mpmath.mpf:
    value = Fraction(value)
    return mpmath.mpf(value.numerator) / value.denominator


@dataclass(frozen=True)
class Terms:
    """One action's row, multiplied by |r| e^{r g_0} (by 1 when r = 0):
    d P - d0 P0 >= k, and d - k = u(g_0) - u(g - F) - margin in the same units."""

    d: mpmath.mpf
    d0: mpmath.mpf
    k: mpmath.mpf
    d_minus_k: mpmath.mpf


def terms(model: Model, action: Action) -> Terms:
    r = model.r
    gap = action.gain - model.compliant.gain
    if r == 0:
        return Terms(
            d=mpf(action.cap),
            d0=mpf(model.ffp),
            k=mpf(gap + model.margin),
            d_minus_k=mpf(action.cap - gap - model.margin),
        )
    s = 1 if r > 0 else -1
    rr = mpf(r)
    big_m = abs(rr) * mpmath.exp(rr * mpf(model.compliant.gain)) * mpf(model.margin)
    return Terms(
        d=s * mpmath.exp(-rr * mpf(gap)) * mpmath.expm1(rr * mpf(action.cap)),
        d0=s * mpmath.expm1(rr * mpf(model.ffp)),
        k=s * -mpmath.expm1(-rr * mpf(gap)) + big_m,
        d_minus_k=s * mpmath.expm1(-rr * mpf(gap - action.cap)) - big_m,
    )


# --- the exact re-check ----------------------------------------------------------------


@dataclass
class Check:
    """The outcome of re-checking one policy; ``problems`` is empty when it passes."""

    problems: list[str] = field(default_factory=list)
    worst: float = 0.0  # the largest violation, relative to the size of what it compares
    cost: Fraction = Fraction(0)  # exact oversight cost (+ penalty cost under a design)
    oversight_cost: Fraction = Fraction(0)

    @property
    def passed(self) -> bool:
        return not self.problems


def _row_value_cara(
    model: Model,
    action: Action,
    penalty: Fraction,
    p: mpmath.mpf,
    one_minus_p: mpmath.mpf,
    p0: mpmath.mpf,
    one_minus_p0: mpmath.mpf,
) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(value, size of its terms) of the scaled row; deterred iff value <= 0."""
    r = mpf(model.r)
    s = 1 if model.r > 0 else -1
    gap = mpf(action.gain - model.compliant.gain)
    t = [
        one_minus_p0,
        p0 * mpmath.exp(r * mpf(model.ffp)),
        -one_minus_p * mpmath.exp(-r * gap),
        -p * mpmath.exp(-r * (gap - mpf(penalty))),
    ]
    big_m = abs(r) * mpmath.exp(r * mpf(model.compliant.gain)) * mpf(model.margin)
    value = s * mpmath.fsum(t) + big_m
    size = mpmath.fsum(abs(v) for v in t) + abs(big_m)
    return value, size


def _detections(
    model: Model, rates: Sequence[Fraction], action: str
) -> tuple[Fraction | None, mpmath.mpf, mpmath.mpf]:
    """(exact P or None, P, 1 - P) for one action (or the compliant one's false flags when
    action is empty). Exact linear detection is a Fraction; exponential is mpmath."""
    if model.detection == "linear":
        if action:
            total = sum((model.q(action, j) * x for j, x in enumerate(rates)), Fraction(0))
            for m, x in zip(model.monitors, rates, strict=True):
                if action in m.roc:  # ROC flags carry no penalty: only P_i
                    total += roc_height(m.roc[action], x)
            p = min(Fraction(1), total)
        else:
            p = sum(
                (m.false_positive * x for m, x in zip(model.monitors, rates, strict=True)),
                Fraction(0),
            )
        return p, mpf(p), mpf(1 - p)
    exponent = mpmath.mpf(0)
    for j, x in enumerate(rates):
        q = model.q(action, j) if action else model.monitors[j].false_positive
        if q > 0 and x > 0:
            exponent += mpf(x) * mpmath.log1p(-mpf(q))
    return None, -mpmath.expm1(exponent), mpmath.exp(exponent)


def _deterred(
    model: Model, rates: Sequence[Fraction], action: Action, penalty: Fraction
) -> tuple[bool, str, float]:
    """Is the action deterred by the margin at these rates, with this penalty (exactly)?
    Also why not, and the violation relative to the size of the row's terms."""
    exact_p, _, _ = _detections(model, rates, action.name)
    exact_p0, _, _ = _detections(model, rates, "")
    if model.r == 0 and exact_p is not None and exact_p0 is not None:
        # Risk neutral, linear: EU_i - EU_0 + m = g_i - P_i F_i - g_0 + P_0 F_fp + m.
        gap = action.gain - model.compliant.gain
        value = gap - exact_p * penalty + exact_p0 * model.ffp + model.margin
        size = abs(gap) + exact_p * penalty + exact_p0 * model.ffp + model.margin
        relative = float(value / size) if size else math.inf
        why = f"EU_i - EU_0 + margin = {float(value):.6g} > 0 ({relative:.3g} of its terms, exact)"
        return value <= 0, why, relative
    for dps in (DPS, 4 * DPS):
        with mpmath.workdps(dps):
            _, p, one_minus_p = _detections(model, rates, action.name)
            _, p0, one_minus_p0 = _detections(model, rates, "")
            if model.r == 0:
                gap = mpf(action.gain - model.compliant.gain)
                terms_ = [gap, -p * mpf(penalty), p0 * mpf(model.ffp), mpf(model.margin)]
                value = mpmath.fsum(terms_)
                size = mpmath.fsum(abs(t) for t in terms_)
            else:
                value, size = _row_value_cara(
                    model, action, penalty, p, one_minus_p, p0, one_minus_p0
                )
            if abs(value) > size * mpmath.mpf(10) ** (20 - dps):
                relative = float(value / size) if size else math.inf
                return (
                    value <= 0,
                    f"row value / terms = {relative:.6g} > 0 ({dps} digits)",
                    relative,
                )
    return True, "tie", 0.0


def spend(model: Model, xs: Sequence[Fraction]) -> Fraction:
    """The oversight cost of rates (exact): sum_j c_j x_j plus the fixed cost of every monitor
    running (x_j > 0), which the budget also pays (docs/model.md, fixed deployment costs)."""
    total = Fraction(0)
    for m, x in zip(model.monitors, xs, strict=True):
        total += m.cost * x + (m.fixed_cost if x > 0 else 0)
    return total


def exact_rates(model: Model, rates: Mapping[str, Any], check: Check) -> list[Fraction]:
    """The rates by monitor, exactly; a missing or non-finite rate, or one outside its bounds,
    is a problem in ``check``."""
    xs: list[Fraction] = []
    for m in model.monitors:
        if m.name not in rates:
            check.problems.append(f"monitor {m.name} has no rate")
            xs.append(m.lo)
            continue
        value = rates[m.name]
        if value is None or not math.isfinite(value):
            check.problems.append(f"monitor {m.name} has rate {value!r}")
            xs.append(m.lo)
            continue
        x = exact(float(value))
        if not m.lo <= x <= m.hi:
            check.problems.append(f"rate of {m.name} = {value!r} outside [{m.lo}, {m.hi}]")
            off = m.lo - x if x < m.lo else x - m.hi
            check.worst = max(check.worst, float(off / max(m.hi, abs(x))) if x else math.inf)
        xs.append(x)
    return xs


def check_budget(model: Model, oversight: Fraction, check: Check) -> None:
    if model.budget is not None and oversight > model.budget:
        check.worst = max(
            check.worst, float((oversight - model.budget) / oversight) if oversight else math.inf
        )
        check.problems.append(
            f"over budget: cost {float(oversight)!r} > budget {float(model.budget)!r} "
            f"(by {float((oversight - model.budget) / model.budget) if model.budget else 'inf'}"
            " relative, exact)"
        )


def check_policy(
    model: Model,
    rates: Mapping[str, float],
    penalties: Mapping[str, float] | None = None,
    *,
    shared_penalty: float | None = None,
) -> Check:
    """Re-check a policy exactly: rates by monitor name (every monitor, audits included);
    penalties by action name under a penalty design (fixed design: the caps)."""
    check = Check()
    xs = exact_rates(model, rates, check)
    oversight = spend(model, xs)
    check.oversight_cost = oversight
    penalty_total = Fraction(0)
    for view in views(model)[1:]:  # agent types: every type deterred (the first one below)
        for action in view.deviations:
            ok, why, relative = _deterred(view, xs, action, action.cap)
            if not ok:
                check.problems.append(f"{action.name} not deterred: {why}")
                check.worst = max(check.worst, relative)
    for action in views(model)[0].deviations:
        penalty = action.cap
        if model.design != "fixed":
            raw = None if penalties is None else penalties.get(action.name)
            if raw is None or not math.isfinite(raw):
                check.problems.append(f"action {action.name} has penalty {raw!r}")
                continue
            penalty = exact(float(raw))
            if not 0 <= penalty <= action.cap:
                check.problems.append(
                    f"penalty of {action.name} = {raw!r} outside [0, cap {float(action.cap)!r}]"
                )
            if (
                model.design == "shared"
                and shared_penalty is not None
                and penalty != exact(float(shared_penalty))
            ):
                check.problems.append(
                    f"penalty of {action.name} = {raw!r} is not the shared level {shared_penalty!r}"
                )
            penalty_total = penalty if model.design == "shared" else penalty_total + penalty
        ok, why, relative = _deterred(views(model)[0], xs, action, penalty)
        if not ok:
            check.problems.append(f"{action.name} not deterred: {why}")
            check.worst = max(check.worst, relative)
    if model.design == "shared" and shared_penalty is not None:
        penalty_total = exact(float(shared_penalty))
    check.cost = oversight + model.penalty_cost * penalty_total
    check_budget(model, oversight, check)
    return check


# --- the reference optimum ---------------------------------------------------------------


@dataclass
class Reference:
    """The reference's answer. status: "optimal" (a policy that passed the exact re-check),
    "infeasible" (the LP, or the closed form, says no policy exists), "unsure" (the
    reference found a policy that failed its own exact re-check, or its LP failed) or
    "undecided" (the spec is beyond the reference's methods: it says so rather than guess)."""

    status: str
    cost: Fraction | None = None
    rates: dict[str, float] = field(default_factory=dict)
    penalties: dict[str, float] = field(default_factory=dict)
    shared_penalty: float | None = None
    note: str = ""

    @property
    def cost_float(self) -> float | None:
        return None if self.cost is None else float(self.cost)


def _round_up(value: Fraction) -> float:
    f = float(value)
    if Fraction(f) < value:
        f = math.nextafter(f, math.inf)
    return f


def _to_rate(value: mpmath.mpf, m: Monitor) -> float:
    """A rate from mpmath, rounded to binary64 and clipped into [lo, hi] exactly."""
    x = float(value)
    if x <= 0 < value:
        x = 5e-324
    if exact(x) < m.lo:
        return float(m.lo)
    if exact(x) > m.hi:
        return float(m.hi)
    return x


@dataclass
class _Rows:
    """Rows sum_j a_j x_j >= b in mpmath (before scaling)."""

    coefs: list[list[mpmath.mpf]] = field(default_factory=list)
    rhs: list[mpmath.mpf] = field(default_factory=list)

    def add(self, coefs: list[mpmath.mpf], b: mpmath.mpf) -> None:
        self.coefs.append(coefs)
        self.rhs.append(b)


def _linear_rows(model: Model) -> _Rows | str:
    """The LP's rows in the rates, or a reason string when the spec is plainly infeasible."""
    rows = _Rows()
    n = len(model.monitors)
    lo = [mpf(m.lo) for m in model.monitors]
    hi = [mpf(m.hi) for m in model.monitors]
    f = [mpf(m.false_positive) for m in model.monitors]
    for view, action in ((v, a) for v in views(model) for a in v.deviations):
        t = terms(view, action)
        if model.detection == "exponential":
            if t.d <= 0:
                if t.k > 0:
                    return f"{action.name}: pays and no penalty can hurt (d = 0)"
                continue
            need = t.k / t.d
            if need <= 0:
                continue
            if need >= 1:
                return f"{action.name}: needs P >= {mpmath.nstr(need, 6)} (no finite rate)"
            target = -mpmath.log1p(-need)
            coefs = [
                -mpmath.log1p(-mpf(model.q(action.name, j))) if model.q(action.name, j) else 0
                for j in range(n)
            ]
            rows.add([mpmath.mpf(c) for c in coefs], target)
            continue
        plain = [t.d * mpf(model.q(action.name, j)) - t.d0 * f[j] for j in range(n)]
        # ROC monitors: h_ij(x) is the least of its segments' lines on [0, 1], so
        # "Q x + sum_j h_ij(x_j) >= ..." is one linear row per choice of a segment per monitor
        segments = [
            [
                (j, mpf((yb - ya) / (xb - xa)), mpf(ya - (yb - ya) / (xb - xa) * xa))
                for (xa, ya), (xb, yb) in itertools.pairwise(m.roc[action.name])
            ]
            for j, m in enumerate(model.monitors)
            if action.name in m.roc
        ]
        for choice in itertools.product(*segments):
            a = list(plain)
            b = t.k
            for j, slope, intercept in choice:
                a[j] += t.d * slope
                b -= t.d * intercept
            least = mpmath.fsum(a[j] * (lo[j] if a[j] > 0 else hi[j]) for j in range(n))
            if least < b:  # the row binds somewhere in the box
                rows.add(a, b)
        if t.d > 0:
            # P_i <= 1: d0 f x <= d - k.
            most = mpmath.fsum(t.d0 * f[j] * hi[j] for j in range(n))
            if most > t.d_minus_k:
                rows.add([-t.d0 * f[j] for j in range(n)], -t.d_minus_k)
    return rows


def _first_units(rows: _Rows, hi: list[Fraction]) -> list[mpmath.mpf]:
    """A rate unit per monitor: the largest rate it alone needs to meet one of its rows
    (at most its ceiling); rescaled from the first solution afterwards."""
    unit: list[mpmath.mpf] = []
    for j in range(len(hi)):
        needs = [b / a[j] for a, b in zip(rows.coefs, rows.rhs, strict=True) if a[j] > 0 and b > 0]
        top = mpf(hi[j])
        u = max(needs) if needs else top
        if top > 0:
            u = min(u, top)
        if u <= 0:
            u = mpmath.mpf(1)
        unit.append(u)
    return unit


def _solve_scaled(
    model: Model,
    rows: _Rows,
    lo: list[Fraction],
    hi: list[Fraction],
    tau: float,
    unit: list[mpmath.mpf],
) -> tuple[str, list[float]]:
    """Solve min c x over the rows and box, scaled; ("optimal", rates) or (status, [])."""
    n = len(model.monitors)
    a_rows: list[list[float]] = []
    b_rows: list[float] = []
    for a, b in zip(rows.coefs, rows.rhs, strict=True):
        scaled = [a[j] * unit[j] for j in range(n)]
        # By the right-hand side, unless the coefficients dwarf it (then by them).
        # (A row whose need is far below its monitors' unit reads "x >= ~0" here; the repair
        # in _lp_reference meets it afterwards.)
        norm = max(abs(b), max(abs(v) for v in scaled) * mpmath.mpf(10) ** -9)
        if norm == 0:
            if b > 0:
                return "infeasible", []
            continue
        coefs = [float(v / norm) for v in scaled]
        rhs = float(b / norm)
        # ">=" row as "<=" for linprog, tightened: coefficients against feasibility.
        a_rows.append([-(c - tau * abs(c)) for c in coefs])
        b_rows.append(-(rhs + tau * abs(rhs)))
    cost = [mpf(m.cost) * unit[j] for j, m in enumerate(model.monitors)]
    top_cost = max((abs(c) for c in cost), default=mpmath.mpf(0))
    if model.budget is not None and model.budget > 0:
        budget = mpf(model.budget)
        a_rows.append([float(c / budget) * (1 + tau) for c in cost])
        b_rows.append(1 - tau)
    objective = [float(c / top_cost) if top_cost > 0 else 0.0 for c in cost]
    bounds = []
    for j in range(n):
        low = float(mpf(lo[j]) / unit[j])
        high = float(mpf(hi[j]) / unit[j])
        bounds.append((low, high if math.isfinite(high) else None))
    solution = None
    for presolve in (True, False):  # HiGHS's "unknown" status is usually presolve's
        try:
            solution = linprog(
                np.array(objective),
                A_ub=np.array(a_rows) if a_rows else None,
                b_ub=np.array(b_rows) if a_rows else None,
                bounds=bounds,
                method="highs",
                options={
                    "primal_feasibility_tolerance": 1e-10,
                    "dual_feasibility_tolerance": 1e-10,
                    "presolve": presolve,
                },
            )
        except ValueError as error:  # scipy refuses non-finite data
            return f"error: {error}", []
        if solution.status in (0, 2):
            break
    assert solution is not None
    if solution.status == 2 and "nfeasible" in str(solution.message):
        return "infeasible", []
    if solution.status != 0:
        return f"error: {solution.message}", []
    rates = [
        _to_rate(mpmath.mpf(float(y)) * unit[j], model.monitors[j])
        for j, y in enumerate(solution.x)
    ]
    return "optimal", rates


def _repair(model: Model, rows: _Rows, rates: dict[str, float]) -> dict[str, float]:
    """Meet each violated row by raising the monitor that meets it most cheaply (rounded up):
    the LP's tolerance, and rows whose need is far below their monitors' scale (1e-800 next to
    1e-3), leave such rows short by a hair."""
    xs = [mpf(exact(rates[m.name])) for m in model.monitors]
    out = dict(rates)
    for a, b in zip(rows.coefs, rows.rhs, strict=True):
        short = b - mpmath.fsum(a[j] * xs[j] for j in range(len(xs)))
        if short <= 0:
            continue
        best: tuple[mpmath.mpf, int] | None = None
        for j, m in enumerate(model.monitors):
            if a[j] > 0 and exact(out[m.name]) < m.hi:
                price = mpf(m.cost) / a[j]
                if best is None or price < best[0]:
                    best = (price, j)
        if best is None:
            continue
        j = best[1]
        m = model.monitors[j]
        raised = xs[j] + short / a[j] * (1 + mpmath.mpf(10) ** -12)
        x = float(raised)
        if exact(x) < exact(float(raised)) or x < raised:
            x = math.nextafter(x, math.inf)
        x = min(x, float(m.hi))
        out[m.name] = x
        xs[j] = mpf(exact(x))
    return out


def _lower(
    model: Model,
    rows: _Rows,
    rates: dict[str, float],
    check: Check,
    checker: Callable[[dict[str, float]], Check],
) -> tuple[dict[str, float], Check]:
    """Lower each rate, dearest spend first, to the least its rows allow with the others
    fixed (kept only if the exact re-check still passes): a column whose cost is 1e-18 of
    the largest after scaling is free to HiGHS, which may leave it at its ceiling."""
    order = sorted(
        range(len(model.monitors)),
        key=lambda j: -float(model.monitors[j].cost * exact(rates[model.monitors[j].name])),
    )
    for j in order:
        m = model.monitors[j]
        if m.cost == 0 or exact(rates[m.name]) <= m.lo:
            continue
        xs = [mpf(exact(rates[k.name])) for k in model.monitors]
        least = mpf(m.lo)
        for a, b in zip(rows.coefs, rows.rhs, strict=True):
            if a[j] > 0:
                rest = mpmath.fsum(a[k] * xs[k] for k in range(len(xs)) if k != j)
                least = max(least, (b - rest) / a[j] * (1 + mpmath.mpf(10) ** -12))
        if least >= xs[j]:
            continue
        trial = {**rates, m.name: _to_rate(least, m)}
        if trial[m.name] < m.hi and mpf(exact(trial[m.name])) < least:
            trial[m.name] = math.nextafter(trial[m.name], math.inf)
        again = checker(trial)
        if again.passed and again.cost < check.cost:
            rates, check = trial, again
    return rates, check


def _lp_reference(model: Model) -> Reference:
    if not model.monitors:  # the only policy is the empty one: it deters or nothing does
        check = check_policy(model, {})
        if check.passed:
            return Reference("optimal", cost=check.cost, note="no monitors")
        return Reference("infeasible", note="no monitors: " + "; ".join(check.problems))
    with mpmath.workdps(DPS):
        rows = _linear_rows(model)
        if isinstance(rows, str):
            return Reference("infeasible", note=rows)
        return solve_rows(model, rows, lambda rates: check_policy(model, rates))


def solve_rows(
    model: Model, rows: _Rows, checker: Callable[[dict[str, float]], Check]
) -> Reference:
    """min sum_j c_j x_j over the rows, the rate box and the budget (model's monitors and
    budget; fixed costs are the caller's), solved scaled and tightened; the policy must pass
    ``checker`` (an exact re-check) to count as "optimal"."""
    with mpmath.workdps(DPS):
        lo = [m.lo for m in model.monitors]
        hi = [m.hi for m in model.monitors]
        if model.budget is not None and model.budget == 0:
            # A zero budget: every monitor that costs anything stays at 0.
            for j, m in enumerate(model.monitors):
                if m.cost > 0:
                    if m.lo > 0:
                        return Reference("infeasible", note=f"{m.name}: min_rate costs > 0")
                    hi[j] = Fraction(0)
        last = ""
        rates: dict[str, float] = {}
        for tau in (TAU, 0.0):
            unit = _first_units(rows, hi)
            for _ in range(3):  # solve, rescale the columns by the solution, solve again
                status, xs = _solve_scaled(model, rows, lo, hi, tau, unit)
                if status == "infeasible":
                    last = "LP infeasible"
                    break
                if status != "optimal":
                    return Reference("unsure", note=status)
                rates = {m.name: x for m, x in zip(model.monitors, xs, strict=True)}
                check = checker(rates)
                for _ in range(3):
                    if check.passed:
                        break
                    rates = _repair(model, rows, rates)
                    check = checker(rates)
                if check.passed:
                    rates, check = _lower(model, rows, rates, check, checker)
                    return Reference("optimal", cost=check.cost, rates=rates, note=f"tau={tau}")
                last = "reference policy failed the exact re-check: " + "; ".join(check.problems)
                unit = [mpf(exact(x)) if x > 0 else u for x, u in zip(xs, unit, strict=True)]
            if last != "LP infeasible":
                return Reference("unsure", rates=rates, note=last)
        return Reference("infeasible", note=last)


# --- penalty design -----------------------------------------------------------------------


def _single_monitor_of(model: Model) -> dict[str, list[int]] | None:
    """Monitors by the one action each detects; None if some monitor detects several."""
    by_action: dict[str, list[int]] = {a.name: [] for a in model.deviations}
    for j, m in enumerate(model.monitors):
        detected = [a for a, q in m.detects.items() if q > 0]
        if len(detected) > 1:
            return None
        if detected:
            by_action[detected[0]].append(j)
    return by_action


def _design_reference(model: Model) -> Reference:
    by_action = _single_monitor_of(model)
    if by_action is None or any(len(v) > 1 for v in by_action.values()):
        return Reference("undecided", note="penalty design reference needs one monitor per action")
    a = float(model.penalty_cost)
    rates = {m.name: float(m.lo) for m in model.monitors}
    # floor spend: monitors detecting nothing useful stay at min_rate
    items = []  # (action, j, k, q, c, lo, hi, cap)
    for action in model.deviations:
        k = float(action.gain - model.compliant.gain + model.margin)
        js = by_action[action.name]
        if k <= 0:
            continue
        if not js or model.q(action.name, js[0]) == 0:
            return Reference("infeasible", note=f"{action.name} pays and nothing detects it")
        j = js[0]
        m = model.monitors[j]
        items.append(
            (action, j, k, float(model.q(action.name, j)), float(m.cost), float(m.lo), float(m.hi))
        )
    fixed_spend = sum(
        float(m.cost * m.lo)
        for j, m in enumerate(model.monitors)
        if j not in {it[1] for it in items}
    )
    budget = None if model.budget is None else float(model.budget)
    penalties: dict[str, float] = {d.name: 0.0 for d in model.deviations}
    if model.design == "per_action":

        def choose(lam: float) -> list[float]:
            ps = []
            for action, _j, k, q, c, lo, hi in items:
                low, high = max(q * lo, k / float(action.cap)), q * hi
                star = high  # free monitoring: as much as allowed
                if c > 0:
                    star = math.sqrt(a * k * q / (c * (1 + lam))) if a > 0 else low
                ps.append(min(max(star, low), high))
            return ps

        for action, _j, k, q, _c, lo, hi in items:
            if max(q * lo, k / float(action.cap)) > q * hi:
                return Reference("infeasible", note=f"{action.name}: cap too small")

        def spend(ps: list[float]) -> float:
            return fixed_spend + sum(it[4] * p / it[3] for it, p in zip(items, ps, strict=True))

        ps = choose(0.0)
        if budget is not None:
            budget *= 1 - 1e-12  # room for the rates' rounding up
        if budget is not None and spend(ps) > budget:
            if spend(choose(math.inf if a > 0 else 0.0)) > budget or a == 0:
                low_ps = [max(it[3] * it[5], it[2] / float(it[0].cap)) for it in items]
                if spend(low_ps) > budget:
                    return Reference("infeasible", note="over budget at the least rates")
                ps = low_ps
            else:
                lo_l, hi_l = 0.0, 1.0
                while spend(choose(hi_l)) > budget:
                    hi_l *= 2
                for _ in range(200):
                    mid = (lo_l + hi_l) / 2
                    if spend(choose(mid)) > budget:
                        lo_l = mid
                    else:
                        hi_l = mid
                ps = choose(hi_l)
        for (action, j, _k, q, _c, _lo, _hi), p in zip(items, ps, strict=True):
            m = model.monitors[j]
            x = _round_up(Fraction(p) / exact(q)) if p > 0 else 0.0
            x = min(max(x, float(m.lo)), float(m.hi))
            big_p = exact(q) * exact(x)
            need = action.gain - model.compliant.gain + model.margin
            f_pen = _round_up(need / big_p) if big_p > 0 else math.inf
            if f_pen > action.cap:
                f_pen = float(action.cap)
                x = min(_round_up(need / (exact(q) * action.cap)), float(m.hi))
            rates[m.name] = x
            penalties[action.name] = f_pen
        check = check_policy(model, rates, penalties)
        status = "optimal" if check.passed else "unsure"
        return Reference(
            status,
            cost=check.cost if check.passed else None,
            rates=rates,
            penalties=penalties,
            note="; ".join(check.problems),
        )
    # shared
    top = min(float(d.cap) for d in model.deviations)
    least = max(
        (k / (q * hi) if q * hi > 0 else math.inf for _, _, k, q, _, _, hi in items), default=0.0
    )
    if least > top:
        return Reference("infeasible", note="shared level above the smallest cap needed")

    def spend_at(level: float) -> float:
        return fixed_spend + sum(c * max(lo, k / (q * level)) for _, _, k, q, c, lo, _ in items)

    low = max(least, 1e-300) if items else top
    if budget is not None and items:
        if spend_at(top) > budget:
            return Reference("infeasible", note="over budget even at the largest shared level")
        if spend_at(low) > budget:
            lo_f, hi_f = low, top
            for _ in range(400):
                mid = math.sqrt(lo_f * hi_f) if lo_f > 0 else hi_f / 2
                if spend_at(mid) > budget:
                    lo_f = mid
                else:
                    hi_f = mid
            low = hi_f

    def total(level: float) -> float:
        return spend_at(level) + a * level

    if not items:
        level = 0.0
    else:
        lo_l, hi_l = math.log(low), math.log(max(top, low))
        for _ in range(300):
            m1, m2 = lo_l + (hi_l - lo_l) / 3, hi_l - (hi_l - lo_l) / 3
            if total(math.exp(m1)) <= total(math.exp(m2)):
                hi_l = m2
            else:
                lo_l = m1
        level = min(max(math.exp((lo_l + hi_l) / 2), low), top)
        for cand in (low, top):
            if total(cand) < total(level):
                level = cand
    for _ in range(60):  # rates rounded up at this level; if a ceiling clips one, raise it
        level_f = Fraction(level)
        for action, j, _k, q, _c, lo, _hi in items:
            m = model.monitors[j]
            need = action.gain - model.compliant.gain + model.margin
            x = _round_up(need / (exact(q) * level_f)) if level > 0 else float(m.hi)
            rates[m.name] = min(max(x, lo), float(m.hi))
        for d in model.deviations:
            penalties[d.name] = level
        check = check_policy(model, rates, penalties, shared_penalty=level)
        if check.passed or level >= top:
            break
        level = min(top, math.nextafter(level * (1 + 1e-15), math.inf))
    if not check.passed:
        return Reference("unsure", rates=rates, note="; ".join(check.problems))
    return Reference(
        "optimal",
        cost=check.cost,
        rates=rates,
        penalties=penalties,
        shared_penalty=level,
    )


def reference(model_or_text: Model | str) -> Reference:
    """The reference answer of a spec (see the module docstring for the method)."""
    model = parse(model_or_text) if isinstance(model_or_text, str) else model_or_text
    if model.strategic:
        from tests.support.exact_commitment import commitment_reference

        return commitment_reference(model)
    if model.design != "fixed":
        if model.detection == "exponential" or model.has_roc:
            return Reference("undecided", note="penalty design with exponential or ROC detection")
        return _design_reference(model)
    if (
        model.detection == "exponential"
        and model.ffp > 0
        and any(m.false_positive > 0 for m in model.monitors)
    ):
        from tests.support.exact_exponential import false_flag_reference

        return false_flag_reference(model)
    return _lp_reference(model)


# --- diagnoses -------------------------------------------------------------------------


def diagnosis_contradictions(model: Model, diagnosis: Any) -> list[str]:
    """Fields of an infeasibility diagnosis that no policy could make true (issue 20 item 5):
    an action called deterrable that pays and that nothing can detect (max_detection 0), or
    whose cap is below its gain over complying (caught surely, it still pays: for any risk
    attitude u(g - F) > u(g_0) >= the compliant expected utility)."""
    if not isinstance(diagnosis, Mapping) or model.types:
        return []
    out = []
    g0 = model.compliant.lo
    by_name = {a.name: a for a in model.deviations}
    for entry in diagnosis.get("actions") or []:
        action = by_name.get(entry.get("name"))
        if action is None or not entry.get("deterrable"):
            continue
        if action.hi <= g0:
            continue
        if entry.get("max_detection") == 0:
            out.append(f"{action.name}: deterrable though it pays and max_detection is 0")
        elif model.design == "fixed" and action.hi - action.cap > g0:
            out.append(f"{action.name}: deterrable though its cap is below its gain over complying")
    return out


# --- judging deter's answer --------------------------------------------------------------

# Failure classes, in the order they are reported. Each one is a wrong or untrustworthy
# answer; the reference's own doubts and other remarks are kept apart (NOTE_CLASSES).
FAILURE_CLASSES = (
    "internal_error",  # deter raised (the caller records it)
    "runtime_warning",  # a RuntimeWarning while solving (the caller records it)
    "nonfinite",  # a NaN or infinity somewhere in the JSON of the result
    "inconsistent",  # "optimal" with an action not "deterred", or the reverse
    "wrong_optimal",  # "optimal" but the exact re-check fails by more than ROUNDOFF
    "roundoff_violation",  # "optimal", the exact re-check fails by at most ROUNDOFF
    "cost_misreported",  # total_cost is not the cost of the reported policy (1e-6 rel.)
    "over_cost",  # passes, but costs more than the reference's exactly checked policy
    "wrong_infeasible",  # "infeasible" but the reference has an exactly checked policy
    "solver_error_ref_solves",  # solver_error where the reference has a policy
    "diagnosis_contradiction",  # an infeasibility diagnosis no policy could make true
)
NOTE_CLASSES = (
    "other_warning",  # another warning while solving (cvxpy's "may be inaccurate"), caller
    "ref_unsure",  # the reference could not produce an exactly checked policy
    "ref_undecided",  # the spec is beyond the reference's methods (it does not guess)
    "ref_costlier",  # deter's checked policy is cheaper than the reference's (by 1e-6 rel.)
    "ref_infeasible_deter_checked",  # reference LP infeasible, deter's policy passes exactly
    "solver_error_ref_infeasible",  # solver_error where the reference says infeasible
)


@dataclass
class Verdict:
    deter_status: str
    reference: Reference
    failures: list[tuple[str, str]] = field(default_factory=list)  # (class, one-line reason)
    notes: list[tuple[str, str]] = field(default_factory=list)  # NOTE_CLASSES

    @property
    def ok(self) -> bool:
        return not self.failures


def nonfinite_paths(value: Any, path: str = "") -> list[str]:
    """Dotted paths of every NaN or infinity in a JSON-like document."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path or "."]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in nonfinite_paths(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in nonfinite_paths(v, f"{path}[{i}]")]
    return []


def _ratio(a: Fraction, b: Fraction) -> str:
    """a / b for a message, in exact arithmetic (the ratio can exceed float range)."""
    if not b:
        return "inf"
    ratio = a / b
    try:
        return f"{float(ratio):.6g}"
    except OverflowError:
        return f"1e{len(str(ratio.numerator // ratio.denominator)) - 1}"


def judge(text: str, result: Mapping[str, Any], ref: Reference | None = None) -> Verdict:
    """Judge deter's result (``Result.to_dict()``) for a spec against the reference."""
    model = parse(text)
    ref = reference(model) if ref is None else ref
    status = str(result.get("status"))
    verdict = Verdict(deter_status=status, reference=ref)
    fail = verdict.failures.append
    bad = nonfinite_paths(result)
    if bad:
        fail(("nonfinite", f"non-finite numbers at {', '.join(bad[:4])}"))
    deviations = [a for a in result.get("actions", []) if not a.get("compliant")]
    undeterred = [a["name"] for a in deviations if not a.get("deterred")]
    if status == "optimal" and undeterred and model.objective != "min_loss":
        fail(("inconsistent", f"optimal but deterred = false for {', '.join(undeterred)}"))
    if status == "optimal":
        rates = {m["name"]: m["rate"] for m in result.get("monitors", [])}
        penalties = {a["name"]: a["penalty"] for a in deviations}
        if model.strategic:
            from tests.support.exact_commitment import check_answer

            check, total = check_answer(model, result)
        else:
            check = check_policy(
                model, rates, penalties, shared_penalty=result.get("shared_penalty")
            )
            total = result.get("total_cost")
        if not check.passed:
            kind = "roundoff_violation" if check.worst <= ROUNDOFF else "wrong_optimal"
            fail((kind, "; ".join(check.problems)))
        exact_cost = float(check.cost)
        if not isinstance(total, float | int) or not math.isclose(
            total, exact_cost, rel_tol=1e-6, abs_tol=COST_ATOL
        ):
            fail(("cost_misreported", f"total_cost {total!r}, policy costs {exact_cost!r}"))
        if check.passed and ref.status == "optimal" and ref.cost is not None:
            if check.cost > ref.cost * (1 + Fraction(COST_RTOL)) + Fraction(COST_ATOL):
                fail(
                    (
                        "over_cost",
                        f"cost {exact_cost!r} > reference {float(ref.cost)!r} "
                        # the ratio in exact arithmetic: float(ref.cost) can underflow to 0
                        f"(x{_ratio(check.cost, ref.cost)})",
                    )
                )
            elif check.cost < ref.cost * (1 - Fraction(COST_RTOL)) - Fraction(COST_ATOL):
                verdict.notes.append(
                    ("ref_costlier", f"deter {exact_cost!r} < reference {float(ref.cost)!r}")
                )
        if check.passed and ref.status == "infeasible":
            verdict.notes.append(("ref_infeasible_deter_checked", ref.note[:200]))
    elif status == "infeasible":
        for why in diagnosis_contradictions(model, result.get("diagnosis")):
            fail(("diagnosis_contradiction", why))
        if ref.status == "optimal":
            fail(
                (
                    "wrong_infeasible",
                    f"reference policy {ref.rates} costs {ref.cost_float!r} and passes exactly",
                )
            )
    elif status == "solver_error":
        if ref.status == "optimal":
            message = str(result.get("message", ""))[:160]
            fail(("solver_error_ref_solves", f"reference costs {ref.cost_float!r}; {message}"))
        elif ref.status == "infeasible":
            verdict.notes.append(("solver_error_ref_infeasible", ref.note[:200]))
    if ref.status == "unsure":
        verdict.notes.append(("ref_unsure", ref.note[:200]))
    if ref.status == "undecided":
        verdict.notes.append(("ref_undecided", ref.note[:200]))
    return verdict
