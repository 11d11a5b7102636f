"""Learning-aware margins: how far compliance must lead for a learner's estimates to rank it first.

A learner does not know the policy: it estimates each action's payoff from the episodes it has
tried. With ``[learner] samples = n`` episodes of every action and confidence ``1 - delta``,
action i needs a margin m_i such that, whenever EU_i + m_i <= EU_0,

    P( mean of n rewards of i  >=  mean of n rewards of compliance )  <=  delta.

A shortcut's reward is g_i - F_i when caught and g_i when not: it lies in an interval of width
F_i (the penalty cap, the largest penalty the design may set), plus the learner's observation
noise (Gaussian, standard deviation sigma). Compliance's lies in an interval of width F_fp (a
false flag's penalty), plus the same noise. By Hoeffding's lemma a variable in an interval of
width R is sub-Gaussian with variance proxy R^2 / 4 (Hoeffding 1963); a Gaussian's proxy is its
variance; proxies of independent terms add, and a mean of n divides it by n. The difference of
the two means is then sub-Gaussian with proxy v_i = (F_i^2/4 + F_fp^2/4 + 2 sigma^2) / n, and the
Chernoff bound gives P(deviation >= t) <= exp(-t^2 / (2 v_i)), so

    m_i = sqrt(2 v_i ln(1 / delta)),

which for sigma = F_fp = 0 is Hoeffding's F_i sqrt(ln(1/delta) / (2 n)). The margin depends on
the ranges only, never on the rates: it is a constant of the program, which stays the same linear
(or conic) program with each deviation's gain raised by its margin; the solve is exact and the
certificate covers the learner's constraint.

``bound = "bernstein"`` uses the reward's variance instead of its range (Bernstein's
inequality in its sub-gamma form, Boucheron, Lugosi & Massart 2013, sec. 2.8): the shortcut's
penalised reward has variance F_i^2 P_i (1 - P_i), which depends on the rates, so the margin
depends on the policy. Per deviation, with the false-flag rate P_0 held fixed, the requirement
F_i P_i - gap'_i >= M_i(P_i) (gap'_i = g_i - g_0 + F_fp P_0, M_i the smaller of the Bernstein
and Hoeffding margins at P_i) is convex in P_i minus concave: its feasible P_i are [p*_i, 1]
(or that upper interval and a lower one when the shortcut loses even undetected), so the
constant margin m_i = F_i p*_i - gap'_i = M_i(p*_i) gives the same linear program exactly
(:func:`bernstein_margins`). P_0 itself depends on the rates: ``engine/learner.py`` iterates
over it and certifies the final policy (docs/model.md, "Learners").

Under a ``[horizon]`` (model/horizon.py) a penalty that is paid is worth gamma^d of itself at
the act and is paid with probability rho^d once caught: the learner's discounted reward moves
by D_i = gamma^d F_i (the Hoeffding range), with probability rho^d P_i (the Bernstein
variance D_i^2 rho^d P_i (1 - rho^d P_i)); its mean is kappa F_i P_i, kappa = (gamma rho)^d.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from ..spec.document import Spec
from ..spec.gains import gain_bounds, worst_case_gain
from .horizon import payment_probability, penalty_discount
from .no_regret import (
    average_margin,
    exp3_exploration,
    exp3_final_margins,
    exp3_regret,
    hedge_regret,
)
from .utility import FloatArray


def variance_proxy(
    penalty_range: FloatArray, compliant_range: float, noise: float, samples: int
) -> FloatArray:
    """v_i: the sub-Gaussian variance proxy of (mean reward of i) - (mean reward of compliance)."""
    ranges = np.asarray(penalty_range, dtype=float)
    return (ranges**2 / 4.0 + compliant_range**2 / 4.0 + 2.0 * noise**2) / samples


def hoeffding_margin(
    penalty_range: FloatArray,
    compliant_range: float,
    noise: float,
    samples: int,
    confidence: float,
) -> FloatArray:
    """m_i = sqrt(2 v_i ln(1/delta)): the lead compliance needs so P(learner prefers i) <= delta."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {samples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    delta = 1.0 - confidence
    proxy = variance_proxy(penalty_range, compliant_range, noise, samples)
    return np.sqrt(2.0 * proxy * math.log(1.0 / delta))


