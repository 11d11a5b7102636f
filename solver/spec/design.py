"""Cross-field checks for penalty design, exponential detection and ROC monitors.

Called from ``Spec``'s model validator; each problem is a (key path, message) pair, so the
loader can name the file, the key and the line. Combinations that cannot be written as a
convex program are refused here, never solved wrongly (docs/model.md says why each one fails).
"""

from __future__ import annotations

import itertools

from .gains import gain_bounds
from .limits import MAX_MAGNITUDE, MAX_RISK_AVERSION, MAX_SEEKING_EXPONENT, MIN_PRESENT_VALUE
from .sections import Learner, SpecView, penalty_credit
from .suggest import did_you_mean

Problem = tuple[tuple[str | int, ...], str]

#: Two ROC coordinates closer than this are taken as equal (the (1, 1) end point).
ROC_TOLERANCE = 1e-12


def detection_and_penalty_problems(spec: SpecView) -> list[Problem]:
    return (
        _penalty_problems(spec)
        + _exponential_problems(spec)
        + _roc_problems(spec)
        + _risk_seeking_problems(spec)
        + _learner_problems(spec)
        + _horizon_problems(spec)
    )


def _risk_neutral_only(spec: SpecView, why: str, table: str) -> list[Problem]:
    """Each nonzero risk_aversion (the agent's, every type's) refused with ``why``."""
    keys = [(("agent", "risk_aversion"), spec.agent.risk_aversion)] + [
        (("types", t.name, "risk_aversion"), t.risk_aversion)
        for t in spec.types
        if t.risk_aversion is not None
    ]
    return [
        (
            key,
            f"{why}; risk_aversion = {value:g} cannot be combined with it: remove [{table}] "
            "or set risk_aversion = 0",
        )
        for key, value in keys
        if value != 0
    ]


def _learner_problems(spec: SpecView) -> list[Problem]:
    """A learner's estimates are sample means of rewards: its margin (solver/model/learning.py)
    is in money, which is the agent's utility only for a risk-neutral agent; refused, not
    approximated, for a risk-averse or risk-seeking one."""
    if spec.learner is None:
        return []
    problems = _risk_neutral_only(
        spec,
        "[learner] describes a learner that ranks actions by its sample means of rewards "
        "(risk neutral)",
        "learner",
    )
    problems += _algorithm_problems(spec.learner)
    return problems


def _algorithm_problems(learner: Learner) -> list[Problem]:
    """Each ``[learner] algorithm`` reads its own keys (docs/spec-format.md): a sample-mean
    learner ``samples`` (a ppo learner too, with ``gae_lambda``: a sample-mean design with
    PPO's credit for delayed penalties); exp3 and hedge ``rounds`` (and exp3
    ``exploration``), and their regret and concentration bounds need rewards in a known
    range (no Gaussian noise)."""
    algorithm = learner.algorithm
    problems: list[Problem] = []
    if learner.gae_lambda is not None and algorithm != "ppo":
        problems.append(
            (
                ("learner", "gae_lambda"),
                f'gae_lambda is PPO\'s GAE lambda: it needs algorithm = "ppo" (the learner is '
                f'"{algorithm}")',
            )
        )
    if algorithm in ("sample-mean", "ppo"):
        if learner.samples is None:
            problems.append(
                (("learner", "samples"), "samples is required (episodes of each action)")
            )
        for key in ("rounds", "exploration", "violation"):
            if getattr(learner, key) is not None:
                problems.append(
                    (
                        ("learner", key),
                        f'{key} describes an exp3 or hedge learner: set algorithm = "exp3" '
                        'or "hedge", or remove it',
                    )
                )
        return problems
    if learner.rounds is None:
        problems.append(
            (("learner", "rounds"), f'algorithm = "{algorithm}" needs rounds (its episodes T)')
        )
    if learner.samples is not None:
        problems.append(
            (
                ("learner", "samples"),
                f'algorithm = "{algorithm}" learns over rounds, not samples: remove samples',
            )
        )
    if learner.exploration is not None and algorithm != "exp3":
        problems.append(
            (("learner", "exploration"), 'exploration is exp3\'s gamma: only with "exp3"')
        )
    if learner.reward_noise != 0:
        problems.append(
            (
                ("learner", "reward_noise"),
                f'algorithm = "{algorithm}" bounds assume rewards in a known range; Gaussian '
                "noise has none: set reward_noise = 0",
            )
        )
    if learner.bound == "bernstein" and (algorithm == "exp3" or learner.violation == "average"):
        problems.append(
            (
                ("learner", "bound"),
                'bound = "bernstein" sets sample-mean margins (sample-mean, or hedge\'s final '
                f'action); algorithm = "{algorithm}" with violation = '
                f'"{learner.violation or "final"}" has its own bound: remove bound',
            )
        )
    return problems


