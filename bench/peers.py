"""Cross-check deter against independent peers on random strategic instances (issue 20).

Two families, each generated here from a seed, each answered by deter (the library, as
`deter solve` answers it) and by a method that shares no code with deter:

* ``inspection``: a spec with an ``[auditor]`` (docs/model.md, "Auditors without commitment").
  The peer builds the n x 2 bimatrix game itself from the spec's numbers (agent rows: expected
  CARA utility at the auditor's min_rate and max_rate; auditor: -c + q (R + L) per inspected
  offence, -L per missed one, -c per inspected compliance) and lists every extreme equilibrium
  with pygambit's ``enummixed_solve`` in exact rationals. deter's reported equilibrium must be
  one of them (offence rate, inspection rate and the agent's mixture) and have the least
  principal loss among them (floor cost + inspection cost + expected harm).
* ``stackelberg``: ``objective = "min_loss"`` commitment programs with 1-3 agent types (DOBSS,
  docs/model.md "Agent types"), harms, margins, rate floors and ceilings, budgets, fixed
  deployment costs, false flags and detection that can saturate. The peer is the multiple-LPs
  method of Conitzer & Sandholm (EC 2006) written out with scipy's ``linprog``: one LP per
  deployment of the fixed-cost monitors, per assignment of an induced action to each type and
  per linear piece of min(1, Q_a x) for the induced actions. deter's ``expected_loss`` must
  equal the least LP optimum (relative 1e-6), or both must say infeasible.

Counts printed per family: instances, agree, disagree (a wrong answer), deter solver_error
(no answer: ``solver_error`` or no equilibrium), deter internal error (an exception), peer
failures (the peer could not decide). Exit 1 on any disagreement or internal error.

Usage: python bench/peers.py [--stackelberg N] [--inspection N] [--seed S] [--show]
Needs pygambit (``pip install 'deter[bench]'``) for the inspection family.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import deter
import numpy as np
from scipy.optimize import linprog

TOL = 1e-6  # relative agreement of losses, rates and mixtures


def num(x: float) -> str:
    return repr(float(x))


def utility(w: float, r: float) -> float:
    return w if r == 0 else -math.expm1(-r * w) / r


# ---------------------------------------------------------------- inspection games (pygambit)


@dataclass
class Inspection:
    gains: list[float]
    caps: list[float]
    harms: list[float]
    compliant: int
    r: float
    fp_penalty: float
    # monitors: cost, min_rate, max_rate, false_positive, detects {action: q}
    monitors: list[dict]
    auditor: int
    inspection_cost: float
    catch_reward: float
    miss_loss: float
    names: list[str] = field(default_factory=list)

    def toml(self) -> str:
        lines = ["version = 1", "[agent]", f'compliant = "{self.names[self.compliant]}"']
        lines += [
            f"risk_aversion = {num(self.r)}",
            f"false_positive_penalty = {num(self.fp_penalty)}",
        ]
        # min_loss: the game is reported whether or not full deterrence is feasible (under
        # deter_all an infeasible commitment program ends the answer before the game).
        lines += ["[oversight]", 'objective = "min_loss"']
        for i, name in enumerate(self.names):
            lines += ["[[actions]]", f'name = "{name}"', f"gain = {num(self.gains[i])}"]
            lines += [f"harm = {num(self.harms[i])}"]
            if i != self.compliant:
                lines.append(f"penalty_cap = {num(self.caps[i])}")
        for j, m in enumerate(self.monitors):
            detects = ", ".join(f"{self.names[i]} = {num(q)}" for i, q in m["detects"].items())
            lines += ["[[monitors]]", f'name = "m{j}"', f"cost = {num(m['cost'])}"]
            lines += [f"min_rate = {num(m['min_rate'])}", f"max_rate = {num(m['max_rate'])}"]
            lines += [f"false_positive = {num(m['fp'])}", f"detects = {{ {detects} }}"]
        lines += ["[auditor]", f'monitor = "m{self.auditor}"']
        lines += [f"inspection_cost = {num(self.inspection_cost)}"]
        lines += [f"catch_reward = {num(self.catch_reward)}", f"miss_loss = {num(self.miss_loss)}"]
        return "\n".join(lines) + "\n"


def random_inspection(rng: np.random.Generator) -> Inspection:
    n = int(rng.integers(2, 5))
    names = [f"a{i}" for i in range(n)]
    compliant = int(rng.integers(n))
    gains = [round(float(rng.uniform(0, 5)), 3) for _ in range(n)]
    gains[compliant] = round(float(rng.uniform(0, 1)), 3)
    caps = [round(float(rng.uniform(1, 20)), 3) for _ in range(n)]
    harms = [round(float(rng.uniform(0, 3)), 3) for _ in range(n)]
    harms[compliant] = 0.0
    r = 0.0 if rng.random() < 0.6 else round(float(rng.uniform(-0.4, 0.6)), 3)
    monitors = []
    for j in range(int(rng.integers(1, 3))):
        detects = {
            i: round(float(rng.uniform(0.05, 1)), 3)
            for i in range(n)
            if i != compliant and (j == 0 or rng.random() < 0.6)
        }
        if not detects:
            detects = {(compliant + 1) % n: 0.5}
        low = 0.0 if rng.random() < 0.6 else round(float(rng.uniform(0, 0.3)), 3)
        high = 1.0 if rng.random() < 0.6 else round(float(rng.uniform(low + 0.1, 1)), 3)
        fp = 0.0 if rng.random() < 0.7 else round(float(rng.uniform(0, 0.2)), 3)
        cost = round(float(rng.uniform(0.1, 3)), 3)
        monitors.append(
            {"cost": cost, "min_rate": low, "max_rate": high, "fp": fp, "detects": detects}
        )
    deviations = [i for i in range(n) if i != compliant]
    if len(deviations) > 1 and rng.random() < 0.15:  # two deviations the agent cannot tell apart
        a, b = deviations[:2]
        gains[b], caps[b] = gains[a], caps[a]
        for mon in monitors:
            mon["detects"].pop(b, None)
            if a in mon["detects"]:
                mon["detects"][b] = mon["detects"][a]
    fp_penalty = round(float(rng.uniform(0, 5)), 3)
    indifferent = rng.random() < 0.1  # an auditor indifferent to everything: a degenerate game
    return Inspection(
        gains=gains,
        caps=caps,
        harms=harms,
        compliant=compliant,
        r=r,
        fp_penalty=fp_penalty,
        monitors=monitors,
        auditor=int(rng.integers(len(monitors))),
        inspection_cost=0.0 if indifferent else round(float(rng.uniform(0, 2)), 3),
        catch_reward=0.0
        if indifferent or rng.random() < 0.2
        else round(float(rng.uniform(0, 6)), 3),
        miss_loss=0.0 if indifferent or rng.random() < 0.2 else round(float(rng.uniform(0, 6)), 3),
        names=names,
    )


@dataclass
class Game:
    agent: np.ndarray  # n x 2 Fractions: rows actions, columns min_rate and max_rate
    auditor: np.ndarray
    low: float
    high: float
    floor_cost: float  # the other monitors at their floors
    cost: float  # the auditor's monitor per unit rate


def inspection_game(g: Inspection) -> Game:
    """The n x 2 bimatrix game of docs/model.md, built from the spec's numbers."""
    n, c, j = len(g.gains), g.compliant, g.auditor
    aud = g.monitors[j]
    low, high = aud["min_rate"], aud["max_rate"]
    base, own = [0.0] * n, [0.0] * n
    for k, m in enumerate(g.monitors):
        if k == j:
            continue
        for i, q in m["detects"].items():
            base[i] += q * m["min_rate"]
        base[c] += m["fp"] * m["min_rate"]
    for i, q in aud["detects"].items():
        own[i] = q
    own[c] = aud["fp"]
    agent = np.empty((n, 2), dtype=object)
    auditor = np.empty((n, 2), dtype=object)
    for i in range(n):
        penalty = g.fp_penalty if i == c else g.caps[i]
        loss = utility(g.gains[i], g.r) - utility(g.gains[i] - penalty, g.r)
        offends = i != c
        for col, x in enumerate((low, high)):
            caught = (1 - x) * min(1.0, base[i]) + x * min(1.0, base[i] + own[i])
            agent[i, col] = Fraction(utility(g.gains[i], g.r) - caught * loss)
            inspect = -g.inspection_cost + (
                own[i] * (g.catch_reward + g.miss_loss) if offends else 0.0
            )
            miss = -g.miss_loss if offends else 0.0
            auditor[i, col] = Fraction(miss + x * inspect)
    floor_cost = sum(m["cost"] * m["min_rate"] for k, m in enumerate(g.monitors) if k != j)
    return Game(agent, auditor, low, high, floor_cost, aud["cost"])


