"""Exponential detection with false flags: random specs and an independent oracle.

The oracle does not use deter's rows: it evaluates the agent's expected utility from its
definition in mpmath (CARA u(w) = (1 - e^{-r w}) / r, or w; P_i = 1 - prod_j (1 - q_ij)^x_j,
P_0 = 1 - prod_j (1 - f_j)^x_j) and, for one or two monitors, finds the least cost by a dense
grid on the first rate and an exact search on the last one. For the last rate (the others
fixed) each row d_i P_i - d_0 P_0 - k_i is a_i e^{-L s} + b_i e^{-phi s} + c_i in s, whose
derivative has at most one root, so the row's sign changes at most twice: the grid with the
rows' stationary points, refined by bisection at 60 digits, finds the least feasible rate.

With two monitors the first rate is on a grid (plus a local refinement), and with three the
cheapest of 4,000 random policies, so the oracle's cost is an upper bound on the least
cost, attained by a policy it checked; deter's verified
answers can only be at least the least cost. A "wrong optimal" is an answer above the
oracle's cost (beyond the 1e-6 deter promises), a "wrong infeasible" one the oracle meets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import mpmath

mpmath.mp.dps = 60


@dataclass(frozen=True)
class FlagSpec:
    gains: tuple[float, ...]  # compliant first, gain 0
    caps: tuple[float, ...]  # per deviation
    risk_aversion: float
    false_positive_penalty: float
    costs: tuple[float, ...]
    min_rate: tuple[float, ...]
    max_rate: tuple[float, ...]
    detects: tuple[tuple[float, ...], ...]  # per deviation, per monitor
    false_positive: tuple[float, ...]
    budget: float | None

    def toml(self) -> str:
        lines = [
            "version = 1",
            "[agent]",
            f"risk_aversion = {self.risk_aversion!r}",
            f"false_positive_penalty = {self.false_positive_penalty!r}",
            "[oversight]",
            'detection = "exponential"',
        ]
        if self.budget is not None:
            lines.append(f"budget = {self.budget!r}")
        lines += ["[[actions]]", 'name = "ok"', "gain = 0.0"]
        for i, (gain, cap) in enumerate(zip(self.gains[1:], self.caps, strict=True)):
            lines += ["[[actions]]", f'name = "d{i}"', f"gain = {gain!r}", f"penalty_cap = {cap!r}"]
        for j, cost in enumerate(self.costs):
            detects = ", ".join(
                f"d{i} = {row[j]!r}" for i, row in enumerate(self.detects) if row[j] > 0
            )
            lines += [
                "[[monitors]]",
                f'name = "m{j}"',
                f"cost = {cost!r}",
                f"min_rate = {self.min_rate[j]!r}",
                f"max_rate = {self.max_rate[j]!r}",
                f"detects = {{ {detects} }}",
                f"false_positive = {self.false_positive[j]!r}",
            ]
        return "\n".join(lines) + "\n"


def random_flag_spec(rng: random.Random, monitors: int) -> FlagSpec:
    """A spec with exponential detection, false flags, 1-2 deviations and ``monitors``
    monitors; about a fifth of them infeasible (needs near the reachable detection)."""
    deviations = rng.choice((1, 1, 2))

    def r3(value: float) -> float:
        return round(value, 3)

    caps = tuple(r3(rng.uniform(1.0, 12.0)) for _ in range(deviations))
    gains = (0.0, *(r3(rng.uniform(0.02, 0.55) * cap) for cap in caps))
    detects = tuple(
        tuple(r3(rng.uniform(0.05, 0.95)) if rng.random() < 0.85 else 0.0 for _ in range(monitors))
        for _ in range(deviations)
    )
    lows, highs = [], []
    for _ in range(monitors):
        low = r3(rng.uniform(0.0, 0.3)) if rng.random() < 0.3 else 0.0
        high = 1.0 if rng.random() < 0.7 else r3(rng.uniform(max(low, 0.3), 1.0))
        lows.append(low)
        highs.append(max(low, high))
    costs = tuple(r3(rng.uniform(0.1, 3.0)) for _ in range(monitors))
    budget = r3(rng.uniform(0.2, 1.0) * sum(costs)) if rng.random() < 0.3 else None
    return FlagSpec(
        gains=gains,
        caps=caps,
        risk_aversion=rng.choice((0.0, 0.0, r3(rng.uniform(-0.3, 0.5)))),
        false_positive_penalty=r3(rng.uniform(0.05, 1.5)),
        costs=costs,
        min_rate=tuple(lows),
        max_rate=tuple(highs),
        detects=detects,
        false_positive=tuple(
            r3(rng.uniform(0.01, 0.6)) if rng.random() < 0.85 else 0.0 for _ in range(monitors)
        ),
        budget=budget,
    )


def _utility(w: mpmath.mpf, r: mpmath.mpf) -> mpmath.mpf:
    return w if r == 0 else (1 - mpmath.exp(-r * w)) / r


@dataclass(frozen=True)
class _Row:
    """d P_i(x) - d0 P_0(x) - k >= 0 as  a e^{-L.x} + b e^{-phi.x} + c >= 0."""

    loss: mpmath.mpf
    false_flag_loss: mpmath.mpf
    need: mpmath.mpf
    intensity: tuple[mpmath.mpf, ...]
    flag_intensity: tuple[mpmath.mpf, ...]

    def value(self, x: tuple[mpmath.mpf, ...]) -> mpmath.mpf:
        s = mpmath.fsum(li * xi for li, xi in zip(self.intensity, x, strict=True))
        t = mpmath.fsum(pj * xj for pj, xj in zip(self.flag_intensity, x, strict=True))
        caught = self.loss * (1 - mpmath.exp(-s))
        return caught - self.false_flag_loss * (1 - mpmath.exp(-t)) - self.need


def _rows(spec: FlagSpec) -> list[_Row]:
    r = mpmath.mpf(spec.risk_aversion)
    fp = mpmath.mpf(spec.false_positive_penalty)
    u0 = _utility(mpmath.mpf(0), r)
    d0 = u0 - _utility(-fp, r)
    phi = tuple(-mpmath.log(1 - mpmath.mpf(f)) for f in spec.false_positive)
    rows = []
    for i, (gain, cap) in enumerate(zip(spec.gains[1:], spec.caps, strict=True)):
        g, f = mpmath.mpf(gain), mpmath.mpf(cap)
        rows.append(
            _Row(
                loss=_utility(g, r) - _utility(g - f, r),
                false_flag_loss=d0,
                need=_utility(g, r) - u0,
                intensity=tuple(-mpmath.log(1 - mpmath.mpf(q)) for q in spec.detects[i]),
                flag_intensity=phi,
            )
        )
    return rows


def _least_last(
    rows: list[_Row], prefix: tuple[mpmath.mpf, ...], low: float, high: float, points: int
) -> mpmath.mpf | None:
    """The least last rate in [low, high] meeting every row, the other rates ``prefix``."""
    lo, hi = mpmath.mpf(low), mpmath.mpf(high)

    def ok(s: mpmath.mpf) -> bool:
        return all(row.value((*prefix, s)) >= 0 for row in rows)

    candidates = [lo + (hi - lo) * k / points for k in range(points + 1)]
    for row in rows:  # the stationary point of a e^{-L s} + b e^{-phi s} in s
        big_l, phi = row.intensity[-1], row.flag_intensity[-1]
        s0 = mpmath.fsum(li * xi for li, xi in zip(row.intensity[:-1], prefix, strict=True))
        t0 = mpmath.fsum(pj * xj for pj, xj in zip(row.flag_intensity[:-1], prefix, strict=True))
        a, b = row.loss * mpmath.exp(-s0) * big_l, row.false_flag_loss * mpmath.exp(-t0) * phi
        if big_l != phi and a > 0 and b > 0:
            stationary = mpmath.log(a / b) / (big_l - phi)
            if lo <= stationary <= hi:
                candidates.append(stationary)
    candidates = sorted(set(candidates))
    previous = None
    for s in candidates:
        if ok(s):
            if previous is None:
                return s
            left, right = previous, s  # not ok at left, ok at right
            for _ in range(200):
                middle = (left + right) / 2
                if ok(middle):
                    right = middle
                else:
                    left = middle
            return right
        previous = s
    return None


@dataclass(frozen=True)
class OracleAnswer:
    cost: float | None  # None: no policy found (for one monitor: none exists)
    rates: tuple[float, ...] | None
    decided: bool = True  # False: no policy found on the grid (two monitors), none proven


def oracle(spec: FlagSpec, points: int = 400) -> OracleAnswer:
    """The least cost (one monitor: exact; two: an upper bound from a grid on the first
    rate, refined around its best point), within the budget."""
    rows = _rows(spec)
    m = len(spec.costs)
    if m == 1:
        best = _least_last(rows, (), spec.min_rate[0], spec.max_rate[0], points)
        if best is None:
            return OracleAnswer(None, None)
        cost = mpmath.mpf(spec.costs[0]) * best
        if spec.budget is not None and cost > spec.budget:
            return OracleAnswer(None, None)
        return OracleAnswer(float(cost), (float(best),))
    if m > 2:
        return _sampled(spec, rows)
    c1, c2 = mpmath.mpf(spec.costs[0]), mpmath.mpf(spec.costs[1])

    def cost_at(x1: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf] | None:
        x2 = _least_last(rows, (x1,), spec.min_rate[1], spec.max_rate[1], 60)
        if x2 is None:
            return None
        return c1 * x1 + c2 * x2, x2

    lo, hi = mpmath.mpf(spec.min_rate[0]), mpmath.mpf(spec.max_rate[0])
    grid = [lo + (hi - lo) * k / 80 for k in range(81)]
    found = [(c, x1, x2) for x1 in grid if (v := cost_at(x1)) is not None for c, x2 in (v,)]
    if not found:
        return OracleAnswer(None, None, decided=False)
    cost, x1, x2 = min(found)
    step = (hi - lo) / 80
    for _ in range(40):  # pattern search around the best grid point
        improved = False
        for candidate in (x1 - step, x1 + step):
            if lo <= candidate <= hi and (v := cost_at(candidate)) is not None and v[0] < cost:
                cost, x1, x2 = v[0], candidate, v[1]
                improved = True
        if not improved:
            step /= 3
    if spec.budget is not None and cost > spec.budget:
        return OracleAnswer(None, None, decided=False)
    return OracleAnswer(float(cost), (float(x1), float(x2)))


def _sampled(spec: FlagSpec, rows: list[_Row], samples: int = 4000) -> OracleAnswer:
    """More than two monitors: the cheapest of random policies that meet every row with room
    (1e-9, in floats), an upper bound on the least cost; none found is undecided."""
    rng = random.Random(0)
    best: tuple[float, tuple[float, ...]] | None = None
    for _ in range(samples):
        x = tuple(rng.uniform(lo, hi) for lo, hi in zip(spec.min_rate, spec.max_rate, strict=True))
        cost = sum(c * xi for c, xi in zip(spec.costs, x, strict=True))
        if best is not None and cost >= best[0]:
            continue
        if spec.budget is not None and cost > spec.budget:
            continue
        if all(float(row.value(tuple(mpmath.mpf(v) for v in x))) > 1e-9 for row in rows):
            best = (cost, x)
    if best is None:
        return OracleAnswer(None, None, decided=False)
    return OracleAnswer(best[0], best[1])


# The two specs (issue 20): a tie the tangent called infeasible (least cost
# ln 6 / ln 10 at gain 7.5) and a CARA agent the tangent answered at 2.1752 (least 1.3691915316).
TIE = """
version = 1
[agent]
penalty_cap = 10.0
false_positive_penalty = 1.0
[oversight]
detection = "exponential"
[[actions]]
name = "ok"
gain = 0.0
[[actions]]
name = "cheat"
gain = {gain}
[[monitors]]
name = "m"
cost = 1.0
detects = {{ cheat = 0.9 }}
false_positive = 0.9
"""

CARA = FlagSpec(
    gains=(0.0, 2.282),
    caps=(7.421,),
    risk_aversion=0.1858,
    false_positive_penalty=0.92,
    costs=(2.642,),
    min_rate=(0.076,),
    max_rate=(1.0,),
    detects=((0.418,),),
    false_positive=(0.9,),
    budget=None,
)
