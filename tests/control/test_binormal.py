"""The binormal ROC fit (``deter fit --roc binormal``) against closed forms: (a, b) from two
normals within sampling error, the parametric region's exact coverage, and the fit's notes."""

from __future__ import annotations

import math
from pathlib import Path

import deter
import numpy as np
import pandas as pd
import pytest
from deter.cli.app import app
from deter.solver.control.binormal import LEVELS, Normal, fit_binormal, normal_misfit
from deter.solver.control.fit import FitOptions, fit_record, fit_samples
from deter.solver.control.report import control_data
from deter.solver.control.samples import read_samples
from deter.solver.engine.solve import solve
from scipy.stats import norm
from typer.testing import CliRunner

from tests.support.cli import CLI_ENV


def test_a_and_b_from_two_normals_are_within_sampling_error() -> None:
    rng = np.random.default_rng(7)
    n0, n1, (m1, s1) = 20_000, 10_000, (1.5, 1.2)
    honest, attack = rng.normal(0.0, 1.0, n0), rng.normal(m1, s1, n1)
    curve, ab = fit_binormal("m", honest, {"cheat": attack})
    a, b = m1 / s1, 1.0 / s1
    # delta method: var(a) = (1/n0 + s1^2/n1) / s1^2 + a^2 / (2 n1), var(b) = b^2 (1/2n0 + 1/2n1)
    se_a = math.sqrt((1 / n0 + s1**2 / n1) / s1**2 + a**2 / (2 * n1))
    se_b = b * math.sqrt(1 / (2 * n0) + 1 / (2 * n1))
    got_a, got_b = ab["cheat"]
    assert abs(got_a - a) < 4 * se_a and abs(got_b - b) < 4 * se_b
    assert se_a < 0.02 and se_b < 0.01  # the check is tight enough to catch a wrong formula
    # the chain's points lie on the fitted curve TPR = Phi(a + b Phi^-1(FPR)) where it is
    # concave (b < 1: the hook is at the flag-everything end, above FPR 0.99)
    inner = (curve.fpr > 0) & (curve.fpr < 0.9)
    expected = norm.cdf(got_a + got_b * norm.ppf(curve.fpr[inner]))
    assert curve.tpr["cheat"][inner] == pytest.approx(expected, abs=1e-12)
    assert np.all(np.diff(curve.fpr) > 0) and curve.fpr[0] == 0.0 and curve.fpr[-1] == 1.0
    # the hook is cut: the concave chain never dips below random auditing
    assert np.all(curve.tpr["cheat"] >= curve.fpr - 1e-12)


def test_the_parametric_region_covers_exactly_and_the_band_holds() -> None:
    """Over 1,000 draws of 30 scores the true (mean, SD) lies in the region at rate 1 - delta
    (exact: both directions checked), and the band fails at some threshold at most that
    often."""
    rng = np.random.default_rng(11)
    mean, sd, n, delta, draws = 2.0, 3.0, 30, 0.2, 1000
    thresholds = mean + sd * norm.isf(LEVELS)
    truth = norm.sf((thresholds - mean) / sd)
    inside = failed = 0
    for _ in range(draws):
        fitted = Normal.fit(rng.normal(mean, sd, n))
        shift, lo, hi = fitted.region(delta)
        inside += abs(fitted.mean - mean) / sd <= shift and lo <= sd <= hi
        upper = fitted.exceed_upper(thresholds, delta)
        lower = fitted.exceed_lower(thresholds, delta)
        failed += bool(np.any(truth > upper + 1e-12) or np.any(truth < lower - 1e-12))
    spread = 3.0 * math.sqrt(draws * delta * (1 - delta))
    assert abs(inside - (1 - delta) * draws) < spread
    assert failed <= draws - inside  # outside the region only
    assert failed <= delta * draws + spread


def test_the_band_is_pessimistic_and_the_thresholds_realise_the_rate() -> None:
    rng = np.random.default_rng(3)
    honest, attack = rng.normal(0, 1, 400), rng.normal(2, 1, 100)
    point, _ = fit_binormal("m", honest, {"a": attack})
    banded, _ = fit_binormal("m", honest, {"a": attack}, delta=0.05)
    rates = np.linspace(0.0, 1.0, 101)
    assert np.all(np.interp(rates, banded.fpr, banded.tpr["a"]) <= rates * 0 + 1)
    for rate in (1e-4, 0.003, 0.05, 0.4):
        assert banded.detection("a", rate) < point.detection("a", rate)
        # under the fitted model, mixing the two thresholds flags exactly the rate
        high, low, weight = point.thresholds_for(rate)
        h = Normal.fit(honest)
        flagged = (
            weight * h.exceed(np.array([high]))[0] + (1 - weight) * h.exceed(np.array([low]))[0]
        )
        assert flagged == pytest.approx(rate, rel=1e-9)
    assert banded.eps_honest > 0 and banded.eps_attack["a"] > 0