def inspection_peer(g: Inspection) -> list[tuple[list[float], float, float]]:
    """Every extreme equilibrium as (agent mixture, inspection rate, principal loss), by
    pygambit's vertex enumeration in exact rationals."""
    import pygambit as gbt

    bg = inspection_game(g)
    low, high = bg.low, bg.high
    game = gbt.Game.from_arrays(bg.agent, bg.auditor)
    out = []
    for eq in gbt.nash.enummixed_solve(game, rational=True).equilibria:
        agent_player, auditor_player = list(game.players)
        sigma = [float(eq[s]) for s in agent_player.strategies]
        t = float(eq[list(auditor_player.strategies)[1]])
        rate = low + t * (high - low)
        loss = (
            bg.floor_cost + bg.cost * rate + sum(s * h for s, h in zip(sigma, g.harms, strict=True))
        )
        out.append((sigma, rate, loss))
    return out


def commitment_loss(g: Inspection) -> float:
    """The principal's least loss when it commits to the rate (the strong Stackelberg
    equilibrium of the n x 2 game): Conitzer & Sandholm's multiple LPs, one per induced
    action, over t = the weight on max_rate."""
    bg = inspection_game(g)
    A = bg.agent.astype(float)
    span = bg.high - bg.low
    best = math.inf
    for a in range(len(g.gains)):
        # a is a best response at t: (A_i - A_a) . (1 - t, t) <= 0 for every i
        diff = A - A[a]
        res = linprog(
            [bg.cost * span],
            A_ub=(diff[:, 1] - diff[:, 0]).reshape(-1, 1),
            b_ub=-diff[:, 0],
            bounds=[(0.0, 1.0)],
            method="highs",
        )
        if res.status == 0:
            best = min(best, bg.floor_cost + bg.cost * (bg.low + span * res.x[0]) + g.harms[a])
    return best


