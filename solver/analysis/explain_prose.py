"""The account of ``deter explain`` in sentences: what binds, what each monitor buys, which
constraint to relax first, or (infeasible) the smallest fixes."""

from __future__ import annotations

from dataclasses import replace

from ..spec.document import AUDIT_PREFIX
from .explanation import SMALL, ActionAccount, Explanation


def _figure(value: float) -> str:
    """Four significant digits when they are the number itself, else every digit needed
    (a fix one ulp above 0.6 must not read as 0.6)."""
    text = f"{value:.4g}"
    return text if float(text) == value else repr(float(value))


def _utility_terms(a: ActionAccount) -> str:
    """A CARA agent's binding row in utility (money would compare an expected penalty with a
    gain that risk aversion weighs differently)."""
    kind = "risk-averse" if a.risk_aversion > 0 else "risk-seeking"
    share = "-" if a.utility_share is None else f"{a.utility_share:.4g}"
    return (
        f"and to this {kind} agent (risk aversion {a.risk_aversion:.4g}) the expected "
        f"utility it loses to penalties is {share} times the utility its gain of "
        f"{a.gain_over_compliant:.4g} over complying brings (deterred at 1 or more)"
    )


def _money(value: float | None, currency: str) -> str:
    if value is None:
        return "-"
    text = f"{value:.4g}"
    return f"{text} {currency}" if currency else text


