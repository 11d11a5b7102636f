"""Seeded random specs over the whole spec vocabulary (issue 20 item 7, issue 24 item 6).

One generator shared by the tests, ``bench/`` and ``bench/reliability.py``. It writes specs
that use every key of docs/spec-format.md (``tests/test_vocabulary.py`` fails when a key
the spec model defines is never written), in the shapes users write: a compliant action that
is not listed first, non-paying actions, duplicated monitors, specs with no monitors,
per-action caps and audits, margins, rate floors and ceilings, risk-averse and risk-seeking
agents, budgets that bind or sit on a knife edge, exact ties, exponential detection with and
without false flags, ROC monitors, penalty design, harms and ``min_loss``, agent types,
interval gains, fixed costs and a strategic auditor, with a controllable share of
infeasible specs.

API
---

``generate(family, seed, infeasible=None) -> Case``
    One spec. The same (family, seed, infeasible) gives the same text on every machine
    (numpy's PCG64 seeded with the family's CRC-32, the seed and the flag; numbers written
    with ``repr``). ``infeasible=True``: the spec is made infeasible by a construction that
    proves it (``Case.expected == "infeasible"``, ``Case.how`` says which); ``False``: the
    spec is made feasible, witnessed by a policy checked with slack in floats
    (``expected == "optimal"``; an answer of ``solver_error`` is then never right);
    ``None``: the family's natural draw, ``expected`` is set only when the construction
    knows it.

``mix(n, seed=0, infeasible=0.2, families=None) -> list[Case]``
    n specs, families taken in turn from ``families`` (names of :data:`FAMILIES` or of
    :data:`GROUPS`; default every family), exactly ``round(n * infeasible)`` of them made
    infeasible (at random positions) and the others made feasible. Case k has seed
    ``seed * 1_000_000 + k``, so ``generate(case.family, case.seed, case.infeasible)``
    rebuilds it. This is the mix the batch benchmarks use (0, 5, 20 and 50 % infeasible).

``cases(family, count, start=0, infeasible=None) -> list[Case]``
    ``generate`` over seeds ``start .. start + count - 1`` (``start`` far from 0 for
    held-out runs).

``Case``: ``family``, ``seed``, ``text`` (TOML, ready for ``deter.loads``), ``expected``
(``"optimal"``, ``"infeasible"`` or ``None`` when not known), ``infeasible`` (the flag it
was generated with), ``how`` (the construction, for reports), ``label``
(``"family-seed"``).

Families (:data:`FAMILIES`) and groups (:data:`GROUPS`):

* ``linear``: risk neutral, 1-4 deviations and 0-4 monitors, every core key (margins, rate
  bounds, per-action caps and audits, false positives with a penalty, budgets, a compliant
  action listed later, non-paying actions, duplicated monitors, [problem], [requirements]);
* ``cara_averse`` / ``cara_seeking``: the same with r > 0 / r < 0, |r| x the gains up to
  tens; ``risk_seeking_limit``: |r| x the largest gain over complying near and beyond the
  old limit of 700 (natural draws up to 1,400, refused at load beyond 700 until issue 20
  item 6 moved the limit to 1e6; with a set outcome, up to 650); ``beyond_limits``: the
  untyped and strategic shapes from 700 to 100,000;
* ``no_monitors``: no ``[[monitors]]`` (sometimes audits, sometimes nothing pays);
* ``degenerate``: every action non-paying, zero costs, zero caps, fixed rates
  (min_rate = max_rate), a zero budget, zero detection entries, duplicated monitors;
* ``ties``: dyadic numbers whose least policy sits exactly at a rate ceiling, a budget equal
  to the least cost, a deviation whose gain equals the compliant gain;
* ``budget``: a budget at the least cost (exactly, from tests/support/exact_reference.py),
  just above or just below it (binding and knife-edge budgets);
* ``exponential``: ``detection = "exponential"`` without a false-positive penalty;
  ``exponential_fp``: with false flags and a penalty for them, 1-2 monitors (issue 20's
  wrong answers);
* ``roc``: monitors described by ROC curves next to plain ones;
* ``penalty_design``: ``[penalty] design`` per_action or shared, with a cost, sometimes
  monitors detecting several actions, exponential or ROC detection;
* ``min_loss``: harms and ``objective = "min_loss"`` (with budgets, fixed costs);
* ``types``: ``[[types]]`` with weights, gain and risk-aversion overrides, either objective;
* ``interval``: interval gains ``[low, high]``;
* ``fixed_cost``: monitors with ``fixed_cost`` (a MILP), budgets;
* ``auditor``: ``[auditor]`` (the inspection game), sometimes a target offence rate.

Groups: ``strategic`` (min_loss, types, interval, fixed_cost, auditor), ``exponential``
(exponential, exponential_fp), ``cara`` (cara_averse, cara_seeking, risk_seeking_limit),
``degenerate`` (no_monitors, degenerate, ties), ``core`` (linear, budget), ``roc``,
``penalty_design``.

Infeasibility constructions (``Case.how``): ``undetected`` (a paying action no monitor or
audit detects: no policy deters it, for any risk attitude, under ``deter_all``);
``cap_below_gain`` (a paying action whose cap is below its gain over complying: caught
surely it still pays); ``floors_over_budget`` (the rate floors and their fixed costs cost
more than the budget: no policy at all, under either objective); ``below_least_cost``
(``budget`` family: a budget 1e-6..1e-2 below the reference's least cost).
The older magnitude families (tests/support/magnitudes.py) stay as they are.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.support.reference import toml_table

FAMILIES = (
    "linear",
    "cara_averse",
    "cara_seeking",
    "risk_seeking_limit",
    "no_monitors",
    "degenerate",
    "ties",
    "budget",
    "exponential",
    "exponential_fp",
    "roc",
    "penalty_design",
    "min_loss",
    "types",
    "interval",
    "fixed_cost",
    "auditor",
    "learner",
)

GROUPS: dict[str, tuple[str, ...]] = {
    "strategic": ("min_loss", "types", "interval", "fixed_cost", "auditor"),
    "exponential": ("exponential", "exponential_fp"),
    "cara": ("cara_averse", "cara_seeking", "risk_seeking_limit"),
    "degenerate": ("no_monitors", "degenerate", "ties"),
    "core": ("linear", "budget", "learner"),
    "roc": ("roc",),
    "penalty_design": ("penalty_design",),
}

# Families with no infeasibility construction (none today; mix() skips them for its
# infeasible share).
NEVER_INFEASIBLE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Case:
    family: str
    seed: int
    text: str
    expected: str | None = None  # "optimal", "infeasible" or None (not known)
    infeasible: bool | None = None  # the flag the case was generated with
    how: str = ""  # the construction behind ``expected``

    @property
    def label(self) -> str:
        return f"{self.family}-{self.seed}"


def expand(families: Iterable[str] | None) -> list[str]:
    """Family names, with group names expanded, in order, without repeats."""
    if not families:
        return list(FAMILIES)
    out: list[str] = []
    for name in families:
        members = GROUPS.get(name, (name,))
        for member in members:
            if member not in FAMILIES:
                raise ValueError(
                    f"unknown family {member!r}; one of {', '.join(FAMILIES + tuple(GROUPS))}"
                )
            if member not in out:
                out.append(member)
    return out


# --- numbers ----------------------------------------------------------------------------

Rng = np.random.Generator


def sig(value: float, digits: int = 6) -> float:
    """A short decimal (as a user writes it), keeping the magnitude."""
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def _uniform(rng: Rng, low: float, high: float) -> float:
    return sig(float(rng.uniform(low, high)))


def _log_uniform(rng: Rng, low: float, high: float) -> float:
    return sig(math.exp(float(rng.uniform(math.log(low), math.log(high)))))


def _chance(rng: Rng, p: float) -> bool:
    return bool(rng.random() < p)


def _int(rng: Rng, low: int, high: int) -> int:
    """An integer in [low, high]."""
    return int(rng.integers(low, high + 1))


def _gain_high(gain: Any) -> float:
    return float(gain[1]) if isinstance(gain, list) else float(gain)


def _gain_low(gain: Any) -> float:
    return float(gain[0]) if isinstance(gain, list) else float(gain)


# --- building blocks ----------------------------------------------------------------------


@dataclass
class _Draw:
    """A spec under construction (TOML tables as dicts) and what is known of its outcome."""

    data: dict[str, Any]
    expected: str | None = None
    how: str = ""

    @property
    def actions(self) -> list[dict[str, Any]]:
        return self.data["actions"]

    @property
    def monitors(self) -> list[dict[str, Any]]:
        return self.data.setdefault("monitors", [])

    @property
    def agent(self) -> dict[str, Any]:
        return self.data.setdefault("agent", {})

    @property
    def oversight(self) -> dict[str, Any]:
        return self.data.setdefault("oversight", {})

    def compliant(self) -> dict[str, Any]:
        name = self.agent.get("compliant", self.actions[0]["name"])
        return next(a for a in self.actions if a["name"] == name)

    def deviations(self) -> list[dict[str, Any]]:
        name = self.compliant()["name"]
        return [a for a in self.actions if a["name"] != name]

    def cap(self, action: dict[str, Any]) -> float:
        """The penalty a caught action can be given (under a shared design: the smallest cap)."""
        if self.data.get("penalty", {}).get("design") == "shared":
            return min(self.own_cap(a) for a in self.deviations())
        return self.own_cap(action)

    def own_cap(self, action: dict[str, Any]) -> float:
        return float(action.get("penalty_cap", self.agent.get("penalty_cap", 0.0)))


def _core(
    rng: Rng,
    *,
    scale: float = 1.0,
    deviations: tuple[int, int] = (1, 4),
    monitors: tuple[int, int] = (1, 4),
    false_flags: bool = True,
    probability_below_one: bool = False,
) -> _Draw:
    """A spec using the core keys: gains around g_0 (some below it), caps per action or from
    [agent], audits, rate bounds, false positives with a penalty, margins, budgets."""
    top = 0.999 if probability_below_one else 1.0
    n_dev = _int(rng, *deviations)
    n_mon = _int(rng, *monitors)
    g0 = sig(float(rng.uniform(-1.0, 2.0)) * scale)
    agent: dict[str, Any] = {}
    if _chance(rng, 0.5):
        agent["penalty_cap"] = sig(float(rng.uniform(5.0, 40.0)) * scale)
    actions: list[dict[str, Any]] = [{"name": "comply", "gain": g0}]
    for i in range(n_dev):
        # a non-paying action now and then (gain below g_0), mostly paying ones
        gap = float(rng.uniform(-2.0, -0.01)) if _chance(rng, 0.15) else float(rng.uniform(0, 5))
        action: dict[str, Any] = {"name": f"a{i}", "gain": sig(g0 + gap * scale)}
        if "penalty_cap" not in agent or _chance(rng, 0.4):
            action["penalty_cap"] = sig(float(rng.uniform(1.0, 40.0)) * scale)
        if _chance(rng, 0.25):
            action["audit_cost"] = _uniform(rng, 0.2, 8.0)
            if _chance(rng, 0.8) or probability_below_one:
                action["audit_detection"] = min(_uniform(rng, 0.3, 1.0), top)
        actions.append(action)
    draw = _Draw({"actions": actions, "agent": agent})
    names = [a["name"] for a in actions[1:]]
    for j in range(n_mon):
        detects = {n: min(_uniform(rng, 0.05, 1.0), top) for n in names if _chance(rng, 0.7)}
        monitor: dict[str, Any] = {"name": f"m{j}", "cost": _uniform(rng, 0.05, 6.0)}
        if detects or _chance(rng, 0.5):
            monitor["detects"] = detects
        if _chance(rng, 0.25):
            monitor["max_rate"] = _uniform(rng, 0.3, 1.0)
        if _chance(rng, 0.2):
            monitor["min_rate"] = sig(float(rng.uniform(0.0, 0.2)) * monitor.get("max_rate", 1))
        if false_flags and _chance(rng, 0.35):
            monitor["false_positive"] = min(_uniform(rng, 0.001, 0.3), top)
        draw.monitors.append(monitor)
    cap_false_flags(draw.monitors)
    if false_flags and _chance(rng, 0.4):
        agent["false_positive_penalty"] = sig(float(rng.uniform(0.0, 8.0)) * scale)
    if _chance(rng, 0.3):
        agent["margin"] = sig(float(rng.uniform(0.0, 0.5)) * scale)
    if _chance(rng, 0.3):
        draw.oversight["budget"] = _uniform(rng, 0.1, 5.0)
    return draw


def cap_false_flags(monitors: list[dict[str, Any]]) -> None:
    """Keep sum_j f_j max_rate_j <= 1 (the linear model does not cap P_0)."""
    total = sum(m.get("false_positive", 0.0) * m.get("max_rate", 1.0) for m in monitors)
    if total > 1.0:
        for m in monitors:
            if "false_positive" in m:
                m["false_positive"] = sig(m["false_positive"] / total * 0.999, 5)


def _dress(rng: Rng, draw: _Draw, *, twins: bool = True) -> None:
    """The shapes users write that change nothing or little: a compliant action listed later,
    a duplicated monitor, [problem], [requirements], ``version``."""
    actions = draw.actions
    if _chance(rng, 0.3) and len(actions) > 2:
        compliant = actions[0]
        draw.agent["compliant"] = compliant["name"]
        actions.remove(compliant)
        actions.insert(_int(rng, 1, len(actions)), compliant)
    if twins and draw.monitors and _chance(rng, 0.12):
        twin = dict(draw.monitors[_int(rng, 0, len(draw.monitors) - 1)])
        taken = {m["name"] for m in draw.monitors}
        twin["name"] = f"{twin['name']}_twin"
        while twin["name"] in taken:
            twin["name"] += "_2"
        draw.monitors.append(twin)
    if _chance(rng, 0.2):
        problem: dict[str, Any] = {"name": f"generated-{_int(rng, 0, 9999)}"}
        if _chance(rng, 0.5):
            problem["description"] = "a generated spec"
        if _chance(rng, 0.5):
            problem["currency"] = str(rng.choice(["USD", "kUSD", "compute-units"]))
        draw.data["problem"] = problem
    if _chance(rng, 0.1):
        requirements: dict[str, Any] = {"max_cost": _uniform(rng, 0.5, 10.0)}
        if _chance(rng, 0.5):
            requirements["min_margin"] = _uniform(rng, 0.0, 0.2)
        if _chance(rng, 0.5):
            requirements["deter_all"] = _chance(rng, 0.5)
        if draw.monitors and _chance(rng, 0.5):
            requirements["max_rate"] = {draw.monitors[0]["name"]: _uniform(rng, 0.1, 1.0)}
        draw.data["requirements"] = requirements
    if _chance(rng, 0.5):
        draw.data["version"] = 1


# --- families -----------------------------------------------------------------------------


def _linear(rng: Rng) -> _Draw:
    return _core(rng, monitors=(0, 4) if _chance(rng, 0.1) else (1, 4))


def _cara(rng: Rng, sign: int) -> _Draw:
    r = _log_uniform(rng, 0.01, 3.0 if sign > 0 else 2.0)
    # money scaled so that |r| times gaps and caps reaches about 0.1..40
    scale = _log_uniform(rng, 0.1, 40.0) / r / 20.0
    draw = _core(rng, scale=scale)
    draw.agent["risk_aversion"] = sig(sign * r)
    if "margin" in draw.agent:  # utility units: at most about 1 / |r|
        draw.agent["margin"] = sig(float(rng.uniform(0.0, 0.3)) / r)
    return draw


def _risk_seeking_limit(rng: Rng, top: float = 1400.0, low: float = 100.0) -> _Draw:
    """|r| x the largest gain over complying from ``low`` to ``top`` (700 was the old limit)."""
    draw = _core(rng, deviations=(1, 3), monitors=(1, 3))
    g0 = float(draw.compliant()["gain"])
    spread = max(max(_gain_high(a["gain"]) for a in draw.actions) - g0, 0.5)
    exponent = _log_uniform(rng, low, top)
    r = min(exponent / spread, 900.0)
    draw.agent["risk_aversion"] = -sig(r)
    draw.agent.pop("margin", None)
    if "false_positive_penalty" in draw.agent:
        draw.agent["false_positive_penalty"] = sig(float(rng.uniform(0.0, 2.0)) / r)
    return draw


def _no_monitors(rng: Rng) -> _Draw:
    draw = _core(rng, monitors=(0, 0), deviations=(1, 3))
    draw.data.pop("monitors", None)
    if _chance(rng, 0.4):  # nothing pays: the empty policy is optimal
        g0 = float(draw.compliant()["gain"])
        for a in draw.deviations():
            a["gain"] = sig(g0 - float(rng.uniform(0.01, 3.0)))
        draw.agent.pop("margin", None)
    return draw


def _degenerate(rng: Rng) -> _Draw:
    draw = _core(rng)
    g0 = float(draw.compliant()["gain"])
    kind = int(rng.integers(0, 5))
    if kind == 0:  # every action non-paying
        for a in draw.deviations():
            a["gain"] = sig(g0 - _log_uniform(rng, 1e-3, 10.0))
        draw.agent.pop("margin", None)
    elif kind == 1:  # free monitors and zero caps
        for m in draw.monitors:
            if _chance(rng, 0.6):
                m["cost"] = 0.0
        for a in draw.deviations():
            if _chance(rng, 0.3):
                a["penalty_cap"] = 0.0
    elif kind == 2:  # fixed rates
        for m in draw.monitors:
            if _chance(rng, 0.6):
                m["min_rate"] = m["max_rate"] = _uniform(rng, 0.0, 1.0)
    elif kind == 3:  # a zero budget; detection entries of 0
        draw.oversight["budget"] = 0.0
        for m in draw.monitors:
            for name in m.get("detects", {}):
                if _chance(rng, 0.4):
                    m["detects"][name] = 0.0
    else:  # every monitor twice, a gain equal to g_0
        draw.data["monitors"] = [
            *draw.monitors,
            *({**m, "name": f"{m['name']}_twin"} for m in draw.monitors),
        ]
        draw.deviations()[0]["gain"] = g0
    return draw


def _ties(rng: Rng) -> _Draw:
    """Exact knife edges in dyadic numbers (every product below is exact in binary64)."""
    q = 2.0 ** -_int(rng, 0, 3)
    cap = 2.0 ** _int(rng, 1, 5)
    hi = 2.0 ** -_int(rng, 0, 2)
    cost = 2.0 ** _int(rng, -2, 2)
    gap = q * cap * hi  # needs the monitor exactly at its ceiling
    actions: list[dict[str, Any]] = [
        {"name": "comply", "gain": 0.0},
        {"name": "edge", "gain": gap, "penalty_cap": cap},
        {"name": "level", "gain": 0.0, "penalty_cap": cap},  # ties with compliance
    ]
    monitor: dict[str, Any] = {"name": "m", "cost": cost, "detects": {"edge": q}}
    if hi < 1:
        monitor["max_rate"] = hi
    draw = _Draw({"actions": actions, "monitors": [monitor], "agent": {}})
    if _chance(rng, 0.5):
        draw.oversight["budget"] = cost * hi  # exactly the least cost
    if _chance(rng, 0.3):
        draw.monitors.append({**monitor, "name": "m_twin"})
    draw.expected, draw.how = "optimal", "tie at the ceiling"
    return draw


def _exponential(rng: Rng) -> _Draw:
    draw = _core(rng, false_flags=False, probability_below_one=True)
    for m in draw.monitors:
        if _chance(rng, 0.3):
            m["false_positive"] = _uniform(rng, 0.001, 0.3)  # flags without a penalty
    if _chance(rng, 0.3):
        draw.agent["risk_aversion"] = _uniform(rng, -0.5, 1.0)
        draw.agent.pop("margin", None)
    draw.oversight["detection"] = "exponential"
    return draw


def _exponential_fp(rng: Rng) -> _Draw:
    draw = _core(
        rng, deviations=(1, 2), monitors=(1, 2), false_flags=False, probability_below_one=True
    )
    # at most two monitors in all (audits count), every plain one flags compliant episodes
    for a in draw.deviations()[int(len(draw.monitors) >= 2) :]:
        a.pop("audit_cost", None)
        a.pop("audit_detection", None)
    if len(draw.monitors) + sum("audit_cost" in a for a in draw.actions) > 2:
        draw.data["monitors"] = draw.monitors[:1]
    for m in draw.monitors:
        m["false_positive"] = _uniform(rng, 0.01, 0.9)
    draw.agent["false_positive_penalty"] = _uniform(rng, 0.1, 5.0)
    if _chance(rng, 0.3):
        draw.agent["risk_aversion"] = _uniform(rng, -0.3, 0.5)
        draw.agent.pop("margin", None)
    draw.oversight["detection"] = "exponential"
    return draw


def _roc_curve(rng: Rng) -> list[list[float]]:
    n = _int(rng, 1, 4)
    fprs = sorted(_uniform(rng, 0.0, 0.6) for _ in range(n))
    tprs = sorted(_uniform(rng, 0.1, 1.0) for _ in range(n))
    points = [[f, t] for f, t in zip(fprs, tprs, strict=True)]
    points.append([1.0, 1.0])
    order = rng.permutation(len(points))  # points in any order
    return [points[int(k)] for k in order]


def _roc(rng: Rng) -> _Draw:
    draw = _core(rng)
    names = [a["name"] for a in draw.deviations()]
    for j in range(_int(rng, 1, 2)):
        roc = {n: _roc_curve(rng) for n in names if _chance(rng, 0.7)} or {
            names[0]: _roc_curve(rng)
        }
        monitor: dict[str, Any] = {"name": f"roc{j}", "cost": _uniform(rng, 0.5, 20.0), "roc": roc}
        if _chance(rng, 0.2):
            monitor["max_rate"] = _uniform(rng, 0.2, 1.0)
        draw.monitors.append(monitor)
    return draw


def _penalty_design(rng: Rng) -> _Draw:
    draw = _core(rng, false_flags=False)
    draw.agent.pop("risk_aversion", None)
    draw.agent.pop("false_positive_penalty", None)
    if _chance(rng, 0.6):
        # one instrument per action (an audit or a monitor of its own): the shape whose least
        # cost the reference has in closed form (tests/support/exact_reference.py)
        draw.data["monitors"] = []
        for i, a in enumerate(draw.deviations()):
            a.pop("audit_cost", None)
            a.pop("audit_detection", None)
            if _chance(rng, 0.4):
                a["audit_cost"] = _log_uniform(rng, 1e-2, 1e2)
                a["audit_detection"] = _uniform(rng, 0.1, 1.0)
                continue
            monitor: dict[str, Any] = {
                "name": f"m{i}",
                "cost": _log_uniform(rng, 1e-2, 1e2),
                "detects": {a["name"]: _uniform(rng, 0.05, 1.0)},
            }
            if _chance(rng, 0.25):
                monitor["max_rate"] = _uniform(rng, 0.3, 1.0)
            if _chance(rng, 0.15):
                monitor["min_rate"] = _uniform(rng, 0.0, 0.05)
            draw.monitors.append(monitor)
    penalty: dict[str, Any] = {"design": str(rng.choice(["per_action", "shared", "fixed"]))}
    if penalty["design"] != "fixed" and _chance(rng, 0.85):
        penalty["cost"] = _log_uniform(rng, 1e-4, 1.0)
    draw.data["penalty"] = penalty
    kind = rng.random()
    if kind < 0.15:
        draw.oversight["detection"] = "exponential"
        for m in draw.monitors:
            m["detects"] = {k: min(v, 0.999) for k, v in m.get("detects", {}).items()}
            if "false_positive" in m:
                m["false_positive"] = min(m["false_positive"], 0.999)
        for a in draw.deviations():
            if "audit_cost" in a:
                a["audit_detection"] = min(a.get("audit_detection", 0.999), 0.999)
    elif kind < 0.3:
        draw.monitors.append(
            {
                "name": "roc",
                "cost": _uniform(rng, 0.5, 10.0),
                "roc": {draw.deviations()[0]["name"]: _roc_curve(rng)},
            }
        )
    return draw


def _harms(rng: Rng, draw: _Draw) -> None:
    for a in draw.actions:
        if _chance(rng, 0.7):
            a["harm"] = _uniform(rng, 0.0, 6.0)
    if draw.compliant().get("harm") and _chance(rng, 0.7):
        draw.compliant().pop("harm")


def _small_strategic(rng: Rng) -> _Draw:
    """Strategic programs are enumerated by the reference: at most 3 deviations, 3 monitors."""
    return _core(rng, deviations=(1, 3), monitors=(1, 3))


def _min_loss(rng: Rng) -> _Draw:
    draw = _small_strategic(rng)
    _harms(rng, draw)
    draw.oversight["objective"] = "min_loss"
    if _chance(rng, 0.3):
        for m in draw.monitors:
            if _chance(rng, 0.5):
                m["fixed_cost"] = _uniform(rng, 0.05, 2.0)
    if _chance(rng, 0.2):
        draw.agent["risk_aversion"] = _uniform(rng, -0.3, 0.6)
        draw.agent.pop("margin", None)
    return draw


def _types(rng: Rng) -> _Draw:
    draw = _small_strategic(rng)
    _harms(rng, draw)
    if _chance(rng, 0.5):
        draw.oversight["objective"] = "min_loss"
    n = _int(rng, 2, 3)
    raw = [float(rng.uniform(0.1, 1.0)) for _ in range(n)]
    weights = [sig(w / sum(raw), 4) for w in raw[:-1]]
    weights.append(1.0 - math.fsum(weights))  # within 1e-9 of 1 in sum
    names = [a["name"] for a in draw.actions]
    types: list[dict[str, Any]] = []
    for k, w in enumerate(weights):
        entry: dict[str, Any] = {"name": f"t{k}", "weight": w}
        gains = {n: _uniform(rng, -1.0, 5.0) for n in names if _chance(rng, 0.3)}
        if gains:
            entry["gains"] = gains
        if _chance(rng, 0.25):
            entry["risk_aversion"] = _uniform(rng, -0.3, 0.6)
        types.append(entry)
    draw.data["types"] = types
    return draw


def _interval(rng: Rng) -> _Draw:
    draw = _small_strategic(rng)
    for a in draw.actions:
        if _chance(rng, 0.6):
            g = float(a["gain"])
            a["gain"] = [sig(g - float(rng.uniform(0.0, 1.0))), sig(g + float(rng.uniform(0, 1)))]
    if _chance(rng, 0.3):
        _harms(rng, draw)
        draw.oversight["objective"] = "min_loss"
    return draw


def _fixed_cost(rng: Rng) -> _Draw:
    draw = _small_strategic(rng)
    for m in draw.monitors:
        if _chance(rng, 0.7):
            m["fixed_cost"] = _uniform(rng, 0.01, 3.0)
    if _chance(rng, 0.4):
        draw.oversight["budget"] = _uniform(rng, 0.5, 8.0)
    return draw


def _auditor(rng: Rng) -> _Draw:
    draw = _core(rng, deviations=(1, 3), monitors=(1, 2))
    _harms(rng, draw)
    monitor = draw.monitors[0]
    auditor: dict[str, Any] = {
        "monitor": monitor["name"],
        "inspection_cost": _uniform(rng, 0.1, 3.0),
    }
    if _chance(rng, 0.7):
        auditor["catch_reward"] = _uniform(rng, 0.0, 5.0)
    if _chance(rng, 0.7):
        auditor["miss_loss"] = _uniform(rng, 0.0, 5.0)
    if _chance(rng, 0.3):
        auditor["target_offence_rate"] = _uniform(rng, 0.01, 0.5)
    draw.data["auditor"] = auditor
    return draw


def _learner(rng: Rng) -> _Draw:
    """The core keys with a [learner] (risk neutral): its margins raise each deviation's need."""
    draw = _core(rng)
    learner: dict[str, Any] = {"samples": round(_log_uniform(rng, 20.0, 1e6))}
    if _chance(rng, 0.3):  # a no-regret learner over T rounds (model/no_regret.py)
        learner = {"algorithm": "exp3" if _chance(rng, 0.6) else "hedge"}
        learner["rounds"] = round(_log_uniform(rng, 100.0, 1e9))
        if learner["algorithm"] == "exp3" and _chance(rng, 0.5):
            learner["exploration"] = _uniform(rng, 0.01, 1.0)
        if _chance(rng, 0.5):
            learner["violation"] = "average" if _chance(rng, 0.5) else "final"
    elif _chance(rng, 0.5):
        learner["reward_noise"] = _uniform(rng, 0.0, 2.0)
    if _chance(rng, 0.7):
        learner["confidence"] = _uniform(rng, 0.5, 0.999)
    if _chance(rng, 0.3):
        # the exact reference writes out Hoeffding's margin only; bound = "bernstein" (an
        # outer iteration) is tested on its own (tests/engine/test_learner.py)
        learner["bound"] = "hoeffding"
    if "samples" in learner and _chance(rng, 0.3):  # PPO: delayed penalties credited by
        # (gamma lambda)^d, otherwise a sample-mean learner (docs/model.md, "PPO")
        learner["algorithm"] = "ppo"
        if _chance(rng, 0.7):
            learner["gae_lambda"] = _uniform(rng, 0.8, 1.0)
    draw.data["learner"] = learner
    if _chance(rng, 0.5):  # penalties that land later ([horizon], docs/model.md)
        horizon: dict[str, Any] = {}
        if _chance(rng, 0.7):
            horizon["discount"] = _uniform(rng, 0.8, 1.0)
        if _chance(rng, 0.7):
            horizon["audit_delay"] = _int(rng, 0, 12)
        if _chance(rng, 0.7):
            horizon["retention"] = _uniform(rng, 0.8, 1.0)
        draw.data["horizon"] = horizon
    return draw