def _horizon_problems(spec: SpecView) -> list[Problem]:
    """A ``[horizon]`` divides gains and margin by kappa = (gamma rho)^d (solver/model/
    horizon.py), which keeps the agent's preferences only when it is risk neutral (a CARA
    utility of delayed money is not a scaled one): refused otherwise, not approximated; and
    kappa must leave the scaled gains inside the range deter computes in."""
    horizon = spec.horizon
    if horizon is None:
        return []
    problems = _risk_neutral_only(
        spec, "[horizon] discounts a delayed penalty for a risk-neutral agent", "horizon"
    )
    kappa = penalty_credit(horizon, spec.learner)[1]
    largest = max(
        [abs(x) for a in spec.actions for x in gain_bounds(a.gain)]
        + [abs(x) for t in spec.types for g in t.gains.values() for x in gain_bounds(g)]
        + [spec.agent.margin],
        default=0.0,
    )
    ppo = spec.learner is not None and spec.learner.algorithm == "ppo"
    lam = "gae_lambda x " if ppo else ""
    if kappa < MIN_PRESENT_VALUE or largest / kappa > MAX_MAGNITUDE:
        problems.append(
            (
                ("horizon", "audit_delay"),
                f"a penalty paid {horizon.audit_delay} steps later is worth (discount x "
                f"{lam}retention)^audit_delay = {kappa:.3g} of itself at the act: below "
                f"{MIN_PRESENT_VALUE:g} (or the gains divided by it leave the range deter "
                "computes in), no penalty can deter through it; shorten the delay or raise "
                "discount or retention",
            )
        )
    return problems


def _risk_seeking_problems(spec: SpecView) -> list[Problem]:
    """Risk aversion within the range deter computes in (limits.py): |r| at most
    MAX_RISK_AVERSION, and for a risk-seeking agent, whose utility of a gain w is
    (exp(|r| w) - 1) / |r|, |r| times the largest gain over complying at most
    MAX_SEEKING_EXPONENT (the rows are in log space; beyond it their logs' round-off
    exceeds the certificates' room): refused, not answered wrongly."""
    r = spec.agent.risk_aversion
    coefficients = [(("agent", "risk_aversion"), r)] + [
        (("types", t.name, "risk_aversion"), t.risk_aversion)
        for t in spec.types
        if t.risk_aversion is not None
    ]
    problems: list[Problem] = []
    # Wealth is measured from the compliant gain: only gains above it grow exp(|r| w).
    compliant = next((a for a in spec.actions if a.name == spec.compliant_action), None)
    reference = gain_bounds(compliant.gain)[0] if compliant is not None else 0.0
    highs = [gain_bounds(a.gain)[1] for a in spec.actions]
    for t in spec.types:
        highs += [gain_bounds(g)[1] for g in t.gains.values()]
        if spec.compliant_action in t.gains:
            reference = min(reference, gain_bounds(t.gains[spec.compliant_action])[0])
    spread = max(max(highs, default=0.0) - reference, 0.0)
    for key, value in coefficients:
        if abs(value) > MAX_RISK_AVERSION:
            problems.append(
                (
                    key,
                    f"risk_aversion = {value:g} is outside the range deter computes in: "
                    f"|risk_aversion| at most {MAX_RISK_AVERSION:g} (docs/spec-format.md, "
                    "Limits)",
                )
            )
        elif value < 0 and abs(value) * spread > MAX_SEEKING_EXPONENT:
            problems.append(
                (
                    key,
                    f"a risk-seeking agent (risk_aversion = {value:g}) with gains up to "
                    f"{spread:g} over complying is beyond the range deter computes in: "
                    "|risk_aversion| x the largest gain over complying must be at most "
                    f"{MAX_SEEKING_EXPONENT:g} (docs/spec-format.md, Limits)",
                )
            )
    return problems


