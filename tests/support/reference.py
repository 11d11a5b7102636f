"""Reference problems with known optima, shared by the test files.

Each reference is a small spec written as TOML text together with what its optimum must be,
derived by hand (the derivation is in each docstring). Like cvxpy's own test problems, they
are data: tests solve them and compare, and the expected numbers are computed from the
closed forms here, never copied from a solver's output.

Notation: g_0 the compliant gain, g an action's gain, F its penalty cap, q the detection of
the monitor applied to every episode, c the monitor's cost, x its rate, P = q x the
probability of being caught, f a monitor's false-positive rate, F_fp the false-positive
penalty, m the margin, r the CARA coefficient and u(w) = (1 - exp(-r w)) / r (u(w) = w when
r = 0). The shadow price of an action is d(least oversight cost) / d(its gain).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# --- building spec text ----------------------------------------------------------------


def toml_value(value: Any) -> str:
    """One TOML value: numbers, strings, booleans and inline tables (for ``detects``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        inner = ", ".join(f"{key} = {toml_value(v)}" for key, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def toml_table(entries: Mapping[str, Any]) -> list[str]:
    return [f"{key} = {toml_value(value)}" for key, value in entries.items()]


def spec_text(
    actions: Sequence[Mapping[str, Any]],
    monitors: Sequence[Mapping[str, Any]] = (),
    *,
    agent: Mapping[str, Any] | None = None,
    oversight: Mapping[str, Any] | None = None,
    problem: Mapping[str, Any] | None = None,
    penalty: Mapping[str, Any] | None = None,
    version: Any = None,
    types: Sequence[Mapping[str, Any]] = (),
) -> str:
    """TOML text of a spec: one line per key, so tests can predict the line of any key."""
    lines: list[str] = []
    if version is not None:
        lines.append(f"version = {toml_value(version)}")
    tables = (
        ("problem", problem),
        ("agent", agent),
        ("oversight", oversight),
        ("penalty", penalty),
    )
    for header, table in tables:
        if table is not None:
            lines += ["", f"[{header}]", *toml_table(table)]
    for action in actions:
        lines += ["", "[[actions]]", *toml_table(action)]
    for monitor in monitors:
        lines += ["", "[[monitors]]", *toml_table(monitor)]
    for kind in types:
        lines += ["", "[[types]]", *toml_table(kind)]
    return "\n".join(lines) + "\n"


def spec_data(
    actions: Sequence[Mapping[str, Any]],
    monitors: Sequence[Mapping[str, Any]] = (),
    *,
    agent: Mapping[str, Any] | None = None,
    oversight: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parsed-TOML form of a spec (what ``validate_spec_data`` takes)."""
    data: dict[str, Any] = {
        "actions": [dict(a) for a in actions],
        "monitors": [{**m, "detects": dict(m.get("detects", {}))} for m in monitors],
    }
    if agent is not None:
        data["agent"] = dict(agent)
    if oversight is not None:
        data["oversight"] = dict(oversight)
    return data


# --- closed forms ----------------------------------------------------------------------


def u(wealth: float, r: float) -> float:
    """CARA utility, written out independently of deter's own ``utility``."""
    if r == 0:
        return wealth
    return (1.0 - math.exp(-r * wealth)) / r


def cara_detection(gap: float, cap: float, r: float) -> float:
    """The P with P (u(g) - u(g - F)) = u(g) - u(g_0), g - g_0 = gap.

    Multiplying by exp(r g_0) shifts wealth to g_0 = 0; then
    u(g) - u(g - F) = exp(-r g) (exp(r F) - 1) / r and u(g) = (1 - exp(-r g)) / r, so
    P = (exp(r gap) - 1) / (exp(r F) - 1)    (-> gap / F as r -> 0).
    """
    if r == 0:
        return gap / cap
    return math.expm1(r * gap) / math.expm1(r * cap)


def cara_detection_slope(gap: float, cap: float, r: float) -> float:
    """dP/dg of :func:`cara_detection`: r exp(r gap) / (exp(r F) - 1)."""
    if r == 0:
        return 1.0 / cap
    return r * math.exp(r * gap) / math.expm1(r * cap)


@dataclass(frozen=True)
class Reference:
    """A spec with its hand-derived optimum."""

    name: str
    text: str
    status: str = "optimal"
    rates: Mapping[str, float] = field(default_factory=dict)
    cost: float | None = None
    detection: Mapping[str, float] = field(default_factory=dict)  # P_i of each deviation
    binding: Mapping[str, bool] = field(default_factory=dict)
    shadow_prices: Mapping[str, float] = field(default_factory=dict)
    least_cost: float | None = None  # infeasible over budget: the cost without the budget
    undeterrable: tuple[str, ...] = ()  # infeasible: the actions the diagnosis must name
    note: str = ""


# One action, one monitor (Becker): the action is deterred when q x F >= g - g_0, and the
# cheapest such x is x* = (g - g_0) / (q F); cost c x*; d cost / d g = c / (q F).
G0, G, CAP, Q, C = 0.5, 2.5, 16.0, 0.5, 1.2
ONE_ACTION = Reference(
    name="one_action",
    text=spec_text(
        [{"name": "comply", "gain": G0}, {"name": "cheat", "gain": G, "penalty_cap": CAP}],
        [{"name": "inspector", "cost": C, "detects": {"cheat": Q}}],
    ),
    rates={"inspector": (G - G0) / (Q * CAP)},
    cost=C * (G - G0) / (Q * CAP),
    detection={"cheat": (G - G0) / CAP},
    binding={"cheat": True},
    shadow_prices={"cheat": C / (Q * CAP)},
    note="rate = gain gap / (detection x cap) = 2 / 8",
)

# Two actions sharing one monitor: each needs x >= gap_i / (q_i F_i); the larger need binds.
# a: 3 / (0.6 * 20) = 0.25;  b: 2 / (0.5 * 10) = 0.4  -> x* = 0.4, b binding, a slack.
TWO_ACTIONS = Reference(
    name="two_actions_one_monitor",
    text=spec_text(
        [
            {"name": "honest", "gain": 0.0},
            {"name": "a", "gain": 3.0, "penalty_cap": 20.0},
            {"name": "b", "gain": 2.0, "penalty_cap": 10.0},
        ],
        [{"name": "judge", "cost": 2.0, "detects": {"a": 0.6, "b": 0.5}}],
    ),
    rates={"judge": 0.4},
    cost=0.8,
    detection={"a": 0.24, "b": 0.2},
    binding={"a": False, "b": True},
    shadow_prices={"a": 0.0, "b": 2.0 / (0.5 * 10.0)},
)

# Audit shorthand: each audited action gets a monitor audit:<name> that only detects it.
# x: 4 / (0.8 * 25) = 0.2, cost 3 * 0.2;  y (cap from agent default 10, detection default 1):
# 2 / (1 * 10) = 0.2, cost 1.5 * 0.2.  Shadow prices c / (q F): 3 / 20 and 1.5 / 10.
AUDITS = Reference(
    name="audit_shorthand",
    text=spec_text(
        [
            {"name": "ok", "gain": 0.0},
            {
                "name": "x",
                "gain": 4.0,
                "penalty_cap": 25.0,
                "audit_cost": 3.0,
                "audit_detection": 0.8,
            },
            {"name": "y", "gain": 2.0, "audit_cost": 1.5},
        ],
        agent={"penalty_cap": 10.0},
    ),
    rates={"audit:x": 0.2, "audit:y": 0.2},
    cost=0.6 + 0.3,
    detection={"x": 0.16, "y": 0.2},
    binding={"x": True, "y": True},
    shadow_prices={"x": 3.0 / 20.0, "y": 1.5 / 10.0},
)


def _one_action_with(**extra: Any) -> str:
    """ONE_ACTION's spec with extra tables or monitor keys."""
    monitor = {"name": "inspector", "cost": C, "detects": {"cheat": Q}, **extra.pop("monitor", {})}
    return spec_text(
        [{"name": "comply", "gain": G0}, {"name": "cheat", "gain": G, "penalty_cap": CAP}],
        [monitor],
        **extra,
    )


ONE_ACTION_COST = C * (G - G0) / (Q * CAP)  # 0.3

# A budget only restricts which policies are allowed; the objective is the cost itself, so
# a budget at or above the least cost leaves the optimum unchanged, one below makes it
# infeasible, and the diagnosis reports the least cost without it.
BUDGET_SLACK = Reference(
    name="budget_not_binding",
    text=_one_action_with(oversight={"budget": 1.0}),
    rates=ONE_ACTION.rates,
    cost=ONE_ACTION_COST,
    detection=ONE_ACTION.detection,
    binding={"cheat": True},
    shadow_prices=ONE_ACTION.shadow_prices,
)
BUDGET_EXACT = Reference(
    name="budget_binding",
    text=_one_action_with(oversight={"budget": ONE_ACTION_COST}),
    rates=ONE_ACTION.rates,
    cost=ONE_ACTION_COST,
    detection=ONE_ACTION.detection,
    binding={"cheat": True},
)
BUDGET_SHORT = Reference(
    name="budget_too_small",
    text=_one_action_with(oversight={"budget": 0.25}),
    status="infeasible",
    least_cost=ONE_ACTION_COST,
)

# min_rate above what deterrence needs: x* = min_rate = 0.4 (> 0.25); the incentive row is
# slack, so its shadow price is 0 (a little more gain still costs nothing).
MIN_RATE = Reference(
    name="min_rate_active",
    text=_one_action_with(monitor={"min_rate": 0.4}),
    rates={"inspector": 0.4},
    cost=C * 0.4,
    detection={"cheat": Q * 0.4},
    binding={"cheat": False},
    shadow_prices={"cheat": 0.0},
)

# A cheap monitor capped by max_rate, topped up by a dearer one. Need P = 3 / 10 = 0.3.
# cheap: q 1, cost 1 per unit of P, max_rate 0.1 -> P 0.1; dear: q 0.5, cost 1 -> 2 per unit
# of P, supplies 0.2 at rate 0.4. Cost 0.1 + 0.4; shadow price (1 / F) * 2 = 0.2.
MAX_RATE = Reference(
    name="max_rate_active",
    text=spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "skim", "gain": 3.0, "penalty_cap": 10.0}],
        [
            {"name": "cheap", "cost": 1.0, "max_rate": 0.1, "detects": {"skim": 1.0}},
            {"name": "dear", "cost": 1.0, "detects": {"skim": 0.5}},
        ],
    ),
    rates={"cheap": 0.1, "dear": 0.4},
    cost=0.5,
    detection={"skim": 0.3},
    binding={"skim": True},
    shadow_prices={"skim": 0.2},
)

