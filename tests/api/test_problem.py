"""The public API (issue 11, item 5): deter.load/loads, deter.Problem and its typed results.

No CLI runner here: every call is the library's. Where a result must equal what a command
prints, the command runs as a user runs it (``python -m deter ... --format json``) and the two
documents are compared after a JSON round trip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import deter
import pytest

from tests.support.paths import PROBLEMS, ROOT
from tests.support.reference import spec_text

CODING = PROBLEMS / "coding_agent.toml"
MINIMAL = PROBLEMS / "minimal.toml"
OVER_BUDGET = PROBLEMS / "infeasible" / "over_budget.toml"
AUDITOR = PROBLEMS / "strategic_auditor.toml"
ROC = PROBLEMS / "roc_trusted_monitoring.toml"


def cli_json(*args: str) -> Any:
    """What ``deter ARGS --format json`` prints, parsed."""
    run = subprocess.run(
        [sys.executable, "-m", "deter", *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode in (0, 1), run.stderr
    doc = json.loads(run.stdout)
    # The one envelope (issue 21 item 3): the library's to_dict() is the whole document,
    # schema_version and kind first, exactly as the command prints it.
    assert list(doc)[:2] == ["schema_version", "kind"] and doc["schema_version"] == 1
    return doc


def round_trip(document: Any) -> Any:
    return json.loads(json.dumps(document))


@pytest.fixture(scope="module")
def coding() -> deter.Problem:
    return deter.load(CODING)


# --- loading -------------------------------------------------------------------------------


def test_load_reads_a_path_given_as_str_or_path() -> None:
    by_str, by_path = deter.load(str(MINIMAL)), deter.load(MINIMAL)
    assert by_str.spec == by_path.spec
    assert by_str.name == "minimal" and by_str.file == str(MINIMAL)


def test_a_path_that_looks_like_toml_is_still_a_path(tmp_path: Path) -> None:
    """The old heuristic read any string with '=' as TOML text."""
    odd = tmp_path / "a=1, b = 2.toml"
    odd.write_text(MINIMAL.read_text(encoding="utf-8"), encoding="utf-8")
    problem = deter.load(str(odd))
    assert problem.name == "a=1, b = 2" and problem.file == str(odd)
    assert deter.load_spec(str(odd)).name == "a=1, b = 2"  # the compatibility alias too


def test_text_is_never_mistaken_for_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "minimal.toml").write_text(MINIMAL.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # A file of that name exists, but loads parses its argument: 'minimal.toml' is bad TOML.
    with pytest.raises(deter.SpecError) as caught:
        deter.loads("minimal.toml")
    assert "TOML syntax error" in str(caught.value)
    assert caught.value.issues[0].file == "<text>"
    # and load never parses its argument: TOML text is a file name that does not exist
    text = MINIMAL.read_text(encoding="utf-8")
    with pytest.raises(deter.SpecError) as caught:
        deter.load(text)
    assert caught.value.issues[0].file == text and "TOML" not in str(caught.value)
    with pytest.raises(deter.SpecError, match="no such file"):
        deter.load("version = 1")


def test_loads_names_the_text_as_asked() -> None:
    text = MINIMAL.read_text(encoding="utf-8")
    problem = deter.loads(text, name="mine", file="inline.toml")
    assert problem.name == "mine" and problem.file == "inline.toml"
    assert deter.loads(text).name == "spec"  # no name anywhere: the default
    with pytest.raises(deter.SpecError) as caught:
        deter.loads(text.replace("gain = 3.0", "gian = 3.0"), file="inline.toml")
    unknown = [i for i in caught.value.issues if "unknown key" in i.message]
    assert len(unknown) == 1 and "did you mean 'gain'" in unknown[0].message
    assert unknown[0].file == "inline.toml" and unknown[0].line is not None


def test_load_spec_keeps_its_explicit_rule() -> None:
    """Compatibility: a str with a line break is TOML text, anything else a path."""
    text = MINIMAL.read_text(encoding="utf-8")
    assert deter.load_spec(text).source_file == "<text>"
    assert deter.load_spec(str(MINIMAL)).source_file == str(MINIMAL)
    with pytest.raises(deter.SpecError, match="no such file"):
        deter.load_spec("x = 1")  # one line: a path, so no longer parsed as text


def test_a_missing_file_is_a_spec_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "runs" / "a=1.toml"
    with pytest.raises(deter.SpecError) as caught:
        deter.load(missing)
    assert caught.value.issues[0].file == str(missing)
    assert str(missing) in str(caught.value) and "no such file" in str(caught.value)


def test_oversized_input_is_refused(tmp_path: Path) -> None:
    text = MINIMAL.read_text(encoding="utf-8")
    with pytest.raises(deter.SpecError, match="over the limit"):
        deter.loads(text, max_bytes=100)
    with pytest.raises(deter.SpecError, match="over the limit"):
        deter.load(MINIMAL, max_bytes=100)


def test_problem_wraps_only_a_spec() -> None:
    with pytest.raises(TypeError, match=r"deter\.load"):
        deter.Problem(str(MINIMAL))  # type: ignore[arg-type]
    spec = deter.load(MINIMAL).spec
    assert deter.Problem(spec).spec is spec
    assert repr(deter.Problem(spec)) == f"Problem('minimal', file={str(MINIMAL)!r})"


# --- the module itself ---------------------------------------------------------------------


def test_dir_shows_only_the_public_api() -> None:
    names = dir(deter)
    assert names == sorted(deter.__all__)
    for leaked in ("Any", "annotations", "TYPE_CHECKING", "solver", "cli", "import_module"):
        assert leaked not in names
    for name in deter.__all__:
        assert getattr(deter, name) is not None, name
    with pytest.raises(AttributeError):
        deter.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_lazy_result_types_are_the_real_classes() -> None:
    from deter.solver.analysis.sweep import Sweep
    from deter.solver.simulation.auditor import AuditorSimulation

    assert deter.Sweep is Sweep and deter.AuditorSimulation is AuditorSimulation


def test_import_deter_loads_no_solver_numerics_or_plotting() -> None:
    probe = (
        "import sys, deter\n"
        "p = deter.loads(open(sys.argv[1]).read())\n"  # reading and validating stay light too
        "heavy = [m for m in ('cvxpy', 'numpy', 'scipy', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, str(MINIMAL)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "none"


def test_the_probe_above_can_fail() -> None:
    probe = "import sys, deter\ndeter.load(sys.argv[1]).solve()\nprint('cvxpy' in sys.modules)"
    run = subprocess.run(
        [sys.executable, "-c", probe, str(MINIMAL)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"


# --- solving -------------------------------------------------------------------------------


def test_solve_matches_the_cli_json(coding: deter.Problem) -> None:
    result = coding.solve()
    assert isinstance(result, deter.Result) and result.status == "optimal"
    cli = cli_json("solve", str(CODING), "--no-timing")
    assert round_trip(result.to_dict(timing=False)) == cli


def test_the_default_solve_is_computed_once(coding: deter.Problem) -> None:
    assert coding.solve() is coding.solve()
    other = coding.solve(solvers=["clarabel"], tolerance=1e-5)
    assert other is not coding.solve() and other.solver is not None
    assert other.solver.startswith("CLARABEL")
    assert other.total_cost == pytest.approx(coding.solve().total_cost, rel=1e-4)


def test_solve_options_are_checked() -> None:
    spec = deter.load(MINIMAL).spec
    assert deter.solve(spec, solvers="HiGHS").total_cost == pytest.approx(0.2, rel=1e-6)
    assert deter.solve(deter.Problem(spec)).total_cost == pytest.approx(0.2, rel=1e-6)
    with pytest.raises(ValueError, match="unknown solver 'GUROBI'"):
        deter.solve(spec, solvers=["gurobi"])
    with pytest.raises(ValueError, match="tolerance"):
        deter.solve(spec, tolerance=0.0)


# --- analyses, each against the command's JSON ------------------------------------------


def test_sweep_matches_the_cli_json(coding: deter.Problem) -> None:
    vary = "actions.reward_hack.gain=1:5:3"
    sweep = coding.sweep(vary, "monitors.llm_judge.cost=0.05,0.2")
    assert isinstance(sweep, deter.Sweep) and len(sweep.points) == 6
    cli = cli_json(
        "sweep", str(CODING), "--vary", vary, "--vary", "monitors.llm_judge.cost=0.05,0.2"
    )
    assert round_trip(sweep.to_dict()) == cli
    assert sweep.to_json() == json.dumps(sweep.to_dict(), indent=2) + "\n"


def test_sweep_takes_values_as_pairs_too(coding: deter.Problem) -> None:
    by_text = coding.sweep("actions.reward_hack.gain=1,3")
    by_pair = coding.sweep(("actions.reward_hack.gain", [1.0, 3.0]))
    assert by_pair.to_dict() == by_text.to_dict()
    axes = coding.axes("actions.reward_hack.gain=1,3")
    assert coding.sweep(*axes).to_dict() == by_text.to_dict()
    with pytest.raises(deter.SpecError, match="did you mean 'reward_hack'"):
        coding.sweep(("actions.reward_hak.gain", [1.0]))
    with pytest.raises(deter.SpecError):  # a negative cost is refused before solving
        coding.sweep(("monitors.llm_judge.cost", [-1.0]))


def test_frontier_matches_the_cli_json(coding: deter.Problem) -> None:
    frontier = coding.frontier(points=4)
    assert isinstance(frontier, deter.Frontier) and frontier.own.factor == 1.0
    assert round_trip(frontier.to_dict()) == cli_json("frontier", str(CODING), "--points", "4")
    explicit = coding.frontier([0.5, 2.0])
    assert [p.factor for p in explicit.points] == [0.5, 1.0, 2.0]
    with pytest.raises(ValueError, match="low < high"):
        coding.frontier(low=2.0, high=1.0)


def test_explain_matches_the_cli_json(coding: deter.Problem) -> None:
    explanation = coding.explain()
    assert isinstance(explanation, deter.Explanation) and explanation.status == "optimal"
    assert round_trip(explanation.to_dict()) == cli_json("explain", str(CODING))
    assert json.loads(explanation.to_json()) == round_trip(explanation.to_dict())


def test_explain_of_an_infeasible_spec_lists_fixes() -> None:
    explanation = deter.load(OVER_BUDGET).explain()
    assert explanation.status == "infeasible" and explanation.fixes
    assert round_trip(explanation.to_dict()) == cli_json("explain", str(OVER_BUDGET))


def test_compare_matches_the_cli_json(coding: deter.Problem) -> None:
    other = deter.load(PROBLEMS / "sandbagging_evals.toml")
    comparison = coding.compare(other)
    assert isinstance(comparison, deter.Comparison)
    assert comparison.a is coding.solve() and comparison.b is other.solve()
    cli = cli_json("compare", str(CODING), str(PROBLEMS / "sandbagging_evals.toml"))
    assert round_trip(comparison.to_dict()) == cli
    assert coding.compare(coding.spec).changes == ()  # a Spec is accepted, and equals itself


def without_timing(document: Any) -> Any:
    return {k: v for k, v in document.items() if k != "timing"}


def test_simulate_matches_the_cli_json(coding: deter.Problem) -> None:
    simulation = coding.simulate(episodes=100, population=30, seed=3)
    assert isinstance(simulation, deter.Simulation)
    assert [run.label for run in simulation.runs] == ["optimal"]
    cli = cli_json("simulate", str(CODING), "-n", "100", "-k", "30", "--seed", "3")
    assert round_trip(simulation.to_dict(timing=False)) == without_timing(cli)
    assert "timing" in simulation.to_dict() and "timing" not in simulation.to_dict(timing=False)


def test_simulate_takes_rates_as_text_or_mapping(coding: deter.Problem) -> None:
    options: dict[str, Any] = {"episodes": 50, "population": 10, "agent": "ucb"}
    text = coding.simulate(rates="llm_judge=0.2,human_review=0.1", rates_scale=[0.5, 1], **options)
    mapping = coding.simulate(
        rates={"llm_judge": 0.2, "human_review": 0.1}, rates_scale=[0.5, 1.0], **options
    )
    assert [r.label for r in text.runs] == ["rates x0.5", "rates"]
    assert text.to_dict(timing=False) == mapping.to_dict(timing=False)
    cli = cli_json(
        "simulate",
        str(CODING),
        "-n",
        "50",
        "-k",
        "10",
        "-a",
        "ucb",
        "--rates",
        "llm_judge=0.2,human_review=0.1",
        "--rates-scale",
        "0.5",
        "--rates-scale",
        "1",
    )
    assert round_trip(text.to_dict(timing=False)) == without_timing(cli)
    with pytest.raises(deter.SpecError, match="did you mean 'llm_judge'"):
        coding.simulate(rates={"llm_judg": 0.2}, **options)
    with pytest.raises(deter.SpecError, match="outside"):
        coding.simulate(rates={"llm_judge": 2.0}, **options)
    with pytest.raises(ValueError, match="unknown agent"):
        coding.simulate(agent="genius", episodes=10)  # type: ignore[arg-type]


def test_simulating_without_an_optimal_policy_says_so() -> None:
    problem = deter.load(OVER_BUDGET)
    with pytest.raises(deter.NoPolicyError) as caught:
        problem.simulate(episodes=10, population=5)
    assert caught.value.result.status == "infeasible"
    assert caught.value.result is problem.solve()
    # with explicit rates there is a policy to simulate
    monitor = problem.spec.all_monitors()[0].name
    assert isinstance(problem.simulate(rates={monitor: 0.1}, episodes=10), deter.Simulation)


def test_an_auditor_spec_simulates_both_sides() -> None:
    problem = deter.load(AUDITOR)
    simulation = problem.simulate(episodes=100, population=20)
    assert isinstance(simulation, deter.AuditorSimulation) and simulation.agent == "exp3"
    cli = cli_json("simulate", str(AUDITOR), "-n", "100", "-k", "20")
    assert round_trip(simulation.to_dict(timing=False)) == without_timing(cli)
    with pytest.raises(ValueError, match="rates_scale needs a committed policy"):
        problem.simulate(rates_scale=0.5, episodes=10)


def test_roc_monitors_are_refused_before_solving() -> None:
    with pytest.raises(deter.SpecError, match="ROC curves is not supported"):
        deter.load(ROC).simulate(episodes=10)


# --- plots and the report --------------------------------------------------------------------


def test_sweep_and_frontier_draw_plots(tmp_path: Path) -> None:
    problem = deter.load(MINIMAL)
    sweep_plot, frontier_plot = tmp_path / "sweep.svg", tmp_path / "frontier.svg"
    problem.sweep("actions.cheat.gain=1:3:3", plot=sweep_plot)
    problem.frontier(points=3, plot=frontier_plot)
    for path in (sweep_plot, frontier_plot):
        assert path.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    with pytest.raises(deter.PlotUnavailable, match=r"\.png, \.svg or \.pdf"):
        problem.sweep("actions.cheat.gain=1,2", plot=tmp_path / "sweep.gif")
    assert not (tmp_path / "sweep.gif").exists()


def test_report_returns_the_html_and_its_parts(tmp_path: Path, coding: deter.Problem) -> None:
    report = coding.report()
    assert isinstance(report, deter.Report) and report.path is None
    assert report.html.startswith("<!DOCTYPE html>") and report.html.count("<svg") == 2
    assert report.result is coding.solve() and report.sweep is not None
    written = coding.report(tmp_path / "report.html", vary=["agent.margin=0:1:3"])
    assert written.path == tmp_path / "report.html"
    assert written.path.read_text(encoding="utf-8") == written.html
    assert written.sweep is not None and [a.name for a in written.sweep.axes] == ["agent.margin"]
    document = json.loads(written.to_json(timing=False))
    assert document["kind"] == "report" and document["path"] == str(tmp_path / "report.html")
    assert document["result"] == round_trip(coding.solve().to_dict(timing=False))
    assert document["sweep"] == round_trip(written.sweep.to_dict())
    with pytest.raises(ValueError, match="one or two"):
        coding.report(vary=["agent.margin=0,1"] * 3)


def test_the_report_matches_the_command(tmp_path: Path) -> None:
    """The command writes exactly the library's HTML."""
    out = tmp_path / "cli.html"
    run = subprocess.run(
        [sys.executable, "-m", "deter", "report", str(MINIMAL), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert out.read_text(encoding="utf-8") == deter.load(MINIMAL).report().html


def test_results_of_text_specs_name_their_file() -> None:
    text = spec_text(
        actions=[{"name": "comply", "gain": 0.0}, {"name": "cheat", "gain": 3.0}],
        monitors=[{"name": "inspector", "cost": 0.8, "detects": {"cheat": 0.6}}],
        agent={"penalty_cap": 20.0},
    )
    result = deter.loads(text, file="inline.toml", name="inline").solve()
    assert result.file == "inline.toml" and result.name == "inline"
    assert result.monitor("inspector").rate == pytest.approx(0.25, rel=1e-6)


# --- the library's JSON is the command's (issue 21 item 3) and prompt use (item 8) ---------


def cli_text(*args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "deter", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode in (0, 1), run.stderr
    return run.stdout


def test_every_to_json_is_the_commands_text_byte_for_byte(coding: deter.Problem) -> None:
    from deter.cli.options import JSON_KINDS

    result = coding.solve()
    assert result.to_json(timing=False) == cli_text(
        "solve", str(CODING), "-f", "json", "--no-timing"
    )
    sweep = coding.sweep("actions.reward_hack.gain=1,3")
    assert sweep.to_json() == cli_text(
        "sweep", str(CODING), "--vary", "actions.reward_hack.gain=1,3", "-f", "json"
    )
    docs = {
        "solve": result.to_dict(),
        "sweep": sweep.to_dict(),
        "frontier": coding.frontier(points=2).to_dict(),
        "compare": coding.compare(deter.load(MINIMAL)).to_dict(),
        "explain": coding.explain().to_dict(),
    }
    for command, doc in docs.items():
        assert list(doc)[:2] == ["schema_version", "kind"], command
        assert (doc["schema_version"], doc["kind"]) == (1, JSON_KINDS[command]), command
    assert [p["actions.reward_hack.gain"] for p in docs["sweep"]["points"]] == [1.0, 3.0]


def test_every_json_document_is_made_by_the_one_envelope(
    coding: deter.Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No document writes its own ``schema_version`` (issue 21): with the one envelope's
    version changed, every JSON document deter writes follows it, the library's and the
    command's (simulations, the experiment, a solve error, a batch summary)."""
    from deter.cli.app import app
    from deter.cli.render.result import error_json
    from deter.solver.results import serialise
    from deter.solver.rl.experiment import Experiment
    from typer.testing import CliRunner

    monkeypatch.setattr(serialise, "SCHEMA_VERSION", 99)
    batch = CliRunner().invoke(app, ["batch", str(MINIMAL), "-f", "json", "-j", "1", "-q"])
    assert batch.exit_code == 0, batch.stderr
    docs = {
        "result": coding.solve().to_dict(),
        "simulation": coding.simulate(episodes=20, population=5, seed=0).to_dict(),
        "auditor_simulation": deter.load(AUDITOR).simulate(episodes=20, population=5).to_dict(),
        "experiment": Experiment({}, [], [], [], 0.0).to_dict(),
        "batch": json.loads(batch.stdout),
    }
    error = json.loads(error_json("x.toml", "bad_input", "bad", []))
    assert (error["schema_version"], error["kind"]) == (99, "result")
    for kind, doc in docs.items():
        assert list(doc)[:2] == ["schema_version", "kind"], kind
        assert (doc["schema_version"], doc["kind"]) == (99, kind), kind


def test_a_result_document_reads_back_with_its_envelope(coding: deter.Problem) -> None:
    result = coding.solve()
    assert deter.Result.from_dict(json.loads(result.to_json())) == result
    old = result.to_dict()
    del old["kind"]  # a ledger line written before results carried their kind
    assert deter.Result.from_dict(old) == result
    with pytest.raises(ValueError, match="kind"):
        deter.Result.from_dict({**result.to_dict(), "kind": "sweep"})


def test_prompt_use_prints_what_a_person_wants(coding: deter.Problem, tmp_path: Path) -> None:
    explanation = coding.explain()
    text = str(explanation)
    assert text == explanation.to_text() and text.startswith(explanation.paragraphs[0][0])
    assert "Explanation(" not in text
    report = coding.report(tmp_path / "r.html")
    shown = repr(report)
    assert len(shown) < 300 and "characters" in shown and "r.html" in shown, shown


def test_the_auditor_takes_action_names_and_names_its_answer(tmp_path: Path) -> None:
    from deter.runtime import Auditor

    policy = tmp_path / "p.json"
    done = subprocess.run(
        [sys.executable, "-m", "deter", "export", str(CODING), "-o", str(policy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    auditor = Auditor.from_file(policy, seed=1)
    answer = auditor.run_batch(["honest", "reward_hack", "reward_hack"])
    assert answer.penalty.shape == answer.flagged.shape == answer.spend.shape == (3,)
    names = list(auditor.arrays.action_names)
    assert auditor.tallies.taken[names.index("reward_hack")] == 2  # the names were read
    assert auditor.tallies.taken[names.index("honest")] == 1
    penalty, flagged, spend = auditor.run_batch([0, 1])  # indices still work, and unpack
    assert penalty.shape == flagged.shape == spend.shape == (2,)
    with pytest.raises(ValueError, match="unknown action"):
        auditor.run_batch(["honest", "bribe"])