def check_inspection(g: Inspection) -> tuple[str, str]:
    try:
        result = deter.loads(g.toml(), name="peer", file="peer.toml").solve().to_dict(timing=False)
    except Exception as exc:  # an internal error on a valid spec is a bug: counted, shown
        return "internal", f"{type(exc).__name__}: {exc}"
    eq = result.get("equilibrium")
    if not eq:
        return "solver_error", f"status {result.get('status')}, no equilibrium"
    try:
        peer = inspection_peer(g)
    except Exception as exc:
        return "peer_failure", f"pygambit: {type(exc).__name__}: {exc}"
    if not peer:
        return "peer_failure", "pygambit listed no equilibrium"
    best = min(loss for _, _, loss in peer)
    close = lambda a, b: abs(a - b) <= TOL * max(1.0, abs(a), abs(b))  # noqa: E731
    sigma = [eq["agent_strategy"][name] for name in g.names]
    match = [
        (s, rate, loss)
        for s, rate, loss in peer
        if close(rate, eq["inspection_rate"])
        and all(close(a, b) for a, b in zip(s, sigma, strict=True))
    ]
    detail = (
        f"deter offence {eq['offence_rate']:.9g} inspection {eq['inspection_rate']:.9g} "
        f"loss {eq['principal_loss']:.9g}; peer least loss {best:.9g} over {len(peer)} equilibria"
    )
    FEATURES.update(
        k
        for k, on in (
            ("interior equilibrium", 0 < 1 - sigma[g.compliant] < 1),
            ("several equilibria", len(peer) > 1),
            ("deter counts other than pygambit", result["auditor"]["equilibria"] != len(peer)),
            ("risk_aversion != 0", g.r != 0),
            ("two monitors", len(g.monitors) > 1),
            ("false flags", any(m["fp"] > 0 for m in g.monitors)),
        )
        if on
    )
    if not match:
        return (
            "disagree",
            "deter's equilibrium is not an extreme equilibrium of the game: " + detail,
        )
    if not close(eq["principal_loss"], best) or not close(match[0][2], best):
        return "disagree", "deter's equilibrium is not the least-loss one: " + detail
    if not close(eq["offence_rate"], 1 - sigma[g.compliant]):
        return "disagree", "offence rate is not 1 - P(comply): " + detail
    committed, mine = commitment_loss(g), result["commitment"]["principal_loss"]
    if not close(mine, committed):
        return (
            "disagree",
            f"committed loss: deter {mine:.9g}, multiple LPs {committed:.9g}; " + detail,
        )
    return "agree", detail