def _horizon(draw: _Draw) -> tuple[float, float]:
    """(kappa, gamma^d) of the [horizon], from docs/model.md ("Long horizons"): a penalty paid
    d steps later is worth (gamma rho)^d of itself at the act, gamma^d when it is paid (gamma x
    lambda for a PPO learner: docs/model.md, "PPO")."""
    horizon = draw.data.get("horizon") or {}
    d = int(horizon.get("audit_delay", 0))
    gamma = float(horizon.get("discount", 1.0))
    learner = draw.data.get("learner") or {}
    if learner.get("algorithm") == "ppo":  # PPO credits a step later by gamma x GAE lambda
        gamma *= float(learner.get("gae_lambda", 0.95))
    rho = float(horizon.get("retention", 1.0))
    return (gamma * rho) ** d, gamma**d


def _learner_margin(draw: _Draw, action: dict[str, Any]) -> float:
    """The [learner]'s margin for ``action``, written out from docs/model.md ("Learners")."""
    from tests.support.exact_reference import learner_margin

    return learner_margin(draw.data, action["name"])


def _budget(rng: Rng, seed: int, infeasible: bool | None) -> _Draw:
    """A budget at, just above or just below the reference's least cost."""
    from tests.support.exact_reference import reference

    for attempt in range(20):
        sub = np.random.default_rng([seed, attempt, 11])
        draw = _cara(sub, 1 if sub.random() < 0.5 else -1) if sub.random() < 0.3 else _core(sub)
        draw.data.pop("oversight", None)
        ref = reference(_text(draw.data))
        if ref.status != "optimal" or ref.cost is None or not 1e-6 < ref.cost < 1e6:
            continue
        cost = float(ref.cost)
        where = rng.random() if infeasible is None else (0.9 if infeasible else 0.3)
        if where < 0.25:
            budget, draw.how = cost, "budget at the least cost"
            if budget < ref.cost:
                budget = math.nextafter(budget, math.inf)
            draw.expected = "optimal"  # the reference's policy costs exactly ref.cost
        elif where < 0.7:
            budget = cost * (1 + _log_uniform(rng, 1e-8, 1e-2))
            draw.expected, draw.how = "optimal", "budget just above the least cost"
        else:
            budget = cost * (1 - _log_uniform(rng, 1e-6, 1e-2))
            draw.expected, draw.how = "infeasible", "below_least_cost"
        draw.oversight["budget"] = budget
        return draw
    return _core(rng)


