"""Fitting a spec from scored samples: closed-form answers and every bad-data case."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deter.solver.control.fit import FitOptions, fit_samples
from deter.solver.control.samples import read_samples
from deter.solver.engine.solve import solve
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import parse_spec_text

from tests.support.paths import PROBLEMS

EXAMPLE = PROBLEMS / "control" / "synthetic_samples.csv"


def table(tmp_path: Path, frame: pd.DataFrame, name: str = "s.csv") -> list[Path]:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return [path]


HAND = pd.DataFrame(
    {
        "label": ["honest"] * 4 + ["cheat"] * 4,
        "score_m": [0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 3.0, 4.0],
    }
)


def test_fitted_spec_solves_to_the_closed_form(tmp_path: Path) -> None:
    # The curve is (0, .25) -> (.25, .75) -> (.5, 1): with gain 2 and cap 4 the agent must be
    # caught with probability 1/2, reached at flag rate x with .25 + 2x = .5, x = 1/8.
    samples = read_samples(table(tmp_path, HAND))
    fitted = fit_samples(
        samples,
        FitOptions(delta=None, gains={"cheat": 2.0}, penalty_cap=4.0, default_audit_cost=8.0),
    )
    result = solve(fitted.spec)
    assert result.status == "optimal"
    assert result.monitor("m").rate == pytest.approx(0.125, abs=1e-7)
    assert result.total_cost == pytest.approx(1.0, abs=1e-6)
    assert fitted.counts == {"honest": 4, "cheat": 4}


def test_spec_text_has_schema_line_provenance_and_parses(tmp_path: Path) -> None:
    fitted = fit_samples(read_samples([EXAMPLE]), FitOptions(date="2026-01-01T00:00:00Z"))
    lines = fitted.text.splitlines()
    assert lines[0] == "#:schema ./deter.schema.json"
    assert "2026-01-01T00:00:00Z" in lines[1]
    assert any(line.startswith("# file: ") and "sha256" in line for line in lines)
    assert "# samples: 3000 read, 3000 used" in fitted.text
    assert "PLACEHOLDERS" in fitted.text  # no gains or cap given: said so
    spec = parse_spec_text(fitted.text, file="x.toml")
    assert [a.name for a in spec.actions] == ["honest", "insert_backdoor", "exfiltrate_data"]
    assert fitted.delta_each == pytest.approx(0.05 / (2 * 3))


def test_robust_design_costs_more_than_the_point_estimate() -> None:
    samples = read_samples([EXAMPLE])
    options = dict(gains={"insert_backdoor": 2.0, "exfiltrate_data": 1.5}, penalty_cap=20.0)
    point = solve(fit_samples(samples, FitOptions(delta=None, **options)).spec)  # type: ignore[arg-type]
    robust = solve(fit_samples(samples, FitOptions(delta=0.05, **options)).spec)  # type: ignore[arg-type]
    assert point.status == robust.status == "optimal"
    assert robust.total_cost > point.total_cost > 0


def test_missing_scores_and_unlabelled_samples_are_located_and_counted(tmp_path: Path) -> None:
    frame = HAND.copy()
    frame.loc[1, "score_m"] = np.nan
    frame.loc[5, "label"] = np.nan
    fitted = fit_samples(read_samples(table(tmp_path, frame)), FitOptions(delta=None))
    assert fitted.counts == {"honest": 4, "cheat": 3}
    assert fitted.curve("m").n_honest == 3
    missing = [n for n in fitted.notes if n.key == "score_m"]
    assert missing[0].line == 3 and "missing" in missing[0].message  # row 1 is line 3
    unlabelled = [n for n in fitted.notes if "no label" in n.message]
    assert unlabelled[0].line == 7
    assert sorted(fitted.dropped.values()) == [1, 1]


def test_unknown_attack_kinds_are_an_error_unless_dropped(tmp_path: Path) -> None:
    frame = pd.concat([HAND, pd.DataFrame({"label": ["bribe"], "score_m": [5.0]})])
    samples = read_samples(table(tmp_path, frame))
    with pytest.raises(SpecError, match="'bribe' \\(1 samples\\) maps to no action") as raised:
        fit_samples(samples, FitOptions(actions={"cheat": "cheat"}))
    assert raised.value.issues[0].line == 10
    samples = read_samples(table(tmp_path, frame))
    fitted = fit_samples(
        samples, FitOptions(delta=None, actions={"cheat": "cheat"}, drop_unknown=True)
    )
    assert fitted.dropped == {"unknown attack kind dropped": 1}
    assert fitted.actions == ("cheat",)


def test_an_unknown_eval_mode_is_dropped_with_a_note(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"eval_mode": ["honest", "honest", "attack", "weird"], "score_m": [0.0, 1.0, 2.0, 3.0]}
    )
    fitted = fit_samples(read_samples(table(tmp_path, frame)), FitOptions(delta=None))
    assert fitted.dropped == {"unknown eval_mode dropped": 1}
    assert fitted.notes[0].line == 5 and "'weird'" in fitted.notes[0].message


def test_a_monitor_that_never_fires_is_noted(tmp_path: Path) -> None:
    frame = HAND.assign(score_silent=0.0)
    fitted = fit_samples(read_samples(table(tmp_path, frame)), FitOptions(delta=None))
    note = next(n for n in fitted.notes if n.key == "score_silent")
    assert "never separates" in note.message
    curve = fitted.curve("silent")
    assert curve.fpr.tolist() == [0.0, 1.0] and curve.tpr["cheat"].tolist() == [0.0, 1.0]


def test_too_few_samples_for_the_band_is_noted_with_what_would_do(tmp_path: Path) -> None:
    fitted = fit_samples(read_samples(table(tmp_path, HAND)), FitOptions(delta=0.05))
    note = next(n for n in fitted.notes if "band" in n.message)
    assert "4 honest and 4 attack samples" in note.message
    assert not fitted.curve("m").informative("cheat")
    assert fitted.dropped["fewer samples than a band needs"] == 1


@pytest.mark.parametrize(
    ("labels", "message"),
    [(["honest"] * 4, "no attack samples"), (["cheat"] * 4, "no honest samples")],
)
def test_no_honest_or_no_attack_samples(tmp_path: Path, labels: list[str], message: str) -> None:
    frame = pd.DataFrame({"label": labels, "score_m": [0.0, 1.0, 2.0, 3.0]})
    with pytest.raises(SpecError, match=message):
        fit_samples(read_samples(table(tmp_path, frame)))


def test_an_action_a_monitor_never_scored_is_not_credited(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "label": ["honest", "honest", "a", "a", "b", "b"],
            "score_m1": [0.0, 1.0, 2.0, 3.0, 2.0, 2.5],
            "score_m2": [0.0, 1.0, 2.0, 3.0, math.nan, math.nan],
        }
    )
    fitted = fit_samples(read_samples(table(tmp_path, frame)), FitOptions(delta=None))
    assert set(fitted.curve("m2").tpr) == {"a"}
    assert any("no scores for action 'b'" in n.message for n in fitted.notes)


def test_delta_out_of_range() -> None:
    with pytest.raises(SpecError, match="delta"):
        fit_samples(read_samples([EXAMPLE]), FitOptions(delta=0.9))


def test_calibration_has_exact_thresholds_for_the_runtime() -> None:
    fitted = fit_samples(read_samples([EXAMPLE]), FitOptions())
    doc = fitted.to_dict()
    basic = doc["monitors"]["basic_monitor"]
    assert basic["thresholds"][0] == "inf" and basic["thresholds"][-1] == "-inf"
    assert len(basic["fpr"]) == len(basic["thresholds"]) == len(basic["tpr"]["insert_backdoor"])


@pytest.mark.parametrize(
    ("option", "key"),
    [
        ({"gains": {"insert_backdor": 2.0}}, "--gain insert_backdor"),
        ({"audit_cost": {"basic_monitr": 5.0}}, "--audit-cost basic_monitr"),
    ],
)
def test_a_gain_or_audit_cost_for_a_name_not_in_the_fit_is_an_error(
    option: dict[str, dict[str, float]], key: str
) -> None:
    """A typo in --gain or --audit-cost used to be ignored: the action kept the default gain
    (or a placeholder), the monitor the default cost, and the fit exited 0."""
    with pytest.raises(SpecError) as caught:
        fit_samples(read_samples([str(EXAMPLE)]), FitOptions(**option))  # type: ignore[arg-type]
    assert [f.key for f in caught.value.issues] == [key]
    assert "in the fit" in caught.value.issues[0].message


def test_fit_writes_neither_file_when_one_cannot_be_written(tmp_path: Path) -> None:
    """--calibration into a folder that does not exist: the spec used to be written before
    the calibration failed (exit 2 with a file written); now both paths are checked first."""
    from deter.cli.app import app
    from typer.testing import CliRunner

    spec = tmp_path / "fitted.toml"
    args = ["fit", str(EXAMPLE), "-o", str(spec), "--calibration", str(tmp_path / "no" / "c.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "No such file or directory" in result.stderr
    assert not spec.exists()