# Ties go to the principal: with every rate at its ceiling the agent is exactly indifferent
# (q F = 0.75 * 10 = 7.5 = gap, exactly in binary64: 0.6 * 10 would fall 2e-17 short of 6,
# and verification decides ties exactly), and an indifferent agent complies.
TIE_AT_CEILING = Reference(
    name="tie_at_ceiling",
    text=spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "grab", "gain": 7.5, "penalty_cap": 10.0}],
        [{"name": "camera", "cost": 2.0, "detects": {"grab": 0.75}}],
    ),
    rates={"camera": 1.0},
    cost=2.0,
    detection={"grab": 0.75},
    binding={"grab": True},
)


# Certain detection needed (gap = F): q_1 x_1 + q_2 x_2 >= 1. Per unit of detection the first
# monitor costs 1 / 0.8, the second 2 / 0.8: the first runs at its ceiling (P 0.8) and the
# second supplies the remaining 0.2 at rate 0.25. Cost 1 + 0.5. Detection is min(1, Qx) = 1.
CERTAIN_DETECTION = Reference(
    name="certain_detection",
    text=spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "leak", "gain": 10.0, "penalty_cap": 10.0}],
        [
            {"name": "dlp", "cost": 1.0, "detects": {"leak": 0.8}},
            {"name": "human", "cost": 2.0, "detects": {"leak": 0.8}},
        ],
    ),
    rates={"dlp": 1.0, "human": 0.25},
    cost=1.5,
    detection={"leak": 1.0},
    binding={"leak": True},
)