# ---------------------------------------------------------------- Stackelberg commitment (LPs)


@dataclass
class Commitment:
    names: list[str]
    compliant: int
    caps: list[float]
    harms: list[float]
    fp_penalty: float
    margin: float
    budget: float | None
    monitors: list[dict]  # cost, fixed, min_rate, max_rate, fp, detects {i: q}
    types: list[dict]  # weight, r, gains (full list)
    typed: bool  # write [[types]] (else one agent from [agent] and the action gains)

    def toml(self) -> str:
        base = self.types[0]
        lines = ["version = 1", "[agent]", f'compliant = "{self.names[self.compliant]}"']
        lines += [
            f"false_positive_penalty = {num(self.fp_penalty)}",
            f"margin = {num(self.margin)}",
        ]
        if not self.typed:
            lines.append(f"risk_aversion = {num(base['r'])}")
        lines += ["[oversight]", 'objective = "min_loss"']
        if self.budget is not None:
            lines.append(f"budget = {num(self.budget)}")
        for i, name in enumerate(self.names):
            lines += ["[[actions]]", f'name = "{name}"', f"gain = {num(base['gains'][i])}"]
            lines.append(f"harm = {num(self.harms[i])}")
            if i != self.compliant:
                lines.append(f"penalty_cap = {num(self.caps[i])}")
        for j, m in enumerate(self.monitors):
            detects = ", ".join(f"{self.names[i]} = {num(q)}" for i, q in m["detects"].items())
            lines += ["[[monitors]]", f'name = "m{j}"', f"cost = {num(m['cost'])}"]
            lines += [f"min_rate = {num(m['min_rate'])}", f"max_rate = {num(m['max_rate'])}"]
            lines += [f"false_positive = {num(m['fp'])}", f"fixed_cost = {num(m['fixed'])}"]
            lines.append(f"detects = {{ {detects} }}")
        if self.typed:
            for k, t in enumerate(self.types):
                gains = ", ".join(
                    f"{n} = {num(v)}" for n, v in zip(self.names, t["gains"], strict=True)
                )
                lines += ["[[types]]", f'name = "t{k}"', f"weight = {num(t['weight'])}"]
                lines += [f"risk_aversion = {num(t['r'])}", f"gains = {{ {gains} }}"]
        return "\n".join(lines) + "\n"


