"""Limits on what a spec may ask of deter, checked before memory is spent on it.

A spec is data written by someone else (in CI, on a pull request), so its size is bounded
in three steps, each before the next costs anything:

1. the file's size, before it is parsed (``loading.DEFAULT_MAX_BYTES``, raised with
   ``--max-size``): only a regular file is read (judged by ``fstat`` on the opened
   descriptor, so a device or FIFO is refused), and never more than one byte past the
   limit; this also bounds what the TOML parser can allocate;
2. nesting: tomli refuses inline arrays and tables nested more than 400 levels (a
   ``RecursionError`` the loader turns into a located error), so ``a = [[[[...]]]]`` 100,000
   deep costs nothing;
3. the counts of actions, monitors and detection entries, checked on the parsed TOML
   before the spec model, arrays or program are built (``check_counts``).

A spec is data, never code: deter evaluates no expressions, follows no includes and
expands no environment variables; ``${HOME}`` in a name or description stays those seven
characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..results.errors import SpecError, SpecIssue

#: The range of numbers deter computes in: every number in a spec is 0 or has a magnitude
#: in [MIN_MAGNITUDE, MAX_MAGNITUDE]. Far beyond any real money or probability, and far
#: inside binary64, whose subnormals (5e-324) and overflow (1e308) the model's products
#: and exponentials would reach (docs/spec-format.md, "Limits").
MIN_MAGNITUDE = 1e-100
MAX_MAGNITUDE = 1e100
#: Smallest present value of a delayed penalty, (discount x retention)^audit_delay
#: ([horizon]): below it gains divided by it leave any real scale (docs/spec-format.md).
MIN_PRESENT_VALUE = 1e-12
#: Largest |risk aversion| (CARA coefficients are of order 1 / (the wealth at stake)): the
#: largest measured. The rows are in log space, so |r| enters only through r x money, and a
#: spec with r x K and every amount the agent sees / K is the same problem: 170 such pairs
#: with K up to 1e6 (|r| up to 9e8) gave the same answers (issue 20 item 6); it was 1e3.
MAX_RISK_AVERSION = 1e9
#: Largest |risk aversion| x the spread of gains for a risk-seeking agent. Its utility of a
#: gain w, (exp(|r| w) - 1) / |r|, leaves binary64 beyond exp(709), so its rows are built in
#: log space (model/stable.py, model/pair_rows.py); their logs carry a round-off of about
#: eps |r| w relative, 2.2e-10 at 1e6, below the certificates' room (1e-9): beyond it no
#: float64 row holds the model to that precision (docs/spec-format.md, Limits).
MAX_SEEKING_EXPONENT = 1e6


def representable(value: float) -> float:
    """``value`` if deter can compute with it (0, or a magnitude within the range)."""
    magnitude = abs(value)
    if magnitude == 0:
        return value
    if magnitude > MAX_MAGNITUDE or magnitude < MIN_MAGNITUDE:
        raise ValueError(
            f"{value!r} is outside the range deter computes in: 0, or a magnitude between "
            f"{MIN_MAGNITUDE:g} and {MAX_MAGNITUDE:g} (docs/spec-format.md, Limits)"
        )
    return value


#: Most actions a spec may declare (the benchmark's largest spec has 10,000).
MAX_ACTIONS = 100_000
#: Most monitors a spec may declare (declared monitors plus audit shorthands).
MAX_MONITORS = 10_000
#: Most (monitor, action) detection entries, summed over all monitors.
MAX_DETECTION_ENTRIES = 2_000_000


def check_counts(data: Mapping[str, Any], file: str) -> None:
    """Refuse a parsed spec whose counts exceed the limits, naming the key and the limit."""
    actions = data.get("actions")
    monitors = data.get("monitors")
    issues: list[SpecIssue] = []
    n_actions = len(actions) if isinstance(actions, list) else 0
    n_audits = (
        sum(1 for a in actions if isinstance(a, dict) and "audit_cost" in a)
        if isinstance(actions, list) and n_actions <= MAX_ACTIONS
        else 0
    )
    n_monitors = (len(monitors) if isinstance(monitors, list) else 0) + n_audits
    if n_actions > MAX_ACTIONS:
        issues.append(
            SpecIssue(file, "actions", f"{n_actions:,} actions, over the limit of {MAX_ACTIONS:,}")
        )
    if n_monitors > MAX_MONITORS:
        issues.append(
            SpecIssue(
                file,
                "monitors",
                f"{n_monitors:,} monitors (audits included), over the limit of {MAX_MONITORS:,}",
            )
        )
    if isinstance(monitors, list) and n_monitors <= MAX_MONITORS:
        entries = sum(
            len(m["detects"])
            for m in monitors
            if isinstance(m, dict) and isinstance(m.get("detects"), dict)
        )
        if entries > MAX_DETECTION_ENTRIES:
            issues.append(
                SpecIssue(
                    file,
                    "monitors.detects",
                    f"{entries:,} detection entries, over the limit of {MAX_DETECTION_ENTRIES:,}",
                )
            )
    if issues:
        raise SpecError(issues)