# The compliant action need not come first: agent.compliant names it. Same numbers as
# TWO_ACTIONS with the actions listed in another order.
COMPLIANT_NOT_FIRST = Reference(
    name="compliant_not_first",
    text=spec_text(
        [
            {"name": "b", "gain": 2.0, "penalty_cap": 10.0},
            {"name": "honest", "gain": 0.0},
            {"name": "a", "gain": 3.0, "penalty_cap": 20.0},
        ],
        [{"name": "judge", "cost": 2.0, "detects": {"a": 0.6, "b": 0.5}}],
        agent={"compliant": "honest"},
    ),
    rates=TWO_ACTIONS.rates,
    cost=TWO_ACTIONS.cost,
    detection=TWO_ACTIONS.detection,
    binding=TWO_ACTIONS.binding,
    shadow_prices=TWO_ACTIONS.shadow_prices,
)


def _cara(name: str, r: float, g0: float, g: float, cap: float, q: float, c: float) -> Reference:
    """CARA: P* (u(g) - u(g - F)) = u(g) - u(g_0) gives P* = expm1(r (g - g_0)) / expm1(r F);
    x* = P*/q; shadow price (c / q) dP*/dg = (c / q) r exp(r (g - g_0)) / expm1(r F)."""
    p = cara_detection(g - g0, cap, r)
    return Reference(
        name=name,
        text=spec_text(
            [{"name": "comply", "gain": g0}, {"name": "evade", "gain": g, "penalty_cap": cap}],
            [{"name": "audit", "cost": c, "detects": {"evade": q}}],
            agent={"risk_aversion": r},
        ),
        rates={"audit": p / q},
        cost=c * p / q,
        detection={"evade": p},
        binding={"evade": True},
        shadow_prices={"evade": c / q * cara_detection_slope(g - g0, cap, r)},
    )