def _penalty_problems(spec: SpecView) -> list[Problem]:
    design, agent = spec.penalty.design, spec.agent
    problems: list[Problem] = []
    if design == "fixed":
        if spec.penalty.cost > 0:
            problems.append(
                (
                    ("penalty", "cost"),
                    "penalty.cost only applies when penalties are decisions; set "
                    'penalty.design = "per_action" or "shared", or remove penalty.cost',
                )
            )
        return problems
    if agent.risk_aversion != 0:
        # P d(F) >= k is log-concave in (P, F) for CARA utility, so it could be written with
        # exponential cones; not implemented (docs/model.md), hence refused, not approximated.
        problems.append(
            (
                ("penalty", "design"),
                f"penalty.design = {design!r} is not supported with agent.risk_aversion = "
                f"{agent.risk_aversion:g} (chosen penalties are formulated for a risk-neutral "
                'agent); use design = "fixed" or a risk-neutral agent',
            )
        )
    if agent.false_positive_penalty > 0:
        problems.append(
            (
                ("penalty", "design"),
                f"penalty.design = {design!r} cannot be combined with "
                f"agent.false_positive_penalty = {agent.false_positive_penalty:g}: the "
                'constraint P_i F_i >= k_i + F_fp P_0 is not convex; use design = "fixed" '
                "or remove the false-positive penalty",
            )
        )
    return problems


def _exponential_problems(spec: SpecView) -> list[Problem]:
    if spec.oversight.detection != "exponential":
        return []
    problems: list[Problem] = []
    certain = (
        'with oversight.detection = "exponential" a probability must be below 1 '
        "(1 - (1 - q)^x with q = 1 catches with certainty at any positive rate, so no "
        "least-cost rate exists); use e.g. 0.999"
    )
    for j, monitor in enumerate(spec.monitors):
        for action, q in monitor.detects.items():
            if q >= 1:
                problems.append((("monitors", j, "detects", action), certain))
        if monitor.false_positive >= 1:
            problems.append((("monitors", j, "false_positive"), certain))
        if monitor.roc is not None:
            problems.append(
                (
                    ("monitors", j, "roc"),
                    "a monitor described by roc cannot be used with oversight.detection = "
                    '"exponential" (the independent-catch product of an ROC envelope is not '
                    'concave in the rates); use detection = "linear"',
                )
            )
    for i, entry in enumerate(spec.actions):
        if entry.audit_cost is not None and entry.audit_detection >= 1:
            problems.append(
                (
                    ("actions", i, "audit_detection"),
                    certain + " (audit_detection defaults to 1: set it explicitly)",
                )
            )
    return problems


def _roc_problems(spec: SpecView) -> list[Problem]:
    problems: list[Problem] = []
    names = [a.name for a in spec.actions]
    compliant = spec.compliant_action
    for j, monitor in enumerate(spec.monitors):
        if monitor.roc is None:
            continue
        here: tuple[str | int, ...] = ("monitors", j)
        if monitor.detects:
            problems.append(
                (
                    (*here, "detects"),
                    "a monitor described by roc lists what it catches in roc; remove detects "
                    "(or move those actions to another monitor)",
                )
            )
        if monitor.false_positive > 0:
            problems.append(
                (
                    (*here, "false_positive"),
                    "a monitor described by roc flags honest episodes at its rate, and they are "
                    "audited and cleared without penalty; remove false_positive",
                )
            )
        if not monitor.roc:
            problems.append(((*here, "roc"), "roc lists no action"))
        for action, points in monitor.roc.items():
            loc = (*here, "roc", action)
            if action not in names:
                problems.append((loc, f"unknown action {action!r}" + did_you_mean(action, names)))
                continue
            if action == compliant:
                problems.append(
                    (loc, f"{action!r} is the compliant action; its flags are the rate itself")
                )
                continue
            message = roc_points_problem(points)
            if message:
                problems.append((loc, message))
    return problems


def roc_points_problem(points: tuple[tuple[float, float], ...]) -> str | None:
    """Why these ROC points are not a curve, or None when they are."""
    if not points:
        return "an ROC curve needs points [[fpr, tpr], ...] reaching [1.0, 1.0]"
    ordered = sorted(points)
    if not any(
        abs(fpr - 1) <= ROC_TOLERANCE and abs(tpr - 1) <= ROC_TOLERANCE for fpr, tpr in ordered
    ):
        return (
            "an ROC curve must reach [1.0, 1.0] (flagging every episode catches every "
            "deviation); add that point"
        )
    for (fpr_a, tpr_a), (fpr_b, tpr_b) in itertools.pairwise(ordered):
        if tpr_b < tpr_a - ROC_TOLERANCE:
            return (
                "ROC points must rise together: sorted by false-positive rate, the "
                f"true-positive rate falls from {tpr_a:g} at [{fpr_a:g}, {tpr_a:g}] to "
                f"{tpr_b:g} at [{fpr_b:g}, {tpr_b:g}]"
            )
    return None
