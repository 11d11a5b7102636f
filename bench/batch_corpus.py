"""The batch benchmarks' corpora: the project's full-vocabulary generator
(``tests/support/vocabulary.py``) written to a folder, and the check of an answer against
the plain loop's reference (``plain_scipy.py``) and the generator's own knowledge.

Mixes:

* ``lp`` (the headline mix): every family whose program is a linear program that the plain
  scipy loop also writes: ``core`` (linear, budget), ``cara`` (risk-averse and risk-seeking
  agents, |r| x gains near the limits) and ``degenerate`` (no monitors, non-paying actions,
  zero costs and caps, ties), with every core key: margins, rate floors and ceilings, a
  compliant action listed later, per-action caps and audits, false flags, binding and
  knife-edge budgets;
* ``strategic``, ``exponential``, ``roc``, ``penalty_design``: the generator's groups, which
  the plain loop cannot write (no reference but the generator's expected status);
* ``all``: every family of the generator.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script: the repository root for tests.support

from tests.support.vocabulary import GROUPS, mix  # noqa: E402

MIXES: dict[str, tuple[str, ...]] = {
    "lp": (*GROUPS["core"], *GROUPS["cara"], *GROUPS["degenerate"]),
    **{name: GROUPS[name] for name in ("strategic", "exponential", "roc", "penalty_design")},
    "all": tuple(family for group in GROUPS.values() for family in group),
}
#: Families of the ``lp`` mix whose program the plain loop does not write (it ignores a
#: ``[learner]`` table's margins, so it solves another problem): judged against the
#: generator only.
UNWRITTEN_BY_LOOP = frozenset({"learner"})
#: Families whose program the plain loop writes.
LOOP_FAMILIES = frozenset(MIXES["lp"]) - UNWRITTEN_BY_LOOP
#: Relative cost agreement required with the reference.
COST_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Written:
    folder: Path
    expected: dict[str, str | None]  # file -> the generator's expected status (None: unknown)
    families: dict[str, str]  # file -> family


def write_mix(folder: Path, name: str, n: int, infeasible: float, seed: int = 0) -> Written:
    """``n`` specs of mix ``name`` (``MIXES``), ``infeasible`` of them made infeasible."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str | None] = {}
    families: dict[str, str] = {}
    for k, case in enumerate(mix(n, seed=seed, infeasible=infeasible, families=MIXES[name])):
        path = folder / f"spec_{k:06d}.toml"
        path.write_text(case.text, encoding="utf-8")
        expected[str(path)] = case.expected
        families[str(path)] = case.family
    return Written(folder, expected, families)


def read_jsonl(text: str) -> dict[str, dict]:
    return {d["file"]: d for d in map(json.loads, text.splitlines()) if "file" in d}


def same_answer(ours: dict, theirs: dict) -> bool:
    if ours.get("status") != theirs.get("status"):
        return False
    a, b = ours.get("total_cost"), theirs.get("total_cost")
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= COST_TOLERANCE * max(1.0, abs(b))


@dataclass(frozen=True)
class Judged:
    statuses: dict[str, int]
    wrong: list[str]  # files where deter disagrees with the reference and the generator
    reference_wrong: list[str]  # the reference disagrees; deter has the generator's status
    unanswered: list[str]  # deter: solver_error or bad_input where the generator knows


def judge(written: Written, ours: dict[str, dict], theirs: dict[str, dict] | None = None) -> Judged:
    """deter's answers against the plain loop's (``theirs``, when it writes the mix) and the
    generator's expected statuses. A disagreement with the reference where deter gives the
    status the generator constructed (a witness policy, or an infeasibility proof) while
    the reference's status differs is the reference's error (linprog's tolerances); any
    other disagreement, costs included, is counted against deter."""
    statuses: dict[str, int] = {}
    wrong, reference_wrong, unanswered = [], [], []
    for file, expected in written.expected.items():
        answer = ours.get(file, {"status": "missing"})
        status = answer.get("status", "missing")
        statuses[status] = statuses.get(status, 0) + 1
        if status in ("solver_error", "bad_input", "missing") and expected is not None:
            unanswered.append(file)
            continue
        loop_writes = written.families.get(file) not in UNWRITTEN_BY_LOOP
        if (
            theirs is not None
            and file in theirs
            and loop_writes
            and not same_answer(answer, theirs[file])
        ):
            # a status the generator proved, against linprog's; a cost is always deter's to match
            if expected is not None and status == expected != theirs[file].get("status"):
                reference_wrong.append(file)
            else:
                wrong.append(file)
            continue
        if expected is not None and status != expected:
            wrong.append(file)
    return Judged(statuses, wrong, reference_wrong, unanswered)
