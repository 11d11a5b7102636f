"""Comparing two solved specs: what changed between two versions of an oversight policy.

Only results are compared (not spec text): total cost and status, every monitor's rate and
cost, every action's detection, deterrence and whether it binds. Numbers are compared with
a relative tolerance, so solver round-off is not reported as a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..results.result import Result
from ..results.serialise import dumps, envelope

#: Relative difference (floor 1) below which two numbers count as equal.
SAME = 1e-6

Value = float | str | bool | None


@dataclass(frozen=True)
class Difference:
    section: str  # "policy", "monitor" or "action"
    item: str  # the monitor or action name ("" for the policy)
    field: str
    a: Value
    b: Value
    changed: bool

    @property
    def delta(self) -> float | None:
        """b - a for two numbers, else None."""
        if _is_number(self.a) and _is_number(self.b):
            return float(self.b) - float(self.a)  # type: ignore[arg-type]
        return None

    @property
    def relative(self) -> float | None:
        delta = self.delta
        if delta is None or not self.a:
            return None
        return delta / abs(float(self.a))  # type: ignore[arg-type,unused-ignore]


@dataclass(frozen=True)
class Comparison:
    a: Result
    b: Result
    rows: tuple[Difference, ...]

    @property
    def changes(self) -> tuple[Difference, ...]:
        return tuple(r for r in self.rows if r.changed)

    def to_json(self) -> str:
        """``to_dict()`` as the JSON text ``deter compare --format json`` prints."""
        return dumps(self.to_dict(), indent=2) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``deter compare --format json``: both policies' headline
        figures, how many rows changed, and every row with its difference, in the one
        envelope (``schema_version``, ``kind: "comparison"``)."""
        return envelope(
            "comparison",
            {
                "a": {
                    "name": self.a.name,
                    "file": self.a.file,
                    "status": self.a.status,
                    "total_cost": self.a.total_cost,
                },
                "b": {
                    "name": self.b.name,
                    "file": self.b.file,
                    "status": self.b.status,
                    "total_cost": self.b.total_cost,
                },
                "changed": len(self.changes),
                "rows": [
                    {
                        "section": r.section,
                        "item": r.item,
                        "field": r.field,
                        "a": r.a,
                        "b": r.b,
                        "delta": r.delta,
                        "relative": r.relative,
                        "changed": r.changed,
                    }
                    for r in self.rows
                ],
            },
        )


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _differs(a: Value, b: Value) -> bool:
    if _is_number(a) and _is_number(b):
        x, y = float(a), float(b)  # type: ignore[arg-type]
        return abs(x - y) > SAME * max(1.0, abs(x), abs(y))
    return a != b


def _row(section: str, item: str, field: str, a: Value, b: Value) -> Difference:
    return Difference(section, item, field, a, b, _differs(a, b))


def _names(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def compare(a: Result, b: Result) -> Comparison:
    """Side by side rows for two results (``a`` the old policy, ``b`` the new one)."""
    rows = [
        _row("policy", "", "status", a.status, b.status),
        _row("policy", "", "total_cost", a.total_cost, b.total_cost),
    ]
    monitors_a = {m.name: m for m in a.monitors}
    monitors_b = {m.name: m for m in b.monitors}
    for name in _names(list(monitors_a), list(monitors_b)):
        ma, mb = monitors_a.get(name), monitors_b.get(name)
        rows.append(_row("monitor", name, "rate", ma.rate if ma else None, mb.rate if mb else None))
        rows.append(_row("monitor", name, "cost", ma.cost if ma else None, mb.cost if mb else None))
    actions_a = {x.name: x for x in a.actions}
    actions_b = {x.name: x for x in b.actions}
    for name in _names(list(actions_a), list(actions_b)):
        xa, xb = actions_a.get(name), actions_b.get(name)
        compliant = (xa or xb).compliant  # type: ignore[union-attr]
        rows.append(
            _row(
                "action",
                name,
                "false flags" if compliant else "detection",
                xa.detection if xa else None,
                xb.detection if xb else None,
            )
        )
        if not compliant:
            rows.append(
                _row(
                    "action",
                    name,
                    "deterred",
                    xa.deterred if xa else None,
                    xb.deterred if xb else None,
                )
            )
            rows.append(
                _row(
                    "action",
                    name,
                    "binding",
                    xa.binding if xa else None,
                    xb.binding if xb else None,
                )
            )
    return Comparison(a, b, tuple(rows))