_BUILDERS = {
    "linear": _linear,
    "cara_averse": lambda rng: _cara(rng, +1),
    "cara_seeking": lambda rng: _cara(rng, -1),
    "risk_seeking_limit": _risk_seeking_limit,
    "no_monitors": _no_monitors,
    "degenerate": _degenerate,
    "ties": _ties,
    "exponential": _exponential,
    "exponential_fp": _exponential_fp,
    "roc": _roc,
    "penalty_design": _penalty_design,
    "min_loss": _min_loss,
    "types": _types,
    "interval": _interval,
    "fixed_cost": _fixed_cost,
    "auditor": _auditor,
    "learner": _learner,
}


# --- outcomes: a witness policy (feasible) or a construction (infeasible) -------------------


def _scaled_row(
    r: float, gap: float, cap: float, p: float, p0: float, ffp: float, margin: float, g0: float
) -> tuple[float, float]:
    """(value, size) of a deterrence row in the units of exact_reference (value <= 0 deters);
    raises OverflowError beyond binary64."""
    if r == 0:
        terms = [gap, -p * cap, p0 * ffp, margin]
        return math.fsum(terms), math.fsum(abs(t) for t in terms)
    s = 1.0 if r > 0 else -1.0
    t = [
        1 - p0,
        p0 * math.exp(r * ffp),
        -(1 - p) * math.exp(-r * gap),
        -p * math.exp(-r * (gap - cap)),
    ]
    big_m = abs(r) * math.exp(r * g0) * margin
    return s * math.fsum(t) + big_m, math.fsum(abs(v) for v in t) + big_m


