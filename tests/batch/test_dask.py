"""deter batch --executor dask: the same results, isolation and formats as local workers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from deter.cli.app import app
from deter.solver.batch.faults import Faults
from deter.solver.batch.run import run_batch
from deter.solver.batch.worker import BatchOptions
from typer.testing import CliRunner

from tests.support.batch_helpers import write_folder
from tests.support.dask_cluster import local_scheduler


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A local cluster started by the test: two worker processes, one thread each."""
    with local_scheduler(workers=2) as address:
        yield address


def without_timing(text: str) -> list[dict]:
    docs = [json.loads(line) for line in text.splitlines()]
    for doc in docs:
        doc.pop("timing", None)
    return docs


def test_dask_gives_the_same_output_as_local_workers(
    runner: CliRunner, tmp_path: Path, scheduler: str
) -> None:
    write_folder(tmp_path / "specs")
    args = ["batch", str(tmp_path / "specs"), "-f", "jsonl"]
    local = runner.invoke(app, args)
    remote = runner.invoke(app, [*args, "--executor", "dask", "--address", scheduler])
    assert remote.exit_code == local.exit_code == 2, remote.stderr
    assert without_timing(remote.stdout) == without_timing(local.stdout)
    assert "dask" in remote.stderr
    junit = runner.invoke(
        app,
        [
            "batch",
            str(tmp_path / "specs"),
            "-f",
            "junit",
            "--executor",
            "dask",
            "--address",
            scheduler,
        ],
    )
    assert junit.stdout.count("<testcase") == len(list((tmp_path / "specs").rglob("*.toml")))


@pytest.mark.timeout(120)
def test_a_dead_dask_worker_marks_only_its_file(tmp_path: Path, scheduler: str) -> None:
    files = write_folder(tmp_path / "specs")
    options = BatchOptions(faults=Faults(crash_on=frozenset({"good_01.toml"})))
    run = run_batch(
        sorted(str(p) for p in files.values()), options, jobs=2, executor="dask", address=scheduler
    )
    by_name = {Path(o.file).name: o for o in run.outcomes}
    assert len(by_name) == len(files)
    assert by_name["good_01.toml"].status == "solver_error"
    assert all(
        o.status == "optimal"
        for n, o in by_name.items()
        if n.startswith("good") and n != "good_01.toml"
    )


def test_address_needs_the_dask_executor(runner: CliRunner, tmp_path: Path) -> None:
    files = write_folder(tmp_path / "specs", n_good=1)
    result = runner.invoke(app, ["batch", str(files["good_00"]), "--address", "tcp://x:1"])
    assert result.exit_code == 2 and "--executor dask" in result.stderr


@pytest.mark.timeout(120)
def test_timeout_holds_on_dask_workers(tmp_path: Path, scheduler: str) -> None:
    """Dask runs each task in a worker thread, where SIGALRM cannot be used."""
    files = write_folder(tmp_path / "specs", n_good=2)
    options = BatchOptions(
        timeout=5.0, faults=Faults(hang_on=frozenset({"good_01.toml"}), hang_seconds=60)
    )
    run = run_batch(
        [str(files["good_00"]), str(files["good_01"])],
        options,
        jobs=2,
        executor="dask",
        address=scheduler,
    )
    by_name = {Path(o.file).name: o for o in run.outcomes}
    assert by_name["good_01.toml"].status == "solver_error"
    assert by_name["good_01.toml"].error == "timed out after 5 s"
    assert by_name["good_00.toml"].status == "optimal"


def test_local_workers_keep_glibcs_adaptive_malloc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, which makes a
    simulation block cost 2.5 times the CPU (bench/README.md); deter's local clusters drop it
    and keep Dask's other defaults (one BLAS thread)."""
    import functools
    import os

    from deter.solver.batch.dask_executor import dask_mapper

    # as a cluster started earlier in this process leaves it (Dask's nanny sets it here)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with dask_mapper(None, 1) as mapper:
        trim = mapper(functools.partial(os.getenv, "MALLOC_TRIM_THRESHOLD_"), ["unset"])
        threads = mapper(functools.partial(os.getenv, "OMP_NUM_THREADS"), ["unset"])
    assert trim == ["unset"]
    assert threads == ["1"]
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"  # this process's own is kept


