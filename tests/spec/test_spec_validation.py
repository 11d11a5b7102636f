"""Spec format v1: every class of bad input is a SpecError naming file, key path and line;
valid specs load with their defaults."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import deter
import pytest
from deter.solver.results.errors import SpecError, SpecIssue
from deter.solver.spec.document import json_schema
from deter.solver.spec.loading import load_spec, parse_spec_text, validate_spec_data

from tests.support.reference import spec_text

FILE = "bad.toml"
COMPLY = {"name": "comply", "gain": 0.0}
CHEAT = {"name": "cheat", "gain": 3.0, "penalty_cap": 20.0}
INSPECTOR = {"name": "inspector", "cost": 0.8, "detects": {"cheat": 0.6}}


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``needle``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in the text")


def issues_of(text: str) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, file=FILE)
    assert caught.value.issues, "a SpecError must carry at least one issue"
    for issue in caught.value.issues:
        assert issue.file == FILE
    return caught.value.issues


def the_issue(text: str, key: str) -> SpecIssue:
    issues = issues_of(text)
    found = [i for i in issues if i.key == key]
    assert found, f"no issue at {key!r}; got {[str(i) for i in issues]}"
    return found[0]


def with_action(**extra: Any) -> str:
    return spec_text([COMPLY, {**CHEAT, **extra}], [INSPECTOR])


def with_monitor(**extra: Any) -> str:
    return spec_text([COMPLY, CHEAT], [{**INSPECTOR, **extra}])


# --- the file itself ---------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    issue = caught.value.issues[0]
    assert issue.file == str(path)
    assert "no such file" in issue.message


def test_folder_is_not_a_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path)
    assert "folder" in caught.value.issues[0].message


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"version = 1\n# caf\xe9\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    issue = caught.value.issues[0]
    assert issue.file == str(path)
    assert issue.line == 2
    assert "UTF-8" in issue.message


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text(with_action() + "#" * 200 + "\n")
    with pytest.raises(SpecError) as caught:
        load_spec(path, max_bytes=100)
    assert "limit" in caught.value.issues[0].message


def test_toml_syntax_error_has_line_and_column() -> None:
    text = "version = 1\n\n[agent\npenalty_cap = 3\n"
    (issue,) = issues_of(text)
    assert issue.line == 3
    assert issue.column is not None and issue.column >= 1
    assert "TOML syntax error" in issue.message
    assert str(issue).startswith(f"{FILE}:3:")


# --- keys and values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "key", "needle", "suggestion"),
    [
        (lambda: with_action(gian=3.0), "actions.cheat.gian", "gian", "gain"),
        (
            lambda: with_monitor(detect={"cheat": 0.5}),
            "monitors.inspector.detect",
            "detect =",
            "detects",
        ),
        (
            lambda: spec_text([COMPLY, CHEAT], [INSPECTOR], agent={"penalty_capp": 2.0}),
            "agent.penalty_capp",
            "penalty_capp",
            "penalty_cap",
        ),
        (
            lambda: spec_text([COMPLY, CHEAT], [INSPECTOR], oversight={"budgit": 2.0}),
            "oversight.budgit",
            "budgit",
            "budget",
        ),
    ],
    ids=["action", "monitor", "agent", "oversight"],
)
def test_unknown_key_suggests_the_right_one(
    make: Callable[[], str], key: str, needle: str, suggestion: str
) -> None:
    text = make()
    issue = the_issue(text, key)
    assert issue.line == line_of(text, needle)
    assert "unknown key" in issue.message
    assert f"did you mean {suggestion!r}" in issue.message


def test_unknown_top_level_table_suggests_monitors() -> None:
    text = with_action() + '\n[[monitor]]\nname = "x"\ncost = 1.0\n'
    issue = the_issue(text, "monitor")
    assert issue.line == line_of(text, "[[monitor]]")
    assert "did you mean 'monitors'" in issue.message


@pytest.mark.parametrize("value", ["3", True, [1.0]], ids=["string", "boolean", "array"])
def test_wrong_type(value: Any) -> None:
    text = with_action(gain=value)
    issue = the_issue(text, "actions.cheat.gain")
    assert issue.line == line_of(text, "gain = ", occurrence=2)
    assert "number" in issue.message or "valid" in issue.message


def test_table_where_a_table_is_expected() -> None:
    text = "agent = 3\n" + with_action()
    issue = the_issue(text, "agent")
    assert issue.line == 1
    assert "table" in issue.message


@pytest.mark.parametrize(
    ("make", "key", "needle"),
    [
        (lambda v: with_action(gain=v), "actions.cheat.gain", "gain = 3"),
        (lambda v: with_action(penalty_cap=v), "actions.cheat.penalty_cap", "penalty_cap"),
        (lambda v: with_monitor(cost=v), "monitors.inspector.cost", "cost"),
    ],
    ids=["gain", "penalty_cap", "cost"],
)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_rejected(
    make: Callable[[float], str], key: str, needle: str, bad: float
) -> None:
    text = make(bad)
    issue = the_issue(text, key)
    assert "finite" in issue.message
    literal = "nan" if bad != bad else ("inf" if bad > 0 else "-inf")
    assert issue.line == line_of(text, f"= {literal}")


@pytest.mark.parametrize(
    ("make", "key", "needle"),
    [
        (
            lambda: with_monitor(detects={"cheat": 1.5}),
            "monitors.inspector.detects.cheat",
            "detects",
        ),
        (
            lambda: with_monitor(false_positive=-0.1),
            "monitors.inspector.false_positive",
            "false_positive",
        ),
        (lambda: with_monitor(max_rate=2.0), "monitors.inspector.max_rate", "max_rate"),
        (lambda: with_monitor(min_rate=-0.5), "monitors.inspector.min_rate", "min_rate"),
        (
            lambda: with_action(audit_cost=1.0, audit_detection=1.01),
            "actions.cheat.audit_detection",
            "audit_detection",
        ),
    ],
    ids=["detects", "false_positive", "max_rate", "min_rate", "audit_detection"],
)
def test_probability_outside_unit_interval(make: Callable[[], str], key: str, needle: str) -> None:
    text = make()
    issue = the_issue(text, key)
    assert issue.line == line_of(text, needle)
    assert "must be" in issue.message


@pytest.mark.parametrize(
    ("make", "key", "needle"),
    [
        (lambda: with_monitor(cost=-1.0), "monitors.inspector.cost", "cost = -1"),
        (lambda: with_action(penalty_cap=-5.0), "actions.cheat.penalty_cap", "penalty_cap"),
        (lambda: with_action(audit_cost=-2.0), "actions.cheat.audit_cost", "audit_cost"),
        (
            lambda: spec_text([COMPLY, CHEAT], [INSPECTOR], oversight={"budget": -1.0}),
            "oversight.budget",
            "budget",
        ),
        (
            lambda: spec_text([COMPLY, CHEAT], [INSPECTOR], agent={"margin": -0.1}),
            "agent.margin",
            "margin",
        ),
    ],
    ids=["cost", "penalty_cap", "audit_cost", "budget", "margin"],
)
def test_negative_amounts_are_rejected(make: Callable[[], str], key: str, needle: str) -> None:
    text = make()
    issue = the_issue(text, key)
    assert issue.line == line_of(text, needle)
    assert "greater than or equal to 0" in issue.message


def test_duplicate_action_name_points_at_the_second() -> None:
    text = spec_text([COMPLY, CHEAT, {**CHEAT, "gain": 1.0}], [INSPECTOR])
    issue = the_issue(text, "actions.cheat.name")
    assert "duplicate action name 'cheat'" in issue.message
    assert issue.line == line_of(text, 'name = "cheat"', occurrence=2)


def test_duplicate_monitor_name() -> None:
    text = spec_text([COMPLY, CHEAT], [INSPECTOR, INSPECTOR])
    issue = the_issue(text, "monitors.inspector.name")
    assert "duplicate monitor name" in issue.message
    assert issue.line == line_of(text, 'name = "inspector"', occurrence=2)


def test_unknown_action_in_detects_suggests_a_name() -> None:
    text = with_monitor(detects={"chaet": 0.5})
    issue = the_issue(text, "monitors.inspector.detects.chaet")
    assert issue.line == line_of(text, "detects")
    assert "unknown action 'chaet'" in issue.message
    assert "did you mean 'cheat'" in issue.message


def test_unknown_compliant_action_suggests_a_name() -> None:
    text = spec_text([COMPLY, CHEAT], [INSPECTOR], agent={"compliant": "complyy"})
    issue = the_issue(text, "agent.compliant")
    assert issue.line == line_of(text, "compliant")
    assert "did you mean 'comply'" in issue.message


def test_monitor_cannot_detect_the_compliant_action() -> None:
    text = with_monitor(detects={"cheat": 0.5, "comply": 0.1})
    issue = the_issue(text, "monitors.inspector.detects.comply")
    assert "compliant" in issue.message and "false_positive" in issue.message


def test_min_rate_above_max_rate() -> None:
    text = with_monitor(min_rate=0.6, max_rate=0.4)
    issue = the_issue(text, "monitors.inspector.min_rate")
    assert issue.line == line_of(text, "min_rate")
    assert "above max_rate" in issue.message


def test_missing_penalty_cap() -> None:
    text = spec_text([COMPLY, {"name": "cheat", "gain": 3.0}], [INSPECTOR])
    issue = the_issue(text, "actions.cheat.penalty_cap")
    assert "no penalty cap" in issue.message and "agent.penalty_cap" in issue.message
    # The key is absent: the line is that of the action's table.
    assert issue.line == line_of(text, "[[actions]]", occurrence=2)


def test_agent_default_penalty_cap_is_enough() -> None:
    text = spec_text(
        [COMPLY, {"name": "cheat", "gain": 3.0}], [INSPECTOR], agent={"penalty_cap": 7.0}
    )
    spec = parse_spec_text(text)
    assert spec.penalty_cap(spec.action("cheat")) == 7.0


def test_the_compliant_action_needs_no_cap() -> None:
    spec = parse_spec_text(spec_text([COMPLY, CHEAT], [INSPECTOR]))
    assert spec.compliant_action == "comply"


def test_no_actions() -> None:
    text = spec_text([], agent={"penalty_cap": 1.0})
    issue = the_issue(text, "actions")
    assert "one action" in issue.message or "missing required key" in issue.message


def test_the_compliant_action_alone_is_a_spec() -> None:
    # nothing to deter (issue 20): valid, solved at the cost of the rate floors
    spec = parse_spec_text(spec_text([COMPLY], [{"name": "inspector", "cost": 0.8}]))
    assert spec.compliant_action == "comply" and len(spec.actions) == 1


@pytest.mark.parametrize("version", [2, 0, "1", 1.0, True])
def test_version_other_than_one(version: Any) -> None:
    text = spec_text([COMPLY, CHEAT], [INSPECTOR], version=version)
    issue = the_issue(text, "version")
    assert issue.line == 1
    assert "version" in issue.message


def test_bad_name() -> None:
    text = spec_text([COMPLY, {**CHEAT, "name": "9lives"}], [INSPECTOR])
    issues = issues_of(text)
    assert any(
        "not a valid name" in i.message and i.line == line_of(text, "9lives") for i in issues
    )


def test_every_problem_is_reported_at_once() -> None:
    text = spec_text(
        [COMPLY, {**CHEAT, "gain": "x"}],
        [{**INSPECTOR, "cost": -1.0, "detects": {"chaet": 0.5}}],
    )
    keys = {i.key for i in issues_of(text)}
    assert {"actions.cheat.gain", "monitors.inspector.cost"} <= keys


def test_issue_string_names_file_line_and_key() -> None:
    text = with_action(gian=1.0)
    issue = the_issue(text, "actions.cheat.gian")
    assert str(issue).startswith(f"{FILE}:{issue.line}:")
    assert " actions.cheat.gian: " in str(issue)


def test_validate_spec_data_without_text_has_no_line() -> None:
    data = {"actions": [COMPLY, {**CHEAT, "gain": float("nan")}]}
    with pytest.raises(SpecError) as caught:
        validate_spec_data(data, file="data")
    (issue,) = caught.value.issues
    assert issue.key == "actions.cheat.gain" and issue.line is None


# --- valid specs ---------------------------------------------------------------------------


FULL = """\
version = 1