def test_normal_misfit_rejects_rounded_scores_and_not_normal_ones() -> None:
    rng = np.random.default_rng(5)
    assert normal_misfit(rng.normal(0, 1, 2000)) is None
    rounded = np.clip(np.round(rng.normal(3, 1.5, 2000)), 0, 10)
    misfit = normal_misfit(rounded)
    assert misfit is not None and misfit[0] > misfit[1]
    assert normal_misfit(rng.exponential(1.0, 2000)) is not None


def frame(rng: np.random.Generator) -> pd.DataFrame:
    n0, n1 = 600, 200
    return pd.DataFrame(
        {
            "label": ["honest"] * n0 + ["cheat"] * n1,
            "score_m": np.concatenate([rng.normal(0, 1, n0), rng.normal(2, 1, n1)]),
            "score_flat": np.ones(n0 + n1),
            "score_rounded": np.round(np.concatenate([rng.normal(2, 1, n0), rng.normal(4, 1, n1)])),
        }
    )


def test_fit_writes_a_binormal_spec_with_notes_and_it_solves(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    frame(np.random.default_rng(1)).to_csv(path, index=False)
    options = FitOptions(roc="binormal", gains={"cheat": 2.0}, penalty_cap=20.0)
    fitted = fit_samples(read_samples([path]), options)
    assert set(fitted.binormal) == {"m", "rounded"}  # flat: fitted empirically, with a note
    assert fitted.dropped["monitor fitted empirically (too few or equal scores for a normal)"]
    assert fitted.dropped["scores the binormal model does not fit"] >= 1  # rounded
    assert "score_m" not in str([n.key for n in fitted.notes if "normal" in n.message])
    assert "# binormal (a, b)" in fitted.text and "IF the scores are normal" in fitted.text
    assert fitted.to_dict()["monitors"]["m"]["binormal"]["cheat"] == list(
        fitted.binormal["m"]["cheat"]
    )
    record = fit_record(fitted.text)
    assert record is not None and record.options.roc == "binormal"
    result = solve(fitted.spec)
    assert result.status == "optimal"
    # cheaper than the empirical DKW design on the same data: the parametric band is narrower
    empirical = fit_samples(
        read_samples([path]), FitOptions(gains={"cheat": 2.0}, penalty_cap=20.0)
    )
    assert result.total_cost < solve(empirical.spec).total_cost


def test_the_report_fits_a_binormal_spec_again(tmp_path: Path) -> None:
    """Of one monitor of two (deter fit --monitor m): the refit reads that column alone, so
    delta is split as in the fit and the curve is the spec's."""
    path = tmp_path / "s.csv"
    frame(np.random.default_rng(2))[["label", "score_m", "score_rounded"]].to_csv(path, index=False)
    spec = tmp_path / "fit.toml"
    options = FitOptions(roc="binormal", gains={"cheat": 2.0}, penalty_cap=20.0)
    spec.write_text(fit_samples(read_samples([path], monitors=["m"]), options).text)
    data = control_data(deter.load_spec(spec), spec.read_text())
    assert data is not None and not isinstance(data, str)
    assert list(data.curves) == ["m"]
    report = deter.load(spec).report(resamples=5)
    (section,) = report.sections
    assert section.data["policies"][0]["name"].startswith("deter")


def test_band_with_binormal_is_refused_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    frame(np.random.default_rng(1)).to_csv(path, index=False)
    result = CliRunner().invoke(
        app, ["fit", str(path), "--roc", "binormal", "--band", "dkw"], env=CLI_ENV
    )
    assert result.exit_code == 2 and "--band is for --roc empirical" in result.stderr
    result = CliRunner().invoke(app, ["fit", str(path), "--roc", "smooth"], env=CLI_ENV)
    assert result.exit_code == 2 and "roc must be one of empirical, binormal" in result.stderr


def test_a_binormal_fit_exports_to_a_policy_the_approver_loads(tmp_path: Path) -> None:
    import json

    from deter.solver.control.loop import ControlPolicy

    path = tmp_path / "s.csv"
    frame(np.random.default_rng(4))[["label", "score_m"]].to_csv(path, index=False)
    fitted = fit_samples(
        read_samples([path]), FitOptions(roc="binormal", gains={"cheat": 2.0}, penalty_cap=20.0)
    )
    spec, calibration, policy = tmp_path / "f.toml", tmp_path / "cal.json", tmp_path / "p.json"
    spec.write_text(fitted.text)
    calibration.write_text(json.dumps(fitted.to_dict()))
    result = CliRunner().invoke(
        app,
        ["export", str(spec), "--calibration", str(calibration), "-o", str(policy)],
        env=CLI_ENV,
    )
    assert result.exit_code == 0, result.stderr
    rule = ControlPolicy.from_document(json.loads(policy.read_text())).monitors["m"]
    # the rule's thresholds are the fitted chain's at the designed rate
    assert (rule.high, rule.low, rule.weight) == pytest.approx(
        fitted.curve("m").thresholds_for(rule.rate)
    )