def random_commitment(rng: np.random.Generator) -> Commitment:
    n = int(rng.integers(2, 5))
    m = int(rng.integers(1, 4))
    names = [f"a{i}" for i in range(n)]
    compliant = int(rng.integers(n)) if rng.random() < 0.4 else 0
    caps = [round(float(rng.uniform(1, 15)), 3) for _ in range(n)]
    harms = [round(float(rng.uniform(0, 4)), 3) for _ in range(n)]
    harms[compliant] = 0.0
    monitors = []
    fp_room = 1.0  # keep f.x <= 1 at the ceilings: the compliant action's P_0 = f.x
    for _ in range(m):
        detects = {
            i: round(float(rng.uniform(0.05, 1)), 3)
            for i in range(n)
            if i != compliant and rng.random() < 0.7
        }
        if not detects:
            detects = {(compliant + 1) % n: round(float(rng.uniform(0.2, 1)), 3)}
        low = 0.0 if rng.random() < 0.75 else round(float(rng.uniform(0, 0.2)), 3)
        high = 1.0 if rng.random() < 0.6 else round(float(rng.uniform(low + 0.1, 1)), 3)
        fp = (
            0.0
            if rng.random() < 0.7
            else round(float(rng.uniform(0, min(1.0, fp_room / m / high))), 3)
        )
        fixed = 0.0 if rng.random() < 0.75 else round(float(rng.uniform(0, 1)), 3)
        cost = round(float(rng.uniform(0.1, 3)), 3)
        monitors.append(
            {
                "cost": cost,
                "fixed": fixed,
                "min_rate": low,
                "max_rate": high,
                "fp": fp,
                "detects": detects,
            }
        )
    others = [i for i in range(n) if i != compliant]
    twins = len(others) > 1 and rng.random() < 0.3  # two deviations no monitor tells apart
    if twins:
        a, b = others[:2]
        caps[b] = caps[a]
        for mon in monitors:
            mon["detects"].pop(b, None)
            if a in mon["detects"]:
                mon["detects"][b] = mon["detects"][a]
    K = int(rng.integers(1, 4))
    parts = (
        sorted(rng.choice(np.arange(1, 1000), size=K - 1, replace=False).tolist()) if K > 1 else []
    )
    weights = [(b - a) / 1000 for a, b in zip([0, *parts], [*parts, 1000], strict=True)]
    types = []
    for k in range(K):
        gains = [round(float(rng.uniform(0, 5)), 3) for _ in range(n)]
        gains[compliant] = round(float(rng.uniform(0, 1)), 3)
        if len(others) > 1 and (twins or rng.random() < 0.15):  # a tie: the same gain
            gains[others[1]] = gains[others[0]]
        r = 0.0 if rng.random() < 0.6 else round(float(rng.uniform(-0.3, 0.6)), 3)
        types.append({"weight": weights[k], "r": r, "gains": gains})
    margin = 0.0 if rng.random() < 0.6 else round(float(rng.uniform(0, 0.5)), 3)
    budget = None
    floors = sum(
        m["cost"] * m["min_rate"] + (m["fixed"] if m["min_rate"] > 0 else 0.0) for m in monitors
    )
    draw = rng.random()
    if draw < 0.3:
        budget = round(float(rng.uniform(0, 2.5)), 3)
    elif draw < 0.4:  # knife-edge: exactly the floors' cost, or just below it
        budget = floors if rng.random() < 0.5 else max(0.0, floors * (1 - 1e-9) - 1e-12)
    return Commitment(
        names=names,
        compliant=compliant,
        caps=caps,
        harms=harms,
        fp_penalty=round(float(rng.uniform(0, 3)), 3),
        margin=margin,
        budget=budget,
        monitors=monitors,
        types=types,
        typed=K > 1 or rng.random() < 0.3,
    )


