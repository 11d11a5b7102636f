"""The policy document is defined once (issue 21): the JSON Schema ``deter schema --policy``
prints and the check ``validate_policy`` runs come from one pydantic model, and cannot
disagree.

Stated exactly: on any JSON value, ``validate_policy`` refuses it if and only if the
published schema refuses it or it breaks a reference between keys (the checks a JSON Schema
cannot say, ``reference_issues``); and a document the schema accepts is refused for those
references alone. Every schema violation is refused with its key named.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from deter.runtime import PolicyError, load_policy_text, validate_policy
from deter.solver.model.game import SCHEDULES
from deter.solver.policy.document import reference_issues
from deter.solver.policy.schema import policy_json_schema, schema_at
from deter.solver.rl.reference import CODING_AGENT_POLICY
from hypothesis import given, settings
from hypothesis import strategies as st

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = policy_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

Loc = tuple[str | int, ...]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert VALIDATOR.is_valid(CODING_AGENT_POLICY)
    # the choices the model lists are the runtime's
    assert schema_at(("schedule",))["enum"] == list(SCHEDULES)


def refusal(doc: Any) -> list[str]:
    """``validate_policy``'s issues as ``key: message`` ([] when it accepts)."""
    try:
        validate_policy(doc, file="p.json")
    except PolicyError as exc:
        return [f"{issue.key}: {issue.message}" for issue in exc.issues]
    return []


def agree(doc: Any) -> None:
    """The statement of the module docstring, for one value."""
    refused = refusal(doc)
    if not VALIDATOR.is_valid(doc):
        assert refused, f"the schema refuses, validate_policy accepts: {doc!r}"
        return
    references = [f"{i.key}: {i.message}" for i in reference_issues(doc, "p.json")]
    assert refused == references, "the schema accepts; only references may be refused"


def key_name(loc: Loc) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def at(doc: Any, loc: Loc) -> Any:
    for part in loc:
        doc = doc[part]
    return doc


