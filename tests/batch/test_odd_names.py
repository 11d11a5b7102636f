"""Issue 25: a file name that is not UTF-8 survives every output format, escaped, never
exit 5 (``os.fsdecode`` makes its bytes lone surrogates, which no UTF-8 writer takes)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.cli.render.batch import BatchFormat
from typer.testing import CliRunner

from tests.support.batch_helpers import one_action_spec

#: A name whose byte 0xff is not UTF-8, as the outputs show it (the escape of that byte).
RAW = b"bad\xff.toml"
SHOWN = "bad\\xff.toml"


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "specs"
    folder.mkdir()
    spec = one_action_spec(gain=1.0, cap=10.0, detection=0.5)
    with open(os.path.join(os.fsencode(folder), RAW), "w") as handle:
        handle.write(spec)
    (folder / "plain.toml").write_text(spec)
    return folder


def _check(text: str, fmt: str) -> None:
    if fmt == "json":
        files = [entry["file"] for entry in json.loads(text)["results"]]
        assert os.fsencode(files[0]).endswith(RAW)  # JSON escapes it as \udcff: lossless
    elif fmt == "jsonl":
        files = [json.loads(line)["file"] for line in text.splitlines()]
        assert os.fsencode(files[0]).endswith(RAW)
    else:
        assert SHOWN in text, text


@pytest.mark.parametrize("command", ["batch", "check"])
@pytest.mark.parametrize("fmt", [f.value for f in BatchFormat])
def test_every_batch_format_writes_a_non_utf8_file_name(
    runner: CliRunner, odd_folder: Path, tmp_path: Path, command: str, fmt: str
) -> None:
    output = tmp_path / f"out.{fmt}"
    result = runner.invoke(app, [command, str(odd_folder), "-f", fmt, "-o", str(output)])
    assert result.exit_code == 0, result.stderr
    text = output.read_bytes().decode("utf-8")  # strict: the file is UTF-8 text
    if fmt == "github" or (fmt == "table" and command == "check"):
        # only failures are annotated, and check's lines name only failing files: make one
        with open(os.path.join(os.fsencode(odd_folder), b"worse\xff.toml"), "w") as handle:
            handle.write("[[actions]]\nname = 3\n")
        result = runner.invoke(
            app, [command, str(odd_folder), "-f", fmt, "-o", str(output), *_failing(command)]
        )
        assert result.exit_code == 2, result.stderr
        text = output.read_bytes().decode("utf-8")
        assert "worse\\xff.toml" in text
    else:
        _check(text, fmt)
    stdout = runner.invoke(app, [command, str(odd_folder), "-f", fmt, *_failing(command)])
    assert stdout.exit_code in (0, 1, 2), stdout.stderr


def _failing(command: str) -> list[str]:
    return ["--max-cost", "0.01"] if command == "check" else []


def test_a_report_on_a_non_utf8_file_name_is_written(runner: CliRunner, odd_folder: Path) -> None:
    spec = os.fsdecode(os.path.join(os.fsencode(odd_folder), RAW))
    output = odd_folder.parent / "report.html"
    result = runner.invoke(app, ["report", spec, "-o", str(output)])
    assert result.exit_code == 0, result.stderr
    html = output.read_bytes().decode("utf-8")
    assert "bad\\xff" in html and "\udcff" not in html