# r = 0.5, gap 2, F 6: P* = (e - 1) / (e^3 - 1) = 0.0900, well below the neutral 2 / 6.
CARA_AVERSE = _cara("cara_risk_averse", r=0.5, g0=0.0, g=2.0, cap=6.0, q=0.8, c=1.0)
# The compliant gain shifts wealth but, for CARA, not the answer: only the gap matters.
CARA_SHIFTED = _cara("cara_shifted_wealth", r=0.3, g0=1.0, g=3.0, cap=8.0, q=0.5, c=2.0)
# r < 0, risk seeking: penalties deter less, P* = expm1(-0.2 * 2) / expm1(-0.2 * 6) = 0.4739.
CARA_SEEKING = _cara("cara_risk_seeking", r=-0.2, g0=0.0, g=2.0, cap=6.0, q=1.0, c=1.0)


def _false_positive_ref(r: float) -> Reference:
    """One monitor that also flags a compliant agent (rate f, penalty F_fp).

    IC: d P - d_0 P_0 >= k with P = q x, P_0 = f x, d = u(g) - u(g - F), d_0 = u(g_0) -
    u(g_0 - F_fp), k = u(g) - u(g_0); so x* = k / (q d - f d_0) (needs q d > f d_0).
    Risk neutral: x* = gap / (q F - f F_fp). Shadow price: c dx*/dg =
    c (u'(g) - x* q (u'(g) - u'(g - F))) / (q d - f d_0), i.e. c / (q F - f F_fp) when r = 0.
    """
    g0, g, cap, q, f, ffp, c = 0.0, 3.0, 20.0, 0.6, 0.1, 6.0, 1.5
    d = u(g, r) - u(g - cap, r)
    d0 = u(g0, r) - u(g0 - ffp, r)
    k = u(g, r) - u(g0, r)
    x = k / (q * d - f * d0)

    def du(w: float) -> float:
        return math.exp(-r * w)

    slope = (du(g) - x * q * (du(g) - du(g - cap))) / (q * d - f * d0)
    return Reference(
        name=f"false_positive_penalty_r{r:g}",
        text=spec_text(
            [{"name": "comply", "gain": g0}, {"name": "cheat", "gain": g, "penalty_cap": cap}],
            [{"name": "judge", "cost": c, "false_positive": f, "detects": {"cheat": q}}],
            agent={"risk_aversion": r, "false_positive_penalty": ffp},
        ),
        rates={"judge": x},
        cost=c * x,
        detection={"cheat": q * x},
        binding={"cheat": True},
        shadow_prices={"cheat": c * slope},
    )


# Risk neutral: x* = 3 / (0.6 * 20 - 0.1 * 6) = 3 / 11.4.
FALSE_POSITIVES = _false_positive_ref(0.0)
FALSE_POSITIVES_CARA = _false_positive_ref(0.25)

# False positives without a false-positive penalty cost the compliant agent nothing.
FALSE_POSITIVES_FREE = Reference(
    name="false_positive_no_penalty",
    text=_one_action_with(monitor={"false_positive": 0.3}),
    rates=ONE_ACTION.rates,
    cost=ONE_ACTION_COST,
    detection=ONE_ACTION.detection,
    binding={"cheat": True},
    shadow_prices=ONE_ACTION.shadow_prices,
)