def commitment_peer(g: Commitment) -> tuple[str, float | None, str]:
    """Conitzer & Sandholm's multiple LPs: ('optimal', least loss) or ('infeasible', None);
    ('failure', None) when some LP that could matter ended neither optimal nor infeasible."""
    n, m, c = len(g.names), len(g.monitors), g.compliant
    Q = np.zeros((n, m))
    for j, mon in enumerate(g.monitors):
        for i, q in mon["detects"].items():
            Q[i, j] = q
    f = np.array([mon["fp"] for mon in g.monitors])
    cost = np.array([mon["cost"] for mon in g.monitors])
    lo = np.array([mon["min_rate"] for mon in g.monitors])
    hi = np.array([mon["max_rate"] for mon in g.monitors])
    fixed = [j for j, mon in enumerate(g.monitors) if mon["fixed"] > 0 and mon["min_rate"] == 0]
    can_saturate = {i for i in range(n) if i != c and Q[i] @ hi > 1}

    def detection(i: int) -> np.ndarray:
        return f if i == c else Q[i]

    best: float | None = None
    failure = ""
    for off in itertools.chain.from_iterable(
        itertools.combinations(fixed, s) for s in range(len(fixed) + 1)
    ):
        paid = sum(
            mon["fixed"] for j, mon in enumerate(g.monitors) if mon["fixed"] > 0 and j not in off
        )
        upper = hi.copy()
        upper[list(off)] = 0.0
        if g.budget is not None:
            # The floors' cost against the budget exactly (the floats as the rationals they
            # are): linprog's tolerance would accept a knife-edge budget 1e-16 short.
            floor_cost = sum(
                Fraction(mon["cost"]) * Fraction(mon["min_rate"])
                + (Fraction(mon["fixed"]) if mon["fixed"] > 0 and j not in off else 0)
                for j, mon in enumerate(g.monitors)
            )
            if floor_cost > Fraction(g.budget):
                continue
        for assign in itertools.product(range(n), repeat=len(g.types)):
            harm = sum(t["weight"] * g.harms[a] for t, a in zip(g.types, assign, strict=True))
            induced = sorted({a for a in assign if a in can_saturate})
            for pieces in itertools.product((False, True), repeat=len(induced)):
                saturated = {a for a, s in zip(induced, pieces, strict=True) if s}
                A: list[np.ndarray] = []  # rows A x <= b
                b: list[float] = []
                for a in induced:
                    if a in saturated:
                        A.append(-Q[a]), b.append(-1.0)  # Q_a x >= 1
                    else:
                        A.append(Q[a]), b.append(1.0)  # Q_a x <= 1
                for t, a in zip(g.types, assign, strict=True):
                    r, gains = t["r"], t["gains"]
                    d = [
                        utility(gains[i], r)
                        - utility(gains[i] - (g.fp_penalty if i == c else g.caps[i]), r)
                        for i in range(n)
                    ]
                    # EU(a) - EU(i) >= margin, EU(j) = u(g_j) - P_j d_j; P_a exact, P_i its
                    # concave min(1, Q_i x) as both of its pieces (it is wanted large).
                    pa_const, pa_lin = (1.0, np.zeros(m)) if a in saturated else (0.0, detection(a))
                    for i in range(n):
                        if i == a:
                            continue
                        rhs = (
                            utility(gains[i], r) - utility(gains[a], r) + g.margin + pa_const * d[a]
                        )
                        pieces_i = [detection(i)] if i == c else [Q[i], None]
                        for p in pieces_i:
                            if p is None:  # P_i = 1
                                A.append(pa_lin * d[a]), b.append(d[i] - rhs)
                            else:
                                A.append(pa_lin * d[a] - p * d[i]), b.append(-rhs)
                if g.budget is not None:
                    A.append(cost), b.append(g.budget - paid)
                res = linprog(
                    cost,
                    A_ub=np.array(A) if A else None,
                    b_ub=np.array(b) if b else None,
                    bounds=list(zip(lo, upper, strict=True)),
                    method="highs",
                )
                if res.status == 2:
                    continue
                if res.status != 0:
                    failure = f"linprog status {res.status} at assignment {assign}"
                    continue
                total = float(res.fun) + paid + harm
                if best is None or total < best:
                    best = total
    if failure and best is None:
        return "failure", None, failure
    if best is None:
        return "infeasible", None, ""
    return "optimal", best, failure