def _roc_height(points: Sequence[Sequence[float]], x: float) -> float:
    """The upper concave envelope of ROC points (with (0, 0)) at x, from its definition."""
    pts = [(0.0, 0.0), *((float(a), float(b)) for a, b in points)]
    best = 0.0
    for xa, ya in pts:
        for xb, yb in pts:
            if xa <= x <= xb:
                y = ya if xb == xa else ya + (yb - ya) * (x - xa) / (xb - xa)
                best = max(best, y)
    return best


def _all_monitors(draw: _Draw) -> list[dict[str, Any]]:
    """Declared monitors plus the dedicated audits (docs/spec-format.md section 4)."""
    out = list(draw.monitors)
    for a in draw.deviations():
        if "audit_cost" in a:
            out.append(
                {
                    "name": f"audit:{a['name']}",
                    "cost": a["audit_cost"],
                    "detects": {a["name"]: a.get("audit_detection", 1.0)},
                }
            )
    return out


def _witness_rates(draw: _Draw) -> dict[str, float]:
    """Each monitor at its ceiling, except one whose false flags are penalised (its floor)."""
    ffp = float(draw.agent.get("false_positive_penalty", 0.0))
    rates = {}
    for m in _all_monitors(draw):
        flags = ffp > 0 and m.get("false_positive", 0.0) > 0
        rates[m["name"]] = float(m.get("min_rate", 0.0) if flags else m.get("max_rate", 1.0))
    return rates