def bernstein_requirement(
    detection: float | FloatArray,
    penalty: float,
    flag_penalty: float,
    flag_detection: float,
    noise: float,
    samples: int,
    confidence: float,
    paid: float = 1.0,
) -> FloatArray:
    """M(P): the lead compliance needs over a shortcut caught with probability P, the smaller
    of Bernstein's and Hoeffding's margins (each alone guarantees P(learner prefers the
    shortcut) <= delta, so the smaller does).

    ``penalty`` D and ``flag_penalty`` D_fp are the sizes of a paid penalty as the learner
    values it (gamma^d F under a [horizon]); a caught agent pays with probability ``paid``
    (rho^d), so it pays with probability q = paid P. With L = ln(1/delta) and n samples of
    each action, the difference of a shortcut's and compliance's rewards, centred, has
    variance v = D^2 q (1 - q) + D_fp^2 q_0 (1 - q_0) + 2 sigma^2 and is at most
    b = D q + D_fp (1 - q_0) above its mean (the Gaussian noise is sub-gamma with scale 0);
    sums of such terms are sub-gamma (v, b/3), so
    P(mean - E >= sqrt(2 v L / n) + b L / (3 n)) <= delta (Boucheron, Lugosi & Massart 2013,
    Theorem 2.10 and sec. 2.4).
    """
    q = paid * np.asarray(detection, dtype=float)
    q0 = paid * flag_detection
    log = math.log(1.0 / (1.0 - confidence))
    variance = penalty**2 * q * (1.0 - q) + flag_penalty**2 * q0 * (1.0 - q0) + 2.0 * noise**2
    reach = penalty * q + flag_penalty * (1.0 - q0)
    bernstein = np.sqrt(2.0 * variance * log / samples) + reach * log / (3.0 * samples)
    hoeffding = hoeffding_margin(np.array([penalty]), flag_penalty, noise, samples, confidence)[0]
    return np.minimum(bernstein, hoeffding)


def bernstein_margin(
    gap: float,
    penalty: float,
    flag_penalty: float,
    flag_detection: float,
    noise: float,
    samples: int,
    confidence: float,
    paid: float = 1.0,
) -> float:
    """The constant margin m whose constraint D q P - gap' >= m (gap' = g_i - g_0 + D_fp q P_0,
    q = ``paid``; D q P is the shortcut's expected penalty at the act) admits exactly the
    detections P at which the learner's requirement D q P - gap' >= M(P) holds (the largest
    such upper interval [p*, 1] of P: m = D q p* - gap' = M(p*)).

    h(P) = D q P - gap' - M(P) is convex (M is concave: the square root of a concave quadratic
    plus a line, or a constant), so where h < 0 somewhere its zero set's last crossing p* is
    found by bracketing from h's minimum (scipy's brentq), then moved up to where h >= 0 in
    floating point. When h >= 0 everywhere, m = M(0) (no constraint); when h(1) < 0, no
    detection suffices and m = M(1), which no P <= 1 meets (the program is infeasible).
    """

    def requirement(p: float) -> float:
        return float(
            bernstein_requirement(
                p, penalty, flag_penalty, flag_detection, noise, samples, confidence, paid
            )
        )

    slope = penalty * paid
    shifted = gap + flag_penalty * paid * flag_detection

    def h(p: float) -> float:
        return slope * p - shifted - requirement(p)

    if h(1.0) < 0:
        return requirement(1.0)
    if slope == 0:
        return requirement(0.0)
    lowest = minimize_scalar(h, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-12})
    start = float(lowest.x)
    low_value = min(h(0.0), h(start))
    if low_value >= 0:
        return requirement(0.0)
    if h(0.0) < 0 and h(0.0) <= h(start):
        start = 0.0
    root = _last_crossing(h, start)
    return slope * root - shifted


def _last_crossing(h: Callable[[float], float], start: float) -> float:
    """The smallest p in [start, 1] from which h >= 0 up to 1 (h convex, h(start) < 0 <= h(1)),
    rounded up so that h(p) >= 0 holds in floating point."""
    root = float(brentq(h, start, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps))
    while h(root) < 0 and root < 1.0:
        root = min(1.0, np.nextafter(root, 2.0) + 4 * np.finfo(float).eps * root)
    return root


def bernstein_margins(
    gap: FloatArray,
    penalty: FloatArray,
    flag_penalty: float,
    flag_detection: float,
    noise: float,
    samples: int,
    confidence: float,
    paid: float = 1.0,
) -> FloatArray:
    """:func:`bernstein_margin` for each deviation (gap_i = g_i - g_0, penalty_i = D_i)."""
    return np.array(
        [
            bernstein_margin(
                float(g), float(f), flag_penalty, flag_detection, noise, samples, confidence, paid
            )
            for g, f in zip(gap, penalty, strict=True)
        ]
    )


def smallest_margins(
    penalty: FloatArray, noise: float, samples: int, confidence: float, paid: float = 1.0
) -> FloatArray:
    """A lower bound on each deviation's Bernstein requirement over every policy:
    M_i(P_i, P_0) only grows with compliance's false-flag terms (its variance and reach are
    non-negative, and Hoeffding's with its range), so it is at least the requirement with
    F_fp = 0, a concave function of P_i whose least value on [0, 1] is at an end. A program
    with these constant margins is a relaxation: when it has no policy, nor has the
    learner's (``engine/learner.py``)."""
    low = [
        min(
            float(bernstein_requirement(end, d, 0.0, 0.0, noise, samples, confidence, paid))
            for end in (0.0, 1.0)
        )
        for d in np.asarray(penalty, dtype=float)
    ]
    return np.array(low)