# Margin m: compliance must win by m, so q x F >= gap + m: x* = (2 + 0.5) / (0.5 * 10) = 0.5;
# the margin does not change d x*/d g = 1 / (q F).
MARGIN = Reference(
    name="margin",
    text=spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "shirk", "gain": 2.0}],
        [{"name": "review", "cost": 3.0, "detects": {"shirk": 0.5}}],
        agent={"penalty_cap": 10.0, "margin": 0.5},
    ),
    rates={"review": 0.5},
    cost=1.5,
    detection={"shirk": 0.25},
    binding={"shirk": True},
    shadow_prices={"shirk": 3.0 / 5.0},
)


def _cara_margin() -> Reference:
    """CARA with a margin, in utility units of absolute wealth (g_0 = 1 != 0):
    P* = (u(g) - u(g_0) + m) / (u(g) - u(g - F))."""
    r, g0, g, cap, m, q, c = 0.4, 1.0, 2.5, 5.0, 0.05, 0.9, 1.0
    p = (u(g, r) - u(g0, r) + m) / (u(g, r) - u(g - cap, r))
    return Reference(
        name="cara_margin",
        text=spec_text(
            [{"name": "comply", "gain": g0}, {"name": "slack", "gain": g, "penalty_cap": cap}],
            [{"name": "audit", "cost": c, "detects": {"slack": q}}],
            agent={"risk_aversion": r, "margin": m},
        ),
        rates={"audit": p / q},
        cost=c * p / q,
        detection={"slack": p},
        binding={"slack": True},
    )


CARA_MARGIN = _cara_margin()

# An action that pays less than complying needs no oversight at all, even when undetectable.
UNPROFITABLE = Reference(
    name="unprofitable_undetectable",
    text=spec_text(
        [{"name": "work", "gain": 1.0}, {"name": "nap", "gain": 0.5, "penalty_cap": 1.0}],
        [{"name": "manager", "cost": 4.0, "detects": {}}],
    ),
    rates={"manager": 0.0},
    cost=0.0,
    detection={"nap": 0.0},
    binding={"nap": False},
    shadow_prices={"nap": 0.0},
)

# --- infeasible ------------------------------------------------------------------------

# A profitable action no monitor can see cannot be deterred; the diagnosis must name it.
UNDETECTABLE = Reference(
    name="undetectable",
    text=spec_text(
        [
            {"name": "comply", "gain": 0.0},
            {"name": "seen", "gain": 1.0},
            {"name": "hidden", "gain": 2.0},
        ],
        [{"name": "log_review", "cost": 1.0, "detects": {"seen": 0.5}}],
        agent={"penalty_cap": 10.0},
    ),
    status="infeasible",
    undeterrable=("hidden",),
)

# The cap is too small: at the ceiling P = 0.5, expected penalty 0.5 * 4 = 2 < gap 5.
# A cap of gap / P = 10 deters it (exactly, at the ceiling).
CAP_TOO_SMALL = Reference(
    name="cap_too_small",
    text=spec_text(
        [{"name": "comply", "gain": 0.0}, {"name": "steal", "gain": 5.0, "penalty_cap": 4.0}],
        [{"name": "guard", "cost": 1.0, "detects": {"steal": 0.5}}],
    ),
    status="infeasible",
    undeterrable=("steal",),
)

OPTIMAL_REFERENCES: tuple[Reference, ...] = (
    ONE_ACTION,
    TWO_ACTIONS,
    AUDITS,
    BUDGET_SLACK,
    BUDGET_EXACT,
    MIN_RATE,
    MAX_RATE,
    TIE_AT_CEILING,
    CERTAIN_DETECTION,
    COMPLIANT_NOT_FIRST,
    CARA_AVERSE,
    CARA_SHIFTED,
    CARA_SEEKING,
    FALSE_POSITIVES,
    FALSE_POSITIVES_CARA,
    FALSE_POSITIVES_FREE,
    MARGIN,
    CARA_MARGIN,
    UNPROFITABLE,
)
INFEASIBLE_REFERENCES: tuple[Reference, ...] = (BUDGET_SHORT, UNDETECTABLE, CAP_TOO_SMALL)
ALL_REFERENCES = OPTIMAL_REFERENCES + INFEASIBLE_REFERENCES