def _detection(draw: _Draw, rates: dict[str, float], action: str) -> float:
    exponential = draw.data.get("oversight", {}).get("detection") == "exponential"
    total = 0.0
    log_miss = 0.0
    for m in _all_monitors(draw):
        x = rates[m["name"]]
        if "roc" in m:
            if action in m["roc"]:
                total += _roc_height(m["roc"][action], x)
            continue
        q = float(
            m.get("false_positive", 0.0) if not action else m.get("detects", {}).get(action, 0.0)
        )
        if exponential:
            log_miss += x * math.log1p(-q) if q < 1 else -math.inf
        else:
            total += q * x
    if exponential:
        return -math.expm1(log_miss)
    return total if not action else min(1.0, total)


def _agents(draw: _Draw) -> list[tuple[float, dict[str, Any]]]:
    """(risk aversion, gains by action) for each type (or the agent alone)."""
    r = float(draw.agent.get("risk_aversion", 0.0))
    base = {a["name"]: a["gain"] for a in draw.actions}
    types = draw.data.get("types") or [{}]
    return [(float(t.get("risk_aversion", r)), {**base, **t.get("gains", {})}) for t in types]


def _deters(draw: _Draw, rates: dict[str, float], slack: float = 1e-6) -> bool:
    """Does this policy deter every deviation of every type, with room (floats)?"""
    p0 = _detection(draw, rates, "")
    ffp = float(draw.agent.get("false_positive_penalty", 0.0))
    margin = float(draw.agent.get("margin", 0.0))
    compliant = draw.compliant()["name"]
    for r, gains in _agents(draw):
        g0 = _gain_low(gains[compliant])
        for a in draw.deviations():
            p = _detection(draw, rates, a["name"])
            gap = _gain_high(gains[a["name"]]) - g0
            try:
                need = margin + _learner_margin(draw, a)
                kappa = _horizon(draw)[0]  # penalties at their present value
                value, size = _scaled_row(r, gap, draw.cap(a) * kappa, p, p0, ffp * kappa, need, g0)
            except OverflowError:
                return False
            if not value <= -slack * size:
                return False
    return True


