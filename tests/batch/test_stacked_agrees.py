"""`deter batch` answers as `deter solve` does (issue 24 item 4): on a mixed corpus of the
full-vocabulary generator (a fifth infeasible), every file's status is the one solving it
alone gives, and optimal answers agree in cost and rates to round-off. Batches stack their
plain LPs (``engine/stacked.py``) and judge each block with the step a spec solved alone
takes (``core.accept_policy``); this is the check that the two paths are one behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deter.solver.batch.run import solve_here
from deter.solver.batch.worker import BatchOptions
from deter.solver.engine.solve import solve
from deter.solver.engine.stacked import StackStats, solve_stacked
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import load_spec

from tests.support.vocabulary import mix

#: The families whose specs go into stacks (plain core LPs), and some that do not.
FAMILIES = ("linear", "cara_averse", "cara_seeking", "budget", "ties", "penalty_design")


def corpus(tmp_path: Path, n: int, seed: int) -> list[str]:
    files = []
    for case in mix(n, seed=seed, infeasible=0.2, families=FAMILIES):
        path = tmp_path / f"{case.label}.toml"
        path.write_text(case.text, encoding="utf-8")
        try:
            load_spec(path)
        except SpecError:
            continue  # generated beyond the spec's limits: refused alike by both commands
        files.append(str(path))
    return files


@pytest.mark.parametrize("seed", [24, 2024])
def test_batch_answers_as_solve_does(tmp_path: Path, seed: int) -> None:
    files = corpus(tmp_path, 60, seed)
    outcomes = solve_here(files, BatchOptions())
    for file, outcome in zip(files, outcomes, strict=True):
        alone = solve(load_spec(file))
        assert outcome.status == alone.status, (file, outcome.error)
        if alone.status != "optimal":
            continue
        assert outcome.result is not None and alone.total_cost is not None
        assert outcome.total_cost == pytest.approx(alone.total_cost, rel=1e-7, abs=1e-9), file
        ours = {m.name: m.rate for m in outcome.result.monitors}
        theirs = {m.name: m.rate for m in alone.monitors}
        assert ours.keys() == theirs.keys()
        np.testing.assert_allclose(
            [ours[k] for k in theirs], list(theirs.values()), rtol=1e-6, atol=1e-8, err_msg=file
        )


def test_the_corpus_is_mostly_stacked(tmp_path: Path) -> None:
    """The agreement above is not vacuous: most of the corpus's plain LPs are answered
    from a stack, infeasible ones included."""
    files = corpus(tmp_path, 60, 24)
    stats: list[StackStats] = []
    solve_stacked([load_spec(f) for f in files], stats=stats)
    assert stats[0].stacked >= 0.5 * len(files), stats
