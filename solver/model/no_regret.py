"""Leads that deter no-regret learners (Exp3, Hedge) within T rounds (docs/model.md, "Learners").

A ``[learner]`` with ``algorithm = "exp3"`` or ``"hedge"`` trains for ``rounds = T`` episodes
over the spec's n actions, on rewards rescaled into [0, 1] by their known range (as
``solver/rl/learners.py`` does). Each deviation i needs a lead Delta_i = EU_0 - EU_i (money at
the act) so that after T rounds:

``violation = "final"`` (default; the experiment's "violation after"): the action deployed,
the one of largest weight, is i with probability at most delta.

- Hedge's weights are exp(eta S_j), S_j = the sum of action j's T rewards (full information):
  its largest weight is the largest sample mean of T samples of every action, so its margin is
  the sample-mean margin (``model/learning.py``) with n = T.
- Exp3's weights are exp(gamma S_j / n), S_j = sum_t r_jt 1{played j} / p_jt, the
  importance-weighted estimates (Auer, Cesa-Bianchi, Freund & Schapire 2002, Fig. 1).
  S_i - S_0 - T (mu_i - mu_0) is a martingale whose increments Y_t are at most
  b = (n / gamma) r_i + r_0 above zero (every p_jt >= gamma / n) and whose conditional
  variances sum to at most V = T (n / gamma) (r_i^2 + r_0^2), r_j = action j's largest
  rescaled reward (the reward when not caught). Freedman's inequality (Freedman 1975, "On tail
  probabilities for martingales", Ann. Probab. 3, Theorem 1.6) gives
  P(sum Y_t >= a) <= exp(-a^2 / (2 (V + a b / 3))), so with L = ln(1/delta) the deployed
  action is i with probability at most delta when T (mu_0 - mu_i) >= a* =
  b L / 3 + sqrt((b L / 3)^2 + 2 V L). Written in money the range W cancels: with
  c_j = g_j - low (low = the smallest reward, min_j g_j - D_j, D_j the paid penalty at its cap),
  Delta_i >= (beta L / 3 + sqrt((beta L / 3)^2 + 2 V' L)) / T, beta = (n / gamma) c_i + c_0,
  V' = T (n / gamma) (c_i^2 + c_0^2). A learner whose range is narrower (smaller penalties,
  so a larger ``low``) needs less: the margin at the caps is conservative.

``violation = "average"``: the expected share of the T rounds spent on deviations is at most
delta. Any learner's pseudo-regret is sum_i Delta_i E[N_i] / W in rescaled units (N_i the
rounds on i), at most its expected regret R_T, so every deviation's lead Delta_i >= W R_T /
(delta T) gives E[sum_i N_i] / T <= delta. R_T = (e - 1) gamma T + n ln n / gamma for Exp3
(Auer et al. 2002, Theorem 3.1; 2 sqrt((e - 1) T n ln n) at the tuned gamma) and
sqrt(T ln n / 2) for Hedge at eta = sqrt(8 ln n / T) (Cesa-Bianchi & Lugosi 2006, Theorem
2.2). W = the largest reward minus the smallest, at the penalty caps (a learner with smaller
penalties has a narrower range, and needs less).

Both are constants of the program (they depend on the caps, gains and T, not the rates), so
the program stays the same LP with each deviation's gain raised by its margin: exact,
verified and certified as any other; infeasible means no policy within the caps and the
monitors' rates leads every deviation by what the learner needs in T rounds.
"""

from __future__ import annotations

import math

import numpy as np

from .utility import FloatArray


def exp3_exploration(n_actions: int, rounds: int) -> float:
    """gamma = min(1, sqrt(n ln n / ((e - 1) T))) (Auer et al. 2002, Corollary 3.2)."""
    if n_actions < 2:
        return 1.0
    return min(1.0, math.sqrt(n_actions * math.log(n_actions) / ((math.e - 1) * rounds)))


def exp3_regret(n_actions: int, rounds: int, exploration: float) -> float:
    """Exp3's expected regret bound in [0, 1] reward units: (e - 1) gamma T + n ln n / gamma
    (Auer et al. 2002, Theorem 3.1), at most T (no learner loses more)."""
    bound = (math.e - 1) * exploration * rounds + n_actions * math.log(n_actions) / exploration
    return min(float(rounds), bound)


def hedge_regret(n_actions: int, rounds: int) -> float:
    """Hedge's regret bound at eta = sqrt(8 ln n / T): sqrt(T ln n / 2) (Cesa-Bianchi &
    Lugosi 2006, Theorem 2.2), at most T."""
    return min(float(rounds), math.sqrt(rounds * math.log(n_actions) / 2.0))


def average_margin(width: float, regret: float, rounds: int, confidence: float) -> float:
    """The lead every deviation needs so that the expected share of T rounds on deviations
    is at most delta: W R_T / (delta T)."""
    delta = 1.0 - confidence
    return width * regret / (delta * rounds)


def exp3_final_margins(
    reach: FloatArray,
    compliant_reach: float,
    n_actions: int,
    rounds: int,
    exploration: float,
    confidence: float,
) -> FloatArray:
    """Delta_i (money) so that Exp3's deployed action after T rounds is deviation i with
    probability at most delta (module docstring): ``reach`` c_i = g_i - low and
    ``compliant_reach`` c_0 = g_0 - low, the distance of each action's best reward above the
    smallest reward."""
    c = np.asarray(reach, dtype=float)
    scale = n_actions / exploration  # the largest importance weight 1 / p
    log = math.log(1.0 / (1.0 - confidence))
    beta = scale * c + compliant_reach
    variance = rounds * scale * (c**2 + compliant_reach**2)
    third = beta * log / 3.0
    return np.asarray((third + np.sqrt(third**2 + 2.0 * variance * log)) / rounds)
