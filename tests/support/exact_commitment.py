"""The independent reference for the strategic features: harms and ``min_loss``, agent types,
interval gains and fixed deployment costs (issue 20 item 7), by enumeration.

Nothing here imports deter. The method is the multiple-LPs method of Conitzer & Sandholm
(EC 2006) written out by brute force, not the project's MILP:

* every deployment of the monitors with a fixed cost (a monitor with ``min_rate > 0`` is
  always deployed; one not deployed has rate 0; the deployed ones' fixed costs are paid and
  leave the budget);
* every assignment of an induced action to each agent type (``deter_all``: the compliant
  action for every type);
* for every induced deviation a, both pieces of P_a = min(1, Q_a x): Q_a x <= 1 with
  P_a = Q_a x, or Q_a x >= 1 with P_a = 1;

each is a linear program in the rates, in the scaled utility units of exact_reference (type
k's utility of w, less that of its compliant low gain, times |r_k| e^{r_k g_0}): for the induced
action a at its low end against every other action i at its high end (docs/model.md: the worst
case of interval gains),

    U(a) - P_a D_a - U(i) + P_i D_i >= M,    D_j = U(g_j) - U(g_j - F_j) (compliant: F_fp),

with P_i = min(1, Q_i x) split into two rows (D_i Q_i x and D_i), P_0 = f x. Each LP goes
through exact_reference.solve_rows (scaled, tightened, rounded, repaired) and its policy is
re-checked exactly by :func:`check_commitment` (fractions for risk-neutral types, mpmath with a
tie rule for CARA ones). The answer is the least c.x + fixed costs + sum_k w_k h(a_k) over
them; candidates are visited cheapest lower bound first (fixed costs, rate floors and harms)
and the search stops when no candidate left can beat the best. A candidate LP whose policy
fails its re-check (``unsure``) and that could beat the best makes the answer ``unsure``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

import mpmath

from tests.support.exact_reference import (
    DPS,
    Action,
    Check,
    Model,
    Reference,
    _detections,
    _Rows,
    check_budget,
    exact_rates,
    mpf,
    solve_rows,
    spend,
    views,
)

# At most this many candidate LPs per spec; beyond it the reference says "undecided".
MOST_CANDIDATES = 3000


def _weights(model: Model) -> list[Fraction]:
    return [t.weight for t in model.types] or [Fraction(1)]


def _utility(view: Model, wealth: Fraction) -> mpmath.mpf:
    """U(w): the type's utility of w less that of its compliant low gain, scaled by
    |r| e^{r g_0} (w - g_0 when r = 0)."""
    gap = mpf(wealth - view.compliant.lo)
    if view.r == 0:
        return gap
    s = 1 if view.r > 0 else -1
    return s * -mpmath.expm1(-mpf(view.r) * gap)


def _scaled_margin(view: Model) -> mpmath.mpf:
    if view.r == 0:
        return mpf(view.margin)
    r = mpf(view.r)
    return abs(r) * mpmath.exp(r * mpf(view.compliant.lo)) * mpf(view.margin)


def _penalty_of(view: Model, action: Action) -> Fraction:
    return view.ffp if action.name == view.compliant.name else action.cap


def _rows(model: Model, assignment: Sequence[str], pieces: Mapping[str, bool]) -> _Rows:
    """The LP rows of one candidate; pieces[a] is True when Q_a x >= 1 (P_a = 1)."""
    rows = _Rows()
    n = len(model.monitors)
    f = [mpf(m.false_positive) for m in model.monitors]

    def q(action: str) -> list[mpmath.mpf]:
        return [mpf(model.q(action, j)) for j in range(n)]

    for action, saturated in pieces.items():
        if saturated:
            rows.add(q(action), mpmath.mpf(1))
        else:
            rows.add([-v for v in q(action)], mpmath.mpf(-1))
    for view, induced in zip(views(model), assignment, strict=True):
        actions = {a.name: a for a in view.actions}
        a = actions[induced]
        margin = _scaled_margin(view)
        # the induced action at its low end: U(a) - P_a D_a
        u_a = _utility(view, a.lo)
        d_a = u_a - _utility(view, a.lo - _penalty_of(view, a))
        if induced == view.compliant.name:
            a_coefs, a_const = [-d_a * v for v in f], mpmath.mpf(0)
        elif pieces[induced]:
            a_coefs, a_const = [mpmath.mpf(0)] * n, -d_a
        else:
            a_coefs, a_const = [-d_a * v for v in q(induced)], mpmath.mpf(0)
        for i in view.actions:
            if i.name == induced:
                continue
            u_i = _utility(view, i.hi)
            d_i = u_i - _utility(view, i.hi - _penalty_of(view, i))
            rhs = margin - u_a - a_const + u_i
            if i.name == view.compliant.name:
                rows.add([ac + d_i * v for ac, v in zip(a_coefs, f, strict=True)], rhs)
                continue
            rows.add([ac + d_i * v for ac, v in zip(a_coefs, q(i.name), strict=True)], rhs)
            rows.add(list(a_coefs), rhs - d_i)  # P_i = min(1, Q_i x): its "1" piece
    return rows


def _prefers(view: Model, xs: Sequence[Fraction], a: Action, i: Action) -> tuple[bool, str, float]:
    """Exactly: does the type weakly prefer a (at its low end) to i (at its high end) by the
    margin? Also why not and by how much, relative to the terms."""
    compliant = view.compliant.name

    def detection(action: Action) -> tuple[Fraction | None, mpmath.mpf]:
        exact_p, p, _ = _detections(view, xs, "" if action.name == compliant else action.name)
        return exact_p, p

    pa_exact, pa = detection(a)
    pi_exact, pi = detection(i)
    if view.r == 0 and pa_exact is not None and pi_exact is not None:
        eu_a = a.lo - pa_exact * _penalty_of(view, a)
        eu_i = i.hi - pi_exact * _penalty_of(view, i)
        value = eu_i - eu_a + view.margin
        size = abs(a.lo) + abs(i.hi) + pa_exact * _penalty_of(view, a)
        size += pi_exact * _penalty_of(view, i) + view.margin
        relative = float(value / size) if size else 0.0
        return (
            value <= 0,
            f"EU({i.name}) - EU({a.name}) + margin = {float(value):.6g} > 0",
            relative,
        )
    for dps in (DPS, 4 * DPS):
        with mpmath.workdps(dps):
            _, pa = detection(a)
            _, pi = detection(i)
            t = [
                _utility(view, i.hi) * (1 - pi),
                _utility(view, i.hi - _penalty_of(view, i)) * pi,
                -_utility(view, a.lo) * (1 - pa),
                -_utility(view, a.lo - _penalty_of(view, a)) * pa,
                _scaled_margin(view),
            ]
            value = mpmath.fsum(t)
            size = mpmath.fsum(abs(v) for v in t)
            if abs(value) > size * mpmath.mpf(10) ** (20 - dps):
                relative = float(value / size) if size else 0.0
                return (
                    value <= 0,
                    f"EU({i.name}) - EU({a.name}) + margin / terms = {relative:.6g}",
                    relative,
                )
    return True, "tie", 0.0


def check_commitment(model: Model, rates: Mapping[str, Any], assignment: Sequence[str]) -> Check:
    """Re-check a commitment exactly: rates in bounds, within the budget (fixed costs of the
    monitors running included), and each type's induced action a best response by the margin.
    ``cost`` is the oversight cost plus sum_k w_k h(a_k)."""
    check = Check()
    xs = exact_rates(model, rates, check)
    oversight = spend(model, xs)
    check.oversight_cost = oversight
    harm = Fraction(0)
    names = [t.name for t in model.types] or ["agent"]
    for view, weight, induced, view_name in zip(
        views(model), _weights(model), assignment, names, strict=True
    ):
        actions = {a.name: a for a in view.actions}
        if induced not in actions:
            check.problems.append(f"induced action {induced!r} is not an action")
            continue
        a = actions[induced]
        harm += weight * a.harm
        for i in view.actions:
            if i.name == induced:
                continue
            ok, why, relative = _prefers(view, xs, a, i)
            if not ok:
                who = f"type {view_name}: " if model.types else ""
                check.problems.append(f"{who}{i.name} beats {induced}: {why}")
                check.worst = max(check.worst, relative)
    check.cost = oversight + harm
    check_budget(model, oversight, check)
    return check


def _deployments(model: Model) -> list[tuple[Model, Fraction]]:
    """(the model with these monitors deployed, their fixed costs) for each deployment."""
    optional = [j for j, m in enumerate(model.monitors) if m.fixed_cost > 0 and m.lo == 0]
    out = []
    for mask in itertools.product((False, True), repeat=len(optional)):
        off = {j for j, on in zip(optional, mask, strict=True) if not on}
        paid = sum(
            (
                m.fixed_cost
                for j, m in enumerate(model.monitors)
                if m.fixed_cost > 0 and j not in off
            ),
            Fraction(0),
        )
        if model.budget is not None and paid > model.budget:
            continue
        monitors = tuple(
            replace(m, fixed_cost=Fraction(0), hi=Fraction(0) if j in off else m.hi)
            for j, m in enumerate(model.monitors)
        )
        budget = None if model.budget is None else model.budget - paid
        out.append((replace(model, monitors=monitors, budget=budget), paid))
    return out


def commitment_reference(model: Model) -> Reference:
    """The least oversight cost (+ expected harm under min_loss) of the strategic program."""
    names = [a.name for a in model.actions]
    n_types = len(views(model))
    if model.objective == "min_loss":
        assignments = list(itertools.product(names, repeat=n_types))
    else:
        assignments = [(model.compliant.name,) * n_types]
    candidates = []
    for sub, paid in _deployments(model):
        floors = sum((m.cost * m.lo for m in sub.monitors), Fraction(0)) + paid
        if sub.budget is not None and floors - paid > sub.budget:
            continue
        for assignment in assignments:
            harm = sum(
                (
                    w * next(a.harm for a in model.actions if a.name == name)
                    for w, name in zip(_weights(model), assignment, strict=True)
                ),
                Fraction(0),
            )
            candidates.append((floors + harm, sub, paid, assignment))
    if not candidates:
        return Reference("infeasible", note="the rate floors and fixed costs exceed the budget")
    candidates.sort(key=lambda c: c[0])
    best: Reference | None = None
    best_assignment: Sequence[str] = ()
    doubt = ""
    lps = 0
    for bound, sub, _paid, assignment in candidates:
        if best is not None and best.cost is not None and bound >= best.cost:
            break
        deviations = sorted({a for a in assignment if a != model.compliant.name})
        for split in itertools.product((False, True), repeat=len(deviations)):
            lps += 1
            if lps > MOST_CANDIDATES:
                return Reference("undecided", note=f"more than {MOST_CANDIDATES} candidate LPs")
            pieces = dict(zip(deviations, split, strict=True))
            with mpmath.workdps(DPS):
                rows = _rows(sub, assignment, pieces)

            def checker(rates: dict[str, float], assignment: Sequence[str] = assignment) -> Check:
                return check_commitment(model, rates, assignment)

            if not sub.monitors:
                found = (
                    Reference("optimal", cost=checker({}).cost)
                    if checker({}).passed
                    else Reference("infeasible")
                )
            else:
                found = solve_rows(sub, rows, checker)
            if found.status == "unsure":
                doubt = doubt or f"{assignment}: {found.note[:120]}"
                continue
            if found.status != "optimal" or found.cost is None:
                continue
            if best is None or best.cost is None or found.cost < best.cost:
                best, best_assignment = found, assignment
    if doubt and (best is None or best.cost is None):
        return Reference("unsure", note=doubt)
    if best is None:
        return Reference("infeasible", note=f"every candidate LP infeasible ({lps} LPs)")
    if doubt:
        best.note = f"a candidate was unsure: {doubt}"
        return Reference("unsure", cost=best.cost, rates=best.rates, note=best.note)
    best.note = f"induced {'/'.join(best_assignment)}; {lps} LPs"
    return best


def check_answer(model: Model, result: Mapping[str, Any]) -> tuple[Check, Any]:
    """Re-check deter's strategic answer (``Result.to_dict()``): its rates and the induced
    action it reports for each type. Returns the check and deter's reported objective
    (``expected_loss`` under min_loss, ``total_cost`` otherwise)."""
    rates = {m["name"]: m["rate"] for m in result.get("monitors", [])}
    reported = {t.get("name"): t.get("induced_action") for t in result.get("types") or []}
    if model.types:
        assignment = [str(reported.get(t.name)) for t in model.types]
    elif model.objective == "min_loss":
        assignment = [str(result.get("induced_action") or next(iter(reported.values()), None))]
    else:
        assignment = [model.compliant.name]
    check = check_commitment(model, rates, assignment)
    # the objective: oversight cost plus the expected harm left (under deter_all, the
    # compliant action's own harm), which deter reports as expected_loss
    total = result.get("expected_loss", result.get("total_cost"))
    return check, total
