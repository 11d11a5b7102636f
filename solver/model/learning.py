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
certificate covers the learner's constraint. Why not a variance-aware (Bernstein) margin, which
depends on P_i (1 - P_i) and so on the policy: docs/model.md, "Learners".
"""

from __future__ import annotations

import math

import numpy as np

from ..spec.document import Spec
from .horizon import penalty_discount
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


def learner_margins(spec: Spec) -> FloatArray:
    """Each action's learning-aware margin (0 for the compliant action, and all 0 without a
    ``[learner]``), in the spec's action order and money units (the learner is risk neutral)."""
    n = len(spec.actions)
    learner = spec.learner
    if learner is None:
        return np.zeros(n)
    compliant = spec.compliant_action
    # Under a [horizon] a penalty that is paid is worth gamma^d of itself at the act: the
    # range of the learner's discounted reward (model/horizon.py).
    discount = penalty_discount(spec)
    caps = np.array([spec.penalty_cap(a) for a in spec.actions], dtype=float) * discount
    margins = hoeffding_margin(
        caps,
        spec.agent.false_positive_penalty * discount,
        learner.reward_noise,
        learner.samples,
        learner.confidence,
    )
    margins[[a.name == compliant for a in spec.actions]] = 0.0
    return margins
