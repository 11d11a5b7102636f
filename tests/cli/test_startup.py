"""Start-up and compiled-problem reuse.

The quick commands must not load cvxpy (it is most of deter's start-up time), and specs of
one shape must reuse one compiled, DPP-compliant cvxpy problem.
"""

from __future__ import annotations

import json
import subprocess
import sys

import deter
import pytest
from deter.solver.formulation.program import program_for
from deter.solver.model.arrays import ProblemArrays

from tests.support.batch_helpers import one_action_spec, two_action_spec
from tests.support.paths import ROOT

PROBLEMS = ROOT / "problems"

PROBE = """
import json, sys
from typer.testing import CliRunner
from deter.cli.app import app
result = CliRunner(env={{"NO_COLOR": "1", "COLUMNS": "120"}}).invoke(app, {args!r})
assert result.exit_code == 0, (result.exit_code, result.output)
print(json.dumps({{m: m in sys.modules for m in {modules!r}}}))
"""
#: What the quick commands must not load: cvxpy (most of start-up) and scipy's optimiser.
HEAVY = ("cvxpy", "scipy.optimize")


def loaded(args: list[str]) -> dict[str, bool]:
    """Which of HEAVY a CLI run loaded, in a fresh interpreter."""
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, modules=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    return dict(json.loads(probe.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["validate", str(PROBLEMS / "minimal.toml")],
        ["schema"],
        ["batch", "--help"],
        ["check", "--help"],
    ],
    ids=lambda args: " ".join(a for a in args if not a.endswith(".toml")),
)
def test_quick_commands_do_not_import_cvxpy(args: list[str]) -> None:
    assert loaded(args) == dict.fromkeys(HEAVY, False)


def test_solving_does_import_cvxpy() -> None:
    """The probe above can fail: solving in the same way loads both."""
    assert loaded(["solve", str(PROBLEMS / "minimal.toml")]) == dict.fromkeys(HEAVY, True)


def test_formulation_is_dpp() -> None:
    for path in sorted(PROBLEMS.glob("*.toml")):
        program = program_for(ProblemArrays.from_spec(deter.load_spec(path)))
        if program.context.parametric:
            assert program.problem.is_dcp(dpp=True), path.name


def test_specs_of_one_shape_reuse_one_compiled_problem() -> None:
    specs = [deter.load_spec(one_action_spec(1.0 + k, 20.0, 0.5)) for k in range(5)]
    programs = [program_for(ProblemArrays.from_spec(s)) for s in specs]
    assert all(p is programs[0] for p in programs)
    assert programs[0].problem.is_dcp(dpp=True)
    other = program_for(ProblemArrays.from_spec(deter.load_spec(two_action_spec(1.0))))
    assert other is not programs[0]
    # reuse gives each spec its own answer: rate = gain / (detection * cap)
    for k, spec in enumerate(specs):
        result = deter.solve(spec)
        assert result.monitor("inspector").rate == pytest.approx((1.0 + k) / 10.0, rel=1e-6)


@pytest.mark.parametrize(
    ("spec", "code"),
    [("problems/coding_agent.toml", 0), ("problems/infeasible/over_budget.toml", 1)],
)
def test_quick_exit_keeps_the_output_and_the_exit_code(spec: str, code: int) -> None:
    """Commands end with os._exit after flushing (cli/app.py main): nothing may be lost."""
    root = ROOT
    run = subprocess.run(
        [sys.executable, "-m", "deter", "solve", str(root / spec), "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == code, run.stderr
    assert json.loads(run.stdout)["status"] in ("optimal", "infeasible")
    schema = subprocess.run(
        [sys.executable, "-m", "deter", "schema"], capture_output=True, text=True, timeout=120
    )
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"]
    bad = subprocess.run(
        [sys.executable, "-m", "deter", "solve", "-"],
        input="x =",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "TOML syntax error" in bad.stderr


@pytest.mark.parametrize("workers", [True, False], ids=["pool", "in-process"])
def test_batch_imports_cvxpy_only_where_it_solves(tmp_path, workers: bool) -> None:
    """With worker processes, the batch's own process never loads cvxpy (its workers' server
    does): its start-up does not wait for a second import. A batch small enough to be solved
    in-process loads it, with Ctrl-C held (``solver_import.import_solvers``)."""
    from deter.solver.batch.run import INLINE_LIMIT

    count = INLINE_LIMIT + 1 if workers else 2
    for k in range(count):
        text = one_action_spec(gain=1.0 + k / count, cap=10.0, detection=0.5)
        (tmp_path / f"s{k:03d}.toml").write_text(text, encoding="utf-8")
    args = ["batch", str(tmp_path), "-f", "jsonl", "--jobs", "2"]
    assert loaded(args) == dict.fromkeys(HEAVY, not workers)