def objects(doc: Any, loc: Loc = ()) -> Iterator[tuple[Loc, dict[str, Any]]]:
    """Every object of the reference document with its path, and the schema it has there."""
    if isinstance(doc, dict):
        yield loc, schema_at(loc)
        for key, value in doc.items():
            yield from objects(value, (*loc, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from objects(value, (*loc, i))


OBJECTS = list(objects(CODING_AGENT_POLICY))

#: One value of each JSON kind, and what JSON Schema's "type" calls it.
KINDS: list[tuple[Any, set[str]]] = [
    (None, {"null"}),
    (True, {"boolean"}),
    (2, {"integer", "number"}),
    (0.25, {"number"}),
    ("text", {"string"}),
    ([], {"array"}),
    ({}, {"object"}),
]


def allowed_types(node: dict[str, Any]) -> set[str] | None:
    """The JSON types the schema node allows (None: any; a const or enum says by value)."""
    if "anyOf" in node:
        found: set[str] = set()
        for option in node["anyOf"]:
            types = allowed_types(option)
            if types is None:
                return None
            found |= types
        return found
    if "type" not in node:
        return None
    kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
    return set(kinds) | ({"integer"} if "number" in kinds else set())


def test_every_required_key_missing_is_refused_by_both() -> None:
    checked = 0
    for loc, node in OBJECTS:
        for key in node.get("required", []):
            doc = copy.deepcopy(CODING_AGENT_POLICY)
            del at(doc, loc)[key]
            assert not VALIDATOR.is_valid(doc), (loc, key)
            refused = refusal(doc)
            name = key_name((*loc, key))
            if (*loc, key) in (("format",), ("version",)):
                assert refused and refused[0].startswith(name), refused  # not a policy at all
            else:
                assert f"{name}: is missing" in refused, (name, refused)
            checked += 1
    assert checked >= 25  # top level, spec, designed, each action and monitor


def refused_by_both(loc: Loc, key: str, value: Any) -> None:
    """With ``key`` of the object at ``loc`` set to ``value``, the schema refuses the
    document and so does validate_policy, naming that key."""
    doc = copy.deepcopy(CODING_AGENT_POLICY)
    at(doc, loc)[key] = value
    assert not VALIDATOR.is_valid(doc), (loc, key, value)
    refused = refusal(doc)
    assert any(r.startswith(key_name((*loc, key))) for r in refused), (loc, key, refused)


def keys() -> Iterator[tuple[Loc, str, dict[str, Any]]]:
    """Every key of every object of the reference document, with the schema of its value."""
    for loc, _ in OBJECTS:
        for key in at(CODING_AGENT_POLICY, loc):
            yield loc, key, schema_at((*loc, key))


def test_every_key_of_a_wrong_type_is_refused_by_both_with_its_key() -> None:
    checked = 0
    for loc, key, prop in keys():
        types = allowed_types(prop)
        assert types is not None or "const" in prop or "enum" in prop, (loc, key)
        for value, kinds in KINDS:
            if types is not None and not kinds & types:
                refused_by_both(loc, key, value)
                checked += 1
    assert checked >= 250  # rates, penalties and detection included


def test_every_bound_and_choice_is_refused_by_both() -> None:
    checked = 0
    for loc, key, prop in keys():
        wrong: list[Any] = []
        if "minimum" in prop:
            wrong.append(prop["minimum"] - 0.5)
        if "maximum" in prop:
            wrong.append(prop["maximum"] + 0.5)
        if "minLength" in prop:
            wrong.append("")
        if "enum" in prop or "const" in prop:
            wrong.append("no-such-choice")
        for value in wrong:
            refused_by_both(loc, key, value)
            checked += 1
    assert checked >= 40  # every rate, probability, cost, penalty, name and choice


def test_an_unknown_key_is_refused_by_both_where_the_schema_is_closed() -> None:
    checked = 0
    for loc, node in OBJECTS:
        doc = copy.deepcopy(CODING_AGENT_POLICY)
        at(doc, loc)["zz_unknown"] = 1
        if node.get("additionalProperties") is False:
            assert not VALIDATOR.is_valid(doc), loc
            assert any("unknown key 'zz_unknown'" in r for r in refusal(doc)), loc
            checked += 1
        else:  # a mapping of names: the schema allows any name; the references decide
            agree(doc)
    assert checked == 1 + 1 + 4 + 3 + 1  # the document, spec, actions, monitors, designed


# --- any change at all --------------------------------------------------------------------


def paths(doc: Any, loc: Loc = ()) -> Iterator[Loc]:
    """Every value's path in ``doc``, the document itself first."""
    yield loc
    if isinstance(doc, list):
        doc = dict(enumerate(doc))
    items = doc.items() if isinstance(doc, dict) else []
    for key, value in items:
        yield from paths(value, (*loc, key))


PATHS = list(paths(CODING_AGENT_POLICY))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "honest", "llm_judge", "coordinated", "derived", "deter-policy"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.sampled_from(["name", "a"]), inner)
    ),
    max_leaves=4,
)


@settings(max_examples=400, deadline=None)
@given(
    path=st.sampled_from(PATHS),
    change=st.sampled_from(["replace", "delete", "add"]),
    value=values,
)
def test_any_change_to_a_document_gets_one_verdict(path: Loc, change: str, value: Any) -> None:
    doc = copy.deepcopy(CODING_AGENT_POLICY)
    if change == "replace" and path:
        at(doc, path[:-1])[path[-1]] = value
    elif change == "delete" and path and isinstance(at(doc, path[:-1]), dict):
        del at(doc, path[:-1])[path[-1]]
    elif change == "add" and isinstance(at(doc, path), dict):
        at(doc, path)["name" if path else "label"] = value
    else:
        doc = value if change == "replace" else doc
    agree(doc)


def test_refusals_from_text_name_the_line() -> None:
    doc = copy.deepcopy(CODING_AGENT_POLICY)
    doc["monitors"][1]["cost"] = "cheap"
    text = json.dumps(doc, indent=2)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if '"cheap"' in s)
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, file="p.json")
    (issue,) = caught.value.issues
    assert (issue.key, issue.line) == ("monitors[1].cost", line)
    assert str(issue).startswith(f"p.json:{line}:")
