"""What ``deter explain`` hands back: the accounts of actions and monitors, the relaxations
priced and re-solved, the fixes of an infeasible spec, and the prose (``explain.py`` derives
them; ``explain_prose.py`` words them)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..results.serialise import dumps, envelope, jsonable

#: Multipliers and shares below this are treated as zero (solver round-off).
SMALL = 1e-9


@dataclass(frozen=True)
class ActionAccount:
    name: str
    gain_over_compliant: float
    detection: float
    expected_penalty: float
    deterred: bool
    binding: bool
    shadow_price: float  # d cost / d gain
    detection_price: float  # d cost / d P_i: what one more unit of detection of it costs
    detected_by: dict[str, float]  # share of its detection from each monitor
    # a CARA agent (risk_aversion != 0): the expected utility it loses to penalties (net of
    # false flags) over the utility its gain brings, the program's row (deterred at >= 1);
    # None for a risk-neutral agent, whose terms are money
    risk_aversion: float = 0.0
    utility_share: float | None = None


@dataclass(frozen=True)
class MonitorAccount:
    name: str
    rate: float
    cost: float  # c_j x_j
    unit_cost: float
    state: str  # "interior", "ceiling", "floor", "unused"
    value_per_rate: float  # v_j: oversight cost one unit of its rate saves elsewhere
    buys: dict[str, float]  # share of its value from deterring each action
    false_flag_drag: float  # part of v_j lost to false flags (cost units per unit rate)
    marginal_for: tuple[str, ...]  # actions whose deterrence it prices at the margin
    break_even_cost: float | None  # unused: the unit cost at which it would start to pay


@dataclass(frozen=True)
class Relaxation:
    constraint: str  # human label
    path: str  # the spec field to change
    current: float
    relaxed: float
    marginal: float  # d cost / d value at the current value
    first_order_saving: float
    exact_saving: float | None
    exact_cost: float | None
    status: str  # of the re-solve


@dataclass(frozen=True)
class Fix:
    """One change that would make an infeasible spec feasible."""

    path: str
    current: float | None
    needed: float
    why: str
    verified: bool  # the re-solved spec with this change alone is optimal
    cost_after: float | None


@dataclass(frozen=True)
class Explanation:
    name: str
    currency: str
    status: str
    total_cost: float | None
    actions: tuple[ActionAccount, ...] = ()
    monitors: tuple[MonitorAccount, ...] = ()
    relaxations: tuple[Relaxation, ...] = ()
    fixes: tuple[Fix, ...] = ()
    reason: str = ""
    paragraphs: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())
    penalty_design: str = "fixed"  # under another design the cost includes the penalty's

    def __str__(self) -> str:
        """The explanation as ``deter explain`` prints it: ``print(problem.explain())``."""
        return self.to_text()

    def to_text(self, width: int = 100, clean: Callable[[str], str] = str) -> str:
        """Indented prose, one paragraph per heading, lines filled to ``width``.

        ``clean`` is applied to every heading and sentence first (the command line passes
        its terminal escaping, so no control character from a spec acts on a terminal).
        """
        out: list[str] = []
        for title, sentences in self.paragraphs:
            out.append(clean(title))
            for raw in sentences:
                sentence = clean(raw)
                indent = "    " if sentence.startswith("  ") else "  "
                out.append(
                    textwrap.fill(
                        sentence.strip(),
                        width=max(40, width),
                        initial_indent=indent + ("" if indent == "    " else "- "),
                        subsequent_indent=indent + "  ",
                    )
                )
            out.append("")
        return "\n".join(out)

    @property
    def relax_first(self) -> Relaxation | None:
        useful = [r for r in self.relaxations if (r.exact_saving or 0.0) > SMALL]
        return max(useful, key=lambda r: r.exact_saving or 0.0) if useful else None

    def to_json(self) -> str:
        """``to_dict()`` as the JSON text ``deter explain --format json`` prints."""
        return dumps(self.to_dict(), indent=2) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``deter explain --format json`` (non-finite numbers as null)."""
        doc = asdict(self)
        doc["paragraphs"] = [{"title": t, "sentences": list(s)} for t, s in self.paragraphs]
        doc["relax_first"] = self.relax_first.path if self.relax_first else None
        return jsonable(envelope("explanation", doc))
