"""Stacked batches (issue #13): the composition of stacks depends only on the files, so
``--no-timing`` output is byte-identical across ``--jobs`` values, in-process and pooled
runs and the Dask executor; isolated members get the ordinary path's answer."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.solver.batch import run as batch_run
from deter.solver.batch.run import (
    FIRST_STACK,
    LARGE_STACK_SIZE,
    LEAST_STACKS,
    STACK_BYTES,
    STACK_SIZE,
    stack_ceiling,
    stacks_of,
)
from typer.testing import CliRunner

from tests.batch.test_stacked import small_spec


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 files (three stacks): plain LPs, infeasible ones, a strategic-free cone-free
    exponential spec (not stackable) and a bad file."""
    root = tmp_path_factory.mktemp("stacked") / "specs"
    root.mkdir()
    rng = random.Random(21)
    for k in range(150):
        text = small_spec(rng, infeasible=k % 17 == 3)
        if k % 29 == 5:
            text = text.replace("[oversight]\n", "").replace("budget =", "# budget =")
            text = text.replace("[agent]", '[oversight]\ndetection = "exponential"\n\n[agent]', 1)
        (root / f"f{k:03d}.toml").write_text(text)
    (root / "f999.toml").write_text("version = 1\n[agent\n")
    return root


def run_cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["batch", *args, "-f", "jsonl", "--no-timing"])
    return result.exit_code, result.stdout


def test_stacks_grow_from_a_small_first_one_in_file_order() -> None:
    """The first results come after a few specs (issue 24 item 5): the first stack holds
    FIRST_STACK files, each next one twice as many, up to STACK_SIZE."""
    files = [f"f{k}.toml" for k in range(300)]
    stacks = stacks_of(files)
    sizes = [len(s) for s in stacks]
    assert sizes[0] == FIRST_STACK < STACK_SIZE
    assert all(b == min(2 * a, STACK_SIZE) for a, b in pairwise(sizes[:-1]))
    assert max(sizes) == STACK_SIZE
    assert [f for s in stacks for f in s] == files


def test_large_batches_get_larger_stacks() -> None:
    """Past STACK_SIZE * LEAST_STACKS files the ceiling grows with the batch (cvxpy's
    per-solve cost amortised), to LARGE_STACK_SIZE, keeping at least LEAST_STACKS stacks."""
    assert stack_ceiling(1_000) == stack_ceiling(STACK_SIZE * LEAST_STACKS) == STACK_SIZE
    assert stack_ceiling(4_000) == 125
    assert stack_ceiling(10_000) == stack_ceiling(10**6) == LARGE_STACK_SIZE
    files = [f"f{k}.toml" for k in range(10_000)]
    sizes = [len(s) for s in stacks_of(files)]
    assert sizes[:8] == [4, 8, 16, 32, 64, 128, 256, 256] and max(sizes) == LARGE_STACK_SIZE
    assert len(sizes) >= LEAST_STACKS


def test_large_specs_get_small_stacks(tmp_path: Path) -> None:
    """Stacks are also cut by their files' bytes: specs of hundreds of actions are not
    stacked 64 at a time (a stack's first result would come after minutes)."""
    small = [tmp_path / f"s{k:03d}.toml" for k in range(200)]
    large = [tmp_path / f"l{k:03d}.toml" for k in range(200)]
    for path in small:
        path.write_text("x" * 500)
    for path in large:
        path.write_text("x" * 40 * STACK_BYTES)
    assert max(len(s) for s in stacks_of([str(p) for p in small])) == STACK_SIZE
    big = stacks_of([str(p) for p in large])
    assert max(len(s) for s in big) <= 2 and [f for s in big for f in s] == [str(p) for p in large]


def test_output_is_identical_across_jobs_inline_and_pool(folder: Path, monkeypatch) -> None:
    code, one = run_cli([str(folder), "--jobs", "1"])
    assert code != 0  # the bad file and the infeasible ones
    _, two = run_cli([str(folder), "--jobs", "2"])
    monkeypatch.setattr(batch_run, "INLINE_LIMIT", 10_000)
    _, inline = run_cli([str(folder), "--jobs", "2"])
    assert one == two == inline
    statuses = [line.split('"status": "')[1].split('"')[0] for line in one.splitlines()]
    assert statuses.count("bad_input") == 1 and statuses.count("infeasible") >= 8
    assert statuses.count("optimal") >= 130


def test_output_is_identical_on_dask(folder: Path) -> None:
    pytest.importorskip("distributed")
    _, local = run_cli([str(folder), "--jobs", "2"])
    _, dask = run_cli([str(folder), "--jobs", "2", "--executor", "dask"])
    assert dask == local


def test_stacked_batch_agrees_with_files_solved_alone(folder: Path) -> None:
    """Each file through `deter solve` alone: same status, cost to 1e-9 relative."""
    import json

    from deter.solver.engine.solve import solve
    from deter.solver.spec.loading import load_path

    _, out = run_cli([str(folder), "--jobs", "2"])
    for doc in map(json.loads, out.splitlines()):
        if doc["status"] == "bad_input":
            continue
        alone = solve(load_path(doc["file"]))
        assert doc["status"] == alone.status
        if alone.total_cost is not None:
            assert doc["total_cost"] == pytest.approx(alone.total_cost, rel=1e-9, abs=0)