def _spend(draw: _Draw, rates: dict[str, float]) -> float:
    total = 0.0
    for m in _all_monitors(draw):
        x = rates[m["name"]]
        total += float(m["cost"]) * x + (float(m.get("fixed_cost", 0.0)) if x > 0 else 0.0)
    return total


def _floor_spend(draw: _Draw) -> float:
    return _spend(draw, {m["name"]: float(m.get("min_rate", 0.0)) for m in _all_monitors(draw)})


def _candidates(draw: _Draw) -> list[dict[str, float]]:
    """Witness policies to try: monitors whose false flags are penalised at their floors and
    the others at their ceilings; all at their ceilings; a grid when there are two or fewer."""
    monitors = _all_monitors(draw)
    out = [_witness_rates(draw), {m["name"]: float(m.get("max_rate", 1.0)) for m in monitors}]
    if len(monitors) <= 2:
        levels = [k / 8 for k in range(9)]
        grids: list[dict[str, float]] = [{}]
        for m in monitors:
            lo, hi = float(m.get("min_rate", 0.0)), float(m.get("max_rate", 1.0))
            grids = [{**g, m["name"]: lo + t * (hi - lo)} for g in grids for t in levels]
        out += grids
    return out


def _make_feasible(rng: Rng, draw: _Draw) -> bool:
    """Make the spec feasible with a witness policy; False if that is not possible here."""
    budget = draw.oversight.get("budget")
    intervals = any(isinstance(a["gain"], list) for a in draw.actions) or any(
        isinstance(g, list) for t in draw.data.get("types", []) for g in t.get("gains", {}).values()
    )
    if (
        draw.oversight.get("objective") == "min_loss"
        and not draw.agent.get("margin")
        and not intervals
    ):
        # some action is a best response to any policy (with a margin, or intervals, an
        # action may have to beat the others by more than they differ: then the witness below)
        if budget is not None and _floor_spend(draw) > budget:
            draw.oversight["budget"] = sig(_floor_spend(draw) * 1.5 + 0.1)
        draw.expected, draw.how = "optimal", "min_loss: the floors fit the budget"
        return True
    spends = [_spend(draw, rates) for rates in _candidates(draw) if _deters(draw, rates)]
    if not spends:
        return False
    spend = min(spends)
    if budget is not None and spend > budget * (1 - 1e-6):
        raised = sig(spend * float(rng.uniform(1.001, 1.5)) + 1e-9, 8)
        draw.oversight["budget"] = raised if raised >= spend * (1 + 1e-7) else spend * 1.01
    draw.expected, draw.how = "optimal", "witness policy"
    return True