def saturable(g: Commitment) -> bool:
    return any(
        sum(m["detects"].get(i, 0.0) * m["max_rate"] for m in g.monitors) > 1
        for i in range(len(g.names))
        if i != g.compliant
    )


def check_commitment(g: Commitment) -> tuple[str, str]:
    try:
        result = deter.loads(g.toml(), name="peer", file="peer.toml").solve().to_dict(timing=False)
    except Exception as exc:
        return "internal", f"{type(exc).__name__}: {exc}"
    status = result["status"]
    peer, loss, note = commitment_peer(g)
    detail = f"deter {status} {result.get('expected_loss')}; peer {peer} {loss} {note}".strip()
    FEATURES.update(
        k
        for k, on in (
            (f"peer {peer}", True),
            ("types >= 2", len(g.types) > 1),
            ("margin > 0", g.margin > 0),
            ("budget", g.budget is not None),
            ("fixed costs", any(m["fixed"] > 0 for m in g.monitors)),
            ("rate floors", any(m["min_rate"] > 0 for m in g.monitors)),
            ("false flags", any(m["fp"] > 0 for m in g.monitors)),
            ("detection can saturate", saturable(g)),
            ("CARA type", any(t["r"] != 0 for t in g.types)),
            ("some type not deterred", status == "optimal" and result.get("harm_left", 0) > 0),
        )
        if on
    )
    if status not in ("optimal", "infeasible"):
        return "solver_error", detail
    if peer == "failure":
        return "peer_failure", detail
    if status != peer:
        return "disagree", detail
    if status == "optimal":
        assert loss is not None
        mine = float(result["expected_loss"])
        if abs(mine - loss) > TOL * max(1.0, abs(loss)):
            return "disagree", detail
    return "agree", detail


# ---------------------------------------------------------------- driver

OUTCOMES = ("agree", "disagree", "solver_error", "internal", "peer_failure")
FEATURES: Counter[str] = Counter()  # how many instances of the run had each feature


def run(family: str, count: int, seed: int, show: bool) -> Counter[str]:
    counts: Counter[str] = Counter()
    make, check = (
        (random_inspection, check_inspection)
        if family == "inspection"
        else (random_commitment, check_commitment)
    )
    for k in range(count):
        spec = make(np.random.default_rng([seed, k]))
        outcome, detail = check(spec)  # type: ignore[arg-type]
        counts[outcome] += 1
        if outcome != "agree" or show:
            print(f"--- {family} seed [{seed}, {k}]: {outcome}: {detail}")
            if outcome != "agree":
                print(spec.toml())
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stackelberg", type=int, default=80, help="Stackelberg instances")
    parser.add_argument("--inspection", type=int, default=90, help="inspection games")
    parser.add_argument(
        "--seed", type=int, default=20261207, help="seed of the instance generators"
    )
    parser.add_argument("--show", action="store_true", help="print every instance's figures")
    args = parser.parse_args(argv)
    bad = 0
    for family, count in (("stackelberg", args.stackelberg), ("inspection", args.inspection)):
        if count <= 0:
            continue
        start = time.perf_counter()
        counts = run(family, count, args.seed, args.show)
        seconds = time.perf_counter() - start
        figures = ", ".join(f"{o} {counts[o]}" for o in OUTCOMES)
        print(f"{family}: instances {count}, {figures} ({seconds:.1f} s)")
        print("  with: " + ", ".join(f"{k} {v}" for k, v in sorted(FEATURES.items())))
        FEATURES.clear()
        bad += counts["disagree"] + counts["internal"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
