"""Long horizons: the present value of a penalty that lands later (``[horizon]``).

An act at step t is audited at once but its penalty (or a false flag's) is paid at step
t + d, ``audit_delay`` steps later, and only if the agent is still there: it stays from one
step to the next with probability rho (``retention``), so with rho^d. An agent discounting
each step by gamma (``discount``) values the penalty F at

    PV(F) = F x rho^d x gamma^d = kappa F,    kappa = (gamma rho)^d,

the expected sanction discounted to the moment of the act (Becker 1968 weighs a sanction by
its probability; Polinsky & Shavell 1999, "On the disutility and discounting of
imprisonment and the theory of deterrence", J. Legal Studies 28, discount a sanction
served later). Gains are paid at once. For a risk-neutral agent a deviation is deterred
when g_i - kappa P_i F_i <= g_0 - kappa P_0 F_fp - margin; dividing by kappa > 0,

    g_i / kappa - P_i F_i <= g_0 / kappa - P_0 F_fp - margin / kappa,

which is the program without a horizon, with every gain and the margin divided by kappa:
the same linear program, the penalties and costs in their own units (docs/model.md,
"Long horizons").

A PPO learner (``[learner] algorithm = "ppo"``) credits the act with a generalised advantage
estimate (Schulman, Moritz, Levine, Jordan & Abbeel 2016, "High-dimensional continuous
control using generalized advantage estimation", ICLR), which weighs a reward k steps later
by (gamma lambda)^k; its value function cannot foresee an audit it does not see, so the
penalty enters the act's advantage at (gamma lambda)^d and kappa = (gamma lambda rho)^d.
"""

from __future__ import annotations

from ..spec.document import Spec
from ..spec.sections import penalty_credit


def present_value_factor(spec: Spec) -> float:
    """kappa = (gamma rho)^d: what a penalty paid ``audit_delay`` steps later is worth at the
    act (1 without a ``[horizon]``); for a ``[learner] algorithm = "ppo"`` gamma is the
    discount times GAE's lambda, the credit PPO gives a reward d steps later."""
    return penalty_credit(spec.horizon, spec.learner)[1]


def penalty_discount(spec: Spec) -> float:
    """gamma^d: what a penalty that *is* paid ``audit_delay`` steps later is worth at the act
    (the size of a learner's discounted penalty; 1 without a ``[horizon]``; gamma times
    lambda for PPO)."""
    return penalty_credit(spec.horizon, spec.learner)[0]


def payment_probability(spec: Spec) -> float:
    """rho^d: the chance a caught agent is still there to pay its penalty (1 without a
    ``[horizon]``)."""
    horizon = spec.horizon
    if horizon is None:
        return 1.0
    return float(horizon.retention**horizon.audit_delay)