@pytest.mark.timeout(120)
def test_the_local_clusters_workers_keep_no_growing_profile() -> None:
    """A Dask worker's statistical profiler keeps one profile a second for 1,000 seconds:
    61 MB more per worker on 10,000 specs (issue 24); the local cluster runs without it."""
    from deter.solver.batch.dask_executor import dask_client

    def profiling(dask_worker) -> tuple[bool, int]:  # type: ignore[no-untyped-def]
        return "profile" in dask_worker.periodic_callbacks, len(dask_worker.profile_history)

    with dask_client(None, workers=1) as client:
        assert list(client.run(profiling).values()) == [(False, 0)]


@pytest.mark.timeout(120)
def test_dasks_message_logs_stay_short() -> None:
    """Each Dask batched stream keeps a copy of its last messages (1,000 by default): the
    client's kept every submitted task with its arguments, the scheduler's the same tasks
    sent to workers, so the batch's process grew by ~0.5 KB a spec (issue 24: +50 MB over
    100,000 specs). deter's clusters and clients keep at most LOW_LEVEL_LOG_LENGTH."""
    from deter.solver.batch.dask_executor import LOW_LEVEL_LOG_LENGTH, dask_client

    def kept(dask_worker) -> int:  # type: ignore[no-untyped-def]
        return int(dask_worker.batched_stream.recent_message_log.maxlen)

    with dask_client(None, workers=1) as client:
        for k in range(3 * LOW_LEVEL_LOG_LENGTH):  # one message each: waited for in turn
            assert client.submit(len, "x" * (k + 1000), pure=False).result() == k + 1000
        assert len(client.scheduler_comm.recent_message_log) <= LOW_LEVEL_LOG_LENGTH
        streams = client.run_on_scheduler(
            lambda dask_scheduler: [
                len(s.recent_message_log) for s in dask_scheduler.stream_comms.values()
            ]
        )
        assert streams and max(streams) <= LOW_LEVEL_LOG_LENGTH
        assert list(client.run(kept).values()) == [LOW_LEVEL_LOG_LENGTH]


@pytest.mark.timeout(120)
def test_dask_keeps_a_bounded_window_of_stacks_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's process holds at most two stacks a worker on the cluster and hands each
    finished stack on before it submits more: results stream, nothing per spec piles up."""
    import random

    from deter.solver.batch import dask_executor
    from deter.solver.batch.order import InOrder

    from tests.support.batch_helpers import random_small_spec

    rng = random.Random(3)
    files = []
    for k in range(16):
        path = tmp_path / f"s{k:02d}.toml"
        path.write_text(random_small_spec(rng), encoding="utf-8")
        files.append(str(path))
    stacks = [files[k : k + 1] for k in range(len(files))]
    submitted: list[int] = []
    most: list[int] = []
    handed: list[int] = []
    real_sources = dask_executor.sources

    def counting_sources(chunk: list[str]) -> list[tuple[str, str]]:
        submitted.append(len(submitted))
        most.append(len(submitted) - len(handed))
        return real_sources(chunk)

    def record(merged: list[tuple[int, object]]) -> bool:
        handed.extend(position for position, _ in merged)
        return False

    monkeypatch.setattr(dask_executor, "sources", counting_sources)
    order = InOrder(stacks, lambda position: None, set(range(len(stacks))), record)
    stopped, workers = dask_executor.run_dask(
        list(enumerate(stacks)), BatchOptions(), order, jobs=1, address=None
    )
    assert not stopped and workers == 1
    assert handed == list(range(len(files)))
    assert len(submitted) == len(stacks)
    assert max(most) <= 2 * workers
