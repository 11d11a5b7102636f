"""Reading scored samples: every format to one table, and every drop located and counted."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deter.solver.control.samples import HONEST, identifier, read_samples
from deter.solver.results.errors import SpecError

from tests.support.paths import PROBLEMS

EXAMPLE = PROBLEMS / "control" / "synthetic_samples.csv"

PLAIN = pd.DataFrame(
    {
        "id": ["a", "b", "c", "d"],
        "label": ["honest", "honest", "backdoor", "exfil"],
        "score_judge": [0.1, 0.4, 0.9, 0.7],
        "cost_judge": [0.01, 0.01, 0.02, 0.02],
    }
)


def write(frame: pd.DataFrame, path: Path) -> Path:
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif suffix == ".json":
        frame.to_json(path, orient="records")
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json", ".parquet"])
def test_every_table_format_reads_the_same(tmp_path: Path, suffix: str) -> None:
    samples = read_samples([write(PLAIN, tmp_path / f"s{suffix}")])
    assert samples.monitors == ("judge",)
    assert samples.frame["kind"].tolist() == [HONEST, HONEST, "backdoor", "exfil"]
    assert samples.scores("judge").tolist() == [0.1, 0.4, 0.9, 0.7]
    assert samples.frame["cost_judge"].tolist() == [0.01, 0.01, 0.02, 0.02]
    assert samples.frame["where"].tolist() == ["id a", "id b", "id c", "id d"]
    assert len(samples.digests[0]) == 64


def test_controlarena_sample_table() -> None:
    samples = read_samples([EXAMPLE])
    assert samples.monitors == ("basic_monitor", "trajectory_monitor")
    kinds = samples.frame["kind"].value_counts().to_dict()
    assert kinds == {HONEST: 2000, "insert_backdoor": 500, "exfiltrate_data": 500}
    assert set(samples.frame["main_task_success"].unique()) == {0.0, 1.0}


def test_an_attack_without_a_side_task_name_is_kind_attack(tmp_path: Path) -> None:
    frame = pd.DataFrame({"eval_mode": ["honest", "attack"], "score_m": [0.0, 1.0]})
    samples = read_samples([write(frame, tmp_path / "s.csv")])
    assert samples.frame["kind"].tolist() == [HONEST, "attack"]


def test_csv_rows_are_located_by_line(tmp_path: Path) -> None:
    frame = PLAIN.drop(columns="id")
    samples = read_samples([write(frame, tmp_path / "s.csv")])
    assert samples.frame["line"].tolist() == [2, 3, 4, 5]  # the header is line 1


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"score_m": [1.0]}), "no label column"),
        (pd.DataFrame({"label": ["honest"], "other": [1.0]}), "no score columns"),
    ],
)
def test_unusable_files_are_errors(tmp_path: Path, frame: pd.DataFrame, message: str) -> None:
    path = write(frame, tmp_path / "s.csv")
    with pytest.raises(SpecError, match=message) as raised:
        read_samples([path])
    assert raised.value.issues[0].file == str(path)


def test_missing_files_and_unknown_formats_are_all_reported(tmp_path: Path) -> None:
    odd = tmp_path / "s.xlsx"
    odd.write_text("x")
    with pytest.raises(SpecError) as raised:
        read_samples([tmp_path / "nope.csv", odd])
    text = str(raised.value)
    assert "nope.csv: no such file" in text and "unknown format '.xlsx'" in text


def test_a_non_numeric_score_column_is_skipped_with_a_note(tmp_path: Path) -> None:
    frame = PLAIN.assign(score_verdict=["ok", "ok", "bad", "bad"])
    samples = read_samples([write(frame, tmp_path / "s.csv")])
    assert samples.monitors == ("judge",)
    assert samples.notes.counts["non-numeric score column skipped"] == 1
    assert samples.notes.listed[0].key == "score_verdict"


def test_asking_for_a_monitor_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="score_nope: no such score column"):
        read_samples([write(PLAIN, tmp_path / "s.csv")], monitors=["nope"])


def test_identifiers() -> None:
    assert identifier("insert backdoor!") == "insert_backdoor"
    assert identifier("3rd") == "_3rd"
    assert identifier("  ") == "unnamed"


def test_many_files_concatenate(tmp_path: Path) -> None:
    a = write(PLAIN, tmp_path / "a.csv")
    b = write(PLAIN.drop(columns="cost_judge"), tmp_path / "b.jsonl")
    samples = read_samples([a, b])
    assert len(samples) == 8
    assert samples.frame["source"].tolist() == [str(a)] * 4 + [str(b)] * 4
    assert all(math.isnan(x) for x in samples.frame["cost_judge"].tolist()[4:])
    assert np.isfinite(samples.scores("judge")).all()
