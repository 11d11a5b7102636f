"""Fuzzing the spec loader and the whole ``deter solve`` path (issue 7): a short, fixed-seed
slice for CI. Long runs: ``python scripts/fuzz_long.py`` (hypothesis, and atheris when
installed).

Inputs: random bytes, random TOML documents, and mutations of the problems/ specs. The
property (``fuzzing.outcome_problems``): exit code 0, 1, 2 or 3, a reason on stderr, no
traceback, no internal error. Inputs that once broke it are kept in tests/fuzz_corpus/ and
replayed here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import decode_spec_bytes, parse_spec_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.support.fuzzing import CORPUS, mutated_problems, outcome_problems, toml_documents

FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SOLVES = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def load_or_refuse(data: bytes) -> None:
    """The loader's contract: a Spec, or a SpecError naming the file; nothing else."""
    try:
        parse_spec_text(decode_spec_bytes(data, "<fuzz>"), file="<fuzz>")
    except SpecError as exc:
        assert exc.issues and all(issue.file == "<fuzz>" for issue in exc.issues)
        assert all(issue.message for issue in exc.issues)


@FAST
@given(st.binary(max_size=400))
def test_loader_on_random_bytes(data: bytes) -> None:
    load_or_refuse(data)


@FAST
@given(toml_documents())
def test_loader_on_random_toml(text: str) -> None:
    load_or_refuse(text.encode("utf-8", "surrogatepass"))


@FAST
@given(mutated_problems())
def test_loader_on_mutated_problems(text: str) -> None:
    load_or_refuse(text.encode("utf-8", "surrogatepass"))


def cli_runner() -> CliRunner:
    env = {"NO_COLOR": "1", "COLUMNS": "120", "TERM": "dumb"}
    try:
        return CliRunner(env=env, mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:  # click >= 8.2 always separates them
        return CliRunner(env=env)


def run_cli(runner, data: bytes, fmt: str = "json") -> list[str]:
    out = runner.invoke(app, ["solve", "-", "-f", fmt, "--no-timing"], input=data)
    return outcome_problems(out.exit_code, out.stderr, out.exception)


@SOLVES
@given(
    st.one_of(mutated_problems(), toml_documents(), st.binary(max_size=200)),
    st.sampled_from(["json", "table", "csv", "markdown"]),
)
def test_whole_solve_path(text, fmt: str) -> None:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    assert run_cli(cli_runner(), data, fmt) == []


@pytest.mark.parametrize(
    "path", sorted(CORPUS.glob("*")) if CORPUS.exists() else [], ids=lambda p: p.name
)
def test_regression_corpus(runner, path: Path) -> None:
    """Inputs that once broke the property or gave a wrong answer (one file each; an
    ``# expect-exit: N`` line pins the exit code)."""
    data = path.read_bytes()
    out = runner.invoke(app, ["solve", "-", "-f", "json", "--no-timing"], input=data)
    assert outcome_problems(out.exit_code, out.stderr, out.exception) == []
    expected = re.search(rb"^# expect-exit: (\d)", data, re.MULTILINE)
    if expected:
        assert out.exit_code == int(expected.group(1)), out.stderr


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\xff\xfe garbage",
        b'[[actions]]\nname = "a"\ngain = 1e400\n',
        b"version = 1\n[[actions]]\nname='a'\ngain=0\n[[actions]]\nname='b'\ngain=1e308\n"
        b"penalty_cap=1e308\n[[monitors]]\nname='m'\ncost=1e308\ndetects={b=1e-308}\n",
    ],
)
def test_real_process_never_shows_a_traceback(data: bytes) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "deter", "solve", "-"],
        input=data,
        capture_output=True,
        timeout=120,
        env=env,
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert outcome_problems(done.returncode, stderr, None) == []
