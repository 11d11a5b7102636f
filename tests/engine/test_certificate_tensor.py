"""The duality certificate reads a cached parametric program's coefficients from cvxpy's
coefficient tensor (issue 24 item 3): the same matrices, to round-off entry by entry, as
evaluating its expressions at every unit vector, on specs of the whole vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from deter.solver.engine import certificate
from deter.solver.engine.solve import solve
from deter.solver.results.errors import SpecError
from deter.solver.spec.loading import load_spec

from tests.support.vocabulary import mix

FAMILIES = ("linear", "budget", "cara_averse", "ties", "penalty_design", "min_loss", "roc")


def _close(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Equal entry by entry to a few units of round-off of each entry (a zero is a zero)."""
    return ours.shape == theirs.shape and bool(
        np.all(np.abs(ours - theirs) <= 64 * certificate.ROUND_OFF * np.abs(theirs))
    )


def test_tensor_forms_are_the_evaluated_forms(tmp_path: Path, monkeypatch) -> None:
    original = certificate.program_form
    compared: list[bool] = []

    def both(problem, variables, saved):  # type: ignore[no-untyped-def]
        form = original(problem, variables, saved)
        tensor = certificate._tensors.get(problem)
        if tensor is not None:  # this form came from the tensor: evaluate it again
            certificate._tensors[problem] = None
            try:
                evaluated = original(problem, variables, saved)
            finally:
                certificate._tensors[problem] = tensor
            compared.append(
                _close(form.c, evaluated.c)
                and form.c0 == pytest.approx(evaluated.c0, rel=1e-14, abs=0)
                and _close(form.g.toarray(), evaluated.g.toarray())
                and _close(form.h, evaluated.h)
                and _close(form.e_matrix.toarray(), evaluated.e_matrix.toarray())
                and _close(form.e, evaluated.e)
            )
        return form

    monkeypatch.setattr(certificate, "program_form", both)
    certified = 0
    for case in mix(24, seed=3, infeasible=0.2, families=FAMILIES):
        path = tmp_path / f"{case.label}.toml"
        path.write_text(case.text, encoding="utf-8")
        try:
            spec = load_spec(path)
        except SpecError:
            continue
        first, second = solve(spec), solve(spec)  # the second from the cached program
        assert second.status == first.status and second.total_cost == first.total_cost
        certified += first.status == "optimal"
    assert certified >= 10 and len(compared) >= certified  # the tensor was used
    assert all(compared)
