"""Penalties as decisions: the principal pays for the penalty level it commits to.

In Audit Games (Blocki, Christin, Datta, Procaccia and Sinha, IJCAI 2013) punishment costs
the principal a per unit of penalty level, so the maximal penalty (Becker) is no longer
optimal. For a risk-neutral agent with k_i = g_i - g_0 + margin, the program is

    minimise  sum_j c_j x_j + a sum_i F_i          (per_action; shared: + a F, F_i = F)
    s.t.      P_i F_i >= k_i,  0 <= F_i <= cap_i,  P_i <= detection_i(x)  (other features).

P_i F_i >= k_i is not written as a product. With F_i = cap_i phi_i (phi_i in [0, 1], which
keeps the numbers of order one) it reads P_i phi_i >= kt_i, kt_i = k_i / cap_i, and for
P_i, phi_i >= 0 the set { P phi >= s^2 } is a rotated second-order cone:

    || (2 s_i, P_i - phi_i) ||_2 <= P_i + phi_i   <=>   s_i^2 <= P_i phi_i,
    s_i >= sqrt(max(kt_i, 0))                     (the row named "penalty_incentive").

Its dual mu_i is d(scaled cost) / d sqrt(kt_i), so the shadow price of a gain is
d cost / d k_i = scale mu_i / (2 sqrt(k_i cap_i)) (0 for an action that does not pay).
With risk aversion or a false-positive penalty the constraint is not convex; the spec
rejects those combinations (spec_design.py). Derivation: docs/model.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np

from ...model.arrays import ProblemArrays
from ...model.detection import detection_probability
from ...model.penalties import deterrence_need, penalty_ceiling
from ...model.utility import FloatArray
from .base import Component, Context, DualOf, Handles, Value
from .monitoring import cost_scale


@dataclass(frozen=True)
class PenaltyHandles(Handles):
    """The chosen penalty shares phi and the hyperbolic incentive rows."""

    share: cp.Variable  # phi_i (per_action) or phi (shared), F_i = ceiling_i phi_i
    share_range: cp.Constraint
    incentive: cp.Constraint  # s_i >= sqrt(kt_i): its dual prices the gains
    hyperbolic: cp.Constraint


#: kt_i above 1 cannot be met (P_i, phi_i <= 1); larger values are clipped to keep numbers sane.
_UNREACHABLE = 4.0


class PenaltyDesign(Component):
    """Chosen penalties and the hyperbolic incentive rows (replaces ``Deterrence``)."""

    def __init__(self, design: str) -> None:
        self.design = design

    def shape_key(self, arrays: ProblemArrays) -> tuple[Any, ...]:
        return (type(self).__name__, self.design)

    def values(self, arrays: ProblemArrays) -> Mapping[str, Value]:
        ceiling = penalty_ceiling(arrays)
        need = deterrence_need(arrays)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ceiling > 0, need / ceiling, np.where(need > 0, _UNREACHABLE, 0.0))
        weight = arrays.penalty_cost * ceiling / cost_scale(arrays)
        return {
            "penalty_root_need": np.sqrt(np.clip(ratio, 0.0, _UNREACHABLE)),
            "penalty_weight": weight[:1].sum() if self.design == "shared" else weight,
        }

    def compile(self, ctx: Context, values: Mapping[str, Value]) -> PenaltyHandles:
        n = ctx.n_deviations
        share = cp.Variable(() if self.design == "shared" else n, name="penalty_share")
        root = cp.Variable(n, name="penalty_root")  # s_i
        p = ctx.detection
        root_need = ctx.add_data("penalty_root_need", values["penalty_root_need"], nonneg=True)
        weight = ctx.add_data("penalty_weight", values["penalty_weight"], nonneg=True)
        handles = PenaltyHandles(
            share=share,
            share_range=ctx.constrain(share <= 1),
            incentive=ctx.constrain(root >= root_need),
            hyperbolic=ctx.constrain(cp.SOC(p + share, cp.vstack([2 * root, p - share]), axis=0)),
        )
        ctx.pay(weight * share if self.design == "shared" else weight @ share)
        return handles

    def chosen_penalties(
        self, arrays: ProblemArrays, rates: FloatArray, handles: Handles
    ) -> FloatArray | None:
        """F_i = ceiling_i phi_i, raised where needed to the least penalty that deters at the
        returned rates, k_i / P_i(x) (kept within the ceiling; the largest one for a shared
        level). The solver meets P_i F_i >= k_i only to its tolerance; near a corner such as
        P_i = 1, F_i = k_i that leaves a violation that is large next to the terms compared.
        The raise costs at most a times the solver's tolerance; verification then checks the
        penalties independently."""
        assert isinstance(handles, PenaltyHandles)
        ceiling = penalty_ceiling(arrays)
        if handles.share.value is None:
            return np.full_like(ceiling, np.nan)
        share = np.clip(
            np.broadcast_to(np.asarray(handles.share.value, dtype=float), ceiling.shape), 0.0, 1.0
        )
        detection = detection_probability(arrays, rates)[arrays.deviations]
        need = deterrence_need(arrays)
        with np.errstate(divide="ignore", invalid="ignore"):
            # Rounded outward: P F = k exactly in float can fall short by an ulp exactly.
            least = np.where(need > 0, need / detection * (1.0 + 1e-12), 0.0)
        least = np.where(np.isfinite(least), least, np.inf)
        chosen = np.maximum(ceiling * share, np.minimum(least, ceiling))
        if self.design == "shared":
            chosen = np.full_like(chosen, float(chosen.max(initial=0.0)))
        return np.asarray(chosen)

    def shadow_prices(
        self, arrays: ProblemArrays, handles: Handles, dual_of: DualOf, rates: FloatArray
    ) -> dict[str, float] | None:
        assert isinstance(handles, PenaltyHandles)
        value = dual_of(handles.incentive)
        if value is None:
            return {}
        dual = np.maximum(np.atleast_1d(np.asarray(value, dtype=float)), 0)
        need = deterrence_need(arrays)
        scale = need * penalty_ceiling(arrays)
        with np.errstate(divide="ignore", invalid="ignore"):
            price = np.where(scale > 0, cost_scale(arrays) * dual / (2 * np.sqrt(scale)), 0.0)
        return {arrays.action_names[i]: float(price[k]) for k, i in enumerate(arrays.deviations)}


def chosen_penalties(
    parts: Sequence[tuple[Component, Handles]], arrays: ProblemArrays, rates: FloatArray
) -> FloatArray:
    """The penalty of every action after a solve: the compliant action's entry is the
    false-positive penalty, the others are the caps unless a component chose them."""
    penalties = arrays.penalty_cap.copy()
    penalties[arrays.compliant] = arrays.false_positive_penalty
    for component, handles in parts:
        chosen = component.chosen_penalties(arrays, rates, handles)
        if chosen is not None:
            penalties[arrays.deviations] = chosen
    return penalties


def component_shadow_prices(
    parts: Sequence[tuple[Component, Handles]],
    arrays: ProblemArrays,
    dual_of: DualOf,
    rates: FloatArray,
) -> dict[str, float]:
    """Shadow prices from the component that owns the incentive rows ({} if none does)."""
    for component, handles in parts:
        prices = component.shadow_prices(arrays, handles, dual_of, rates)
        if prices is not None:
            return prices
    return {}