def designed_relaxation_margin(
    gap: float, largest: float, noise: float, samples: int, confidence: float
) -> float:
    """Under a ``[penalty]`` design, a constant margin no larger than the learner's
    requirement at any rate *and penalty*, as tight as one constant can be.

    With E = D q the shortcut's expected penalty (D the paid penalty as the learner sees it,
    q = rho^d P its chance of paying; F_fp = 0 under a design), the Bernstein variance
    D^2 q (1 - q) = E (D - E) and Hoeffding's range D are least at D = E, so
    M >= M_min(E) = min(sqrt(4 sigma^2 L / n) + E L / (3 n), sqrt(2 L (E^2/4 + 2 sigma^2) / n)),
    concave in E. h(E) = E - gap - M_min(E) is convex: the E in [0, ``largest``] where it is
    >= 0 are [E*, largest] (h(0) < 0) or all of them, so the constant m = E* - gap admits
    every policy the learner's requirement does (a relaxation). None there: M_min(largest),
    which no policy meets."""
    log = math.log(1.0 / (1.0 - confidence))

    def least(e: float) -> float:
        bernstein = math.sqrt(4.0 * noise**2 * log / samples) + e * log / (3.0 * samples)
        hoeffding = math.sqrt(2.0 * log * (e**2 / 4.0 + 2.0 * noise**2) / samples)
        return min(bernstein, hoeffding)

    def h(u: float) -> float:  # on u = E / largest in [0, 1]
        return u * largest - gap - least(u * largest)

    if h(0.0) >= 0:
        return least(0.0)
    if largest <= 0 or h(1.0) < 0:
        return least(max(largest, 0.0))
    lowest = minimize_scalar(h, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-12})
    start = float(lowest.x) if h(float(lowest.x)) < 0 else 0.0
    u = float(brentq(h, start, 1.0, xtol=1e-15))
    # moved down by 1e-9 of the range: the relaxation never demands more than the learner's
    # requirement (a smaller margin only relaxes it further)
    return max(u - 1e-9, 0.0) * largest - gap


def worst_case_gains(spec: Spec) -> FloatArray:
    """Each agent type's gains where deterrence binds (a deviation's high end, compliance's
    low end: spec/gains.worst_case_gain), one row per ``[[types]]`` entry (the type's
    overrides of the spec's gains), or one row without types: K x n."""
    compliant = spec.compliant_action
    base = {a.name: a.gain for a in spec.actions}
    rows = [base] if not spec.types else [{**base, **t.gains} for t in spec.types]
    return np.array(
        [[worst_case_gain(row[a.name], a.name == compliant) for a in spec.actions] for row in rows],
        dtype=float,
    )


def learner_lift(spec: Spec) -> FloatArray:
    """Each (type, action)'s learning-aware margin, K x n (one row without ``[[types]]``):
    Bernstein margins depend on each type's own gap over compliance (``bernstein_margin``),
    every other margin is the same for every type (:func:`learner_margins`). Under a
    ``[penalty]`` design the engine's outer iteration may raise them (``Learner.floor``)."""
    gains = worst_case_gains(spec)
    learner = spec.learner
    if learner is None or learner.bound != "bernstein":
        lift = np.tile(learner_margins(spec), (gains.shape[0], 1))
    else:
        lift = np.array([_sample_mean_margins(spec, row) for row in gains])
    return _floored(spec, lift)


def learner_margins(spec: Spec, flag_detection: float | None = None) -> FloatArray:
    """Each action's learning-aware margin (0 for the compliant action, and all 0 without a
    ``[learner]``), in the spec's action order and money units at the act (the learner is
    risk neutral), for the spec's own gains (per type: :func:`learner_lift`).

    Under ``bound = "bernstein"`` the margins depend on the false-flag rate P_0 at which they
    are taken: ``flag_detection``, else the learner's own (the engine's outer iteration sets
    it, ``engine/learner.py``), else 0.
    """
    n = len(spec.actions)
    learner = spec.learner
    if learner is None:
        return np.zeros(n)
    compliant = spec.compliant_action
    is_compliant = np.array([a.name == compliant for a in spec.actions])
    if learner.sample_count == 0:  # exp3, or hedge's average violation (model/no_regret.py)
        margins = no_regret_margins(spec)
        margins[is_compliant] = 0.0
        return margins
    gains = np.array(
        [worst_case_gain(a.gain, a.name == compliant) for a in spec.actions], dtype=float
    )
    margins = _sample_mean_margins(spec, gains, flag_detection)
    return margins if spec.types else _floored(spec, margins[None, :])[0]