def _share_list(shares: dict[str, float]) -> str:
    # Shares under half a percent round to 0% and say nothing; the largest is always shown.
    shown = {k: v for k, v in shares.items() if v >= 0.005} or dict(list(shares.items())[:1])
    parts = [f"{name} ({100 * share:.0f}%)" for name, share in shown.items()]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def with_paragraphs(e: Explanation, have_duals: bool) -> Explanation:
    """``e`` with its account in sentences, grouped under titles."""
    paragraphs: list[tuple[str, tuple[str, ...]]] = []
    cur = e.currency
    if e.status == "infeasible":
        lines = [f"{e.name} cannot be met: {e.reason}."]
        verified = [f for f in e.fixes if f.verified]
        for fix in sorted(verified, key=lambda f: f.cost_after or 0.0):
            was = "unset" if fix.current is None else f"{fix.current:.4g}"
            lines.append(
                f"Set {fix.path} to {_figure(fix.needed)} (now {was}): {fix.why}; the spec then "
                f"solves at {_money(fix.cost_after, cur)} per episode."
            )
        for fix in e.fixes:
            if not fix.verified:
                lines.append(
                    f"Setting {fix.path} to {_figure(fix.needed)} alone is not enough ({fix.why})."
                )
        if not e.fixes:
            lines.append(
                "No single change to a penalty cap, rate ceiling or budget makes it feasible."
            )
        paragraphs.append(("Why it cannot be met, and the smallest fixes", tuple(lines)))
        return replace(e, paragraphs=tuple(paragraphs))

    binding = [a for a in e.actions if a.binding]
    slack = [a for a in e.actions if not a.binding and a.deterred]
    lines = [
        f"The cheapest policy that deters every action costs {_money(e.total_cost, cur)} "
        f"per episode."
    ]
    for a in sorted(binding, key=lambda a: -a.shadow_price):
        sentence = f"{a.name} binds: it is caught with probability {a.detection:.4g}, " + (
            f"an expected penalty of {a.expected_penalty:.4g} against a gain of "
            f"{a.gain_over_compliant:.4g} over complying"
            if a.risk_aversion == 0
            else _utility_terms(a)
        )
        if have_duals:
            spent = "oversight" if e.penalty_design == "fixed" else "oversight and penalty cost"
            sentence += (
                f"; each extra unit of gain from {a.name} costs "
                f"{a.shadow_price:.4g} more {spent} per episode"
            )
            if a.detection_price > SMALL:
                sentence += (
                    f", and each extra 0.01 of its detection costs {a.detection_price * 0.01:.4g}"
                )
        if a.detected_by:
            sentence += f" (caught by {_share_list(a.detected_by)})"
        lines.append(sentence + ".")
    if slack:
        names = ", ".join(a.name for a in slack)
        lines.append(
            f"{names} {'is' if len(slack) == 1 else 'are'} deterred with room to "
            "spare, by monitoring bought for the binding actions; "
            f"{'its gain' if len(slack) == 1 else 'their gains'} could rise a little "
            "at no cost."
        )
    if binding and have_duals:
        top = max(binding, key=lambda a: a.shadow_price)
        lines.append(f"The expensive behaviour to deter is {top.name}.")
    paragraphs.append(("What binds", tuple(lines)))

    if have_duals:
        lines = []
        for m in e.monitors:
            label = m.name.removeprefix(AUDIT_PREFIX)
            kind = "the audit of" if m.name.startswith(AUDIT_PREFIX) else ""
            who = f"{kind} {label}".strip()
            if m.state == "interior":
                lines.append(
                    f"{who} runs at rate {m.rate:.4g} ({_money(m.cost, cur)}); at the "
                    f"margin it is what deters {_share_list(m.buys)}."
                )
            elif m.state == "ceiling":
                gain = m.value_per_rate - m.unit_cost
                more = (
                    f"so each extra 0.01 of ceiling would save {_money(gain * 0.01, cur)}"
                    if m.rate < 1 - 1e-9
                    else "but it already inspects every episode"
                )
                lines.append(
                    f"{who} runs at its ceiling {m.rate:.4g} ({_money(m.cost, cur)}); "
                    f"it is worth {_money(m.value_per_rate, cur)} per unit of rate "
                    f"against a cost of {_money(m.unit_cost, cur)}, {more}"
                    + (f"; it buys {_share_list(m.buys)}" if m.buys else "")
                    + "."
                )
            elif m.state == "floor":
                lines.append(
                    f"{who} is held at its floor {m.rate:.4g} "
                    f"({_money(m.cost, cur)}), more than it is worth here."
                )
            else:
                worth = m.value_per_rate
                if worth > SMALL:
                    lines.append(
                        f"{who} is not used: it costs {_money(m.unit_cost, cur)} per "
                        f"unit of rate but would save only {_money(worth, cur)}; it "
                        f"would pay for itself below that cost."
                    )
                else:
                    lines.append(
                        f"{who} is not used: nothing it detects needs more "
                        "deterrence at the margin."
                    )
            if m.false_flag_drag > SMALL and m.state != "unused":
                lines.append(
                    f"  The false flags {who} raises on compliant episodes cost "
                    f"{_money(m.false_flag_drag, cur)} per unit of rate in extra "
                    "deterrence needed."
                )
        paragraphs.append(("What each monitor buys", tuple(lines)))

    lines = []
    first = e.relax_first
    for r in e.relaxations:
        exact = (
            "could not be re-solved"
            if r.exact_saving is None
            else f"saves {_money(r.exact_saving, cur)} exactly (re-solved)"
        )
        lines.append(
            f"{r.constraint} ({r.path} {r.current:.4g} -> {r.relaxed:.4g}): {exact}; "
            f"first-order estimate {_money(r.first_order_saving, cur)} "
            f"(marginal {r.marginal:.4g} per unit)."
        )
    if first is not None:
        lines.insert(
            0,
            f"Relax first: the {first.constraint}. Relaxing it by 10% saves "
            f"{_money(first.exact_saving, cur)} per episode.",
        )
    elif have_duals:
        lines.append("No budget, rate ceiling or penalty cap is holding the cost up.")
    else:
        lines.append(
            "No constraint is priced: only answers of the full-deterrence program carry "
            "verified multipliers, and this one has none (a spec with harms, types, "
            "deployment costs or an auditor is solved as a commitment program; an answer of "
            "exponential detection with false flags has them only when the program at the "
            "answer is certified, and its notes say why not)."
        )
    if lines:
        paragraphs.append(("Which constraint to relax first", tuple(lines)))
    return replace(e, paragraphs=tuple(paragraphs))