def _make_infeasible(rng: Rng, draw: _Draw) -> None:
    """Make the spec infeasible by a construction that proves it."""
    objective = draw.oversight.get("objective", "deter_all")
    kinds = ["floors_over_budget"] if objective == "min_loss" else ["undetected", "cap_below_gain"]
    if objective != "min_loss" and _chance(rng, 0.25):
        kinds = ["floors_over_budget"]
    if draw.data.get("penalty", {}).get("design") == "shared":
        kinds = [k for k in kinds if k != "cap_below_gain"] or kinds
    kind = str(rng.choice(kinds))
    if kind == "floors_over_budget" and not draw.monitors and objective == "min_loss":
        draw.monitors.append({"name": "floor", "cost": _uniform(rng, 0.1, 5.0)})
    if kind == "floors_over_budget" and draw.monitors:
        m = draw.monitors[_int(rng, 0, len(draw.monitors) - 1)]
        if float(m["cost"]) == 0:
            m["cost"] = _uniform(rng, 0.1, 5.0)
        top = float(m.get("max_rate", 1.0))
        if top == 0:
            m["max_rate"] = top = 1.0
        m["min_rate"] = sig(top * float(rng.uniform(0.2, 1.0)))
        if m["min_rate"] > top:
            m["min_rate"] = top
        draw.oversight["budget"] = sig(_floor_spend(draw) * float(rng.uniform(0.05, 0.95)))
        if draw.oversight["budget"] >= _floor_spend(draw):
            draw.oversight["budget"] = 0.0
        draw.expected, draw.how = "infeasible", "floors_over_budget"
        return
    compliant = draw.compliant()["name"]
    agents = _agents(draw)
    g0 = min(_gain_low(gains[compliant]) for _, gains in agents)
    margin = float(draw.agent.get("margin", 0.0))
    # a risk-seeking agent's largest gain over complying stays within the range limit
    seeking = max((-r for r, _ in agents if r < 0), default=0.0)
    room = 600.0 / seeking if seeking else math.inf
    if kind == "cap_below_gain":
        a = draw.deviations()[_int(rng, 0, len(draw.deviations()) - 1)]
        g = sig(g0 + min(margin + _uniform(rng, 0.5, 5.0), room))
        a["gain"] = g
        a["penalty_cap"] = sig((g - g0) * float(rng.uniform(0.0, 0.9)))
        for t in draw.data.get("types", []):
            t.get("gains", {}).pop(a["name"], None)
        draw.expected, draw.how = "infeasible", "cap_below_gain"
        return
    # undetected: a new paying action nothing detects (not named by any monitor or audit)
    name = "hidden"
    gain = sig(g0 + min(margin + _uniform(rng, 0.1, 5.0), room))
    draw.actions.insert(
        _int(rng, 1, len(draw.actions)),
        {"name": name, "gain": gain, "penalty_cap": _uniform(rng, 1.0, 30.0)},
    )
    draw.expected, draw.how = "infeasible", "undetected"


# --- text ----------------------------------------------------------------------------------


