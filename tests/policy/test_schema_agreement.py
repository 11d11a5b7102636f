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
from pathlib import Path
from typing import Any

import deter
import pytest
from deter.runtime import PolicyError, load_policy_text, validate_policy
from deter.solver.model.game import SCHEDULES
from deter.solver.policy.document import build_policy, reference_issues
from deter.solver.policy.schema import policy_json_schema, schema_at
from deter.solver.rl.reference import CODING_AGENT_POLICY
from hypothesis import given, settings
from hypothesis import strategies as st

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = policy_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

Loc = tuple[str | int, ...]
ROOT = Path(__file__).resolve().parents[2]


def roc_policy() -> dict[str, Any]:
    """A document with a ``roc`` section, as ``deter export --calibration`` writes it: the
    bundled ROC spec solved and exported, with a threshold rule (its numbers stand for a
    calibration's; the document's check sees their shape and high >= low only)."""
    spec = deter.load_spec(ROOT / "problems/roc_trusted_monitoring.toml")
    doc = build_policy(spec, deter.solve(spec))
    doc["roc"]["trusted_monitor"]["rule"] = {
        "high_threshold": 0.8,
        "low_threshold": "-inf",
        "high_weight": 0.5,
        "high_rate": 0.005,
        "low_rate": 1.0,
    }
    return validate_policy(doc)


#: The documents walked: every key the schema defines appears in one of them.
DOCUMENTS = {"coding_agent": CODING_AGENT_POLICY, "roc": roc_policy()}


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    for doc in DOCUMENTS.values():
        assert VALIDATOR.is_valid(doc)
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


#: Every object of the documents walked: (document, path, schema there).
OBJECTS = [(doc, loc, node) for doc in DOCUMENTS.values() for loc, node in objects(doc)]


def test_the_documents_walked_hold_every_key_the_schema_defines() -> None:
    """So that the tests below, which walk the documents, reach every part of the schema."""
    for name, definition in SCHEMA["$defs"].items():
        written = {key for doc, loc, node in OBJECTS if node == definition for key in at(doc, loc)}
        assert written == set(definition["properties"]), name
    top = {key for doc in DOCUMENTS.values() for key in doc}
    assert top == set(SCHEMA["properties"])


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
    for original, loc, node in OBJECTS:
        for key in node.get("required", []):
            doc = copy.deepcopy(original)
            del at(doc, loc)[key]
            assert not VALIDATOR.is_valid(doc), (loc, key)
            refused = refusal(doc)
            name = key_name((*loc, key))
            if (*loc, key) in (("format",), ("version",)):
                assert refused and refused[0].startswith(name), refused  # not a policy at all
            else:
                assert f"{name}: is missing" in refused, (name, refused)
            checked += 1
    assert checked >= 60  # top level, spec, designed, each action, monitor and ROC entry


def refused_by_both(original: dict[str, Any], loc: Loc, key: str, value: Any) -> None:
    """With ``key`` of the object at ``loc`` set to ``value``, the schema refuses the
    document and so does validate_policy, naming that key."""
    doc = copy.deepcopy(original)
    at(doc, loc)[key] = value
    assert not VALIDATOR.is_valid(doc), (loc, key, value)
    refused = refusal(doc)
    assert any(r.startswith(key_name((*loc, key))) for r in refused), (loc, key, refused)


def keys() -> Iterator[tuple[dict[str, Any], Loc, str, dict[str, Any]]]:
    """Every key of every object of the documents walked, with the schema of its value."""
    for doc, loc, _ in OBJECTS:
        for key in at(doc, loc):
            yield doc, loc, key, schema_at((*loc, key))


def test_every_key_of_a_wrong_type_is_refused_by_both_with_its_key() -> None:
    checked = 0
    for doc, loc, key, prop in keys():
        types = allowed_types(prop)
        assert types is not None or "const" in prop or "enum" in prop, (loc, key)
        for value, kinds in KINDS:
            if types is not None and not kinds & types:
                refused_by_both(doc, loc, key, value)
                checked += 1
    assert checked >= 500  # rates, penalties and detection included


def test_every_bound_and_choice_is_refused_by_both() -> None:
    checked = 0
    for doc, loc, key, prop in keys():
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
            refused_by_both(doc, loc, key, value)
            checked += 1
    assert checked >= 80  # every rate, probability, cost, penalty, name and choice


def test_an_unknown_key_is_refused_by_both_where_the_schema_is_closed() -> None:
    checked = 0
    for original, loc, node in OBJECTS:
        doc = copy.deepcopy(original)
        at(doc, loc)["zz_unknown"] = 1
        if node.get("additionalProperties") is False:
            assert not VALIDATOR.is_valid(doc), loc
            assert any("unknown key 'zz_unknown'" in r for r in refusal(doc)), loc
            checked += 1
        else:  # a mapping of names: the schema allows any name; the references decide
            agree(doc)
    # each document, its spec, actions, monitors and designed; an ROC entry and its rule
    closed = sum(3 + len(d["actions"]) + len(d["monitors"]) for d in DOCUMENTS.values())
    assert checked == closed + 2


# --- any change at all --------------------------------------------------------------------


def paths(doc: Any, loc: Loc = ()) -> Iterator[Loc]:
    """Every value's path in ``doc``, the document itself first."""
    yield loc
    if isinstance(doc, list):
        doc = dict(enumerate(doc))
    items = doc.items() if isinstance(doc, dict) else []
    for key, value in items:
        yield from paths(value, (*loc, key))


PATHS = [(name, path) for name, doc in DOCUMENTS.items() for path in paths(doc)]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False, allow_infinity=False),
    st.sampled_from(
        ["", "x", "honest", "llm_judge", "trusted_monitor", "coordinated", "inf", "deter-policy"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.sampled_from(["name", "a"]), inner)
    ),
    max_leaves=4,
)


@settings(max_examples=600, deadline=None)
@given(
    where=st.sampled_from(PATHS),
    change=st.sampled_from(["replace", "delete", "add"]),
    value=values,
)
def test_any_change_to_a_document_gets_one_verdict(
    where: tuple[str, Loc], change: str, value: Any
) -> None:
    name, path = where
    doc = copy.deepcopy(DOCUMENTS[name])
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
