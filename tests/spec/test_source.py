"""Where a spec came from: the loader returns it with its source; nothing writes it later."""

from __future__ import annotations

from deter.solver.spec.document import Spec, SpecSource
from deter.solver.spec.loading import load_text, validate_spec_data

TEXT = """\
[agent]
penalty_cap = 10.0

[[actions]]
name = "honest"
gain = 0.0

[[actions]]
name = "cheat"
gain = 1.0

[[monitors]]
name = "audit"
cost = 1.0
detects = { cheat = 0.5 }
"""


def test_a_loaded_spec_knows_its_file_and_lines() -> None:
    spec = load_text(TEXT, file="rules.toml")
    assert spec.source == SpecSource(file="rules.toml", text=TEXT)
    assert spec.source_file == "rules.toml"
    assert spec.line_of("actions", 1) == TEXT.splitlines().index("[[actions]]", 4) + 1
    assert spec.line_of("monitors", 0, "cost") == TEXT.splitlines().index("cost = 1.0") + 1


def test_a_spec_built_in_code_has_no_lines() -> None:
    spec = validate_spec_data(load_text(TEXT).model_dump())
    assert spec.source_file == "<spec>"
    assert spec.line_of("actions", 1) is None


def test_with_source_returns_a_copy_and_keeps_the_original() -> None:
    spec = Spec.model_validate(load_text(TEXT).model_dump())
    moved = spec.with_source(SpecSource("other.toml", TEXT))
    assert moved.source_file == "other.toml"
    assert moved.line_of("actions", 1) is not None
    assert spec.source == SpecSource()  # unchanged
    assert moved.actions == spec.actions
