"""The policy document (``deter export``): contents, round trip, schema, refusals."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import deter
import pytest
from deter.cli.app import app
from deter.runtime import Auditor, PolicyError, load_policy_text, scaled, validate_policy
from deter.solver.model.envelope import randomised_detection
from deter.solver.policy.document import build_policy, spec_sha256
from deter.solver.policy.schema import policy_json_schema
from deter.solver.results.errors import UnsupportedError
from deter.solver.rl.reference import CODING_AGENT_POLICY, CODING_AGENT_SPEC
from deter.solver.spec.loading import parse_spec_text
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV

ROOT = Path(__file__).resolve().parents[2]
CODING = ROOT / "problems" / "coding_agent.toml"
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=CLI_ENV)
    return result.exit_code, result.stdout, result.stderr


def test_export_rates_are_exactly_solves() -> None:
    code, out, _ = run("export", str(CODING), "-o", "-")
    assert code == 0, out
    doc = json.loads(out)
    code, solved, _ = run("solve", str(CODING), "-f", "json")
    assert code == 0
    solved_doc = json.loads(solved)
    assert doc["rates"] == {m["name"]: m["rate"] for m in solved_doc["monitors"]}
    assert doc["designed"]["cost_per_episode"] == solved_doc["total_cost"]
    detection = {a["name"]: a["detection"] for a in solved_doc["actions"] if not a["compliant"]}
    assert doc["designed"]["detection"] == detection
    assert doc["penalties"] == {a["name"]: a["penalty"] for a in solved_doc["actions"][1:]}
    assert doc["spec"]["name"] == "coding-agent"
    assert doc["spec"]["sha256"] == spec_sha256(deter.load_spec(CODING))


def test_export_writes_a_file_that_round_trips(tmp_path: Path) -> None:
    target = tmp_path / "policy.json"
    code, _, err = run("export", str(CODING), "-o", str(target))
    assert code == 0 and "wrote" in err
    doc = json.loads(target.read_text())
    assert load_policy_text(json.dumps(doc)) == doc
    assert Auditor.from_file(target, seed=0).policy == doc


def assert_same_document(got: Any, want: Any, path: str = "$") -> None:
    """Equal keys, strings and flags; numbers within 1e-9 relative (1e-15 absolute at 0)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), path
        for key in want:
            assert_same_document(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for k, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same_document(a, b, f"{path}[{k}]")
    elif isinstance(want, float) or (isinstance(want, int) and not isinstance(want, bool)):
        assert isinstance(got, int | float) and not isinstance(got, bool), path
        assert got == pytest.approx(want, rel=1e-9, abs=1e-15), path
    elif isinstance(want, bool):
        assert got is want, path
    else:
        assert got == want, path


def test_same_document_tells_a_changed_number_from_round_off() -> None:
    doc = {"rates": {"m": 0.30000000000000004}, "label": "x", "on": True}
    assert_same_document({"rates": {"m": 0.3}, "label": "x", "on": True}, doc)
    for wrong in (
        {"rates": {"m": 0.3001}, "label": "x", "on": True},
        {"rates": {"m": 0.3}, "label": "y", "on": True},
        {"rates": {"m": 0.3}, "label": "x", "on": 1},
        {"rates": {}, "label": "x", "on": True},
    ):
        with pytest.raises(AssertionError):
            assert_same_document(wrong, doc)


def test_the_embedded_reference_policy_is_a_fresh_export() -> None:
    spec = parse_spec_text(CODING_AGENT_SPEC, file="problems/coding_agent.toml")
    fresh = build_policy(spec, deter.solve(spec))
    # The same document; its numbers come from a solver, so they are compared to 1e-9 of
    # their size, not to the last of 17 digits (another HiGHS build may round differently).
    assert_same_document(fresh, CODING_AGENT_POLICY)
    # ... and the embedded spec is the bundled problem (comments aside).
    assert spec_sha256(spec) == spec_sha256(deter.load_spec(CODING))


def test_content_hash_ignores_comments_and_follows_values() -> None:
    text = CODING.read_text()
    a = parse_spec_text(text)
    b = parse_spec_text("# another comment\n" + text)
    c = parse_spec_text(text.replace("gain = 3.0", "gain = 3.5"))
    assert spec_sha256(a) == spec_sha256(b) != spec_sha256(c)


def test_documents_validate_against_the_published_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = policy_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for doc in (CODING_AGENT_POLICY, scaled(CODING_AGENT_POLICY, 0.5)):
        jsonschema.validate(doc, schema)
    bad = copy.deepcopy(CODING_AGENT_POLICY)
    bad["rates"]["llm_judge"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    with pytest.raises(PolicyError):
        validate_policy(bad)


def test_schema_command_prints_the_policy_schema() -> None:
    code, out, _ = run("schema", "--policy")
    assert code == 0
    assert json.loads(out) == policy_json_schema()


def _broken(edit: str) -> dict:
    doc = copy.deepcopy(CODING_AGENT_POLICY)
    exec(edit, {"doc": doc})
    return doc


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("doc['format'] = 'other'", "not a deter policy document"),
        ("doc['version'] = 2", "unsupported policy format version 2"),
        ("doc['rates']['llm_judge'] = -0.1", "rates.llm_judge: must be in [0, 1]"),
        ("doc['rates']['llm_judgee'] = 0.1", "did you mean 'llm_judge'"),
        ("del doc['rates']['human_review']", "rates.human_review: is missing"),
        ("doc['detection']['llm_judge']['honest'] = 0.1", "compliant action is not detected"),
        ("doc['penalties']['sandbag'] = 'x'", "penalties.sandbag: must be a number"),
        ("del doc['penalties']['sandbag']", "penalties.sandbag: is missing"),
        ("doc['compliant'] = 'honset'", "did you mean 'honest'"),
        ("doc['schedule'] = 'random'", "schedule: must be one of"),
        ("doc['ratez'] = {}", "unknown key 'ratez'"),
        ("doc['monitors'][0]['cost'] = float('nan')", "must be a finite number"),
        ("doc['actions'].append({'name': 'honest', 'gain': 0})", "duplicate action name"),
    ],
)
def test_bad_documents_are_refused_with_the_key_named(edit: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        validate_policy(_broken(edit), file="p.json")
    assert message in str(caught.value)
    assert "p.json" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"rates": NaN}', "NaN is not a number JSON allows"),
        ("[]", "a JSON object, not a list"),
    ],
)
def test_unreadable_documents_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        Auditor.from_file(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        Auditor.from_file(tmp_path / "missing.json")


def test_export_exit_codes() -> None:
    code, _, err = run("export", str(ROOT / "problems/infeasible/over_budget.toml"), "-o", "-")
    assert code == 1 and "no policy to export" in err
    code, _, err = run("export", str(ROOT / "nope.toml"), "-o", "-")
    assert code == 2 and "no such file" in err and "Traceback" not in err
    code, _, err = run("export", str(CODING))  # -o is required
    assert code == 2


def test_export_writes_roc_monitors_and_the_auditor_refuses_them(tmp_path: Path) -> None:
    """A spec with ROC monitors exports (their designed detection at the rate, no thresholds
    without deter fit's calibration); the episode auditor cannot run it: exit 4's error."""
    spec = ROOT / "problems/roc_trusted_monitoring.toml"
    code, out, err = run("export", str(spec), "-o", "-")
    assert code == 0, err
    doc = json.loads(out)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, policy_json_schema())
    code, solved, _ = run("solve", str(spec), "-f", "json")
    rates = {m["name"]: m["rate"] for m in json.loads(solved)["monitors"]}
    assert doc["rates"] == rates
    entry = doc["roc"]["trusted_monitor"]
    assert "rule" not in entry and "egress_filter" not in doc["roc"]
    points = next(m for m in deter.load_spec(spec).monitors if m.roc).roc
    for action, p in points.items():  # the envelope at the rate, from the spec's points
        assert entry["detection"][action] == randomised_detection(p, rates["trusted_monitor"])
    assert any("deter export --calibration" in note for note in doc["notes"])
    with pytest.raises(UnsupportedError, match="described by ROC curves"):  # exit 4
        Auditor(doc)
    with pytest.raises(PolicyError, match="described by ROC curves"):
        scaled(doc, 0.5)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("doc['roc']['nope'] = {'points': {}, 'detection': {}}", "roc.nope: unknown monitor"),
        (
            "doc['roc']['trusted_monitor']['detection']['insert_backdoor'] = 1.5",
            "roc.trusted_monitor.detection.insert_backdoor: must be in [0, 1]",
        ),
        (
            "doc['roc']['trusted_monitor']['points']['comply'] = [[0, 0]]",
            "not a non-compliant action 'comply'",
        ),
        (
            "doc['roc']['trusted_monitor']['rule'] = {'high_threshold': 1, 'low_threshold': 2,"
            " 'high_weight': 0.5, 'high_rate': 0, 'low_rate': 0.1}",
            "high_threshold must be at least low_threshold",
        ),
        (
            "doc['roc']['trusted_monitor']['rule'] = {'high_threshold': 'big', 'low_threshold':"
            " 2, 'high_weight': 0.5, 'high_rate': 0, 'low_rate': 0.1}",
            "a threshold is a number, 'inf' or '-inf'",
        ),
    ],
)
def test_bad_roc_sections_are_refused_with_the_key_named(edit: str, message: str) -> None:
    _, out, _ = run("export", str(ROOT / "problems/roc_trusted_monitoring.toml"), "-o", "-")
    doc = json.loads(out)
    exec(edit, {"doc": doc})
    with pytest.raises(PolicyError) as caught:
        validate_policy(doc, file="p.json")
    assert message in str(caught.value) and "p.json" in str(caught.value)
    jsonschema = pytest.importorskip("jsonschema")
    # the schema checks types and ranges, not names or the thresholds' order
    if "must be in" in message or "a threshold is" in message:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, policy_json_schema())
