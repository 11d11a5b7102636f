"""The full-vocabulary generator (tests/support/vocabulary.py, issue 20 item 7).

Every key the spec model defines (solver/spec/sections.py, document.py) and every key the
format reference documents (docs/spec-format.md's key tables) is written by some generated
spec; the shapes the issue lists occur; the same seed gives the same text; a mix has the
infeasible share asked for; every generated spec is valid (or refused only for the documented
range limit) and its intended outcome is reported.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import deter
import pytest
from deter import SpecError
from deter.solver.spec.document import Spec
from deter.solver.spec.loading import model_in
from pydantic import BaseModel

from tests.support.vocabulary import (
    BEYOND_KINDS,
    FAMILIES,
    GROUPS,
    Case,
    beyond_limits,
    cases,
    expand,
    generate,
    mix,
)

ROOT = Path(__file__).resolve().parents[2]


def model_keys(model: type[BaseModel] = Spec, prefix: str = "") -> set[str]:
    """Every key path of the spec model: 'agent.margin', 'monitors.roc', 'types.gains'."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        inner = model_in(info.annotation)
        if inner is None:
            keys.add(path)
        else:
            keys |= model_keys(inner, path + ".")
    return keys


def documented_keys() -> set[str]:
    """The keys of docs/spec-format.md's tables (sections 3, 10 and 11)."""
    text = (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")
    keys: set[str] = set()
    table = ""
    for line in text.splitlines():
        heading = re.match(r"^###? .*?`\[*([a-z_]+)\]*`", line)
        if heading:
            table = heading.group(1)
        elif line.startswith("### ") or line.startswith("## "):
            table = ""
        if re.match(r"^## 11\.", line):
            table = "requirements"
        cells = (
            [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        )
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        first = cells[0].strip("`")
        # "| `[penalty] design` |" and "| `[oversight]` | `objective` |" name their table
        both = re.match(r"^\[\[?([a-z_]+)\]\]? ([a-z_]+)$", first)
        if both:
            keys.add(f"{both.group(1)}.{both.group(2)}")
        elif re.match(r"^\[\[?[a-z_]+\]\]?$", first) and cells[1].startswith("`"):
            keys.add(f"{first.strip('[]')}.{cells[1].strip('`')}")
        elif re.match(r"^[a-z_]+$", first) and table:
            keys.add(first if table == "version" else f"{table}.{first}")
    return keys


def present_keys(value: Any, prefix: str = "") -> Iterator[str]:
    """The key paths a parsed spec sets (entries of arrays of tables share their path)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}{key}"
            if isinstance(inner, dict) and path.count(".") < 1 and key not in ("detects", "roc"):
                yield from present_keys(inner, path + ".")
            elif isinstance(inner, list) and inner and isinstance(inner[0], dict):
                for entry in inner:
                    yield from present_keys(entry, path + ".")
            else:
                yield path


@functools.cache
def sample() -> list[Case]:
    """Twelve seeds of every family, with each outcome flag (built once, when first used)."""
    return [
        generate(family, seed, flag)
        for family in FAMILIES
        for seed in range(12)
        for flag in (None, False, True)
    ]


def test_the_documented_keys_are_the_model_keys() -> None:
    # The doc parser reads every table; a key documented but not in the model (or the
    # reverse) means one of them is out of date.
    assert documented_keys() == model_keys()


def test_every_key_of_the_spec_vocabulary_is_generated() -> None:
    seen = {key for case in sample() for key in present_keys(tomllib.loads(case.text))}
    missing = model_keys() - seen
    assert not missing, f"keys of the spec model no generated spec writes: {sorted(missing)}"


def _shapes(case: Case) -> set[str]:
    data = tomllib.loads(case.text)
    actions = data["actions"]
    agent = data.get("agent", {})
    oversight = data.get("oversight", {})
    monitors = data.get("monitors", [])
    compliant = agent.get("compliant", actions[0]["name"])
    g0 = next(a["gain"] for a in actions if a["name"] == compliant)
    g0 = g0[0] if isinstance(g0, list) else g0
    shapes = set()
    if compliant != actions[0]["name"]:
        shapes.add("compliant_not_first")
    if not monitors:
        shapes.add("no_monitors")
    bodies = [tuple(sorted((k, str(v)) for k, v in m.items() if k != "name")) for m in monitors]
    if len(set(bodies)) < len(bodies):
        shapes.add("duplicated_monitors")
    gains = [a["gain"] for a in actions if a["name"] != compliant]
    if any((g[1] if isinstance(g, list) else g) < g0 for g in gains):
        shapes.add("non_paying")
    if all((g[1] if isinstance(g, list) else g) <= g0 for g in gains):
        shapes.add("nothing_pays")
    if agent.get("risk_aversion", 0) < 0:
        shapes.add("risk_seeking")
    if agent.get("risk_aversion", 0) > 0:
        shapes.add("risk_averse")
    if oversight.get("budget") == 0:
        shapes.add("zero_budget")
    if any(m.get("min_rate") == m.get("max_rate", 1.0) for m in monitors):
        shapes.add("fixed_rate")
    if oversight.get("detection") == "exponential":
        shapes.add("exponential_fp" if agent.get("false_positive_penalty") else "exponential")
    if any("roc" in m for m in monitors):
        shapes.add("roc")
    if any(m.get("false_positive") for m in monitors) and agent.get("false_positive_penalty"):
        shapes.add("false_flags_penalised")
    return shapes


def test_the_shapes_users_write_occur() -> None:
    seen = set().union(*(_shapes(case) for case in sample()))
    wanted = {
        "compliant_not_first",
        "no_monitors",
        "duplicated_monitors",
        "non_paying",
        "nothing_pays",
        "risk_seeking",
        "risk_averse",
        "zero_budget",
        "fixed_rate",
        "exponential",
        "exponential_fp",
        "roc",
        "false_flags_penalised",
    }
    assert wanted <= seen, sorted(wanted - seen)
    hows = {case.how for case in sample()}
    for construction in ("undetected", "cap_below_gain", "floors_over_budget", "below_least_cost"):
        assert construction in hows
    assert any(c.how == "budget at the least cost" for c in sample())
    assert any(c.how == "tie at the ceiling" for c in sample())


def test_every_generated_spec_is_valid_or_refused_for_the_documented_range() -> None:
    # (the budget family calls the reference for each spec: its twelve seeds are enough)
    more = [
        generate(family, seed, flag)
        for family in FAMILIES
        if family != "budget"
        for seed in range(12, 30)
        for flag in (None, False, True)
    ]
    for case in sample() + more:
        try:
            deter.loads(case.text)
        except SpecError as error:
            # only natural risk_seeking_limit draws go beyond |r| x gain = 700 (issue 20 item 6)
            assert case.family == "risk_seeking_limit" and case.infeasible is None, case.label
            assert "range deter computes in" in str(error), (case.label, str(error))


def test_the_same_seed_gives_the_same_text() -> None:
    for family in FAMILIES:
        assert generate(family, 7) == generate(family, 7)
        assert generate(family, 7, True).text != generate(family, 8, True).text
    assert cases("linear", 3, start=10) == [generate("linear", s) for s in (10, 11, 12)]


def test_the_texts_are_the_same_on_every_machine() -> None:
    # A digest of a fixed mix: numpy's PCG64 and repr() of floats are the same everywhere.
    # Changing the generator changes it: update the digest in the same commit.
    text = "".join(case.text for case in mix(34, seed=3, infeasible=0.25))
    assert hashlib.sha256(text.encode()).hexdigest() == DIGEST


DIGEST = "c7f422b3c449bd6cb75a788249cf6c1914dd11af098600602bcde05c2d0e191e"


@pytest.mark.parametrize("share", [0.0, 0.05, 0.2, 0.5])
def test_a_mix_has_the_infeasible_share_asked_for(share: float) -> None:
    got = mix(60, seed=1, infeasible=share)
    assert len(got) == 60
    assert sum(c.infeasible is True for c in got) == round(60 * share)
    assert all(c.expected == ("infeasible" if c.infeasible else "optimal") for c in got)
    assert {c.family for c in got} == set(FAMILIES)
    for case in got:
        assert generate(case.family, case.seed, case.infeasible) == case


def test_groups_expand_to_families() -> None:
    assert expand(["strategic", "roc"]) == [*GROUPS["strategic"], "roc"]
    assert expand(None) == list(FAMILIES)
    with pytest.raises(ValueError, match="unknown family"):
        expand(["nope"])
    got = mix(20, seed=2, infeasible=0.2, families=["exponential", "penalty_design"])
    assert {c.family for c in got} == {"exponential", "exponential_fp", "penalty_design"}


def test_bench_scripts_import_only_modules_that_exist() -> None:
    # bench/reliability.py's default mode imported `batch_helpers` after it moved to
    # tests/support/ (issue 21 item 11): every import in bench/, function bodies included,
    # must resolve from the repository root.
    import ast
    import importlib.util
    import sys

    # (scripts put the repository root and bench/ itself on the path: siblings import)
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    try:
        for script in sorted((ROOT / "bench").glob("*.py")):
            for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    assert importlib.util.find_spec(name) is not None, (script.name, name)
    finally:
        sys.path.remove(str(ROOT))
        sys.path.remove(str(ROOT / "bench"))


@pytest.mark.parametrize("kind", BEYOND_KINDS)
def test_risk_seeking_specs_beyond_the_old_limits_are_answered_right(kind: str) -> None:
    """|r| x the largest gain over complying in 700..100,000 (issue 20 item 6): refused at
    load before, answered now (log-space rows: model/stable.py, model/pair_rows.py) with an
    answer the exact reference (mpmath) accepts, untyped and in every strategic shape, and
    no RuntimeWarning (an overflow anywhere would raise here)."""
    from tests.support.exact_reference import judge

    beyond = 0
    for seed in range(4):
        case = beyond_limits(seed, kind)
        assert case == beyond_limits(seed, kind)  # deterministic
        problem = deter.loads(case.text)
        spec = problem.spec
        beyond += spec.agent.risk_aversion < 0
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            result = deter.solve(problem).to_dict(timing=False)
        verdict = judge(case.text, result)
        assert not verdict.failures, (case.label, verdict.failures)
    assert beyond == 4
