"""Limits on input size and shape, and a spec being data, never code (issue 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import deter.solver.spec.limits as limits
import pytest
from deter.cli.app import app
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import DEFAULT_MAX_BYTES, load_spec

SMALL = """
[problem]
name = "${HOME}"
description = "$HOME ${USER} `id` $(whoami) %PATH%"
currency = "${CURRENCY:-USD}"
[[actions]]
name = "honest"
gain = 0.0
[[actions]]
name = "cheat"
gain = 1.0
penalty_cap = 10.0
audit_cost = 1.0
"""


def test_file_over_the_size_limit_is_refused_before_it_is_read(
    runner, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "big.toml"
    path.write_text(SMALL + "#" * 2000, encoding="utf-8")

    original = Path.read_bytes

    def no_reading(self: Path) -> bytes:  # the limit comes from stat(), not from reading
        if self.name == "big.toml":
            raise AssertionError("the file was read")
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    out = runner.invoke(app, ["solve", str(path), "--max-size", "1000"])
    assert out.exit_code == 2
    assert "over the limit of 1,000" in out.stderr and "--max-size" in out.stderr
    assert "Traceback" not in out.stderr


def test_max_size_raises_the_limit(runner, tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text(SMALL + "#" * 2000, encoding="utf-8")
    out = runner.invoke(app, ["validate", str(path), "--max-size", "100000"])
    assert out.exit_code == 0, out.stderr


def test_stdin_over_the_limit_is_refused(runner) -> None:
    out = runner.invoke(app, ["solve", "-", "--max-size", "100"], input=SMALL.encode())
    assert out.exit_code == 2 and "over the limit" in out.stderr


@pytest.mark.parametrize(
    "limit, key",
    [
        ("MAX_ACTIONS", "actions"),
        ("MAX_MONITORS", "monitors"),
        ("MAX_DETECTION_ENTRIES", "monitors.detects"),
    ],
)
def test_too_many_actions_or_monitors_is_refused_by_name(monkeypatch, limit: str, key: str) -> None:
    monkeypatch.setattr(limits, limit, 1)
    text = (
        SMALL + '[[monitors]]\nname = "m"\ncost = 1.0\ndetects = { cheat = 0.5 }\n'
        '[[monitors]]\nname = "n"\ncost = 1.0\ndetects = { cheat = 0.5 }\n'
    )
    with pytest.raises(SpecError) as caught:
        load_spec(text)
    assert any(
        issue.key == key and "over the limit of 1" in issue.message for issue in caught.value.issues
    )


def test_counts_are_checked_before_the_model_is_built(monkeypatch) -> None:
    from deter.solver.spec import document as spec_module

    monkeypatch.setattr(limits, "MAX_ACTIONS", 3)

    def never(*args, **kwargs):
        raise AssertionError("the spec model was built")

    monkeypatch.setattr(spec_module.Spec, "model_validate", never)
    text = "".join(f'[[actions]]\nname = "a{k}"\ngain = 1.0\n' for k in range(10))
    with pytest.raises(SpecError, match="over the limit of 3"):
        load_spec(text)


def test_stated_limits_fit_the_benchmark_shapes() -> None:
    assert limits.MAX_ACTIONS >= 10_000 and limits.MAX_MONITORS >= 100
    assert DEFAULT_MAX_BYTES >= 1_000_000


@pytest.mark.parametrize(
    "nesting", ["[" * 100_000 + "]" * 100_000, "{a = " * 100_000 + "1" + "}" * 100_000]
)
def test_deep_nesting_is_a_located_error_not_a_crash(runner, nesting: str) -> None:
    data = f"a = {nesting}\n".encode()
    out = runner.invoke(app, ["validate", "-", "--max-size", str(len(data) + 1)], input=data)
    assert out.exit_code == 2
    assert "nested" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_50_mb_string_under_a_raised_limit_is_just_data(runner, tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    with path.open("w", encoding="utf-8") as handle:
        handle.write('[problem]\ndescription = "')
        handle.write("x" * 50_000_000)
        handle.write('"\n' + SMALL.split("\n", 4)[4])
    out = runner.invoke(app, ["validate", str(path)])
    assert out.exit_code == 2 and "over the limit" in out.stderr
    out = runner.invoke(app, ["validate", str(path), "--max-size", "60000000"])
    assert out.exit_code == 0, out.stderr


def test_environment_references_stay_literal(runner, monkeypatch) -> None:
    monkeypatch.setenv("CURRENCY", "EUR")
    out = runner.invoke(app, ["solve", "-", "-f", "json", "--no-timing"], input=SMALL.encode())
    assert out.exit_code == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["name"] == "${HOME}" != os.environ.get("HOME")
    assert doc["currency"] == "${CURRENCY:-USD}"
    spec = load_spec(SMALL)
    assert spec.problem.description == "$HOME ${USER} `id` $(whoami) %PATH%"


@pytest.mark.parametrize(
    "line, message",
    [
        ('include = "../secrets.toml"', "unknown key 'include'"),
        ('gain = "1 + 1"', "'1 + 1'"),
    ],
)
def test_a_spec_is_data_not_code(line: str, message: str) -> None:
    text = SMALL.replace("gain = 1.0", line if line.startswith("gain") else "gain = 1.0")
    if line.startswith("include"):
        text = line + "\n" + SMALL
    with pytest.raises(SpecError) as caught:
        load_spec(text)
    assert any(message in issue.message for issue in caught.value.issues)
