"""The independent reference for exponential detection with penalised false flags (issue 20).

With ``detection = "exponential"``, a false-positive penalty and monitors that flag compliant
episodes, each row d P_i - d0 P_0 >= k (exact_reference's scaled units) reads, in one
monitor's rate x with the others fixed,

    g(x) = C - alpha e^{-lambda x} + beta e^{-mu x} >= 0,
    alpha = d prod_{l != j} (1 - q_il)^{x_l},  lambda = -ln(1 - q_ij),
    beta = d0 prod_{l != j} (1 - f_l)^{x_l},   mu = -ln(1 - f_j),   C = d - d0 - k,

which is not convex (the tangent restriction deter used is not the model). g' has at most
one zero, x* = ln(alpha lambda / (beta mu)) / (lambda - mu), so each row holds on at most two
intervals, found by bisection on each monotone piece in mpmath (``DPS_SEARCH`` digits); their
intersection over the rows, the rate bounds and the budget is the feasible set in x.

* one monitor (audits count): the least feasible rate is the least point of that set; the
  reference rounds it up to binary64 and re-checks it exactly (exact_reference.check_policy);
  an empty set is "infeasible". A set narrower than binary64 can represent (a tie, as in
  the issue's x = ln 6 / ln 10) is "undecided", not guessed.
* two monitors: the least rate of the second for each rate of the first (the 1-D method
  above, in floats) on a grid of the first's range, refined by golden-section search around
  the best grid points; the best policy found is re-checked exactly, so its cost is an upper
  bound on the least cost ("optimal" means: this exactly checked policy, whose cost deter's
  answer must not exceed). No feasible point on the grid is "undecided" (no proof).
* more than two monitors: "undecided".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import mpmath

from tests.support.exact_reference import (
    Model,
    Reference,
    check_policy,
    exact,
    mpf,
    terms,
)

DPS_SEARCH = 50
GRID = 160  # first-monitor rates tried with two monitors
Interval = tuple[float, float]


def _row_data(model: Model) -> list[tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]] | None:
    """(d, d0, k) per deviation; None when a row cannot bind (k <= 0 and d0 = 0)."""
    rows = []
    for action in model.deviations:
        t = terms(model, action)
        rows.append((t.d, t.d0, t.k))
    return rows


def _pieces(lo: float, hi: float, alpha: float, lam: float, beta: float, mu: float) -> list[float]:
    """[lo, (x*), hi]: the breakpoints of g's monotone pieces."""
    cuts = [lo, hi]
    if alpha > 0 and lam > 0 and beta > 0 and mu > 0 and lam != mu:
        try:
            star = math.log(alpha * lam / (beta * mu)) / (lam - mu)
        except (ValueError, ZeroDivisionError):
            star = math.nan
        if lo < star < hi:
            cuts = [lo, star, hi]
    return cuts


def _holds_on(g: Callable[[float], float], cuts: Sequence[float]) -> list[Interval]:
    """The intervals of [cuts[0], cuts[-1]] where g >= 0, g monotone between cuts."""
    out: list[Interval] = []
    for a, b in itertools.pairwise(cuts):
        ga, gb = g(a), g(b)
        if ga >= 0 and gb >= 0:
            out.append((a, b))
        elif ga < 0 and gb < 0:
            continue
        else:
            left, right = a, b  # bisect the sign change
            for _ in range(200):
                mid = (left + right) / 2
                if mid in (left, right):
                    break
                if (g(mid) >= 0) == (gb >= 0):
                    right = mid
                else:
                    left = mid
            out.append((right, b) if gb >= 0 else (a, left))
    return out


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out = []
    for x0, x1 in a:
        for y0, y1 in b:
            lo, hi = max(x0, y0), min(x1, y1)
            if lo <= hi:
                out.append((lo, hi))
    return sorted(out)


def _least_rate(
    model: Model, j: int, others: dict[int, float], *, precise: bool
) -> tuple[list[Interval], float | None]:
    """The feasible intervals of monitor j's rate (others fixed) and their least point."""
    m = model.monitors[j]
    lo, hi = float(m.lo), float(m.hi)
    feasible: list[Interval] = [(lo, hi)]
    for action in model.deviations:
        t = terms(model, action)
        log_a = sum(x * math.log1p(-float(model.q(action.name, o))) for o, x in others.items())
        log_b = sum(
            x * math.log1p(-float(model.monitors[o].false_positive)) for o, x in others.items()
        )
        lam = -math.log1p(-float(model.q(action.name, j)))
        mu = -math.log1p(-float(m.false_positive))
        d, d0, k = (float(v) for v in (t.d, t.d0, t.k))
        alpha, beta = d * math.exp(log_a), d0 * math.exp(log_b)
        c = d - d0 - k
        if precise:
            with mpmath.workdps(DPS_SEARCH):
                big_a = mpmath.exp(
                    mpmath.fsum(
                        mpf(exact(x)) * mpmath.log1p(-mpf(model.q(action.name, o)))
                        for o, x in others.items()
                    )
                )
                big_b = mpmath.exp(
                    mpmath.fsum(
                        mpf(exact(x)) * mpmath.log1p(-mpf(model.monitors[o].false_positive))
                        for o, x in others.items()
                    )
                )
                q, f = mpf(model.q(action.name, j)), mpf(m.false_positive)

                def g(x: float, q=q, f=f, big_a=big_a, big_b=big_b, t=t) -> float:
                    with mpmath.workdps(DPS_SEARCH):
                        xx = mpf(exact(x))
                        p = -mpmath.expm1(mpmath.log(big_a) + xx * mpmath.log1p(-q)) if q < 1 else 1
                        p0 = -mpmath.expm1(mpmath.log(big_b) + xx * mpmath.log1p(-f))
                        value = t.d * p - t.d0 * p0 - t.k
                        return float(mpmath.sign(value)) if value != 0 else 0.0
        else:

            def g(x: float, c=c, alpha=alpha, lam=lam, beta=beta, mu=mu) -> float:
                return c - alpha * math.exp(-lam * x) + beta * math.exp(-mu * x)

        cuts = _pieces(lo, hi, alpha, lam, beta, mu)
        holds = _holds_on(g, cuts)
        if not holds and precise and len(cuts) == 3:
            # the row's best is at x*: within 1e-30 of 0 is a tie binary64 cannot hold
            with mpmath.workdps(DPS_SEARCH):
                lam_, mu_ = -mpmath.log1p(-q), -mpmath.log1p(-f)
                al, be = t.d * big_a, t.d0 * big_b
                star = mpmath.log(al * lam_ / (be * mu_)) / (lam_ - mu_)
                top = (
                    t.d - t.d0 - t.k - al * mpmath.exp(-lam_ * star) + be * mpmath.exp(-mu_ * star)
                )
                if top > -(mpmath.mpf(10) ** -30) * (abs(t.d) + abs(t.d0) + abs(t.k)):
                    at = f"{mpmath.nstr(top, 3)} at x = {mpmath.nstr(star, 17)}"
                    raise _Tie(f"{action.name}: its row reaches {at}")
        feasible = _intersect(feasible, holds)
        if not feasible:
            return [], None
    return feasible, feasible[0][0]