def _text(data: dict[str, Any]) -> str:
    lines: list[str] = []
    if "version" in data:
        lines.append(f"version = {data['version']}")
    for header in (
        "problem",
        "agent",
        "oversight",
        "penalty",
        "auditor",
        "learner",
        "horizon",
        "requirements",
    ):
        table = data.get(header)
        if table:
            lines += ["", f"[{header}]", *toml_table(table)]
    for header in ("actions", "monitors", "types"):
        for entry in data.get(header) or ():
            lines += ["", f"[[{header}]]", *toml_table(entry)]
    return "\n".join(lines).lstrip("\n") + "\n"


def _rng(family: str, seed: int, infeasible: bool | None) -> Rng:
    flag = {None: 0, False: 1, True: 2}[infeasible]
    return np.random.default_rng([zlib.crc32(family.encode()), seed, flag])


def _build(family: str, rng: Rng, infeasible: bool | None) -> _Draw:
    if family == "risk_seeking_limit":
        # only natural draws go beyond 700 (the old load-time limit), so a mix with a set
        # outcome (and its float witness) stays within binary64
        draw = _risk_seeking_limit(rng, 1400.0 if infeasible is None else 650.0)
    else:
        draw = _BUILDERS[family](rng)
    if family != "ties":
        _dress(rng, draw, twins=family != "exponential_fp")
    return draw


def generate(family: str, seed: int, infeasible: bool | None = None) -> Case:
    """The spec of one (family, seed, flag): deterministic and valid (see the module doc)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    rng = _rng(family, seed, infeasible)
    if family == "budget":
        draw = _budget(rng, seed, infeasible)
        if draw.expected is None and infeasible is True:  # no reference optimum to place
            _make_infeasible(rng, draw)
        elif draw.expected is None and infeasible is False and not _make_feasible(rng, draw):
            draw.how = "no witness found"
    elif infeasible is True and family not in NEVER_INFEASIBLE:
        draw = _build(family, rng, infeasible)
        _make_infeasible(rng, draw)
    elif infeasible is False or family in NEVER_INFEASIBLE:
        draw = _build(family, rng, infeasible)
        for attempt in range(40):
            if draw.expected == "optimal" or _make_feasible(rng, draw):
                break
            again = np.random.default_rng([zlib.crc32(family.encode()), seed, 1, attempt])
            draw = _build(family, again, infeasible)
        else:
            draw.expected, draw.how = None, "no witness found"
    else:
        draw = _build(family, rng, infeasible)
    return Case(
        family=family,
        seed=seed,
        text=_text(draw.data),
        expected=draw.expected,
        infeasible=infeasible,
        how=draw.how,
    )


#: |r| x the largest gain over complying drawn by ``beyond_limits``: from the old limit of
#: 700 to 100,000, where exp itself has long left binary64 (|r| is capped at 900, so the
#: draws' spreads of a few units reach about 5,000).
BEYOND_LIMITS = (700.0, 1e5)


#: The shapes ``beyond_limits`` draws: the untyped core, and the strategic families whose
#: rows are built per type (types, interval gains, min_loss, fixed costs).
BEYOND_KINDS = ("untyped", "types", "interval", "min_loss", "fixed_cost")


def beyond_limits(seed: int, kind: str = "untyped") -> Case:
    """A risk-seeking spec beyond the old load-time limits (issue 20 item 6), natural draw
    (``expected`` None). Not a family: FAMILIES, ``mix`` and the ``risk_seeking_limit``
    seeds are unchanged; tests/spec/test_vocabulary.py holds these specs to an answer the
    exact reference accepts. ``kind`` is one of BEYOND_KINDS: "untyped" is a
    risk_seeking_limit draw; the others are that family's draw made risk seeking, the agent
    (and about half the types that set their own) with |r| x the largest gain over
    complying in BEYOND_LIMITS."""
    if kind not in BEYOND_KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(BEYOND_KINDS)}")
    if kind == "untyped":
        rng = _rng("risk_seeking_beyond", seed, None)
        draw = _risk_seeking_limit(rng, BEYOND_LIMITS[1], low=BEYOND_LIMITS[0])
    else:
        rng = _rng(f"risk_seeking_beyond_{kind}", seed, None)
        draw = _BUILDERS[kind](rng)
        _seeking(rng, draw, *BEYOND_LIMITS)
    _dress(rng, draw, twins=True)
    return Case(family=f"beyond_{kind}", seed=seed, text=_text(draw.data), how=draw.how)


def _seeking(rng: Rng, draw: _Draw, low: float, top: float) -> None:
    """Make the agent (and some types) risk seeking with |r| x spread in [low, top]."""
    types = draw.data.get("types", [])
    g0 = _gain_low(draw.compliant()["gain"])
    highs = [_gain_high(a["gain"]) for a in draw.actions]
    for t in types:
        highs += [_gain_high(g) for g in t.get("gains", {}).values()]
        if "comply" in t.get("gains", {}):
            g0 = min(g0, _gain_low(t["gains"]["comply"]))
    spread = max(max(highs) - g0, 0.5)
    r = min(_log_uniform(rng, low, top) / spread, 900.0)
    draw.agent["risk_aversion"] = -sig(r)
    draw.agent.pop("margin", None)
    for t in types:
        if "risk_aversion" in t or _chance(rng, 0.3):
            t["risk_aversion"] = -sig(r * float(rng.uniform(0.3, 1.0)))
    if "false_positive_penalty" in draw.agent:
        draw.agent["false_positive_penalty"] = sig(float(rng.uniform(0.0, 2.0)) / r)


def cases(family: str, count: int, start: int = 0, infeasible: bool | None = None) -> list[Case]:
    return [generate(family, seed, infeasible) for seed in range(start, start + count)]


def mix(
    n: int, seed: int = 0, infeasible: float = 0.2, families: Sequence[str] | None = None
) -> list[Case]:
    """n specs of the given families (default all), ``round(n * infeasible)`` infeasible."""
    names = expand(families)
    rng = np.random.default_rng([zlib.crc32(b"mix"), seed])
    bad = set(rng.permutation(n)[: round(n * infeasible)].tolist()) if n else set()
    out = []
    for k in range(n):
        family = names[k % len(names)]
        flag = k in bad
        if flag and family in NEVER_INFEASIBLE:  # the next family that can be infeasible
            others = [f for f in names[k % len(names) :] + names if f not in NEVER_INFEASIBLE]
            family, flag = (others[0], True) if others else (family, False)
        out.append(generate(family, seed * 1_000_000 + k, flag))
    return out
