"""Sweeps: every point equals an independent solve; Becker's 1/cap law; paths; the CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json
from typing import Any

import deter
import pytest
from deter.cli.app import app
from deter.solver.analysis.frontier import run_frontier, scale_penalty_caps
from deter.solver.analysis.sweep import get_value, parse_values, parse_vary, run_sweep, set_value
from deter.solver.formulation import program as program_module
from deter.solver.results.errors import SpecError

from tests.support.paths import ROOT
from tests.support.reference import spec_text

PROBLEMS = ROOT / "problems"


def coding_text(
    cap: float = 20.0, review_cost: float = 25.0, review_max: float = 0.1, judge_q: float = 0.6
) -> str:
    """A three-monitor coding-agent spec written out from scratch for each value."""
    return spec_text(
        actions=[
            {"name": "honest", "gain": 0.0},
            {"name": "reward_hack", "gain": 3.0},
            {"name": "test_tampering", "gain": 4.0},
            {"name": "sandbag", "gain": 1.0},
        ],
        monitors=[
            {
                "name": "unit_test_audit",
                "cost": 0.1,
                "detects": {"reward_hack": 0.3, "test_tampering": 0.9},
            },
            {
                "name": "llm_judge",
                "cost": 0.1,
                "false_positive": 0.03,
                "detects": {"reward_hack": judge_q, "test_tampering": 0.3},
            },
            {
                "name": "human_review",
                "cost": review_cost,
                "max_rate": review_max,
                "detects": {"reward_hack": 0.9, "test_tampering": 0.9, "sandbag": 0.8},
            },
        ],
        agent={"compliant": "honest", "penalty_cap": cap, "false_positive_penalty": 1.0},
        problem={"name": "coding", "currency": "USD"},
    )


def assert_same(point: Any, result: deter.solver.results.result.Result) -> None:  # type: ignore[name-defined]
    assert point.status == result.status
    if result.status == "optimal":
        assert point.total_cost == pytest.approx(result.total_cost, rel=1e-7, abs=1e-9)
        for monitor in result.monitors:
            assert point.rates[monitor.name] == pytest.approx(monitor.rate, rel=1e-6, abs=1e-8)
        assert set(point.binding) == {a.name for a in result.actions if a.binding}
    else:
        assert point.total_cost is None


def test_one_axis_sweep_reproduces_independent_solves() -> None:
    spec = deter.load_spec(coding_text())
    axis = parse_vary(spec, "agent.penalty_cap=5:60:8")
    sweep = run_sweep(spec, [axis])
    assert [p.values[0] for p in sweep.points] == pytest.approx([5 + 55 * k / 7 for k in range(8)])
    assert {p.status for p in sweep.points} == {"optimal", "infeasible"}
    for point in sweep.points:
        assert_same(point, deter.solve(deter.load_spec(coding_text(cap=point.values[0]))))


def test_grid_sweep_reproduces_independent_solves() -> None:
    spec = deter.load_spec(coding_text())
    axes = [
        parse_vary(spec, "monitors.human_review.cost=10,25,40"),
        parse_vary(spec, "monitors.llm_judge.detects.reward_hack=0.2:0.8:3"),
    ]
    sweep = run_sweep(spec, axes)
    assert sweep.shape == (3, 3) and len(sweep.points) == 9
    assert [p.index for p in sweep.points][:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    for point in sweep.points:
        cost, q = point.values
        assert_same(point, deter.solve(deter.load_spec(coding_text(review_cost=cost, judge_q=q))))


def becker_text(cap: float, gain: float = 3.0, q: float = 0.8, cost: float = 2.0) -> str:
    return spec_text(
        actions=[
            {"name": "comply", "gain": 0.0},
            {"name": "steal", "gain": gain, "penalty_cap": cap},
        ],
        monitors=[{"name": "audit", "cost": cost, "detects": {"steal": q}}],
    )


def test_penalty_cap_sweep_reproduces_beckers_closed_form() -> None:
    """One action, one monitor: rate = g / (q F), so cost = c g / (q F), proportional to 1/F."""
    gain, q, cost = 3.0, 0.8, 2.0
    spec = deter.load_spec(becker_text(10.0, gain, q, cost))
    sweep = run_sweep(spec, [parse_vary(spec, "actions.steal.penalty_cap=4:400:25", log=True)])
    for point in sweep.points:
        cap = point.values[0]
        if gain / (q * cap) <= 1:
            assert point.status == "optimal"
            assert point.total_cost == pytest.approx(cost * gain / (q * cap), rel=1e-7)
            assert point.total_cost * cap == pytest.approx(cost * gain / q, rel=1e-7)
        else:  # even auditing every episode does not deter a cap below g / q
            assert point.status == "infeasible"


def test_frontier_scales_every_cap_and_follows_one_over_cap() -> None:
    spec = deter.load_spec(becker_text(10.0))
    frontier = run_frontier(spec, [0.5, 1.0, 2.0, 4.0])
    assert frontier.own.factor == 1.0 and frontier.common_cap == 10.0
    costs = {p.factor: p.total_cost for p in frontier.points}
    for factor, total in costs.items():
        assert total == pytest.approx(2.0 * 3.0 / (0.8 * 10.0 * factor), rel=1e-7)
    scaled = scale_penalty_caps(deter.load_spec(PROBLEMS / "becker_crime.toml"), 2.0)
    assert scaled.agent.penalty_cap == 120000.0
    assert scaled.action("larceny").penalty_cap == 30000.0


def test_paths_resolve_generically_and_errors_name_the_path() -> None:
    spec = deter.load_spec(PROBLEMS / "exfiltration_control.toml")
    assert get_value(spec, "oversight.budget") == 1.0
    assert set_value(spec, "oversight.budget", 2.5).oversight.budget == 2.5
    changed = set_value(spec, "monitors.egress_filter.detects.leak_secrets", 0.5)
    egress = next(m for m in changed.monitors if m.name == "egress_filter")
    assert egress.detects["leak_secrets"] == 0.5
    # A section another feature added (requirements) is reached through the model itself.
    assert set_value(spec, "requirements.max_cost", 3.0).requirements.max_cost == 3.0
    cases = {
        "actions.leak_secret.gain": "did you mean 'leak_secrets'",
        "agent.penalty_cp": "did you mean 'penalty_cap'",
        "monitors.human_audit": "add a field",
        "problem.currency": "not a numeric field",
        "oversight.budget.x": "is a value, not a table",
        "nonsense.x": "the spec has no key 'nonsense'",
    }
    for path, message in cases.items():
        with pytest.raises(SpecError) as caught:
            parse_vary(spec, f"{path}=1,2")
        assert message in str(caught.value)
        assert path in str(caught.value)
    with pytest.raises(SpecError, match="must be less than or equal to 1"):
        parse_vary(spec, "monitors.egress_filter.detects.leak_secrets=0:2:3")
    for bad in ("1:2", "a,b", "1:2:0", "1:inf:3"):
        with pytest.raises(SpecError):
            parse_values(bad, "x")
    with pytest.raises(SpecError, match="--log"):
        parse_values("0:10:3", "x", log=True)


def test_invalid_combination_is_a_point_status_not_fatal() -> None:
    spec = deter.load_spec(coding_text())
    axes = [
        parse_vary(spec, "monitors.human_review.min_rate=0,0.05"),
        parse_vary(spec, "monitors.human_review.max_rate=0.02,0.1"),
    ]
    sweep = run_sweep(spec, axes)
    statuses = {p.values: p.status for p in sweep.points}
    assert statuses[(0.05, 0.02)] == "invalid"
    assert statuses[(0.0, 0.1)] == "optimal"


def test_binding_set_changes_are_marked() -> None:
    spec = deter.load_spec(PROBLEMS / "coding_agent.toml")
    sweep = run_sweep(
        spec, [parse_vary(spec, "actions.reward_hack.penalty_cap=5:200:30", log=True)]
    )
    marks = [p.binding_changed for p in sweep.points]
    expected = [False] + [
        set(a.binding) != set(b.binding) for a, b in itertools.pairwise(sweep.points)
    ]
    assert marks == expected
    assert any(marks)  # reward_hack stops binding once its cap is large enough


def test_sweep_reuses_one_compiled_program(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[Any] = []
    original = program_module.compile_program

    def counting(*args: Any, **kwargs: Any) -> Any:
        compiled.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(program_module, "compile_program", counting)
    spec = deter.load_spec(coding_text(cap=23.0, review_cost=31.0))  # a shape of its own
    sweep = run_sweep(spec, [parse_vary(spec, "monitors.llm_judge.cost=0.05:0.5:40")])
    assert all(p.ok for p in sweep.points)
    assert len(compiled) <= 1  # at most once, for the first point; then Parameters change


def test_cli_sweep_json_csv_table_and_exit_codes(runner: Any, write_spec: Any) -> None:
    path = write_spec(becker_text(10.0))
    run = runner.invoke(
        app, ["sweep", str(path), "--vary", "actions.steal.penalty_cap=2,5,10", "--format", "json"]
    )
    assert run.exit_code == 1  # the cap of 2 cannot deter: g / (q F) > 1
    records = json.loads(run.stdout)["points"]  # under the envelope (issue 15)
    assert [r["actions.steal.penalty_cap"] for r in records] == [2.0, 5.0, 10.0]
    assert [r["status"] for r in records] == ["infeasible", "optimal", "optimal"]
    assert records[0]["total_cost"] is None
    assert records[2]["total_cost"] == pytest.approx(0.75)
    assert records[2]["rates"] == {"audit": pytest.approx(0.375)}
    assert records[2]["binding"] == ["steal"]

    run = runner.invoke(
        app, ["sweep", str(path), "--vary", "actions.steal.penalty_cap=5,10", "-f", "csv"]
    )
    assert run.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [float(r["total_cost"]) for r in rows] == pytest.approx([1.5, 0.75])

    run = runner.invoke(app, ["sweep", str(path), "--vary", "actions.steal.penalty_cap=5,10"])
    assert run.exit_code == 0 and "optimal" in run.stdout and "2 optimal" in run.stdout

    run = runner.invoke(app, ["sweep", str(path), "--vary", "actions.stael.gain=1,2"])
    assert run.exit_code == 2
    assert "did you mean 'steal'" in run.stderr and run.stdout == ""


@pytest.mark.parametrize("columns", [100, 120])
def test_cli_sweep_table_labels_binding_sets_and_never_cuts_numbers(columns: int) -> None:
    """One line per point when the table fits: sets are labels (A, B, ...) explained below."""
    from typer.testing import CliRunner

    from tests.support.cli import CLI_ENV

    spec = PROBLEMS / "coding_agent.toml"
    args = ["sweep", str(spec), "--vary", "actions.reward_hack.penalty_cap=5:200:8", "--log"]
    run = CliRunner(env={**CLI_ENV, "COLUMNS": str(columns)}).invoke(app, args)
    assert run.exit_code == 0
    records = json.loads(CliRunner(env=CLI_ENV).invoke(app, [*args, "-f", "json"]).stdout)
    records = records["points"]  # the envelope: {"schema_version", "kind": "sweep", "points"}
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert "…" not in run.stdout
    sets: dict[tuple[str, ...], str] = {}
    for record in records:
        cap = f"{record['actions.reward_hack.penalty_cap']:.6g}"
        row = next(line for line in lines if line.split()[:1] == [cap])
        assert f" {record['total_cost']:.6g} " in row  # the whole number, on the point's line
        label = row.split()[-2] if record["binding_changed"] else row.split()[-1]
        assert sets.setdefault(tuple(record["binding"]), label) == label
        assert row.rstrip().endswith("*") == record["binding_changed"]
    assert len(sets) == 3 and sorted(sets.values()) == ["A", "B", "C"]
    for binding, label in sets.items():
        assert f"  {label}  {', '.join(binding)}" in lines


def test_cli_frontier_table_keeps_names_and_numbers_whole_when_narrow() -> None:
    from typer.testing import CliRunner

    from tests.support.cli import CLI_ENV

    args = ["frontier", str(PROBLEMS / "coding_agent.toml"), "--points", "5"]
    spec = deter.load_spec(PROBLEMS / "coding_agent.toml")
    cost = deter.solve(spec).total_cost
    wide = CliRunner(env={**CLI_ENV, "COLUMNS": "160"}).invoke(app, args)
    own = next(line for line in wide.stdout.splitlines() if "<- as written" in line)
    assert own.split()[:3] == [f"{spec.agent.penalty_cap:g}", "optimal", f"{cost:.6g}"]
    # Narrower than the table: one record per point, every column kept, nothing cut, no
    # line wider than the terminal.
    run = CliRunner(env={**CLI_ENV, "COLUMNS": "60"}).invoke(app, args)
    # exit 1: the smallest caps cannot be met (the worst factor's code, as sweep's)
    assert run.exit_code == 1 and "…" not in run.stdout
    assert max(len(line) for line in run.stdout.splitlines()) <= 60
    assert "P(caught) test_tampering:" in run.stdout
    assert f"Least cost (USD): {cost:.6g}" in run.stdout


@pytest.mark.parametrize(
    ("problem", "vary"),
    [
        ("coding_agent.toml", "monitors.llm_judge.cost=0.01:1.0:70"),
        ("tax_audit.toml", "agent.penalty_cap=0.5:8:70"),
        ("minimal.toml", "agent.penalty_cap=0.01:4:70"),
    ],
)
def test_stacked_sweep_equals_solving_each_point_alone(problem: str, vary: str) -> None:
    """The points of a sweep are blocks of stacked programs (engine/stacked.py); each must
    have the status and cost (to 1e-9 relative) of solving that point alone, and the same
    verdicts: only the choice among equally cheap optima may differ."""
    spec = deter.load_spec(PROBLEMS / problem)
    axis = parse_vary(spec, vary)
    stacked = run_sweep(spec, [axis])
    alone = run_sweep(spec, [axis], solve=deter.solve)
    assert len(stacked.points) == len(alone.points) == 70
    for a, b in zip(stacked.points, alone.points, strict=True):
        assert a.status == b.status
        if b.total_cost is not None:
            assert a.total_cost == pytest.approx(b.total_cost, rel=1e-9, abs=1e-300)


def test_stacked_frontier_equals_solving_each_factor_alone() -> None:
    from deter.solver.analysis.frontier import run_frontier

    spec = deter.load_spec(PROBLEMS / "coding_agent.toml")
    stacked = run_frontier(spec)
    alone = run_frontier(spec, solve=deter.solve)
    for a, b in zip(stacked.points, alone.points, strict=True):
        assert a.status == b.status
        if b.total_cost is not None:
            assert a.total_cost == pytest.approx(b.total_cost, rel=1e-9)