[problem]
name = "full"
description = "every key"
currency = "USD"

[agent]
compliant = "honest"
penalty_cap = 20.0
risk_aversion = 0.1
margin = 0.2
false_positive_penalty = 1.0

[oversight]
budget = 10.0

[[actions]]
name = "reward_hack"
gain = 3.0
penalty_cap = 15.0
audit_cost = 1.5
audit_detection = 0.9

[[actions]]
name = "honest"
gain = 0.0

[[actions]]
name = "sandbag"
gain = 1

[[monitors]]
name = "llm_judge"
cost = 0.8
min_rate = 0.1
max_rate = 0.9
detects = { reward_hack = 0.6, sandbag = 0.5 }
false_positive = 0.02
"""


def test_full_spec_reads_every_key() -> None:
    spec = parse_spec_text(FULL, file="full.toml")
    assert spec.name == "full"
    assert spec.compliant_action == "honest"
    assert spec.agent.risk_aversion == 0.1
    assert spec.oversight.budget == 10.0
    assert spec.action("sandbag").gain == 1.0  # TOML integers are numbers
    assert spec.penalty_cap(spec.action("sandbag")) == 20.0
    assert spec.penalty_cap(spec.action("reward_hack")) == 15.0
    judge = spec.monitors[0]
    assert (judge.min_rate, judge.max_rate, judge.false_positive) == (0.1, 0.9, 0.02)
    assert dict(judge.detects) == {"reward_hack": 0.6, "sandbag": 0.5}
    assert spec.source_file == "full.toml"


def test_round_trip_through_data() -> None:
    spec = parse_spec_text(FULL)
    again = validate_spec_data(spec.model_dump(exclude_none=True))
    # (== would also compare where each came from: the source text is private state)
    assert again.model_dump() == spec.model_dump()
    assert again.all_monitors() == spec.all_monitors()


def test_spec_is_immutable() -> None:
    spec = parse_spec_text(FULL)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        spec.actions[0].gain = 5.0  # type: ignore[misc]


def test_defaults(tmp_path: Path) -> None:
    path = tmp_path / "coding-agent.toml"
    path.write_text(spec_text([COMPLY, CHEAT], [{"name": "m", "cost": 1.0}]))
    spec = load_spec(path)
    assert spec.name == "coding-agent"  # the file's stem
    assert spec.compliant_action == "comply"  # the first action listed
    assert spec.version == 1
    assert spec.agent.risk_aversion == 0 and spec.agent.margin == 0
    assert spec.oversight.budget is None
    monitor = spec.monitors[0]
    assert (monitor.min_rate, monitor.max_rate, monitor.false_positive) == (0.0, 1.0, 0.0)
    assert dict(monitor.detects) == {}


def test_load_spec_takes_text_or_path(tmp_path: Path) -> None:
    text = spec_text([COMPLY, CHEAT], [INSPECTOR])
    from_text = deter.load_spec(text)
    path = tmp_path / "x.toml"
    path.write_text(text)
    from_path = deter.load_spec(str(path))
    assert from_text.actions == from_path.actions
    assert from_path.name == "x"


def test_audit_shorthand_creates_a_monitor() -> None:
    text = spec_text(
        [
            COMPLY,
            {**CHEAT, "audit_cost": 2.0},
            {
                "name": "b",
                "gain": 1.0,
                "penalty_cap": 1.0,
                "audit_cost": 0.5,
                "audit_detection": 0.7,
            },
        ],
        [INSPECTOR],
    )
    spec = parse_spec_text(text)
    monitors = {m.name: m for m in spec.all_monitors()}
    assert list(monitors) == ["inspector", "audit:cheat", "audit:b"]
    assert monitors["audit:cheat"].cost == 2.0
    assert dict(monitors["audit:cheat"].detects) == {"cheat": 1.0}
    assert dict(monitors["audit:b"].detects) == {"b": 0.7}
    assert monitors["audit:b"].false_positive == 0.0


def test_compliant_action_cannot_be_audited() -> None:
    text = spec_text([{**COMPLY, "audit_cost": 1.0}, CHEAT], [INSPECTOR])
    issue = the_issue(text, "actions.comply.audit_cost")
    assert "compliant" in issue.message


def test_undetectable_action_is_legal() -> None:
    spec = parse_spec_text(spec_text([COMPLY, CHEAT, {**CHEAT, "name": "hide"}], [INSPECTOR]))
    assert [a.name for a in spec.actions] == ["comply", "cheat", "hide"]


def test_json_schema() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"actions", "monitors", "agent", "oversight", "version"} <= set(schema["properties"])
    assert "penalty_cap" in text and "false_positive" in text
    assert json.loads(text) == schema