class _Tie(Exception):
    """A row met only at one irrational rate (or within 1e-30 of it)."""


def _round_up_inside(
    model: Model, rates: dict[str, float], name: str, tries: int = 8
) -> dict[str, float] | None:
    """Nudge one rate up by ulps until the policy passes the exact re-check."""
    hi = float(next(m.hi for m in model.monitors if m.name == name))
    x = rates[name]
    for _ in range(tries):
        candidate = {**rates, name: min(x, hi)}
        if check_policy(model, candidate).passed:
            return candidate
        x = math.nextafter(x, math.inf)
        if x > hi:
            break
    return None


def false_flag_reference(model: Model) -> Reference:
    n = len(model.monitors)
    if n > 2:
        return Reference("undecided", note="exponential false flags with more than 2 monitors")
    if n == 0:
        check = check_policy(model, {})
        return Reference("optimal", cost=check.cost) if check.passed else Reference("infeasible")
    names = [m.name for m in model.monitors]
    if n == 1:
        try:
            intervals, least = _least_rate(model, 0, {}, precise=True)
        except _Tie as tie:
            return Reference("undecided", note=f"a tie: {tie}")
        if least is None:
            return Reference("infeasible", note="no rate meets every row (1-D, exact bisection)")
        for left, right in intervals:
            rates = _round_up_inside(model, {names[0]: left}, names[0])
            if rates is not None:
                check = check_policy(model, rates)
                if model.budget is not None and check.oversight_cost > model.budget:
                    return Reference("infeasible", note="the least feasible rate is over budget")
                return Reference("optimal", cost=check.cost, rates=rates, note="1-D exact")
            if right - left > 1e-12 * max(1.0, abs(left)):
                return Reference("unsure", note=f"no binary64 rate in [{left!r}, {right!r}] passes")
        return Reference("undecided", note=f"a tie: feasible only on {intervals} (below binary64)")
    # two monitors: grid over the first, least rate of the second
    lo0, hi0 = float(model.monitors[0].lo), float(model.monitors[0].hi)
    costs = [float(m.cost) for m in model.monitors]

    def phi(x0: float) -> float:
        _, x1 = _least_rate(model, 1, {0: x0}, precise=False)
        return math.inf if x1 is None else costs[0] * x0 + costs[1] * x1

    grid = [lo0 + (hi0 - lo0) * k / GRID for k in range(GRID + 1)]
    values = [phi(x) for x in grid]
    order = sorted(range(len(grid)), key=lambda k: values[k])
    best: Reference | None = None
    for k in order[:4]:
        if not math.isfinite(values[k]):
            break
        a, b = grid[max(k - 1, 0)], grid[min(k + 1, GRID)]
        x0 = grid[k]
        for _ in range(80):  # golden section on [a, b] around the grid's best point
            c1, c2 = b - (b - a) * 0.618033988749895, a + (b - a) * 0.618033988749895
            if phi(c1) <= phi(c2):
                b = c2
            else:
                a = c1
        for x in (x0, (a + b) / 2):
            _, x1 = _least_rate(model, 1, {0: x}, precise=False)
            if x1 is None:
                continue
            rates = _round_up_inside(model, {names[0]: x, names[1]: x1}, names[1], tries=64)
            if rates is None:
                # a hair more than the float search's least rate
                bumped = min(x1 * (1 + 1e-12) + 1e-300, float(model.monitors[1].hi))
                rates = _round_up_inside(model, {names[0]: x, names[1]: bumped}, names[1])
            if rates is None:
                continue
            check = check_policy(model, rates)
            if not check.passed:
                continue
            if best is None or best.cost is None or check.cost < best.cost:
                best = Reference(
                    "optimal", cost=check.cost, rates=rates, note="2-D grid: an upper bound"
                )
    if best is None:
        return Reference("undecided", note="2 monitors: no feasible point on the grid (no proof)")
    return best