def _floored(spec: Spec, lift: FloatArray) -> FloatArray:
    """``lift`` raised to the learner's floor (set by the engine's outer iteration)."""
    floor = spec.learner.floor if spec.learner is not None else None
    if floor is None:
        return lift
    return np.maximum(lift, np.array(floor, dtype=float)[: lift.shape[0]])


def _sample_mean_margins(
    spec: Spec, gains: FloatArray, flag_detection: float | None = None
) -> FloatArray:
    """A sample-mean learner's margins for one agent's worst-case ``gains`` (n)."""
    learner = spec.learner
    assert learner is not None
    compliant = spec.compliant_action
    is_compliant = np.array([a.name == compliant for a in spec.actions])
    # Under a [horizon] a penalty that is paid is worth gamma^d of itself at the act: the
    # range of the learner's discounted reward (model/horizon.py). Under a [penalty] design
    # a smallest margin over every policy also ranges over every penalty (down to 0).
    discount = penalty_discount(spec)
    caps = np.array([spec.penalty_cap(a) for a in spec.actions], dtype=float) * discount
    flag_penalty = spec.agent.false_positive_penalty * discount
    if learner.bound == "bernstein" and learner.lower_bound and spec.penalty.design != "fixed":
        margins = np.array(
            [
                designed_relaxation_margin(
                    float(g),
                    float(d) * payment_probability(spec),
                    learner.reward_noise,
                    learner.sample_count,
                    learner.confidence,
                )
                for g, d in zip(gains - gains[is_compliant][0], caps, strict=True)
            ]
        )
    elif learner.bound == "bernstein" and learner.lower_bound:
        margins = smallest_margins(
            caps,
            learner.reward_noise,
            learner.sample_count,
            learner.confidence,
            payment_probability(spec),
        )
    elif learner.bound == "bernstein":
        p0 = learner.flag_detection if flag_detection is None else flag_detection
        margins = bernstein_margins(
            gains - gains[is_compliant][0],
            caps,
            flag_penalty,
            p0,
            learner.reward_noise,
            learner.sample_count,
            learner.confidence,
            payment_probability(spec),
        )
    else:
        margins = hoeffding_margin(
            caps, flag_penalty, learner.reward_noise, learner.sample_count, learner.confidence
        )
    margins[is_compliant] = 0.0
    return margins


def reward_reach(spec: Spec) -> tuple[FloatArray, float]:
    """(c, W): each action's largest reward above the smallest reward any action can pay,
    c_j = max g_j - low, and the rewards' range W = max_j c_j, as a no-regret learner
    rescales them (``solver/rl/learners.py``), at the penalty caps (discounted under a
    ``[horizon]``: model/horizon.py) and over every ``[[types]]``'s gains (each type's learner
    has a range within it, and needs no more: model/no_regret.py)."""
    compliant = spec.compliant_action
    discount = penalty_discount(spec)
    index = {a.name: i for i, a in enumerate(spec.actions)}
    low = np.array([gain_bounds(a.gain)[0] for a in spec.actions], dtype=float)
    high = np.array([gain_bounds(a.gain)[1] for a in spec.actions], dtype=float)
    for agent_type in spec.types:
        for action, gain in agent_type.gains.items():
            lo, hi = gain_bounds(gain)
            low[index[action]] = min(low[index[action]], lo)
            high[index[action]] = max(high[index[action]], hi)
    paid = np.array(
        [
            spec.agent.false_positive_penalty if a.name == compliant else spec.penalty_cap(a)
            for a in spec.actions
        ],
        dtype=float,
    )
    floor = float(np.min(low - discount * paid))
    reach = high - floor
    return reach, float(reach.max())


def no_regret_margins(spec: Spec) -> FloatArray:
    """Each action's lead for an exp3 or hedge learner over ``rounds`` episodes
    (model/no_regret.py): Exp3's deployed action, or either learner's average share of
    rounds on deviations (Hedge's deployed action is a sample mean: :func:`learner_margins`)."""
    learner = spec.learner
    assert learner is not None and learner.rounds is not None
    n = len(spec.actions)
    rounds = learner.rounds
    reach, width = reward_reach(spec)
    if learner.algorithm == "hedge":
        return np.full(
            n, average_margin(width, hedge_regret(n, rounds), rounds, learner.confidence)
        )
    gamma = learner.exploration or exp3_exploration(n, rounds)
    if learner.violation == "average":
        regret = exp3_regret(n, rounds, gamma)
        return np.full(n, average_margin(width, regret, rounds, learner.confidence))
    compliant = [a.name for a in spec.actions].index(spec.compliant_action)
    return exp3_final_margins(reach, float(reach[compliant]), n, rounds, gamma, learner.confidence)
